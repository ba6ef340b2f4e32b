"""The server on S3 storage (moto on loopback): the whole flow, redirect mode, and S3 outages."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import pyvips
from moto.server import ThreadedMotoServer
from multidict import CIMultiDict

from imageserver.keys import IMMUTABLE
from tests.conftest import Server, ServerFactory, image_bytes
from tests.s3_fixtures import free_port, make_bucket, raw_client, s3_overrides, start_moto

Fetched = tuple[int, CIMultiDict[str], bytes]


def stored_keys(s3_settings: dict[str, Any]) -> list[str]:
    bucket = s3_settings["storage"].removeprefix("s3://").split("/")[0]
    listed = raw_client(s3_settings["s3_endpoint_url"]).list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


async def metrics_text(server: Server) -> str:
    async with server.session.get(server.url + "/metrics") as resp:
        return await resp.text()


async def fetch(
    server: Server, url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> Fetched:
    async with server.session.request(method, url, headers=headers) as resp:
        return resp.status, resp.headers.copy(), await resp.read()


async def test_upload_info_render_hits_304_head_delete(
    start_server: ServerFactory, s3_settings: dict[str, Any]
) -> None:
    server = await start_server(**s3_settings)
    data = image_bytes("grid.jpg")
    info = await server.upload(data)
    base, h = server.image_url(info["hash"]), info["hash"]
    prefix = f"images/p/{h[:3]}/{h[3:6]}/{h[6:9]}/{h[9:]}/"
    assert stored_keys(s3_settings) == [prefix + "info.json", prefix + "original"]
    stored = {k: v for k, v in info.items() if k not in ("path", "urls")}  # the answer's own
    assert json.loads((await fetch(server, base + "/info.json"))[2]) == stored
    assert (await fetch(server, base + "/original"))[2] == data

    status, headers, body = await fetch(server, base + "/w200.jpg")
    assert (status, headers["Cache-Control"]) == (200, IMMUTABLE)
    assert pyvips.Image.new_from_buffer(body, "").width == 200
    assert prefix + "w200.jpg" in stored_keys(s3_settings)
    hit = await fetch(server, base + "/w200.jpg")
    assert (hit[0], hit[1]["ETag"], hit[2]) == (200, headers["ETag"], body)
    assert 'imageserver_output_lookups_total{result="memory"} 1.0' in await metrics_text(server)
    conditional = {"If-None-Match": headers["ETag"]}
    assert (await fetch(server, base + "/w200.jpg", headers=conditional))[0] == 304
    head = await fetch(server, base + "/w200.jpg", "HEAD")
    assert (head[0], head[1]["Content-Type"], head[2]) == (200, "image/jpeg", b"")

    async with server.session.delete(base) as resp:
        assert (await resp.json())["deleted"] == 3
    assert stored_keys(s3_settings) == []
    assert (await fetch(server, base + "/info.json"))[0] == 404


async def test_another_process_serves_stored_outputs_from_s3(
    start_server: ServerFactory, s3_settings: dict[str, Any]
) -> None:
    first = await start_server(**s3_settings)
    info = await first.upload(image_bytes("grid.jpg"), outputs="w200.jpg")
    rendered = await fetch(first, first.image_url(info["hash"]) + "/w200.jpg")
    second = await start_server(**s3_settings)
    stored = await fetch(second, second.image_url(info["hash"]) + "/w200.jpg")
    assert (stored[0], stored[1]["ETag"], stored[2]) == (200, rendered[1]["ETag"], rendered[2])
    assert 'imageserver_output_lookups_total{result="storage"} 1.0' in await metrics_text(second)


async def test_concurrent_misses_render_once(
    start_server: ServerFactory, s3_settings: dict[str, Any]
) -> None:
    server = await start_server(**s3_settings)
    info = await server.upload(image_bytes("grid.jpg"))
    url = server.image_url(info["hash"]) + "/x300.webp"
    answers = await asyncio.gather(*(fetch(server, url) for _ in range(12)))
    assert {(status, body) for status, _, body in answers} == {(200, answers[0][2])}
    assert 'imageserver_output_lookups_total{result="render"} 1.0' in await metrics_text(server)


async def test_redirect_mode_sends_stored_outputs_to_s3(
    start_server: ServerFactory, s3_settings: dict[str, Any]
) -> None:
    server = await start_server(**s3_settings, s3_serve="redirect", memory_cache_bytes=0)
    info = await server.upload(image_bytes("grid.jpg"), outputs="w200.jpg")
    base = server.image_url(info["hash"])
    for method in ("GET", "HEAD"):
        async with server.session.request(
            method, base + "/w200.jpg", allow_redirects=False
        ) as resp:
            assert resp.status == 302
            location = resp.headers["Location"]
    assert location.startswith(s3_settings["s3_endpoint_url"])
    async with server.session.get(base + "/w200.jpg") as resp:  # followed to S3 itself
        assert (resp.headers["Content-Type"], resp.headers["Cache-Control"]) == (
            "image/jpeg",
            IMMUTABLE,
        )
        assert pyvips.Image.new_from_buffer(await resp.read(), "").width == 200
    async with server.session.get(base + "/w100.jpg", allow_redirects=False) as resp:
        assert resp.status == 200  # a miss renders here and serves the render at once
        etag = resp.headers["ETag"]
    async with server.session.get(base + "/w100.jpg", allow_redirects=False) as resp:
        assert resp.status == 302
    async with server.session.delete(base) as resp:
        assert resp.status == 200
    async with server.session.get(base + "/w100.jpg", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 404


async def test_redirect_mode_serves_what_memory_holds_auto_included(
    start_server: ServerFactory, s3_settings: dict[str, Any]
) -> None:
    """In memory, an output is served without asking S3 whether it exists, `.auto`'s pick too."""
    server = await start_server(**s3_settings, s3_serve="redirect")
    info = await server.upload(image_bytes("grid.jpg"))
    base = server.image_url(info["hash"])
    webp = {"Accept": "image/webp,*/*"}
    for url, headers in ((base + "/w120.jpg", {}), (base + "/w120.auto", webp)):
        for _ in range(2):  # the render, then a hit in memory
            async with server.session.get(url, headers=headers, allow_redirects=False) as resp:
                assert resp.status == 200
    assert 'imageserver_output_lookups_total{result="redirect"}' not in await metrics_text(server)


