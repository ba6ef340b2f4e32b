"""The jobs API through a real server: submit (JSON and the seed's form), validation before
enqueueing, idempotency, status and queue counts, listing, retry, API keys."""

from __future__ import annotations

import pytest

from tests.conftest import Server, ServerFactory
from tests.jobs.conftest import Origin, finished, running, submit


async def test_a_job_ingests_the_source_with_its_outputs(
    start_jobs_server: ServerFactory, jobs_url: str, origin: Origin
) -> None:
    server = await start_jobs_server(jobs_url=jobs_url)
    answer = await submit(
        server, {"namespace": "p", "source": origin.image(), "outputs": "w50.jpg"}
    )
    assert answer["queue"] == "normal"
    assert answer["status_url"] == f"{server.url}/jobs/{answer['job_id']}"
    view = await finished(server, answer["job_id"])
    assert (view["state"], view["progress"], view["attempts"]) == ("succeeded", 100, 1)
    result = view["result"]
    assert result["info"]["width"] == 800
    async with server.session.get(result["outputs"]["w50.jpg"]) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "image/jpeg"
    assert view["request"]["source"] == origin.image()
    assert view["started_at"] <= view["finished_at"]
    # located as an upload answers: the client never splits the hash itself
    path = server.image_url(result["hash"]).removeprefix(server.url)
    assert result["path"] == path
    assert result["urls"] == {
        "original": f"{server.url}{path}/original",
        "info": f"{server.url}{path}/info.json",
        "outputs": {"w50.jpg": f"{server.url}{path}/w50.jpg"},
    }
    assert result["urls"]["outputs"] == result["outputs"]


async def test_a_jobs_urls_are_the_public_ones_behind_a_proxy(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    public = "https://img.example.com"
    server = await start_jobs_server(public_url=public, url_signing_keys=["k"])
    params = {"namespace": "p", "source": origin.image(), "outputs": "w50.jpg"}
    answer = await submit(server, params)
    assert answer["status_url"].startswith(f"{public}/jobs/")
    result = (await finished(server, answer["job_id"]))["result"]
    output, _, query = result["urls"]["outputs"]["w50.jpg"].partition("?")
    assert output == f"{public}{result['path']}/w50.jpg"
    assert query.startswith("s=")  # signed, as the back end stores it
    assert result["urls"]["original"] == f"{public}{result['path']}/original"


async def test_the_seed_form_with_a_callback_is_a_job(server: Server, origin: Origin) -> None:
    params = {"source": origin.image(), "callback": "http://127.0.0.1:9/hook", "outputs": "x20.png"}
    async with server.session.post(f"{server.url}/avatars", params=params) as resp:
        assert resp.status == 202
        answer = await resp.json()
    view = await finished(server, answer["job_id"])
    assert view["state"] == "succeeded"
    assert view["request"]["namespace"] == "avatars"
    assert list(view["result"]["outputs"]) == ["x20.png"]


async def test_the_form_without_a_callback_stays_synchronous(
    server: Server, origin: Origin
) -> None:
    async with server.session.post(f"{server.url}/p", params={"source": origin.image()}) as resp:
        assert resp.status == 200
        assert (await resp.json())["width"] == 800


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"source": "http://127.0.0.1:9/a.jpg"}, 400, "namespace"),
        ({"namespace": "p"}, 400, "source"),
        ({"namespace": "p", "source": "ftp://example.com/a.jpg"}, 403, "scheme"),
        ({"namespace": "p", "source": "http://x.test/a", "outputs": "w0.jpg"}, 400, "width"),
        ({"namespace": "p", "source": "http://x.test/a", "outputs": "w9.auto"}, 400, ".auto"),
        ({"namespace": "p", "source": "http://x.test/a", "queue": "later"}, 400, "queue"),
        ({"namespace": "p", "source": "http://x.test/a", "callback": "file:///x"}, 403, "scheme"),
        ({"namespace": "p", "source": "http://x.test/a", "mime": "image"}, 400, "mime"),
        ({"namespace": "p", "source": "http://x.test/a", "timeout_s": 0}, 400, "timeout_s"),
        ({"namespace": "p", "source": "http://x.test/a", "group": "g"}, 400, "group_limit"),
        ({"namespace": "p", "source": "http://x.test/a", "headers": {"Host": "a"}}, 400, "Host"),
        ({"namespace": "p", "source": "http://x.test/a", "callback_url": "x"}, 400, "callback_url"),
        ({"namespace": "p", "source": "http://x.test/a", "kind": "pdf"}, 400, "kind"),
        ({"namespace": "jobs", "source": "http://x.test/a"}, 400, "namespace"),
        ({"namespace": "p", "source": "http://x.test/a", "name": "a/b"}, 400, "name"),
    ],
)
async def test_every_field_is_checked_before_enqueueing(
    server: Server, body: dict, status: int, field: str
) -> None:
    answer = await submit(server, body, status=status)
    assert field in answer["message"]
    async with server.session.get(f"{server.url}/status") as resp:
        assert (await resp.json())["number_in_queue"] == 0


