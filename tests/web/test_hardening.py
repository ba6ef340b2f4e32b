"""What a hostile trial of a public deployment found, each kept fixed here (issue 14)."""

from __future__ import annotations

from tests.conftest import Server, image_bytes

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
        assert "default-src 'none'" in policy and "sandbox" in policy
        assert resp.headers["Content-Disposition"] == "attachment"


async def test_every_image_answer_says_nosniff(server: Server) -> None:
    info = await server.upload(image_bytes("grid.jpg"))
    for suffix in ("/original", "/w50.png"):
        async with server.session.get(server.image_url(info["hash"]) + suffix) as resp:
            assert resp.headers["X-Content-Type-Options"] == "nosniff", suffix
    async with server.session.get(server.image_url(info["hash"]) + "/original") as resp:
        assert "sandbox" in resp.headers["Content-Security-Policy"]
        assert "Content-Disposition" not in resp.headers  # a photo still opens in the browser
