"""URL signatures and policies, pure: what a back end signs is what the server accepts."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from imageserver import access, urlsigning
from imageserver.access import Policy
from imageserver.errors import NotFound

PATH = "/p/6e0/072/682/e66287b662827da75b244a3/w200.jpg"
HASH = "6e0072682e66287b662827da75b244a3"


def _query(url: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))


def test_the_signature_is_imgproxys_construction() -> None:
    """URL-safe base64 without padding of HMAC-SHA256(key, path): receivers can re-derive it."""
    digest = hmac.new(b"secret", PATH.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert urlsigning.sign(PATH, ["secret"]) == f"{PATH}?s={expected}"


def test_signed_paths_verify_with_any_key_and_nothing_else() -> None:
    query = _query(urlsigning.sign(PATH, ["old"]))
    assert urlsigning.valid(PATH, query, ["new", "old"], now_s=0)  # rotation: old still valid
    assert not urlsigning.valid(PATH, query, ["new"], now_s=0)
    assert not urlsigning.valid(PATH.replace("w200", "w201"), query, ["old"], now_s=0)
    assert not urlsigning.valid(PATH, {}, ["old"], now_s=0)
    assert not urlsigning.valid(PATH, query, [], now_s=0)


def test_expiry_is_signed_and_enforced() -> None:
    query = _query(urlsigning.sign(PATH, ["k"], expires=1000))
    assert query["exp"] == "1000"
    assert urlsigning.valid(PATH, query, ["k"], now_s=999)
    assert not urlsigning.valid(PATH, query, ["k"], now_s=1001)
    assert not urlsigning.valid(PATH, {**query, "exp": "2000"}, ["k"], now_s=999)  # moved
    assert not urlsigning.valid(PATH, {**query, "exp": "soon"}, ["k"], now_s=0)
    unexpiring = _query(urlsigning.sign(PATH, ["k"]))
    assert not urlsigning.valid(PATH, {**unexpiring, "exp": "9999999999"}, ["k"], now_s=0)


def test_truncated_signatures() -> None:
    short = _query(urlsigning.sign(PATH, ["k"], size=8))
    assert len(short["s"]) == 11  # 8 bytes in base64
    assert urlsigning.valid(PATH, short, ["k"], now_s=0, size=8)
    assert not urlsigning.valid(PATH, short, ["k"], now_s=0)  # the server expects its own size


def test_output_url_canonicalises_and_checks_the_hash() -> None:
    url = urlsigning.output_url("p", HASH, "w200@1x.jpeg", ["k"], base_url="https://img.test/")
    assert url.startswith("https://img.test" + PATH + "?s=")  # canonical spelling
    assert urlsigning.output_url("p", HASH, "w200.jpg", []) == PATH  # no keys: unsigned
    with pytest.raises(NotFound):
        urlsigning.output_url("p", "zz", "w200.jpg", ["k"])


@pytest.mark.parametrize(
    ("policy", "signed", "preset", "stored_public", "render", "stored"),
    [
        (Policy.PUBLIC, False, False, False, True, True),
        (Policy.SIGNED, True, False, False, True, True),
        (Policy.SIGNED, False, True, True, False, True),  # presets do not sign
        (Policy.SIGNED, False, False, False, False, False),
        (Policy.PRESETS_ONLY, False, True, False, True, True),
        (Policy.PRESETS_ONLY, True, False, False, False, True),  # a signature shows stored ones
        (Policy.PRESETS_ONLY, False, False, True, False, True),
        (Policy.PRESETS_ONLY, False, False, False, False, False),
    ],
)
def test_policy_decisions(
    policy: Policy, signed: bool, preset: bool, stored_public: bool, render: bool, stored: bool
) -> None:
    decided = access.decide(policy, signed=signed, preset=preset, stored_public=stored_public)
    assert (decided.render, decided.stored) == (render, stored)


def test_the_verifier_remembers_what_it_accepted_but_not_past_its_expiry() -> None:
    verifier = urlsigning.Verifier(["k"])
    target = urlsigning.sign(PATH, ["k"], expires=1000)
    assert verifier.valid_target(target, now_s=10)
    assert verifier.valid_target(target, now_s=20)  # from memory
    assert not verifier.valid_target(target, now_s=1001)
    assert not verifier.valid_target(target.replace("s=", "s=x"), now_s=10)
    assert not verifier.valid_target(target.replace("w200", "w300"), now_s=10)
    assert not verifier.valid_target(PATH, now_s=10)