@pytest.fixture
def own_moto(aws_env: None) -> Iterator[tuple[list[ThreadedMotoServer], int]]:
    """A moto server of this test's own, so stopping it leaves the session's one alone."""
    port = free_port()
    servers = [start_moto(port)]
    yield servers, port
    servers[-1].stop()


async def test_s3_outage_answers_503_then_recovers(
    start_server: ServerFactory, own_moto: tuple[list[ThreadedMotoServer], int]
) -> None:
    servers, port = own_moto
    endpoint = f"http://127.0.0.1:{port}"
    settings = s3_overrides(endpoint, make_bucket(endpoint), s3_timeout_s=1.0)  # and one retry
    server = await start_server(**settings, memory_cache_bytes=0)
    info = await server.upload(image_bytes("grid.jpg"))
    base = server.image_url(info["hash"])
    async with server.session.get(base + "/w200.jpg") as resp:
        assert resp.status == 200

    servers[-1].stop()
    requests = [
        ("GET", base + "/w200.jpg"),
        ("GET", base + "/x50.png"),
        ("GET", server.image_url("0" * 32) + "/info.json"),  # the render's was read to memory
    ]
    for method, url in [*requests, ("DELETE", base), ("POST", server.url + "/p")]:
        started = time.monotonic()
        async with server.session.request(method, url, data=image_bytes("small.png")) as resp:
            body = await resp.json()
            assert (resp.status, body.get("error")) == (503, "storage_unavailable"), (url, body)
        assert time.monotonic() - started < 1.0
    async with server.session.get(server.url + "/healthz") as resp:
        assert resp.status == 200  # the server itself is fine

    servers.append(start_moto(port))
    for (_, url), status in zip(requests, (200, 200, 404), strict=True):
        async with server.session.get(url) as resp:
            assert resp.status == status, url


async def test_hung_s3_answers_504_within_the_timeout(
    start_server: ServerFactory, aws_env: None, silent_endpoint: str
) -> None:
    settings = s3_overrides(silent_endpoint, "bucket", s3_timeout_s=0.5, s3_max_attempts=3)
    server = await start_server(**settings)
    url = server.image_url("0" * 32) + "/w200.jpg"
    started = time.monotonic()
    async with server.session.get(url) as resp:
        assert (resp.status, await resp.json()) == (
            504,
            {"error": "storage_timeout", "message": "S3 get took longer than 0.5s"},
        )
    assert time.monotonic() - started < 1.0
