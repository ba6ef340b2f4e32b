"""CORS for GETs (cors_origins), through a real server: reads of images, info.json, originals,
job views carry the allowance (errors and redirects too); preflights for GET are answered, for
writes not; nothing at all without the setting."""

from __future__ import annotations

import pytest

from tests.conftest import Server, ServerFactory, image_bytes
from tests.jobs.conftest import submit

APP = "https://app.example.com"
ALLOW = "Access-Control-Allow-Origin"


@pytest.fixture
async def shared(start_server: ServerFactory) -> Server:
    return await start_server(cors_origins=[APP, "http://localhost:3000"])


async def _headers(
    server: Server, path: str, origin: str | None = APP, method: str = "GET", **headers: str
) -> tuple[int, dict[str, str]]:
    if origin is not None:
        headers["Origin"] = origin
    async with server.session.request(
        method, server.url + path, headers=headers, allow_redirects=False
    ) as resp:
        return resp.status, dict(resp.headers)


async def test_reads_carry_the_allowance(shared: Server) -> None:
    answer = await shared.upload(image_bytes("grid.jpg"))
    path = answer["path"]
    for read in ("/info.json", "/original", "/w50.jpg", "/w50.jpg", "/pages.json", "/nope.jpg"):
        for method in ("GET", "HEAD"):
            status, headers = await _headers(shared, path + read, method=method)
            assert headers[ALLOW] == APP, (read, status)
            assert headers["Vary"].split(", ")[-1] == "Origin"
            assert "ETag" in headers["Access-Control-Expose-Headers"]
    status, headers = await _headers(shared, path + "/w50.jpg", **{"If-None-Match": "*"})
    assert (status, headers[ALLOW]) == (304, APP)
    status, headers = await _headers(shared, path + "/w50.jpeg")  # the canonical redirect
    assert (status, headers[ALLOW]) == (301, APP)


async def test_job_views_are_shared_reads(shared: Server) -> None:
    job = await submit(shared, {"namespace": "p", "source": "http://127.0.0.1:9/x.jpg"})
    for path in (f"/jobs/{job['job_id']}", "/jobs"):
        assert (await _headers(shared, path))[1][ALLOW] == APP


async def test_other_origins_and_routes_get_none(shared: Server) -> None:
    answer = await shared.upload(image_bytes("grid.jpg"))
    status, headers = await _headers(shared, answer["path"] + "/info.json", "https://evil.example")
    assert status == 200
    assert ALLOW not in headers
    assert headers["Vary"] == "Origin"  # a cache must not hand it to an allowed origin
    assert ALLOW not in (await _headers(shared, answer["path"] + "/info.json", None))[1]
    for path in ("/healthz", "/metrics", "/status"):
        assert ALLOW not in (await _headers(shared, path))[1], path
    async with shared.session.post(
        shared.url + "/p", data=image_bytes("grid.jpg"), headers={"Origin": APP}
    ) as resp:
        assert resp.status == 200
        assert ALLOW not in resp.headers


async def test_a_get_preflight_is_answered(shared: Server) -> None:
    path = "/p/6e0/072/682/e66287b662827da75b244a3/w100.jpg"
    asked = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "if-none-match",
    }
    status, headers = await _headers(shared, path, method="OPTIONS", **asked)
    assert status == 204
    assert headers[ALLOW] == APP
    assert headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert "If-None-Match" in headers["Access-Control-Allow-Headers"]
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert headers["Vary"] == "Origin"


@pytest.mark.parametrize(
    ("path", "method", "origin"),
    [
        ("/p", "POST", APP),  # an upload
        ("/p/6e0/072/682/e66287b662827da75b244a3", "DELETE", APP),
        ("/jobs", "POST", APP),
        ("/p/6e0/072/682/e66287b662827da75b244a3/w100.jpg", "GET", "https://evil.example"),
        ("/healthz", "GET", APP),  # not a shared read
    ],
)
async def test_other_preflights_get_no_allowance(
    shared: Server, path: str, method: str, origin: str
) -> None:
    asked = {"Access-Control-Request-Method": method}
    status, headers = await _headers(shared, path, origin, method="OPTIONS", **asked)
    assert status == 405
    assert not any(name.startswith("Access-Control-") for name in headers)


async def test_any_origin(start_server: ServerFactory) -> None:
    server = await start_server(cors_origins=["*"])
    answer = await server.upload(image_bytes("grid.jpg"))
    status, headers = await _headers(server, answer["path"] + "/info.json", "https://x.example")
    assert (status, headers[ALLOW]) == (200, "*")
    assert "Vary" not in headers  # the same answer for every origin


async def test_no_cors_headers_without_the_setting(server: Server) -> None:
    answer = await server.upload(image_bytes("grid.jpg"))
    status, headers = await _headers(server, answer["path"] + "/info.json")
    assert status == 200
    assert not any(name.startswith("Access-Control-") for name in headers)
    assert "Vary" not in headers
    asked = {"Access-Control-Request-Method": "GET"}
    status, headers = await _headers(
        server, answer["path"] + "/info.json", method="OPTIONS", **asked
    )
    assert status == 405
    assert not any(name.startswith("Access-Control-") for name in headers)
