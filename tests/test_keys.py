"""Content hashes, namespaces and the hash-partitioned key layout shared by disk, S3 and URLs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageserver.errors import BadRequest, NotFound
from imageserver.keys import (
    RESERVED_NAMESPACES,
    ImageKey,
    check_name,
    check_namespace,
    content_hash,
)

HASH = "6e0072682e66287b662827da75b244a3"
KEY = ImageKey("p", HASH)


def test_content_hash_is_xxh3_128_hex() -> None:
    # Reference values of xxh3-128 (seed 0) for fixed inputs: the layout must never move.
    assert content_hash(b"") == "99aa06d3014798d86001c324468d497f"
    assert content_hash(b"abc") == "06b05ab6733a618578af5f94892f3950"


@given(st.binary(max_size=4096))
def test_content_hash_shape_and_stability(data: bytes) -> None:
    digest = content_hash(data)
    assert re.fullmatch(r"[0-9a-f]{32}", digest)
    assert content_hash(bytes(data)) == digest


def test_content_hash_tells_bytes_apart() -> None:
    assert content_hash(b"image-a") != content_hash(b"image-b")


def test_key_layout() -> None:
    assert KEY.prefix == "p/6e0/072/682/e66287b662827da75b244a3"
    assert KEY.original == "p/6e0/072/682/e66287b662827da75b244a3/original"
    assert KEY.info == "p/6e0/072/682/e66287b662827da75b244a3/info.json"
    assert KEY.output("w200.jpg") == "p/6e0/072/682/e66287b662827da75b244a3/w200.jpg"
    assert KEY.url_path == "/p/6e0/072/682/e66287b662827da75b244a3/"


def test_from_path_reads_the_url_partitions() -> None:
    assert ImageKey.from_path("p", "6e0", "072", "682", "e66287b662827da75b244a3") == KEY


NAMESPACES = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True).filter(
    lambda ns: ns not in RESERVED_NAMESPACES
)


@given(st.binary(max_size=64), NAMESPACES)
def test_from_path_round_trips_the_prefix(data: bytes, namespace: str) -> None:
    key = ImageKey(namespace, content_hash(data))
    assert ImageKey.from_path(*key.prefix.split("/")) == key


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param(("6e", "0072", "682", "e66287b662827da75b244a3"), id="short-first"),
        pytest.param(("6e0", "072", "682", "e66287b662827da75b244a"), id="short-rest"),
        pytest.param(("6e0", "072", "682", "e66287b662827da75b244a33"), id="long-rest"),
        pytest.param(("6E0", "072", "682", "e66287b662827da75b244a3"), id="upper-case"),
        pytest.param(("6e0", "07g", "682", "e66287b662827da75b244a3"), id="not-hex"),
        pytest.param(("6e0", "072", "..", "e66287b662827da75b244a3"), id="dot-dot"),
        pytest.param(("6e0", "072", "682", "e66287b662827da75b244/3"), id="slash"),
        pytest.param(("", "", "", ""), id="empty"),
    ],
)
def test_from_path_refuses_malformed_partitions(parts: tuple[str, str, str, str]) -> None:
    with pytest.raises(NotFound):
        ImageKey.from_path("p", *parts)


def test_from_path_checks_the_namespace() -> None:
    with pytest.raises(BadRequest, match=r"^namespace: "):
        ImageKey.from_path("Bad", "6e0", "072", "682", "e66287b662827da75b244a3")


@pytest.mark.parametrize("namespace", ["p", "0", "avatars", "user_photos", "a-b", "a" * 64])
def test_valid_namespace(namespace: str) -> None:
    assert check_namespace(namespace) == namespace


@pytest.mark.parametrize(
    "namespace",
    [
        "",
        "Avatars",
        "-p",
        "_p",
        "a b",
        "a/b",
        "a.b",
        "..",
        "a" * 65,
        "p\n",
        "é",
    ],
)
def test_invalid_namespace(namespace: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check_namespace(namespace)
    assert caught.value.code == "bad_namespace"
    assert caught.value.message.startswith("namespace: expected [a-z0-9][a-z0-9_-]{0,63}")
    assert caught.value.message.endswith(f"got {namespace!r}")


@pytest.mark.parametrize("namespace", sorted(RESERVED_NAMESPACES))
def test_reserved_namespace(namespace: str) -> None:
    with pytest.raises(BadRequest, match=f"not one of .*{namespace}.*, got '{namespace}'$"):
        check_namespace(namespace)


def test_named_key_layout() -> None:
    key = ImageKey("insight", "123456789", named=True)
    assert key.prefix == "insight/_/123456789"
    assert (key.info, key.original) == (
        "insight/_/123456789/info.json",
        "insight/_/123456789/original",
    )
    assert key.output("w200.jpg") == "insight/_/123456789/w200.jpg"
    assert ImageKey.of_name("insight", "123456789") == key


NAMES = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)


@given(st.binary(max_size=64), NAMES | st.just(content_hash(b"")))
def test_a_name_and_a_content_hash_never_share_a_prefix(data: bytes, name: str) -> None:
    """Structurally: a content key's second segment is 3 hex digits, a named key's is `_`."""
    by_content, by_name = ImageKey("p", content_hash(data)), ImageKey("p", name, named=True)
    assert by_content != by_name
    for one, other in ((by_content, by_name), (by_name, by_content)):
        assert not (one.prefix + "/").startswith(other.prefix + "/")
    assert ImageKey.of_name(*by_name.prefix.split("/")[::2]) == by_name


@pytest.mark.parametrize("name", ["", ".", "..", "a.b", "a/b", ".tmp-x", "a b", "é", "a" * 65])
def test_invalid_names(name: str) -> None:
    with pytest.raises(BadRequest, match=r"^hash: expected 1-64 of A-Z a-z 0-9 _ -"):
        check_name(name, "hash")
    with pytest.raises(NotFound):
        ImageKey.of_name("p", name)
