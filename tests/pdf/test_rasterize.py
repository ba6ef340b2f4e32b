"""The rasterize job: every page of a PDF into an image of its own, a manifest, progress per
page; from a source (encrypted too) or from a PDF already stored."""

from __future__ import annotations

from typing import Any

import pytest
import pyvips

from imageserver import documents
from imageserver.errors import UnsupportedMedia
from imageserver.pages import Raster
from imageserver.services import Services
from tests.conftest import Server, ServerFactory, image_bytes
from tests.jobs.conftest import FAST, Origin, finished, submit
from tests.pdf.conftest import ENCRYPTED, MULTIPAGE, PASSWORD, SCANNED, corpus_pdf

LETTER_150_DPI = (1275, 1650)


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(**FAST)


async def rasterized(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    answer = await submit(server, body)
    view = await finished(server, answer["job_id"], timeout_s=60)
    assert (view["state"], view["progress"]) == ("succeeded", 100), view
    return view


async def fetched(server: Server, path: str) -> tuple[str, bytes]:
    async with server.session.get(server.url + path) as resp:
        assert resp.status == 200, path
        return resp.headers["Content-Type"], await resp.read()


async def test_from_a_source_every_page_is_stored_with_a_manifest(
    server: Server, origin: Origin
) -> None:
    body = {"namespace": "docs", "source": origin.image(MULTIPAGE), "rasterize": {"dpi": 150}}
    view = await rasterized(server, body)
    result = view["result"]
    assert (result["info"]["pages"], len(result["pages"])) == (19, 19)
    assert [entry["page"] for entry in result["pages"]] == list(range(1, 20))
    assert len({entry["hash"] for entry in result["pages"]}) == 19
    first = result["pages"][0]
    assert (first["width"], first["height"], first["content_type"]) == (
        *LETTER_150_DPI,
        "image/jpeg",
    )
    async with server.session.get(result["outputs"]["pages.json"]) as resp:
        assert resp.headers["Cache-Control"] == "no-cache"
        manifest = await resp.json()
    assert manifest == {
        "hash": result["hash"],
        "dpi": 150,
        "format": "jpg",
        "max_side": 8192,
        "pages": result["pages"],
    }
    content_type, page = await fetched(server, first["url"])
    image = pyvips.Image.new_from_buffer(page, "")
    assert (content_type, (image.width, image.height), len(page)) == (
        "image/jpeg",
        LETTER_150_DPI,
        first["size"],
    )
    _, info = await fetched(server, first["url"].replace("/original", "/info.json"))
    assert b'"width": 1275' in info


async def test_from_a_stored_pdf_by_hash_again_stores_nothing_new(server: Server) -> None:
    info = await server.upload(corpus_pdf(SCANNED), namespace="docs")
    body = {
        "namespace": "docs",
        "hash": info["hash"],
        "rasterize": {"dpi": 300, "format": "png", "max_side": 500},
    }
    first = (await rasterized(server, body))["result"]
    assert first["info"] == {k: v for k, v in info.items() if k not in ("path", "urls")}
    assert [(p["width"], p["height"], p["content_type"]) for p in first["pages"]] == [
        (333, 500, "image/png")
    ] * 6
    files = sorted(p.name for p in server.storage.rglob("*"))
    again = (await rasterized(server, body))["result"]
    assert again["pages"] == first["pages"]
    assert sorted(p.name for p in server.storage.rglob("*")) == files


async def test_an_encrypted_source_with_its_password(server: Server, origin: Origin) -> None:
    body = {
        "namespace": "docs",
        "source": origin.image(ENCRYPTED),
        "password": PASSWORD,
        "rasterize": {},
    }
    view = await rasterized(server, body)
    assert view["result"]["info"]["encrypted"] is True
    assert len(view["result"]["pages"]) == 1
    assert "password" not in view["request"]
    assert PASSWORD not in str(view)


async def test_an_encrypted_source_without_its_password_fails(
    server: Server, origin: Origin
) -> None:
    body = {"namespace": "docs", "source": origin.image(ENCRYPTED), "rasterize": {}}
    view = await finished(server, (await submit(server, body))["job_id"])
    assert (view["state"], view["error"], view["attempts"]) == ("failed", "encrypted", 1)


@pytest.mark.parametrize(
    ("hash_", "error"),
    [("0" * 32, "not_found"), (None, "unsupported_media_type")],
    ids=["unknown", "an image"],
)
async def test_a_hash_that_is_no_stored_pdf_fails(
    server: Server, hash_: str | None, error: str
) -> None:
    hash_ = hash_ or (await server.upload(image_bytes("grid.jpg"), namespace="docs"))["hash"]
    body = {"namespace": "docs", "hash": hash_, "rasterize": {}}
    view = await finished(server, (await submit(server, body))["job_id"])
    assert (view["state"], view["error"]) == ("failed", error)


@pytest.mark.parametrize(
    ("fields", "status", "code", "words"),
    [
        ({"rasterize": "150"}, 400, "bad_request", "rasterize: expected an object"),
        ({"rasterize": {"dpi": 0}}, 400, "bad_request", "dpi: expected an integer 1-1200"),
        ({"rasterize": {"dpi": 150, "zoom": 2}}, 400, "bad_request", "dpi, format and max_side"),
        ({"rasterize": {"format": "bmp"}}, 400, "bad_format", "format: expected one of"),
        ({"rasterize": {"max_side": 9000}}, 400, "bad_request", "max_side: expected"),
        ({"hash": "abc", "rasterize": {}}, 400, "bad_request", "hash: expected 32 hex"),
        ({"hash": "0" * 32, "source": "http://x.test/a.pdf", "rasterize": {}}, 400, "", "both"),
        ({"rasterize": {}}, 400, "bad_request", "source: expected"),
    ],
)
async def test_fields_are_checked_before_enqueueing(
    server: Server, fields: dict[str, Any], status: int, code: str, words: str
) -> None:
    answer = await submit(server, {"namespace": "docs", **fields}, status=status)
    assert code in answer["error"]
    assert words in answer["message"]


async def test_progress_is_reported_page_by_page(services: Services) -> None:
    key = (await services.originals.ingest("docs", corpus_pdf(SCANNED))).key
    reported: list[float] = []

    async def progress(fraction: float) -> None:
        reported.append(fraction)

    raster = Raster(dpi=72, format="jpg", max_side=8192, fallback_dpi=72)
    manifest = await documents.rasterize(services, key, raster, progress)
    assert reported == [n / 6 for n in range(1, 7)]
    stored = await services.storage.get(key.output("pages.json"))
    assert stored is not None
    assert b'"dpi": 72' in stored
    assert len(manifest["pages"]) == 6


async def test_only_documents_rasterize(services: Services) -> None:
    key = (await services.originals.ingest("docs", image_bytes("grid.jpg"))).key

    async def progress(_: float) -> None:
        raise AssertionError("no page of an image is rendered")

    raster = Raster(dpi=72, format="jpg", max_side=8192, fallback_dpi=72)
    with pytest.raises(UnsupportedMedia, match=r"^rasterize: expected a PDF, got image/jpeg$"):
        await documents.rasterize(services, key, raster, progress)


async def test_pages_json_is_404_before_a_rasterize_job(server: Server) -> None:
    info = await server.upload(corpus_pdf(MULTIPAGE))
    async with server.session.get(server.image_url(info["hash"]) + "/pages.json") as resp:
        assert (resp.status, (await resp.json())["error"]) == (404, "not_found")


async def test_an_ingest_job_takes_a_password_too(server: Server, origin: Origin) -> None:
    params = {
        "source": origin.image(ENCRYPTED),
        "callback": "http://127.0.0.1:9/hook",
        "password": PASSWORD,
    }
    async with server.session.post(f"{server.url}/docs", params=params) as resp:
        answer = await resp.json()
        assert resp.status == 202, answer
    view = await finished(server, answer["job_id"])
    assert (view["state"], view["kind"]) == ("succeeded", "ingest")
    assert view["result"]["info"]["encrypted"] is True
    assert "password" not in view["request"]
