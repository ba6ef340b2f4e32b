"""insight-reloaded's README, replayed: every curl as written (its hosts swapped for loopback
servers), each reply checked against the seed's shown one; then what the README leaves implicit
(the preview's URL, 404 until stored; names written once; 400, 404, 401)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from imageserver.settings import SettingsError, load
from tests.conftest import Server, ServerFactory, image_bytes
from tests.jobs.conftest import Origin, Receiver, finished

# The seed README's hosts and file: swapped for the test's servers, nothing else.
SEED_API = "http://localhost:8888"
SEED_FILE = "http://my_file_url.com/file.pdf"
SEED_CALLBACK = "http://requestb.in/12vsewg"
PDF = "AutoCad_Diagram.pdf"  # one page: the seed previews PDFs
ANSWER_ONLY = ("path", "urls")  # an upload answer's, not info.json's
PREVIEWS = {"insight": ["w200.jpg"]}  # the seed's preview sizes, as our outputs
ADDED = {"insight_reloaded": "Job added to queue.", "number_in_queue": 14}
HELLO = {"version": "1.5", "insight_reloaded": "Bonjour", "name": "insight-reloaded"}


async def get(server: Server, target: str, status: int = 200, **kwargs: Any) -> dict[str, Any]:
    """The target as it is written: encoded=True keeps the seed's unescaped `://` and `?`."""
    async with server.session.get(URL(target, encoded=True), **kwargs) as resp:
        answer = await resp.json()
        assert resp.status == status, answer
        return answer


@dataclass
class Seed:
    """The seed README's API, its test file and its callback, as our loopback servers."""

    api: Server
    origin: Origin
    receiver: Receiver
    workers: Callable[[], Awaitable[Server]]

    async def curl(self, target: str, shown: dict[str, Any]) -> dict[str, Any]:
        """The curl as written, hosts swapped; the reply has the shown one's keys, with values
        of the same types (keys of ours besides are fine)."""
        swaps = {
            SEED_API: self.api.url,
            SEED_FILE: self.origin.image(PDF),
            SEED_CALLBACK: self.receiver.url,
        }
        for seed, ours in swaps.items():
            target = target.replace(seed, ours)
        answer = await get(self.api, target)
        for key, value in shown.items():
            assert type(answer[key]) is type(value), (key, answer)
        return answer


@pytest.fixture
async def seed(
    start_jobs_server: ServerFactory, tmp_path: Path, origin: Origin, receiver: Receiver
) -> Seed:
    """An API without workers, so jobs wait in their queue (the seed's counts); `workers()`
    starts a server on the same jobs and storage that runs them. The seed's multi-queue
    settings: REDIS_QUEUE_KEYS = ['urgent', 'normal'], DEFAULT_REDIS_QUEUE_KEY = 'normal'."""
    shared = {
        "jobs_url": f"sqlite:///{tmp_path}/shared-jobs.db",
        "namespace_outputs": PREVIEWS,
        "job_queues": ["urgent", "normal"],
        "job_default_queue": "normal",
    }
    api = await start_jobs_server(workers=False, **shared)

    async def workers() -> Server:
        return await start_jobs_server(storage=api.storage, **shared)

    return Seed(api, origin, receiver, workers)


async def test_the_simple_example(seed: Seed) -> None:
    api, receiver = seed.api, seed.receiver
    added = await seed.curl(f"{SEED_API}/?url={SEED_FILE}&callback={SEED_CALLBACK}", ADDED)
    assert (added["insight_reloaded"], added["number_in_queue"]) == ("Job added to queue.", 1)
    shown = {"insight_reloaded": "There is 14 job in the queue.", "number_in_queue": 14}
    status = await seed.curl(f"{SEED_API}/status", shown)
    assert status["insight_reloaded"] == "There is 1 job in the queue."
    hello = await seed.curl(f"{SEED_API}/", HELLO)
    assert (hello["insight_reloaded"], hello["name"]) == ("Bonjour", "imageserver")

    # the preview's URL is known now, and is a 404 until the job has stored the document
    name = hashlib.sha1(seed.origin.image(PDF).encode()).hexdigest()  # the seed's sha1(url)
    assert added["name"] == name
    assert added["preview_url"] == f"{api.url}/insight/_/{name}/info.json"
    await get(api, added["preview_url"], status=404)
    await seed.workers()
    (_, body), *_ = await receiver.wait_for(1)
    payload = json.loads(body)
    assert (payload["success"], payload["job_id"]) == (True, added["job_id"])
    assert payload["outputs"] == {"w200.jpg": f"{api.url}/insight/_/{name}/w200.jpg"}
    info = await get(api, added["preview_url"])
    assert (info["name"], info["hash"], info["pages"]) == (name, payload["hash"], 1)
    async with api.session.get(payload["outputs"]["w200.jpg"]) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (200, "image/jpeg")
    stored = sorted(p.name for p in (api.storage / "insight" / "_" / name).iterdir())
    assert stored == ["info.json", "original", "w200.jpg"]


