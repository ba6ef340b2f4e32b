"""deploy/nginx.conf, run by a real nginx on loopback in front of a real server on local disk."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy import nginx_conf
from imageserver.formats import OUTPUT_FORMATS
from imageserver.keys import IMMUTABLE
from imageserver.web.appkeys import SERVICES
from tests.conftest import Server, ServerFactory, image_bytes
from tests.s3_fixtures import free_port

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
APP_ETAG = re.compile(r'"[0-9a-f]{16}"')  # xxh3-64 of the bytes
NGINX_ETAG = re.compile(r'"[0-9a-f]+-[0-9a-f]+"')  # mtime-size

pytestmark = pytest.mark.skipif(NGINX is None, reason="no nginx binary (.ci/run installs it)")


async def wait_for_port(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    for _ in range(100):
        if process.returncode is not None:
            pytest.fail(f"nginx exited: {log.read_text() if log.exists() else ''}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    pytest.fail("nginx did not start listening within 5 s")


@pytest.fixture
async def front(start_server: ServerFactory, tmp_path: Path) -> AsyncIterator[Server]:
    """nginx before a fresh server: requests to `front.url` go through nginx."""
    app = await start_server()
    directory = tmp_path / "nginx"
    directory.mkdir()
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(nginx_conf.render(directory, app.storage, int(app.url.rsplit(":", 1)[1]), port))
    assert NGINX is not None
    process = await asyncio.create_subprocess_exec(*nginx_conf.command(NGINX, directory, conf))
    try:
        await wait_for_port(port, process, directory / "imageserver.error.log")
        yield Server(f"http://127.0.0.1:{port}", app.app, app.session, app.storage)
    finally:
        process.terminate()
        await process.wait()


async def test_app_renders_the_miss_then_nginx_serves_the_hit(front: Server) -> None:
    info = await front.upload(image_bytes("grid.jpg"))
    url = front.image_url(info["hash"]) + "/w200.jpg"
    async with front.session.get(url) as miss:
        assert APP_ETAG.fullmatch(miss.headers["ETag"])
        body = await miss.read()
    async with front.session.get(url) as hit:
        assert NGINX_ETAG.fullmatch(hit.headers["ETag"])
        assert await hit.read() == body
    for resp in (miss, hit):
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "image/jpeg"
        assert resp.headers.getall("Cache-Control") == [IMMUTABLE]
        assert resp.headers.getall("X-Content-Type-Options") == ["nosniff"]
    async with front.session.get(url, headers={"If-None-Match": hit.headers["ETag"]}) as resp:
        assert resp.status == 304
        assert resp.headers["Cache-Control"] == IMMUTABLE
    async with front.session.head(url) as resp:
        assert (resp.status, resp.headers["Content-Length"]) == (200, str(len(body)))


async def test_every_output_format_has_the_apps_content_type(front: Server) -> None:
    base = front.image_url((await front.upload(image_bytes("small.png")))["hash"])
    for ext, output_format in OUTPUT_FORMATS.items():
        types = []
        for _ in ("app", "nginx"):
            async with front.session.get(f"{base}/w20.{ext}") as resp:
                types.append((resp.status, resp.headers["Content-Type"], resp.headers["ETag"]))
        assert [t[:2] for t in types] == [(200, output_format.mime)] * 2, ext
        assert NGINX_ETAG.fullmatch(types[1][2]), ext


async def test_info_json_and_original_keep_their_types(front: Server) -> None:
    data = image_bytes("grid.jpg")
    answer = await front.upload(data)
    info = {k: v for k, v in answer.items() if k not in ("path", "urls")}  # the answer's own
    async with front.session.get(front.image_url(info["hash"]) + "/info.json") as resp:
        assert NGINX_ETAG.fullmatch(resp.headers["ETag"])  # straight from disk
        assert (resp.headers["Content-Type"], await resp.json()) == (
            "application/json; charset=utf-8",
            info,
        )
    async with front.session.get(front.image_url(info["hash"]) + "/original") as resp:
        assert (resp.headers["Content-Type"], await resp.read()) == ("image/jpeg", data)


async def test_errors_redirects_and_writes_go_to_the_app(front: Server) -> None:
    info = await front.upload(image_bytes("grid.jpg"), outputs="w200.jpg")
    base = front.image_url(info["hash"])
    path = base.removeprefix(front.url)
    (front.storage / path.lstrip("/") / ".tmp-abc123").write_bytes(b"half an output")
    expected = {"/w0.jpg": "bad_size", "/.tmp-abc123": "bad_request", "/w200.bmp": "bad_format"}
    for suffix, code in expected.items():
        async with front.session.get(base + suffix) as resp:
            assert (resp.status, (await resp.json())["error"]) == (400, code), suffix
    async with front.session.get(base + "/w200.jpeg", allow_redirects=False) as resp:
        assert (resp.status, resp.headers["Location"]) == (301, path + "/w200.jpg")
    async with front.session.get(front.url + "/healthz") as resp:
        assert resp.status == 200
    async with front.session.delete(base) as resp:
        assert resp.status == 200
    async with front.session.get(base + "/w200.jpg") as resp:
        assert (resp.status, (await resp.json())["error"]) == (404, "not_found")


async def test_an_original_stored_under_a_name_is_served_alike(front: Server) -> None:
    """/{ns}/_/{name}/... (keys.NAMED): info.json and rendered outputs from disk too."""
    originals = front.app[SERVICES].originals
    stored = await originals.ingest("insight", image_bytes("grid.jpg"), name="doc-1")
    base = f"{front.url}/insight/_/doc-1"
    async with front.session.get(base + "/info.json") as resp:
        assert NGINX_ETAG.fullmatch(resp.headers["ETag"])
        assert await resp.json() == stored.info
    etags = []
    for _ in ("app", "nginx"):
        async with front.session.get(base + "/w20.jpg") as resp:
            assert (resp.status, resp.headers.getall("Cache-Control")) == (200, [IMMUTABLE])
            etags.append(resp.headers["ETag"])
    assert APP_ETAG.fullmatch(etags[0])
    assert NGINX_ETAG.fullmatch(etags[1])
