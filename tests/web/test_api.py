"""The HTTP API through a real server on loopback: the seed's flows, tokens, caching, auth."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import pyvips

from tests.conftest import Server, ServerFactory, image_bytes


def decoded(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


async def test_index_and_health(server: Server) -> None:
    async with server.session.get(server.url + "/") as resp:
        answer = await resp.json()
        assert (answer["name"], answer["version"]) == ("imageserver", "0.1.0")
    async with server.session.get(server.url + "/healthz") as resp:
        assert resp.status == 200


async def test_healthz_drains_while_maintenance_file_exists(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    flag = tmp_path / "maintenance"
    server = await start_server(maintenance_file=str(flag))
    flag.touch()
    async with server.session.get(server.url + "/healthz") as resp:
        assert resp.status == 503
    flag.unlink()
    async with server.session.get(server.url + "/healthz") as resp:
        assert resp.status == 200


async def test_upload_info_original_roundtrip(server: Server) -> None:
    data = image_bytes("grid.jpg")
    info = await server.upload(data)
    assert info == {
        "hash": info["hash"],
        "width": 800,
        "height": 600,
        "content_type": "image/jpeg",
        "size": len(data),
        "placeholder": info["placeholder"],  # tests/test_placeholder.py checks its bytes
        "path": info["path"],  # the answer's, not info.json's (tests/web/test_public_urls.py)
        "urls": info["urls"],
    }
    assert len(info["hash"]) == 32
    assert await server.upload(data) == info  # same bytes: a no-op with the same answer
    async with server.session.get(server.image_url(info["hash"]) + "/info.json") as resp:
        assert await resp.json() == {k: v for k, v in info.items() if k not in ("path", "urls")}
    async with server.session.get(server.image_url(info["hash"]) + "/original") as resp:
        assert resp.headers["Content-Type"] == "image/jpeg"
        assert await resp.read() == data


async def test_layout_on_disk_is_hash_partitioned(server: Server) -> None:
    info = await server.upload(image_bytes("grid.jpg"), outputs="x300.jpg,x300.webp")
    h = info["hash"]
    directory = server.storage / "p" / h[:3] / h[3:6] / h[6:9] / h[9:]
    assert sorted(p.name for p in directory.iterdir()) == [
        "info.json",
        "original",
        "x300.jpg",
        "x300.webp",
    ]
    assert decoded((directory / "x300.webp").read_bytes()).width == 300


async def test_info_reports_displayed_size_after_exif_rotation(server: Server) -> None:
    info = await server.upload(image_bytes("grid-exif6.jpg"))
    assert (info["width"], info["height"]) == (800, 600)


async def test_animated_info_has_frames(server: Server) -> None:
    info = await server.upload(image_bytes("anim.gif"))
    assert info["frames"] == 4


async def test_namespace_default_outputs_render_on_upload(start_server: ServerFactory) -> None:
    server = await start_server(namespace_outputs={"avatars": ["x50.jpg", "w20.webp"]})
    info = await server.upload(image_bytes("grid.jpg"), namespace="avatars")
    h = info["hash"]
    directory = server.storage / "avatars" / h[:3] / h[3:6] / h[6:9] / h[9:]
    assert {"x50.jpg", "w20.webp"} <= {p.name for p in directory.iterdir()}


@pytest.mark.parametrize(
    ("token", "size", "mime"),
    [
        ("w200.jpg", (200, 150), "image/jpeg"),
        ("h150.png", (200, 150), "image/png"),
        ("x100.webp", (100, 100), "image/webp"),
        ("300x200.jpg", (300, 200), "image/jpeg"),
        ("300x200-fit.webp", (267, 200), "image/webp"),
        ("300x200-smart-q50.jpg", (300, 200), "image/jpeg"),
        ("x200-q30.jpg", (200, 200), "image/jpeg"),
        ("w100@2x.avif", (200, 150), "image/avif"),
        ("w50.gif", (50, 38), "image/gif"),
        ("w3000.jpg", (800, 600), "image/jpeg"),  # never enlarged
        ("x1000.jpg", (600, 600), "image/jpeg"),  # crop keeps its square
        ("1600x600.png", (800, 300), "image/png"),
    ],
)
async def test_token_forms(server: Server, token: str, size: tuple[int, int], mime: str) -> None:
    info = await server.upload(image_bytes("grid.jpg"))
    async with server.session.get(server.image_url(info["hash"]) + "/" + token) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == mime
        image = decoded(await resp.read())
    assert (image.width, image.height) == size


async def test_crop_takes_the_centre(server: Server) -> None:
    info = await server.upload(image_bytes("grid.png"))
    async with server.session.get(server.image_url(info["hash"]) + "/400x600.png") as resp:
        image = decoded(await resp.read())
    # the middle half of a red|green over blue|white grid: red, green on top
    assert image.getpoint(10, 10)[:3] == [255, 0, 0]
    assert image.getpoint(390, 10)[:3] == [0, 160, 0]


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("w200.jpeg", "w200.jpg"),
        ("200x200.jpg", "x200.jpg"),
        ("x200-q30-smart.jpg", "x200-smart-q30.jpg"),
        ("w0200@1x.JPG", "w200.jpg"),
        ("x200-gc.jpg", "x200.jpg"),
        ("w200-progressive.jpg", "w200.jpg"),
        ("w200-progressive.png", "w200-interlace.png"),
        ("w200-keep-flop-flip-r90.jpg", "w200-r90-flip-flop-keep.jpg"),
        ("x200-fp0.50x0.250-sharpen1.0.webp", "x200-fp0.5x0.25-sharpen.webp"),
        ("w200-bgFF0000-blur2.0-trim10.png", "w200-trim-blur2-bgff0000.png"),
        ("placeholder.JPEG", "placeholder.jpg"),
    ],
)
async def test_non_canonical_spellings_redirect(
    server: Server, spelling: str, canonical: str
) -> None:
    info = await server.upload(image_bytes("small.png"))
    base = server.image_url(info["hash"])
    async with server.session.get(f"{base}/{spelling}?v=1", allow_redirects=False) as resp:
        assert resp.status == 301
        assert resp.headers["Location"] == f"{base.removeprefix(server.url)}/{canonical}?v=1"


async def test_cached_hits_etag_304_and_head(server: Server) -> None:
    info = await server.upload(image_bytes("grid.jpg"))
    url = server.image_url(info["hash"]) + "/w100.webp"
    async with server.session.get(url) as first:
        body = await first.read()
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    async with server.session.get(url) as again:
        assert await again.read() == body
        assert again.headers["ETag"] == etag
    async with server.session.get(url, headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
        assert await resp.read() == b""
    async with server.session.head(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Length"] == str(len(body))
        assert resp.headers["Content-Type"] == "image/webp"
        assert await resp.read() == b""


async def test_concurrent_requests_render_once(server: Server) -> None:
    info = await server.upload(image_bytes("2569067123_aca715a2ee_o.jpg"))
    url = server.image_url(info["hash"]) + "/w640.webp"

    async def fetch() -> bytes:
        async with server.session.get(url) as resp:
            assert resp.status == 200
            return await resp.read()

    bodies = await asyncio.gather(*(fetch() for _ in range(20)))
    assert len(set(bodies)) == 1
    async with server.session.get(server.url + "/metrics") as resp:
        text = await resp.text()
    assert 'imageserver_output_lookups_total{result="render"} 1.0' in text
    assert 'imageserver_render_seconds_count{format="webp"} 1.0' in text


async def test_delete_removes_everything(server: Server) -> None:
    info = await server.upload(image_bytes("grid.jpg"), outputs="w100.jpg")
    base = server.image_url(info["hash"])
    async with server.session.get(base + "/w100.jpg") as resp:
        assert resp.status == 200  # now in the memory cache too
    async with server.session.delete(base) as resp:
        assert resp.status == 200
        assert (await resp.json())["deleted"] == 3
    for suffix in ("/info.json", "/original", "/w100.jpg"):
        async with server.session.get(base + suffix) as resp:
            assert resp.status == 404, suffix
    assert list((server.storage / "p").iterdir()) == []
    async with server.session.delete(base) as resp:
        assert resp.status == 404


async def test_api_keys_guard_writes_only(start_server: ServerFactory) -> None:
    server = await start_server(api_keys=["k1", "k2"])
    data = image_bytes("small.png")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "k1"}):
        async with server.session.post(server.url + "/p", data=data, headers=headers) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"] == "unauthorized"
            assert resp.headers["WWW-Authenticate"] == 'Bearer realm="imageserver"'
    auth = {"Authorization": "Bearer k2"}
    async with server.session.post(server.url + "/p", data=data, headers=auth) as resp:
        info = await resp.json()
    async with server.session.get(server.image_url(info["hash"]) + "/info.json") as resp:
        assert resp.status == 200  # reads stay public
    async with server.session.delete(server.image_url(info["hash"])) as resp:
        assert resp.status == 401
    async with server.session.delete(server.image_url(info["hash"]), headers=auth) as resp:
        assert resp.status == 200


async def test_metrics_and_statsd_events(start_server: ServerFactory) -> None:
    received: list[bytes] = []

    class Collector(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            received.extend(data.split(b"\n"))

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Collector, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        server = await start_server(statsd=f"127.0.0.1:{port}")
        info = await server.upload(image_bytes("small.png"))
        async with server.session.get(server.image_url(info["hash"]) + "/w50.webp") as resp:
            assert resp.status == 200
        async with server.session.get(server.image_url(info["hash"]) + "/w50-q10.png") as resp:
            assert resp.status == 400
        for _ in range(50):
            if any(m.startswith(b"image_server.render.webp:") for m in received):
                break
            await asyncio.sleep(0.02)
    finally:
        transport.close()
    names = {m.split(b":")[0] for m in received}
    assert {b"image_server.image_request", b"image_server.image_request.webp"} <= names
    async with server.session.get(server.url + "/metrics") as resp:
        text = await resp.text()
    assert 'imageserver_http_requests_total{method="GET",status="400"} 1.0' in text
    assert "imageserver_render_pool_pending 0.0" in text
    (cache_line,) = [
        ln for ln in text.splitlines() if ln.startswith("imageserver_memory_cache_bytes ")
    ]
    assert float(cache_line.split()[1]) > 0  # the w50.webp rendered above


async def test_json_bodies_everywhere(server: Server) -> None:
    async with server.session.get(server.url + "/no/such/thing") as resp:
        assert resp.status == 404
        body = json.loads(await resp.text())
        assert set(body) == {"error", "message"}
