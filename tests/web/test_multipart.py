"""Multipart uploads (`curl -F file=@x.jpg`), through a real server: the same answer as a raw
body, the same cap (413 before reading past it) and idle timeout, a 400 without a file part."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import aiohttp
import pytest

from tests.conftest import IMAGES, Server, ServerFactory, image_bytes


async def _post_form(server: Server, form: aiohttp.MultipartWriter) -> tuple[int, Any]:
    async with server.session.post(f"{server.url}/p", data=form) as resp:
        return resp.status, await resp.json()


def _form(*fields: tuple[str, bytes | str, str | None]) -> aiohttp.MultipartWriter:
    """multipart/form-data whatever its fields (aiohttp's FormData urlencodes text alone)."""
    form = aiohttp.MultipartWriter("form-data")
    for name, value, filename in fields:
        part = form.append(value)
        names = {"name": name} if filename is None else {"name": name, "filename": filename}
        part.set_content_disposition("form-data", **names)
    return form


async def test_curl_form_upload_answers_as_a_raw_one(server: Server) -> None:
    path = IMAGES / "grid.jpg"
    run = await asyncio.to_thread(
        subprocess.run,
        ["curl", "-sS", "-F", f"file=@{path}", f"{server.url}/p?outputs=w50.jpg"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    answer = json.loads(run.stdout)
    assert answer == await server.upload(path.read_bytes(), outputs="w50.jpg")
    assert answer["width"] == 800
    assert list(answer["urls"]["outputs"]) == ["w50.jpg"]


async def test_the_file_part_is_found_among_fields(server: Server) -> None:
    data = image_bytes("grid.jpg")
    named = _form(("note", "hello", None), ("file", data, None))  # `file`, even without a name
    status, answer = await _post_form(server, named)
    assert (status, answer["size"]) == (200, len(data))
    first_file = _form(("title", "x", None), ("image", data, "grid.jpg"))
    assert (await _post_form(server, first_file))[1]["hash"] == answer["hash"]


async def test_a_form_without_a_file_part_is_a_400(server: Server) -> None:
    status, answer = await _post_form(server, _form(("note", "hello", None)))
    assert (status, answer["error"]) == (400, "no_file_part")
    assert "-F file=@" in answer["message"]
    headers = {"Content-Type": "multipart/form-data; boundary=zzz"}
    async with server.session.post(f"{server.url}/p", data=b"garbage", headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "bad_multipart"
    bad_header = b'--zzz\r\nContent-Disposition: form-data; name="\x15\x7f"\r\n\r\nx\r\n--zzz--\r\n'
    async with server.session.post(f"{server.url}/p", data=bad_header, headers=headers) as resp:
        assert (resp.status, (await resp.json())["error"]) == (400, "bad_multipart")


async def test_a_form_over_the_cap_is_a_413(start_server: ServerFactory) -> None:
    server = await start_server(max_upload_bytes=10_000)
    data = image_bytes("grid.jpg")  # 18 KB: over the cap once read
    assert (await _post_form(server, _form(("file", data, "grid.jpg"))))[0] == 413
    declared = _form(("file", b"\xff" * 200_000, "big.jpg"))  # refused before reading
    assert (await _post_form(server, declared))[0] == 413

    async def chunked() -> Any:  # no declared length: the bytes received decide
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=x.jpg\r\n\r\n"
        for _ in range(100):
            yield b"\xff" * 1000
            await asyncio.sleep(0)

    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    async with server.session.post(f"{server.url}/p", data=chunked(), headers=headers) as resp:
        assert (resp.status, (await resp.json())["error"]) == (413, "too_large")
    assert not (server.storage / "p").exists()


@pytest.mark.parametrize("stop_in", ["headers", "file"])
async def test_a_form_that_stops_sending_is_dropped(
    start_server: ServerFactory, stop_in: str
) -> None:
    server = await start_server(upload_idle_timeout_s=0.3)
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    part = b"--b\r\nContent-Disposition: form-data; name=file"
    if stop_in == "file":
        part += b"; filename=x.jpg\r\n\r\n" + image_bytes("grid.jpg")[:100]
    head = (
        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        "Content-Length: 5000\r\n\r\n"
    )
    writer.write(head.encode() + part)
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
