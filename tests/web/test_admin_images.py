"""The dashboard's Images page on a real server: recent uploads (server uploads and ingest jobs)
with thumbnails this server renders, a namespace filter, an original's info and stored outputs,
and its delete. Bearer keys stand in for the login (tests/web/test_admin.py covers it)."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import pytest

from imageserver.errors import NotFound
from imageserver.keys import ImageKey
from imageserver.settings import Settings
from imageserver.web.admin.images import code_of, key_of, outputs_of, thumbnail_url
from tests.conftest import Server, ServerFactory, image_bytes
from tests.jobs.conftest import (  # noqa: F401  (fixtures, registered by import)
    FAST,
    Origin,
    origin,
)

KEY = "k-images-test"
BEARER = {"Authorization": f"Bearer {KEY}"}
_THUMBS = re.compile(r'<img class="thumb" src="([^"]+)"')
_ROWS = re.compile(r'<tr data-image="([^"]+)">')


@pytest.fixture
async def keyed(start_server: ServerFactory) -> Server:
    return await start_server(api_keys=[KEY], **FAST)


async def upload(server: Server, name: str, namespace: str = "p") -> str:
    async with server.session.post(
        f"{server.url}/{namespace}", data=image_bytes(name), headers=BEARER
    ) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body["hash"]


async def page(server: Server, path: str, status: int = 200) -> str:
    async with server.session.get(f"{server.url}/admin{path}", headers=BEARER) as resp:
        text = await resp.text()
        assert resp.status == status, text
        return html.unescape(text)


async def fetched(server: Server, path: str) -> tuple[int, str, bytes]:
    async with server.session.get(server.url + path) as resp:
        return resp.status, resp.content_type, await resp.read()


def key_path(hash_: str, namespace: str = "p") -> str:
    return "/" + ImageKey(namespace, hash_).prefix


# -- pure helpers -----------------------------------------------------------------------------


def test_dashboard_codes_tell_named_originals_from_hashes() -> None:
    hashed, named = ImageKey("p", "a" * 32), ImageKey("p", "b" * 32, named=True)
    assert code_of(hashed) == "a" * 32
    assert code_of(named) == "_" + "b" * 32  # a name may be 32 hex digits too
    assert key_of("p", code_of(hashed)) == hashed
    assert key_of("p", code_of(named)) == named
    for bad in ("abc", "_", "_a/b", "g" * 32):
        with pytest.raises(NotFound):
            key_of("p", bad)


def test_thumbnails_follow_the_namespace_url_policy() -> None:
    key = ImageKey("p", "a" * 32)
    path = "/" + key.output("w160.webp")
    assert thumbnail_url(key, Settings()) == path
    signing = Settings(url_policy="signed", url_signing_keys=["s3cret-key-0123456789"])
    assert thumbnail_url(key, signing).startswith(path + "?s=")  # type: ignore[union-attr]
    assert thumbnail_url(key, Settings(url_policy="signed")) is None  # nothing to sign with
    assert thumbnail_url(key, Settings(url_policy="presets-only")) is None
    assert outputs_of(["original", "info.json", "w160.webp", "x10.png"]) == ["w160.webp", "x10.png"]


# -- on a real server -------------------------------------------------------------------------


async def test_uploads_are_listed_with_thumbnails_this_server_renders(keyed: Server) -> None:
    first = await upload(keyed, "grid.jpg")
    second = await upload(keyed, "alpha.png", namespace="q")
    listing = await page(keyed, "/images")
    assert _ROWS.findall(listing) == [f"q/{second}", f"p/{first}"]  # newest first
    thumbs = _THUMBS.findall(listing)
    assert thumbs == [key_path(h, ns) + "/w160.webp" for h, ns in ((second, "q"), (first, "p"))]
    status, content_type, body = await fetched(keyed, thumbs[1])
    assert (status, content_type) == (200, "image/webp")
    assert body[:4] == b"RIFF"
    assert '<option value="q">q</option>' in listing  # the namespace filter's choices
    only_q = await page(keyed, "/images?namespace=q")
    assert _ROWS.findall(only_q) == [f"q/{second}"]
    await page(keyed, "/images?namespace=Not%20One", status=400)


async def test_the_same_bytes_again_are_one_upload(keyed: Server) -> None:
    first = await upload(keyed, "grid.jpg")
    assert await upload(keyed, "grid.jpg") == first
    assert _ROWS.findall(await page(keyed, "/images")) == [f"p/{first}"]


async def test_an_image_page_shows_its_info_and_stored_outputs(keyed: Server) -> None:
    hash_ = await upload(keyed, "grid.jpg")
    assert (await fetched(keyed, key_path(hash_) + "/w160.webp"))[0] == 200
    assert (await fetched(keyed, key_path(hash_) + "/x20.png"))[0] == 200
    detail = await page(keyed, f"/images/p/{hash_}")
    assert f'"hash": "{hash_}"' in detail  # info.json, pretty-printed
    assert f'href="{key_path(hash_)}/info.json"' in detail
    stored = re.findall(r'<th scope="row"><code>([^<]+)</code></th>', detail)
    assert stored == ["w160.webp", "x20.png"]
    await page(keyed, f"/images/p/{'0' * 32}", status=404)


async def test_delete_removes_the_image_and_its_listing(keyed: Server) -> None:
    hash_ = await upload(keyed, "grid.jpg")
    other = await upload(keyed, "alpha.png")
    thumb = key_path(hash_) + "/w160.webp"
    assert (await fetched(keyed, thumb))[0] == 200
    action = f"{keyed.url}/admin/images/p/{hash_}/delete"
    async with keyed.session.post(action, allow_redirects=False) as resp:  # no key: refused
        assert resp.status == 303
        assert resp.headers["Location"].startswith("/admin/login")
    assert (await fetched(keyed, key_path(hash_) + "/info.json"))[0] == 200
    async with keyed.session.post(action, headers=BEARER, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()
        assert resp.headers["Location"] == "/admin/images?namespace=p"
        assert "flash" in resp.cookies  # "Deleted ... (n files)" on the next page
    assert (await fetched(keyed, key_path(hash_) + "/info.json"))[0] == 404
    assert (await fetched(keyed, thumb))[0] == 404
    assert _ROWS.findall(await page(keyed, "/images")) == [f"p/{other}"]
    await page(keyed, f"/images/p/{hash_}", status=404)
    async with keyed.session.post(action, headers=BEARER) as resp:  # gone already
        assert resp.status == 404


async def test_ingest_jobs_are_listed_too(keyed: Server, origin: Origin) -> None:  # noqa: F811
    body: dict[str, Any] = {"namespace": "fetched", "source": origin.image("small.png")}
    async with keyed.session.post(f"{keyed.url}/jobs", json=body, headers=BEARER) as resp:
        assert resp.status == 202, await resp.text()
        job_id = (await resp.json())["job_id"]
    for _ in range(500):
        async with keyed.session.get(f"{keyed.url}/jobs/{job_id}", headers=BEARER) as resp:
            view = await resp.json()
        if view["state"] == "succeeded":
            break
        assert view["state"] in ("queued", "running"), view
        await asyncio.sleep(0.02)
    listing = await page(keyed, "/images?namespace=fetched")
    assert _ROWS.findall(listing) == [f"fetched/{view['result']['hash']}"]