async def test_a_body_that_is_not_a_json_object_is_400(server: Server) -> None:
    async with server.session.post(f"{server.url}/jobs", data=b"[1, 2]") as resp:
        assert resp.status == 400


async def test_the_same_idempotency_key_returns_the_existing_job(
    server: Server, origin: Origin
) -> None:
    body = {"namespace": "p", "source": origin.image(), "idempotency_key": "order-17/photo-1"}
    first = await submit(server, body)
    await finished(server, first["job_id"])
    second = await submit(server, body, status=200)
    assert second["job_id"] == first["job_id"]
    headers = {"Idempotency-Key": "order-17/photo-1"}
    del body["idempotency_key"]
    async with server.session.post(f"{server.url}/jobs", json=body, headers=headers) as resp:
        assert (resp.status, (await resp.json())["job_id"]) == (200, first["job_id"])
    assert len(origin.requests) == 1
    body["queue"] = "urgent"  # resubmitted elsewhere: the answer names the job's own queue
    async with server.session.post(f"{server.url}/jobs", json=body, headers=headers) as resp:
        assert (resp.status, (await resp.json())["queue"]) == (200, "normal")


async def test_an_unknown_list_filter_is_a_400(server: Server) -> None:
    async with server.session.get(f"{server.url}/jobs", params={"status": "failed"}) as resp:
        body = await resp.json()
        assert (resp.status, body["error"]) == (400, "bad_request")
        assert "status" in body["message"]


async def test_status_counts_queued_and_running_per_queue(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    server = await start_jobs_server(job_concurrency=1)
    body = {"namespace": "p", "source": origin.image(hold=1)}
    blocker = await submit(server, body)
    await running(server, blocker["job_id"])
    waiting = await submit(server, {**body, "queue": "urgent"})
    assert waiting["number_in_queue"] == 1
    async with server.session.get(f"{server.url}/status") as resp:
        status = await resp.json()
    assert (status["number_in_queue"], status["running"]) == (1, 1)
    assert status["queues"]["urgent"]["queued"] == 1
    async with server.session.get(f"{server.url}/queues/normal/status") as resp:
        assert await resp.json() == {
            "queue": "normal",
            "number_in_queue": 0,
            "queued": 0,
            "running": 1,
        }
    async with server.session.get(f"{server.url}/queues/later/status") as resp:
        assert resp.status == 404
    origin.release.set()


async def test_list_failed_jobs_and_retry_one(server: Server, origin: Origin) -> None:
    ok = await submit(server, {"namespace": "p", "source": origin.image()})
    bad = await submit(server, {"namespace": "p", "source": origin.image("missing")})
    await finished(server, ok["job_id"])
    await finished(server, bad["job_id"])
    async with server.session.get(f"{server.url}/jobs", params={"state": "failed"}) as resp:
        listed = [view["job_id"] for view in (await resp.json())["jobs"]]
    assert listed == [bad["job_id"]]
    async with server.session.get(f"{server.url}/jobs", params={"limit": "1"}) as resp:
        assert len((await resp.json())["jobs"]) == 1
    async with server.session.post(f"{server.url}/jobs/{bad['job_id']}/retry") as resp:
        assert resp.status == 202
    view = await finished(server, bad["job_id"])
    assert (view["state"], view["error"]) == ("failed", "source_not_found")
    assert len([r for r in origin.requests if r.path.endswith("missing")]) == 2
    async with server.session.post(f"{server.url}/jobs/{ok['job_id']}/retry") as resp:
        assert resp.status == 409


async def test_unknown_jobs_and_bad_queries(server: Server) -> None:
    for path in ("/jobs/0123456789abcdef0123456789abcdef", "/jobs/nope"):
        async with server.session.get(server.url + path) as resp:
            assert resp.status == 404
    for query in ({"state": "done"}, {"limit": "0"}):
        async with server.session.get(f"{server.url}/jobs", params=query) as resp:
            assert resp.status == 400


async def test_api_keys_guard_job_reads_and_writes(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    server = await start_jobs_server(api_keys=["k1"])
    body = {"namespace": "p", "source": origin.image()}
    await submit(server, body, status=401)
    key = {"Authorization": "Bearer k1"}
    async with server.session.post(f"{server.url}/jobs", json=body, headers=key) as resp:
        job_id = (await resp.json())["job_id"]
    async with server.session.get(f"{server.url}/jobs/{job_id}") as resp:
        assert resp.status == 401
    async with server.session.get(f"{server.url}/jobs/{job_id}", headers=key) as resp:
        assert resp.status == 200
    async with server.session.get(f"{server.url}/status") as resp:
        assert resp.status == 200  # counts stay public, as in the seed
