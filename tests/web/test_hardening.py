"""What a hostile trial of a public deployment found, each kept fixed here (issue 14)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.conftest import Server, ServerFactory, image_bytes

SCRIPTED_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    b"<script>fetch('/steal?c=' + document.cookie)</script>"
    b'<rect width="40" height="40" fill="red"/></svg>'
)


async def test_an_uploaded_svg_cannot_run_as_a_page(server: Server) -> None:
    """Stored XSS: /original served the upload as image/svg+xml, scripts and all."""
    info = await server.upload(SCRIPTED_SVG)
    async with server.session.get(server.image_url(info["hash"]) + "/original") as resp:
        assert resp.headers["Content-Type"] == "image/svg+xml"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        policy = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "sandbox" in policy
        assert resp.headers["Content-Disposition"] == "attachment"


async def test_every_image_answer_says_nosniff(server: Server) -> None:
    info = await server.upload(image_bytes("grid.jpg"))
    for suffix in ("/original", "/w50.png"):
        async with server.session.get(server.image_url(info["hash"]) + suffix) as resp:
            assert resp.headers["X-Content-Type-Options"] == "nosniff", suffix
    async with server.session.get(server.image_url(info["hash"]) + "/original") as resp:
        assert "sandbox" in resp.headers["Content-Security-Policy"]
        assert "Content-Disposition" not in resp.headers  # a photo still opens in the browser


async def test_a_malformed_request_is_one_log_line_without_its_headers(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A control byte in Authorization made aiohttp log the header, key included, in an ERROR
    traceback."""
    server = await start_server(api_keys=["secretkey"])
    host, port = server.url.removeprefix("http://").split(":")
    caplog.set_level(logging.DEBUG)
    for raw in (
        b"POST /p HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\x01key\r\n\r\n",
        b"GET /p/\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        assert (await reader.read(12)) == b"HTTP/1.0 400"
        writer.close()
    logged = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [r.levelname for r in logged] == ["INFO", "INFO"]
    assert all(r.exc_info is None and r.exc_text is None for r in logged)
    text = caplog.text
    assert "secret" not in text
    assert "Traceback" not in text
    assert "malformed request from 127.0.0.1: Invalid header value char" in text


async def test_an_upload_that_stops_sending_is_dropped(start_server: ServerFactory) -> None:
    server = await start_server(api_keys=["k"], upload_idle_timeout_s=0.3)
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = "POST /p HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nContent-Length: 5000\r\n\r\n"
    writer.write(head.encode() + image_bytes("grid.jpg")[:100])
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    writer.close()
    assert head.startswith(b"HTTP/1.1 408 Request Timeout")
    assert json.loads(body)["error"] == "request_timeout"
    assert not (server.storage / "p").exists()


async def test_a_refused_key_is_told_how_to_authenticate(start_server: ServerFactory) -> None:
    server = await start_server(api_keys=["k"])
    async with server.session.post(server.url + "/p", data=b"x") as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="imageserver"'
