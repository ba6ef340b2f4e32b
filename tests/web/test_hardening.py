"""What a hostile trial of a public deployment found, each kept fixed here (issue 14)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips

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


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), so writes fail with ENOSPC as on a full disk."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(directory: Path) -> None:
    with pytest.raises(OSError, match="No space left"):
        (directory / "filler").write_bytes(bytes(2 * 1024 * 1024))  # twice the disk


async def test_a_full_disk_answers_507_and_still_serves_renders(
    start_server: ServerFactory, small_disk: Path
) -> None:
    server = await start_server(storage=small_disk)
    hash_ = (await server.upload(image_bytes("grid.jpg")))["hash"]
    _fill(small_disk)
    async with server.session.post(server.url + "/p", data=image_bytes("grid.png")) as resp:
        assert resp.status == 507
        assert (await resp.json())["error"] == "storage_full"
    async with server.session.get(server.image_url(hash_) + "/w300.png") as resp:
        assert resp.status == 200  # rendered and served, though not stored
        assert pyvips.Image.new_from_buffer(await resp.read(), "").width == 300
    leftovers = [p.name for p in small_disk.rglob("*") if p.is_file()]
    assert sorted(leftovers) == ["filler", "info.json", "original"]  # no temp files, no w300


def _age(path: Path, seconds: float) -> None:
    for p in [path, *path.rglob("*")]:
        os.utime(p, (time.time() - seconds, time.time() - seconds))


async def test_start_up_sweeps_what_killed_uploads_left(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """kill -9 mid-upload left a temp file, and an original without info.json, for good."""
    storage = tmp_path / "store"
    first = await start_server(storage=storage)
    await first.upload(image_bytes("grid.jpg"))
    complete = next(p.parent for p in storage.rglob("info.json"))
    (complete / ".tmp-abc123").write_bytes(b"half an output")
    _age(complete / ".tmp-abc123", 7200)
    stale = storage / "p" / "111" / "222" / "333" / ("4" * 23)
    fresh = storage / "p" / "555" / "666" / "777" / ("8" * 23)
    for incomplete in (stale, fresh):
        incomplete.mkdir(parents=True)
        (incomplete / "original").write_bytes(image_bytes("grid.jpg"))
        (incomplete / "w100.jpg").write_bytes(b"an output rendered before the crash")
    _age(stale, 7200)
    await start_server(storage=storage, sweep_after_s=3600)
    for _ in range(100):
        if not stale.exists():
            break
        await asyncio.sleep(0.05)
    assert not stale.exists()
    assert not (storage / "p" / "111").exists()  # its empty partitions go too
    assert not (complete / ".tmp-abc123").exists()
    assert sorted(p.name for p in complete.iterdir()) == ["info.json", "original"]
    assert sorted(p.name for p in fresh.iterdir()) == ["original", "w100.jpg"]  # maybe mid-write
