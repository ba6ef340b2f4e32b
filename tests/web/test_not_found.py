"""Unknown GET and HEAD paths answer a JSON 404, even where another method is routed; other
methods keep their 405 and its Allow header. Through a real server."""

from __future__ import annotations

import pytest

from tests.conftest import Server, image_bytes

ROUTED_FOR_OTHERS = [
    "/jobs/x/retry",  # POST only
    "/jobs/x/callback",
    "/download",  # POST, and a GET of /{queue} for a queue of that name
    "/retry/x",
    "/p/6e0/072/682/e66287b662827da75b244a3",  # an image's base path: DELETE only
    "/nothing/at/all/here/really/not",
]


@pytest.mark.parametrize("path", ROUTED_FOR_OTHERS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_reads_of_unrouted_paths_are_404(server: Server, path: str, method: str) -> None:
    async with server.session.request(method, server.url + path) as resp:
        assert resp.status == 404
        assert resp.content_type == "application/json"
        assert "Allow" not in resp.headers
        if method == "GET":
            assert (await resp.json())["error"] == "not_found"


async def test_a_stored_images_base_path_is_404_too(server: Server) -> None:
    answer = await server.upload(image_bytes("grid.jpg"))
    async with server.session.get(server.url + answer["path"]) as resp:
        assert (resp.status, (await resp.json())["error"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/jobs/x/retry", "POST"),
        ("POST", "/p/6e0/072/682/e66287b662827da75b244a3/info.json", "GET,HEAD"),
        ("PATCH", "/p/6e0/072/682/e66287b662827da75b244a3", "DELETE"),
    ],
)
async def test_other_methods_are_405_with_allow(
    server: Server, method: str, path: str, allow: str
) -> None:
    async with server.session.request(method, server.url + path) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == allow
        assert (await resp.json())["error"] == "method_not_allowed"
