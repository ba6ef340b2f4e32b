"""The skroutz downloader's README, replayed: its curl examples sent as written (hosts swapped for
a loopback origin and receiver), its callback examples checked key by key, and its other routes.

Its Kafka example is delivered to a Redis stream (no Kafka broker to run here: README "Migrating
from the skroutz downloader"); its aggr_proxy goes through a real HTTP proxy on loopback.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis import asyncio as aioredis

from tests.conftest import Server, ServerFactory, image_bytes
from tests.jobs.conftest import Origin, Receiver, delivery, finished, job, running, submit

# The README's two curl bodies, verbatim.
HTTP_EXAMPLE = (
    '{"aggr_id":"aggrFooBar", "aggr_limit":8, "url":"https://httpbin.org/image/png", '
    '"callback_type": "http", "callback_dst":"https://callback.example.com", "extra":"foobar", '
    '"mime_type": "!image/vnd.adobe.photoshop,image/*", "request_headers": '
    '{"Accept":"image/png,image/jpeg,image/*,*/*","User-Agent":"Downloader-Agent"}}'
)
KAFKA_EXAMPLE = (
    '{"aggr_id":"aggrFooBar", "aggr_limit":8, "url":"http://httpbin.org/image/png", '
    '"callback_type":"kafka" ,"callback_dst":"dwl_images", "extra":"foobar", '
    '"mime_type": "!image/vnd.adobe.photoshop,image/*", "request_headers": '
    '{"Accept":"image/png,image/jpeg,image/*,*/*","User-Agent":"Downloader-Agent"}}'
)
# The README's "Successful download callback", for its keys and the types of their values.
SUCCESS_CALLBACK = {
    "success": True,
    "error": "",
    "extra": "foobar",
    "resource_url": "https://httpbin.org/image/png",
    "download_url": "http://localhost/foo/6QE/6QEywYsd0jrKAg",
    "job_id": "6QEywYsd0jrKAg",
    "response_code": 200,
    "delivered": True,
    "delivery_error": "",
}
CURL_FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends


def replayed(example: str, source: str, callback: str | None = None) -> str:
    body = example.replace("https://httpbin.org/image/png", source)
    body = body.replace("http://httpbin.org/image/png", source)
    return body.replace("https://callback.example.com", callback or "")


async def download(server: Server, body: str, status: int = 201) -> dict[str, Any]:
    async with server.session.post(f"{server.url}/download", data=body, headers=CURL_FORM) as resp:
        answer = await resp.json()
        assert resp.status == status, answer
        return answer


def assert_seed_shapes(payload: dict[str, Any]) -> None:
    for key, example in SUCCESS_CALLBACK.items():
        assert isinstance(payload[key], type(example)), (key, payload[key])


def original_url(server: Server, view: dict[str, Any]) -> str:
    digest = view["result"]["hash"]
    namespace = view["request"]["namespace"]
    return (
        f"{server.url}/{namespace}/{digest[:3]}/{digest[3:6]}/{digest[6:9]}/{digest[9:]}/original"
    )


async def test_the_http_example(server: Server, origin: Origin, receiver: Receiver) -> None:
    body = replayed(HTTP_EXAMPLE, origin.image("grid.png"), receiver.url)
    answer = await download(server, body)
    assert list(answer) == ["id"]
    [(_, raw)] = await receiver.wait_for(1)
    payload = json.loads(raw)
    assert_seed_shapes(payload)
    view = await job(server, answer["id"])
    assert (view["kind"], view["request"]["namespace"]) == ("download", "downloads")
    assert (view["request"]["group"], view["request"]["group_limit"]) == ("aggrFooBar", 8)
    assert payload["job_id"] == answer["id"]
    assert (payload["success"], payload["error"], payload["extra"]) == (True, "", "foobar")
    assert (payload["resource_url"], payload["response_code"]) == (origin.image("grid.png"), 200)
    assert payload["download_url"] == original_url(server, view)
    async with server.session.get(payload["download_url"]) as resp:
        assert (resp.status, await resp.read()) == (200, image_bytes("grid.png"))
    fetched = origin.requests[0].headers
    assert (fetched["User-Agent"], fetched["Accept"]) == (
        "Downloader-Agent",
        "image/png,image/jpeg,image/*,*/*",
    )


async def test_the_404_example(server: Server, origin: Origin, receiver: Receiver) -> None:
    await download(server, replayed(HTTP_EXAMPLE, origin.image("missing"), receiver.url))
    [(_, raw)] = await receiver.wait_for(1)
    payload = json.loads(raw)
    assert_seed_shapes(payload | {"success": False})
    assert (payload["success"], payload["response_code"]) == (False, 404)
    assert payload["error"] == "source_not_found"
    assert payload["download_url"] == ""


async def test_the_mime_type_mismatch_example(
    server: Server, origin: Origin, receiver: Receiver
) -> None:
    body = replayed(HTTP_EXAMPLE, origin.image("grid.png"), receiver.url)
    await download(server, body.replace("!image/vnd.adobe.photoshop,image/*", "image/jpeg"))
    [(_, raw)] = await receiver.wait_for(1)
    payload = json.loads(raw)
    assert (payload["success"], payload["response_code"]) == (False, 200)
    assert payload["error"] == "mime_refused"
    assert "image/png" in payload["message"]
    assert "image/jpeg" in payload["message"]


async def test_the_kafka_example_lands_on_a_redis_stream(
    start_jobs_server: ServerFactory, redis_url: str, origin: Origin
) -> None:
    server = await start_jobs_server(callback_stream_url=redis_url)
    answer = await download(server, replayed(KAFKA_EXAMPLE, origin.image("grid.png")))
    view = await delivery(server, answer["id"], "delivered")
    assert (view["callback"]["type"], view["callback"]["stream"]) == ("redis", "dwl_images")
    client = aioredis.from_url(redis_url)
    try:
        [(_, fields)] = await client.xrange("dwl_images")
    finally:
        await client.aclose()
    payload = json.loads(fields[b"payload"])
    assert_seed_shapes(payload)
    assert (payload["job_id"], payload["success"]) == (answer["id"], True)


async def test_a_stream_callback_needs_a_redis(server: Server, origin: Origin) -> None:
    """The default jobs database is SQLite and no --callback-stream-url is set."""
    answer = await download(server, replayed(KAFKA_EXAMPLE, origin.image()), status=400)
    assert "--callback-stream-url" in answer["message"]


async def test_older_clients_callback_url_and_unknown_fields(
    server: Server, origin: Origin, receiver: Receiver
) -> None:
    body = {"aggr_id": "a", "aggr_limit": 1, "url": origin.image(), "callback_url": receiver.url}
    await download(server, json.dumps(body))
    assert json.loads((await receiver.wait_for(1))[0][1])["success"] is True
    answer = await download(server, json.dumps({**body, "aggr_idd": "a"}), status=400)
    assert "aggr_idd" in answer["message"]
    both = {**body, "callback_dst": receiver.url}
    answer = await download(server, json.dumps(both), status=400)
    assert "callback_url, callback_dst" in answer["message"]


async def test_heartbeat_follows_the_maintenance_file(
    start_jobs_server: ServerFactory, tmp_path: Path
) -> None:
    maintenance = tmp_path / "maintenance"
    server = await start_jobs_server(maintenance_file=str(maintenance))
    async with server.session.get(f"{server.url}/hb") as resp:
        assert (resp.status, await resp.text()) == (200, "OK")
    maintenance.touch()
    async with server.session.get(f"{server.url}/hb") as resp:
        assert (resp.status, await resp.text()) == (
            503,
            f"Service disabled, '{maintenance}' exists!",
        )
    async with server.session.get(f"{server.url}/healthz") as resp:
        assert resp.status == 503


async def test_retry_sends_the_callback_again(
    server: Server, origin: Origin, receiver: Receiver
) -> None:
    answer = await download(server, replayed(HTTP_EXAMPLE, origin.image("grid.png"), receiver.url))
    await delivery(server, answer["id"], "delivered")
    async with server.session.post(f"{server.url}/retry/{answer['id']}") as resp:
        assert resp.status == 201
    [first, again] = [json.loads(raw) for _, raw in await receiver.wait_for(2)]
    assert (first["delivered"], again["delivered"]) == (False, True)
    assert again["job_id"] == answer["id"]
    async with server.session.post(f"{server.url}/retry/{'0' * 32}") as resp:
        assert resp.status == 404


async def test_aggregations_count_pending_jobs(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    server = await start_jobs_server(job_concurrency=1)
    first = await download(server, json.dumps(_held("busy", 0, origin)))
    await running(server, first["id"])
    for n, group in enumerate(["busy", "busy", "other"], start=1):
        await download(server, json.dumps(_held(group, n, origin)))
    async with server.session.get(f"{server.url}/dashboard/aggregations") as resp:
        assert resp.status == 200
        assert await resp.json() == [
            {"name": "jobs:busy", "size": 2},
            {"name": "jobs:other", "size": 1},
        ]
    origin.release.set()


def _held(group: str, n: int, origin: Origin) -> dict[str, Any]:
    return {"aggr_id": group, "aggr_limit": 4, "url": origin.image(hold=1, n=n)}


@dataclass
class Proxy:
    """An HTTP proxy: fetches each absolute-form request's target itself, and counts them."""

    url: str = ""
    seen: list[str] = field(default_factory=list)

    async def forward(self, request: web.Request) -> web.Response:
        self.seen.append(str(request.url))
        async with aiohttp.ClientSession() as session, session.get(request.url) as resp:
            body = await resp.read()
            return web.Response(body=body, status=resp.status, content_type=resp.content_type)


