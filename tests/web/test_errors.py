"""Every error status the API promises, each as JSON {"error", "message"}, none a crash."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import Server, ServerFactory, image_bytes


async def expect_error(resp: aiohttp.ClientResponse, status: int, code: str | None = None) -> str:
    body = await resp.json()
    assert resp.status == status, body
    assert set(body) == {"error", "message"}
    if code:
        assert body["error"] == code, body
    return body["message"]


@pytest.fixture
async def source_url() -> AsyncIterator[str]:
    """An upstream on loopback: an image, a 404, a 500 and a server that never answers."""

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    def serve(body: bytes, status: int = 200) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_: web.Request) -> web.Response:
            return web.Response(body=body, status=status, content_type="image/jpeg")

        return handler

    app = web.Application()
    app.router.add_get("/image.jpg", serve(image_bytes("grid.jpg")))
    app.router.add_get("/missing.jpg", serve(b"", status=404))
    app.router.add_get("/broken.jpg", serve(b"", status=500))
    app.router.add_get("/slow.jpg", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_source_upload(server: Server, source_url: str) -> None:
    info = await server.upload(b"", source=source_url + "/image.jpg")
    assert (info["width"], info["height"]) == (800, 600)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/missing.jpg", 404, "source_not_found"),
        ("/broken.jpg", 502, "upstream_error"),
        ("/slow.jpg", 504, "upstream_timeout"),
    ],
)
async def test_source_failures(
    start_server: ServerFactory, source_url: str, path: str, status: int, code: str
) -> None:
    server = await start_server(source_timeout_s=0.5)
    started = time.monotonic()
    async with server.session.post(server.url + "/p", params={"source": source_url + path}) as resp:
        await expect_error(resp, status, code)
    assert time.monotonic() - started < 5


async def test_private_sources_refused_by_default(
    start_server: ServerFactory, source_url: str
) -> None:
    server = await start_server(allow_private_sources=False)
    for url in (source_url + "/image.jpg", "http://169.254.169.254/latest/", "file:///etc/passwd"):
        async with server.session.post(server.url + "/p", params={"source": url}) as resp:
            await expect_error(resp, 403, "source_refused")


@pytest.mark.parametrize(
    ("token", "field"),
    [
        ("w0.jpg", "width"),
        ("w9000.jpg", "width"),
        ("w200.bmp", "format"),
        ("w200-q101.jpg", "quality"),
        ("w200-q50.png", "quality"),
        ("w200-fit.jpg", "fit"),
        ("w200@4x.jpg", "density"),
        ("w5000@2x.jpg", "width"),
        ("banana.jpg", "size"),
        ("w200-zoom.jpg", "option"),
    ],
)
async def test_malformed_tokens_name_the_field(server: Server, token: str, field: str) -> None:
    info = await server.upload(image_bytes("small.png"))
    async with server.session.get(server.image_url(info["hash"]) + "/" + token) as resp:
        message = await expect_error(resp, 400)
    assert message.startswith(field + ":"), message


async def test_bad_outputs_refused_before_storing(server: Server) -> None:
    params = {"outputs": "w100.jpg,w0.jpg"}
    async with server.session.post(
        server.url + "/p", data=image_bytes("small.png"), params=params
    ) as resp:
        await expect_error(resp, 400)
    assert not (server.storage / "p").exists()


@pytest.mark.parametrize("namespace", ["P", "-p", "a" * 65, "metrics", "jobs"])
async def test_bad_namespaces(server: Server, namespace: str) -> None:
    async with server.session.post(f"{server.url}/{namespace}", data=b"x") as resp:
        assert resp.status in (400, 405)


async def test_unknown_images_are_404(server: Server) -> None:
    for path in ("/p/000/000/000/00000000000000000000000/w100.jpg", "/p/zzz/000/000/x/info.json"):
        async with server.session.get(server.url + path) as resp:
            await expect_error(resp, 404)


async def test_upload_over_the_byte_limit_is_413(start_server: ServerFactory) -> None:
    server = await start_server(max_upload_bytes=10_000)
    data = image_bytes("grid.jpg")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        for i in range(0, len(data), 4096):
            yield data[i : i + 4096]

    for body in (data, chunks()):
        async with server.session.post(server.url + "/p", data=body) as resp:
            await expect_error(resp, 413, "too_large")


async def test_empty_and_non_images(server: Server) -> None:
    async with server.session.post(server.url + "/p", data=b"") as resp:
        await expect_error(resp, 400, "empty_body")
    async with server.session.post(server.url + "/p", data=image_bytes("not-an-image.txt")) as resp:
        await expect_error(resp, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("65536-uint32-limit.png", "over_limit"),  # decompression bomb
        ("bomb.png", "over_limit"),  # the same lie in 222 bytes (test/images)
        ("giant-image.jpg", "over_limit"),
        ("truncated.jpg", "undecodable"),
        ("truncated.png", "undecodable"),
        ("corrupt-header.jpg", "undecodable"),
        ("xcsn0g01.png", "undecodable"),
        ("monkey12.jpg", "undecodable"),
    ],
)
async def test_hostile_and_broken_images_are_422_fast(server: Server, name: str, code: str) -> None:
    started = time.monotonic()
    async with server.session.post(server.url + "/p", data=image_bytes(name)) as resp:
        await expect_error(resp, 422, code)
    assert time.monotonic() - started < 1.0


async def test_pixel_and_frame_limits_are_settings(start_server: ServerFactory) -> None:
    server = await start_server(max_pixels=100_000, max_frames=3)
    async with server.session.post(server.url + "/p", data=image_bytes("grid.jpg")) as resp:
        await expect_error(resp, 422, "over_limit")
    async with server.session.post(server.url + "/p", data=image_bytes("anim.gif")) as resp:
        await expect_error(resp, 422, "over_limit")


async def test_full_render_queue_answers_503(start_server: ServerFactory) -> None:
    server = await start_server(render_workers=1, render_queue=1)
    info = await server.upload(image_bytes("2569067123_aca715a2ee_o.jpg"))
    base = server.image_url(info["hash"])

    async def get(width: int) -> tuple[int, str | None]:
        async with server.session.get(f"{base}/w{width}.png") as resp:
            await resp.read()
            return resp.status, resp.headers.get("Retry-After")

    results = await asyncio.gather(*(get(1000 + i) for i in range(8)))
    assert (503, "1") in results
    assert (200, None) in results
    assert {status for status, _ in results} == {200, 503}


async def test_auto_is_refused_in_outputs_lists(server: Server) -> None:
    params = {"outputs": "w100.jpg,w100.auto"}
    async with server.session.post(
        server.url + "/p", data=image_bytes("small.png"), params=params
    ) as resp:
        message = await expect_error(resp, 400, "bad_format")
    assert ".auto" in message
