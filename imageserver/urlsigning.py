"""Signed output URLs, as imgproxy signs its own: HMAC-SHA256 over the path. Pure (`sign` and
`valid` need only the standard library, so a back end can copy them).

`/p/6e0/072/682/e66287b662827da75b244a3/w200.jpg?s=SIG`, or with an expiry
`...w200.jpg?exp=1767225600&s=SIG`. The signature rides in the query so that the path stays the
storage key: nginx serves stored outputs by path and never needs to know about signing.

SIG is the URL-safe base64 (no padding) of HMAC-SHA256(key, PATH) or, with an expiry,
HMAC-SHA256(key, PATH + "?exp=" + EXP), cut to the first `size` bytes of the digest (imgproxy's
IMGPROXY_SIGNATURE_SIZE: 32 is the whole digest, 8 is plenty for URLs that must stay short).
Several keys may be valid at once, so keys rotate without a flag day: URLs are signed with the
first and accepted with any.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, unquote

from .keys import ImageKey
from .transform import parse_token

SIGNATURE = "s"
EXPIRES = "exp"
DEFAULT_SIZE = 32


def signature(key: str, path: str, expires: int | None = None, size: int = DEFAULT_SIZE) -> str:
    message = path if expires is None else f"{path}?{EXPIRES}={expires}"
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()[:size]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(
    path: str, keys: Sequence[str], *, expires: int | None = None, size: int = DEFAULT_SIZE
) -> str:
    """The path with its signature query, signed with the first key."""
    query = f"{SIGNATURE}={signature(keys[0], path, expires, size)}"
    if expires is not None:
        query = f"{EXPIRES}={expires}&{query}"
    return f"{path}?{query}"


def valid(
    path: str,
    query: Mapping[str, str],
    keys: Sequence[str],
    now_s: float,
    size: int = DEFAULT_SIZE,
) -> bool:
    """Signed by any of `keys` and not expired. Every key is tried, so the time taken does not
    tell which one nearly matched."""
    given = query.get(SIGNATURE)
    if not given or not keys:
        return False
    raw_expires = query.get(EXPIRES)
    if raw_expires is not None and not (raw_expires.isdigit() and int(raw_expires) >= now_s):
        return False
    expires = None if raw_expires is None else int(raw_expires)
    matches = [
        hmac.compare_digest(given.encode(), signature(key, path, expires, size).encode())
        for key in keys
    ]
    return any(matches)


class Verifier:
    """`valid` for one set of keys, remembering the URLs it accepted (with their expiry): a hot
    output is asked for with the same URL over and over, and one dict lookup of the raw request
    target costs a small part of parsing its query and computing the HMAC."""

    def __init__(self, keys: Sequence[str], size: int = DEFAULT_SIZE, remember: int = 10_000):
        self.keys = tuple(keys)
        self.size = size
        self._remember = remember
        self._accepted: dict[str, int | None] = {}  # raw target -> its expiry (None: none)

    def valid_target(self, target: str, now_s: float) -> bool:
        """`target`: the request's raw path and query, as it came (`/p/...?s=...`)."""
        if target in self._accepted:
            expires = self._accepted[target]
            return expires is None or expires >= now_s
        path, _, query_string = target.partition("?")
        query = dict(parse_qsl(query_string))
        if not valid(unquote(path), query, self.keys, now_s, self.size):
            return False
        if len(self._accepted) >= self._remember:
            self._accepted.clear()  # cheaper than an LRU, and refilled by the next hits
        raw_expires = query.get(EXPIRES)
        self._accepted[target] = None if raw_expires is None else int(raw_expires)
        return True


def output_url(
    namespace: str,
    content_hash: str,
    token: str,
    keys: Sequence[str],
    *,
    base_url: str = "",
    expires: int | None = None,
    size: int = DEFAULT_SIZE,
) -> str:
    """What a back end calls to link an output: the canonical token (the server redirects other
    spellings, and a signature covers one path), signed when there are keys."""
    h = content_hash
    key = ImageKey.from_path(namespace, h[0:3], h[3:6], h[6:9], h[9:])  # checks the hash
    path = "/" + key.output(parse_token(token).token())
    signed = sign(path, keys, expires=expires, size=size) if keys else path
    return base_url.rstrip("/") + signed
