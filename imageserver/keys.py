"""Where things live: content hashes, namespaces and the hash-partitioned key layout.

`p/6e0/072/682/e66287b662827da75b244a3/w200.jpg` on disk, in S3 and in URLs alike; an original
stored under a client's name (insight-reloaded's `hash=`) is `p/_/{name}/w200.jpg`. Pure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import xxhash

from .errors import BadRequest, NotFound

NAMESPACE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Top-level paths the API uses for itself; they can never be namespaces.
RESERVED_NAMESPACES = frozenset(
    {
        "healthz",
        "metrics",
        "jobs",
        "status",
        "queues",
        "api",
        "download",
        "hb",
        "retry",
        "dashboard",
        "admin",  # the dashboard's default --admin-prefix
    }
)
_HEX = re.compile(r"[0-9a-f]+")
# A named key's second segment: a content key's is 3 hex digits, so the two never meet, whatever
# the name (32 hex digits too). Unreserved in URLs, safe in S3 keys and file names.
NAMED = "_"
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
INFO = "info.json"
ORIGINAL = "original"
# Every key names its content (hash, then token), so whoever serves it may cache it for ever.
IMMUTABLE = "public, max-age=31536000, immutable"
XXH3, MD5 = "xxh3", "md5"


class Digest(Protocol):
    """What hashlib's and xxhash's hash objects share, as content_hash uses them."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


HASHES: dict[str, Callable[[bytes], Digest]] = {
    XXH3: xxhash.xxh3_128,
    MD5: lambda data: hashlib.md5(data, usedforsecurity=False),
}


def content_hash(data: bytes, password: str = "", algorithm: str = XXH3) -> str:
    """xxh3-128 of the original bytes: the same bytes always land in the same place. `md5`: the
    wanelo seed's hash (--md5-namespaces), so its URLs can be recomputed; 32 hex digits too, so
    the layout is one. Which one a namespace uses is kept in storage (hashes.py).

    An encrypted PDF's password is hashed in after its bytes, whichever the algorithm: whoever
    has the file but not the password cannot derive where its pages are.
    """
    digest = HASHES[algorithm](data)
    if password:
        digest.update(b"\0" + password.encode())
    return digest.hexdigest()


def check_namespace(namespace: str) -> str:
    if not NAMESPACE.fullmatch(namespace) or namespace in RESERVED_NAMESPACES:
        raise BadRequest(
            f"namespace: expected [a-z0-9][a-z0-9_-]{{0,63}} and not one of "
            f"{', '.join(sorted(RESERVED_NAMESPACES))}, got {namespace!r}",
            code="bad_namespace",
        )
    return namespace


def check_name(name: str, field: str = "name") -> str:
    """A client's name for an original: a path segment, never `.`/`..` nor a temp file's."""
    if not NAME.fullmatch(name):
        raise BadRequest(
            f"{field}: expected 1-64 of A-Z a-z 0-9 _ -, got {name!r}", code="bad_name"
        )
    return name


@dataclass(frozen=True)
class ImageKey:
    """`hash` is the content hash; for a `named` key, the client's name stands in its place (the
    content hash is then in its info.json). A name is written once (originals.py)."""

    namespace: str
    hash: str
    named: bool = False

    @classmethod
    def from_path(cls, namespace: str, aaa: str, bbb: str, ccc: str, rest: str) -> ImageKey:
        """The URL's partitions; anything that is not a well-formed hash path is simply unknown."""
        parts = (aaa, bbb, ccc, rest)
        if [len(p) for p in parts] != [3, 3, 3, 23] or not all(_HEX.fullmatch(p) for p in parts):
            raise NotFound("no image at this path (expected /ns/aaa/bbb/ccc/23 hex digits)")
        return cls(check_namespace(namespace), "".join(parts))

    @classmethod
    def of_name(cls, namespace: str, name: str) -> ImageKey:
        """`/{ns}/_/{name}/...`: a name that cannot be one is simply unknown, as in from_path."""
        if not NAME.fullmatch(name):
            raise NotFound("no image at this path (expected /ns/_/ and 1-64 of A-Z a-z 0-9 _ -)")
        return cls(check_namespace(namespace), name, named=True)

    @property
    def prefix(self) -> str:
        h = self.hash
        if self.named:
            return f"{self.namespace}/{NAMED}/{h}"
        return f"{self.namespace}/{h[0:3]}/{h[3:6]}/{h[6:9]}/{h[9:]}"

    @property
    def original(self) -> str:
        return f"{self.prefix}/{ORIGINAL}"

    @property
    def info(self) -> str:
        return f"{self.prefix}/{INFO}"

    def output(self, token: str) -> str:
        return f"{self.prefix}/{token}"

    @property
    def url_path(self) -> str:
        return f"/{self.prefix}/"
