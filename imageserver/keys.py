"""Where things live: content hashes, namespaces and the hash-partitioned key layout.

`p/6e0/072/682/e66287b662827da75b244a3/w200.jpg` on disk, in S3 and in URLs alike. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    }
)
_HEX = re.compile(r"[0-9a-f]+")
INFO = "info.json"
ORIGINAL = "original"
# Every key names its content (hash, then token), so whoever serves it may cache it for ever.
IMMUTABLE = "public, max-age=31536000, immutable"


def content_hash(data: bytes, password: str = "") -> str:
    """xxh3-128 of the original bytes: the same bytes always land in the same place.

    An encrypted PDF's password is hashed in after its bytes: whoever has the file but not the
    password cannot derive where its pages are.
    """
    digest = xxhash.xxh3_128(data)
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


@dataclass(frozen=True)
class ImageKey:
    namespace: str
    hash: str

    @classmethod
    def from_path(cls, namespace: str, aaa: str, bbb: str, ccc: str, rest: str) -> ImageKey:
        """The URL's partitions; anything that is not a well-formed hash path is simply unknown."""
        parts = (aaa, bbb, ccc, rest)
        if [len(p) for p in parts] != [3, 3, 3, 23] or not all(_HEX.fullmatch(p) for p in parts):
            raise NotFound("no image at this path (expected /ns/aaa/bbb/ccc/23 hex digits)")
        return cls(check_namespace(namespace), "".join(parts))

    @property
    def prefix(self) -> str:
        h = self.hash
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