async def test_the_multi_queues_example(seed: Seed) -> None:
    target = f"{SEED_API}/urgent?url={SEED_FILE}&callback={SEED_CALLBACK}"
    # the seed's README shows 'normal' here, its typo: the job is in the queue the URL names
    added = await seed.curl(target, ADDED | {"insight_reloaded": "Job added to queue 'normal'."})
    assert (added["insight_reloaded"], added["queue"]) == ("Job added to queue 'urgent'.", "urgent")
    shown = {"insight_reloaded": "There is 14 job in the 'urgent' queue.", "number_in_queue": 14}
    counts = [
        await seed.curl(f"{SEED_API}/{queue}/status", shown) for queue in ("urgent", "normal")
    ]
    assert [(c["insight_reloaded"], c["number_in_queue"]) for c in counts] == [
        ("There is 1 job in the 'urgent' queue.", 1),
        ("There is 0 job in the 'normal' queue.", 0),
    ]
    assert (await seed.curl(f"{SEED_API}/", HELLO))["insight_reloaded"] == "Bonjour"


async def test_the_set_hash_example_as_written_and_as_meant(seed: Seed) -> None:
    api, origin, receiver = seed.api, seed.origin, seed.receiver
    # As written, `?hash=` is inside the callback's URL: the preview hash is sha1(url), and the
    # callback goes to that URL, query and all.
    target = f"{SEED_API}/?url={SEED_FILE}&callback={SEED_CALLBACK}?hash=123456789"
    written = await seed.curl(target, ADDED)
    assert written["name"] == hashlib.sha1(origin.image(PDF).encode()).hexdigest()
    # as meant: the client's own preview hash
    meant = f"{api.url}/?url={origin.image(PDF)}&callback={receiver.url}&hash=123456789"
    named = await get(api, meant)
    assert (named["number_in_queue"], named["name"]) == (2, "123456789")
    assert named["preview_url"] == f"{api.url}/insight/_/123456789/info.json"
    await seed.workers()
    views = [await finished(api, added["job_id"]) for added in (written, named)]
    assert [v["state"] for v in views] == ["succeeded", "succeeded"]
    assert views[0]["callback"]["url"] == f"{receiver.url}?hash=123456789"
    await receiver.wait_for(2)
    info = await get(api, named["preview_url"])
    assert (info["name"], info["hash"]) == ("123456789", views[0]["result"]["hash"])


async def test_a_name_is_written_once_and_never_meets_a_content_hash(
    start_jobs_server: ServerFactory, origin: Origin, receiver: Receiver
) -> None:
    server = await start_jobs_server()
    pdf = await server.upload(image_bytes(PDF), namespace="insight")  # by content hash
    content_hash = pdf["hash"]
    # a name of 32 hex digits, the content hash itself: another path, another original
    target = f"{server.url}/?url={origin.image('grid.jpg')}&hash={content_hash}"
    added = await get(server, target)
    assert (await finished(server, added["job_id"]))["state"] == "succeeded"
    assert (await get(server, added["preview_url"]))["content_type"] == "image/jpeg"
    by_content = await get(server, server.image_url(content_hash, "insight") + "/info.json")
    assert by_content == {k: v for k, v in pdf.items() if k not in ANSWER_ONLY}
    # the same name again: other bytes fail for good (409, no retry), the same ones are a no-op
    again = f"{server.url}/?url={origin.image(PDF)}&callback={receiver.url}&hash={content_hash}"
    refused = await finished(server, (await get(server, again))["job_id"])
    assert (refused["state"], refused["error"], refused["attempts"]) == ("failed", "conflict", 1)
    (_, body), *_ = await receiver.wait_for(1)
    assert (json.loads(body)["success"], json.loads(body)["error"]) == (False, "conflict")
    same = await get(server, target)
    assert (await finished(server, same["job_id"]))["state"] == "succeeded"
    assert (await get(server, added["preview_url"]))["content_type"] == "image/jpeg"


async def test_refusals(start_jobs_server: ServerFactory, origin: Origin) -> None:
    server = await start_jobs_server(workers=False, api_keys=["sesame"])
    key = {"Authorization": "Bearer sesame"}
    source = origin.image(PDF)
    refused = {
        f"/?url={source}&hash=a.b": (400, "hash"),
        f"/?url={source}&hash=": (400, "hash"),
        f"/?url={source}&pages=3": (400, "pages"),
        "/?callback=http://127.0.0.1:9/hook": (400, "url"),
        f"/later?url={source}": (404, "later"),
        "/later": (404, "later"),
    }
    for target, (status, word) in refused.items():
        answer = await get(server, server.url + target, status=status, headers=key)
        assert word in answer["message"], target
    # a write behind a GET: the API key first; who we are, and the counts, are reads
    answer = await get(server, f"{server.url}/?url={source}", status=401)
    assert answer["error"] == "unauthorized"
    await get(server, f"{server.url}/?url={source}", headers=key)
    assert (await get(server, server.url + "/"))["insight_reloaded"] == "Bonjour"
    assert (await get(server, server.url + "/urgent"))["insight_reloaded"] == "Bonjour"
    assert (await get(server, server.url + "/status"))["number_in_queue"] == 1
    await get(server, f"{server.url}/insight/_/a.b/info.json", status=404)


def test_the_namespace_of_previews_is_checked_at_start() -> None:
    with pytest.raises(SettingsError, match=r"insight_namespace: namespace: expected"):
        load(env={"IMAGESERVER_INSIGHT_NAMESPACE": "jobs"}, config_path=None)
