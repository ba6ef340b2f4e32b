"""PDFs through a real server: upload and info, page tokens, presets, passwords, and a PDF worker
that dies without taking the server with it."""

from __future__ import annotations

import asyncio
import json
import logging

import pypdfium2 as pdfium
import pytest
import pyvips

from imageserver.keys import content_hash
from tests.conftest import Server, ServerFactory, image_bytes
from tests.pdf.conftest import ENCRYPTED, MULTIPAGE, PASSWORD, ROTATED, SCANNED, corpus_pdf

PRESETS = {"docs": {"small": "w150", "header": "1200x400-smart"}}


async def get(server: Server, url: str) -> tuple[int, dict[str, str], bytes]:
    async with server.session.get(url, allow_redirects=False) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def size_of(body: bytes) -> tuple[int, int]:
    image = pyvips.Image.new_from_buffer(body, "")
    return image.width, image.height


@pytest.mark.parametrize(
    ("name", "pages", "size"),
    [(MULTIPAGE, 19, (612, 792)), (SCANNED, 6, (432, 648)), (ROTATED, 1, (1191, 842))],
)
async def test_upload_answers_pdf_info(
    server: Server, name: str, pages: int, size: tuple[int, int]
) -> None:
    data = corpus_pdf(name)
    info = await server.upload(data)
    assert info == {
        "hash": content_hash(data),
        "width": size[0],
        "height": size[1],
        "content_type": "application/pdf",
        "size": len(data),
        "pages": pages,
        "placeholder": info["placeholder"],  # page 1's (tests/test_placeholder.py)
        "path": info["path"],  # the answer's (tests/web/test_public_urls.py)
        "urls": info["urls"],
    }


async def test_page_tokens(server: Server) -> None:
    info = await server.upload(corpus_pdf(MULTIPAGE), outputs="w100-p2.jpg")
    base = server.image_url(info["hash"])
    for token, size in (
        ("w200.jpg", (200, 259)),
        ("w800-p3.webp", (800, 1035)),
        ("x300-p2.png", (300, 300)),
        ("w100-p2.jpg", (100, 129)),
    ):
        status, headers, body = await get(server, f"{base}/{token}")
        assert (status, headers["Content-Type"], size_of(body)) == (
            200,
            f"image/{token.rpartition('.')[2].replace('jpg', 'jpeg')}",
            size,
        )
    status, headers, _ = await get(server, f"{base}/w200-p1.jpg")
    assert (status, headers["Location"]) == (301, f"{base.removeprefix(server.url)}/w200.jpg")


async def test_past_the_last_page_is_404_json(server: Server) -> None:
    info = await server.upload(corpus_pdf(MULTIPAGE))
    async with server.session.get(server.image_url(info["hash"]) + "/w200-p20.jpg") as resp:
        assert resp.status == 404
        assert await resp.json() == {
            "error": "not_found",
            "message": "page 20: this original has 19 pages",
        }


async def test_bad_page_token_is_400(server: Server) -> None:
    info = await server.upload(corpus_pdf(MULTIPAGE))
    async with server.session.get(server.image_url(info["hash"]) + "/w200-p0.jpg") as resp:
        assert (resp.status, (await resp.json())["error"]) == (400, "bad_page")


async def test_presets_redirect_to_the_canonical_token(start_server: ServerFactory) -> None:
    server = await start_server(namespace_presets=PRESETS)
    pdf = await server.upload(corpus_pdf(MULTIPAGE), namespace="docs", outputs="small.webp")
    photo = await server.upload(image_bytes("grid.jpg"), namespace="docs")
    for info, token, canonical, size in (
        (pdf, "small.jpg", "w150.jpg", (150, 194)),
        (pdf, "header-p2.webp", "1200x400-smart-p2.webp", (1200, 400)),
        (photo, "small@2x.png", "w150@2x.png", (300, 225)),
    ):
        base = server.image_url(info["hash"], "docs")
        status, headers, _ = await get(server, f"{base}/{token}")
        assert (status, headers["Location"]) == (
            302,
            f"{base.removeprefix(server.url)}/{canonical}",
        )
        assert headers["Cache-Control"] == "public, max-age=3600"
        status, _, body = await get(server, f"{base}/{canonical}")
        assert (status, size_of(body)) == (200, size)
    stored = server.storage / "docs" / pdf["hash"][:3]
    assert [p.name for p in stored.rglob("w150.webp")] == ["w150.webp"]  # ?outputs=small.webp


