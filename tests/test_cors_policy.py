"""cors.Cors: which origins get which headers, for reads and preflights. Pure (the server's
behaviour: tests/web/test_cors.py)."""

from __future__ import annotations

from imageserver.cors import Cors

APP = "https://app.example.com"


def test_listed_origins_are_echoed_and_vary() -> None:
    cors = Cors([APP + "/", "http://localhost:3000"])
    assert cors.vary
    assert cors.read_headers(APP)["Access-Control-Allow-Origin"] == APP  # type: ignore[index]
    assert cors.read_headers("http://localhost:3000") is not None
    assert cors.read_headers("https://evil.example") is None
    assert cors.read_headers(None) is None
    assert cors.read_headers(APP + ".evil.example") is None


def test_any_origin_is_a_star_without_vary() -> None:
    cors = Cors(["*"])
    assert not cors.vary
    assert cors.read_headers("https://x.example")["Access-Control-Allow-Origin"] == "*"  # type: ignore[index]
    assert "Vary" not in cors.preflight_headers("https://x.example", "GET")  # type: ignore[operator]


def test_preflights_allow_reads_only() -> None:
    cors = Cors([APP])
    allowed = cors.preflight_headers(APP, "GET")
    assert allowed is not None
    assert allowed["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert allowed["Vary"] == "Origin"
    assert cors.preflight_headers(APP, "HEAD") is not None
    for method in ("POST", "DELETE", "PUT", None):
        assert cors.preflight_headers(APP, method) is None
    assert cors.preflight_headers("https://evil.example", "GET") is None
