"""publicurl: the public base (public_url, trusted forwarded headers, the request's own) and the
upload answer's path and urls. Pure: tables, no server (tests/web/test_public_urls.py has one)."""

from __future__ import annotations

import pytest

from imageserver import publicurl, urlsigning
from imageserver.keys import ImageKey
from imageserver.settings import Settings

HASH = "6e0072682e66287b662827da75b244a3"
KEY = ImageKey("p", HASH)
OWN = ("http", "10.0.0.5:7000")


@pytest.mark.parametrize(
    ("settings", "headers", "expected"),
    [
        (Settings(), {}, "http://10.0.0.5:7000"),
        (Settings(), {"X-Forwarded-Host": "evil.example"}, "http://10.0.0.5:7000"),
        (Settings(public_url="https://img.example.com/"), {}, "https://img.example.com"),
        (Settings(public_url="https://a.example/img"), {}, "https://a.example/img"),
        (
            Settings(public_url="https://img.example.com", trust_forwarded_headers=True),
            {"X-Forwarded-Host": "b.example"},
            "https://img.example.com",
        ),
        (
            Settings(trust_forwarded_headers=True),
            {"X-Forwarded-Proto": "HTTPS", "X-Forwarded-Host": "img.example.com"},
            "https://img.example.com",
        ),
        (
            Settings(trust_forwarded_headers=True),
            {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": " a.example:8443 , b"},
            "https://a.example:8443",
        ),
        (
            Settings(trust_forwarded_headers=True),
            {"X-Forwarded-Proto": "https"},
            "https://10.0.0.5:7000",
        ),
        (
            Settings(trust_forwarded_headers=True),
            {"X-Forwarded-Host": "[::1]:80"},
            "http://[::1]:80",
        ),
    ],
)
def test_base_url(settings: Settings, headers: dict[str, str], expected: str) -> None:
    assert publicurl.base_url(settings, *OWN, headers) == expected


@pytest.mark.parametrize(
    "host",
    [
        "",
        "evil.example/path",
        "user@evil.example",
        "evil example",
        "a.example:0",
        "a.example:65536",
        "a.example:",
        "-a.example",
        "a..example",
        "a.example\r\nX: y",
        "[zz]",
        "a.example:80:80",
    ],
)
def test_malformed_forwarded_hosts_are_ignored(host: str) -> None:
    assert publicurl.forwarded_host(host) is None


@pytest.mark.parametrize("proto", ["", "ftp", "javascript", "https://", "http s"])
def test_other_forwarded_schemes_are_ignored(proto: str) -> None:
    assert publicurl.forwarded_scheme(proto) is None


def test_the_upload_answer() -> None:
    info = {"hash": HASH, "width": 1}
    answer = publicurl.upload_answer(info, KEY, ["w100.jpg"], "https://i.example")
    path = "/p/6e0/072/682/e66287b662827da75b244a3"
    assert answer == {
        **info,
        "path": path,
        "urls": {
            "original": f"https://i.example{path}/original",
            "info": f"https://i.example{path}/info.json",
            "outputs": {"w100.jpg": f"https://i.example{path}/w100.jpg"},
        },
    }
    assert info == {"hash": HASH, "width": 1}  # info.json itself is left alone


def test_signed_outputs_are_what_the_back_end_helper_signs() -> None:
    answer = publicurl.upload_answer({}, KEY, ["w100.jpg"], "https://i.example", ["k"], 8)
    expected = urlsigning.output_url(
        "p", HASH, "w100.jpg", ["k"], base_url="https://i.example", size=8
    )
    assert answer["urls"]["outputs"]["w100.jpg"] == expected


def test_a_named_original() -> None:
    answer = publicurl.upload_answer({}, ImageKey("insight", "doc-1", named=True), [], "http://h")
    assert answer["path"] == "/insight/_/doc-1"
    assert answer["urls"]["info"] == "http://h/insight/_/doc-1/info.json"
