"""Format negotiation from Accept headers (pure)."""

from __future__ import annotations

import pytest

from imageserver.negotiate import accepted_types, choose_format, resolve
from imageserver.transform import parse_token

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
SAFARI_OLD = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
CURL = "*/*"


def test_accepted_types_ignore_wildcards_and_zero_q() -> None:
    assert accepted_types("image/avif;q=0, image/webp;q=0.5, image/*, */*") == {"image/webp"}
    assert accepted_types("IMAGE/AVIF") == {"image/avif"}
    assert accepted_types("") == set()


@pytest.mark.parametrize(
    ("accept", "alpha", "animated", "expected"),
    [
        (CHROME, False, False, "avif"),
        (SAFARI_OLD, False, False, "webp"),
        (CURL, False, False, "jpg"),
        (CURL, True, False, "png"),
        (CHROME, True, False, "avif"),
        ("", False, False, "jpg"),
        (CHROME, False, True, "webp"),
        (CURL, False, True, "gif"),
        ("image/avif;q=0,image/webp", False, False, "webp"),
    ],
)
def test_choose_format(accept: str, alpha: bool, animated: bool, expected: str) -> None:
    assert choose_format(accept, alpha=alpha, animated=animated) == expected


def test_resolve_keeps_quality_only_where_the_format_has_one() -> None:
    auto = parse_token("w200-q50.auto")
    assert resolve(auto, CHROME, alpha=False, animated=False).token() == "w200-q50.avif"
    assert resolve(auto, CURL, alpha=True, animated=False).token() == "w200.png"
    assert resolve(parse_token("w200.jpg"), CHROME, alpha=False, animated=False).token() == (
        "w200.jpg"
    )