async def test_presets_belong_to_their_namespace(start_server: ServerFactory) -> None:
    server = await start_server(namespace_presets=PRESETS)
    info = await server.upload(image_bytes("grid.jpg"))
    async with server.session.get(server.image_url(info["hash"]) + "/small.jpg") as resp:
        assert (resp.status, (await resp.json())["error"]) == (400, "bad_size")


async def test_encrypted_pdf_needs_its_password(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    data = corpus_pdf(ENCRYPTED)
    for params in ({}, {"password": "wrong"}):
        async with server.session.post(server.url + "/p", data=data, params=params) as resp:
            assert (resp.status, (await resp.json())["error"]) == (422, "encrypted")
    info = await server.upload(data, password=PASSWORD)
    assert (info["pages"], info["encrypted"]) == (1, True)
    assert info["hash"] == content_hash(data, PASSWORD) != content_hash(data)
    assert await server.upload(data, password=PASSWORD) == info  # the same upload: a no-op
    base = server.image_url(info["hash"])
    status, _, body = await get(server, f"{base}/w200.jpg")  # later renders need no password
    assert (status, size_of(body)) == (200, (200, 283))
    status, headers, original = await get(server, f"{base}/original")
    assert (status, headers["Content-Type"]) == (200, "application/pdf")
    assert len(pdfium.PdfDocument(original)) == 1  # the stored copy opens without a password
    assert PASSWORD not in next((server.storage / "p").rglob("info.json")).read_text()
    assert "/p?password=*** " in caplog.text  # access lines are written after the answer
    assert f"password={PASSWORD}" not in caplog.text


async def test_a_dying_pdf_worker_does_not_take_the_server_down(
    start_server: ServerFactory,
) -> None:
    """A page that outlasts its deadline gets its worker killed; the next page renders."""
    server = await start_server(pdf_page_timeout_s=0.5, max_pixels=100_000_000, pdf_workers=1)
    info = await server.upload(corpus_pdf(SCANNED))
    base = server.image_url(info["hash"])
    async with server.session.get(f"{base}/w6000.avif") as resp:  # seconds of work
        body = await resp.json()
        assert (resp.status, body["error"]) == (422, "over_limit"), body
        assert "longer than 0.5 s" in body["message"]
    status, _, body = await get(server, f"{base}/w200-p2.jpg")
    assert (status, size_of(body)) == (200, (200, 300))
    assert (await get(server, server.url + "/healthz"))[0] == 200


async def test_a_heavy_page_is_not_a_denial_of_service(start_server: ServerFactory) -> None:
    """Each distinct width of a page that outlasts its deadline re-rendered it until the
    deadline, and three such requests held every PDF worker while other PDFs waited."""
    server = await start_server(pdf_page_timeout_s=1.5, max_pixels=100_000_000, pdf_workers=2)
    heavy = server.image_url((await server.upload(corpus_pdf(SCANNED)))["hash"])
    light = server.image_url((await server.upload(corpus_pdf(MULTIPAGE)))["hash"])
    done: list[str] = []

    async def fetch(url: str) -> tuple[int, bytes]:
        status, _, body = await get(server, url)
        done.append(url)
        return status, body

    attack = [asyncio.ensure_future(fetch(f"{heavy}/w{w}.avif")) for w in (6000, 5990, 5980)]
    await asyncio.sleep(0.1)  # the attack holds the heavy document's turn
    status, _ = await fetch(f"{light}/w100.jpg")
    assert status == 200
    assert done == [f"{light}/w100.jpg"]  # another document did not wait behind the attack
    answers = await asyncio.gather(*attack)
    assert [status for status, _ in answers] == [422, 422, 422]
    messages = [json.loads(body)["message"] for _, body in answers]
    assert sum("(again" in message for message in messages) == 2  # rendered once, not thrice
    status, _, body = await get(server, f"{heavy}/w5970.avif")
    assert status == 422
    assert "(again" in json.loads(body)["message"]