@pytest.fixture
async def proxies() -> AsyncIterator[list[Proxy]]:
    found, runners = [Proxy(), Proxy()], []
    for proxy in found:
        app = web.Application()
        app.router.add_get("/{tail:.*}", proxy.forward)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        proxy.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        runners.append(runner)
    yield found
    for runner in runners:
        await runner.cleanup()


async def test_a_group_keeps_its_first_proxy(
    start_jobs_server: ServerFactory, jobs_url: str, origin: Origin, proxies: list[Proxy]
) -> None:
    server = await start_jobs_server(jobs_url=jobs_url)
    first, second = proxies
    ids = []
    for n, proxy in enumerate(proxies):
        body = {"aggr_id": "px", "aggr_limit": 2, "url": origin.image(n=n), "aggr_proxy": proxy.url}
        ids.append((await download(server, json.dumps(body)))["id"])
    for job_id in ids:
        view = await finished(server, job_id)
        assert (view["state"], view["request"]["proxy"]) == ("succeeded", first.url)
    assert sorted(first.seen) == sorted(origin.image(n=n) for n in range(2))
    assert second.seen == []


@pytest.mark.parametrize(
    ("proxy", "status"), [("http://10.0.0.7:3128", 403), ("https://93.184.216.34:3128", 400)]
)
async def test_a_proxy_obeys_the_source_rules(
    start_jobs_server: ServerFactory, proxy: str, status: int
) -> None:
    server = await start_jobs_server(allow_private_sources=False)
    body = {
        "aggr_id": "a",
        "aggr_limit": 1,
        "url": "http://93.184.216.34/a.png",
        "aggr_proxy": proxy,
    }
    await download(server, json.dumps(body), status=status)


async def test_a_file_is_kept_and_served_as_a_download(server: Server, origin: Origin) -> None:
    source = origin.image("not-an-image.txt", type="text/html")
    answer = await download(server, json.dumps({"aggr_id": "f", "aggr_limit": 1, "url": source}))
    view = await finished(server, answer["id"])
    info = view["result"]["info"]
    assert (view["state"], info["file"], info["content_type"]) == ("succeeded", True, "text/html")
    assert info["size"] == len(image_bytes("not-an-image.txt"))
    url = original_url(server, view)
    async with server.session.get(url) as resp:
        assert (resp.status, await resp.read()) == (200, image_bytes("not-an-image.txt"))
        assert resp.headers["Content-Type"] == "text/html"
        assert resp.headers["Content-Disposition"] == "attachment"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
    async with server.session.get(url.replace("/original", "/w200.jpg")) as resp:
        assert resp.status == 415
    native = {"kind": "download", "namespace": "p", "source": origin.image("not-an-image.txt")}
    view = await finished(server, (await submit(server, native))["job_id"])
    assert view["result"]["info"]["content_type"] == "application/octet-stream"
