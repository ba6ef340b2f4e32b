"""The server's public URLs: the base every answered URL starts with, and the URLs of an
original and its outputs. Pure: no aiohttp, no I/O (the web edge passes the request's parts).

Behind a TLS proxy the request's own origin is the proxy's upstream (http://10.0.0.5:7000), which
no client can use: `public_url` names the base outright, or, opted in, the proxy's
X-Forwarded-Proto and X-Forwarded-Host do. Without either setting those headers are ignored, as
any client may send them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .keys import INFO, ORIGINAL, ImageKey
from .urlsigning import DEFAULT_SIZE, sign

if TYPE_CHECKING:
    from .settings import Settings

SCHEMES = frozenset({"http", "https"})
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# a DNS name or IPv4 address, or a bracketed IPv6 address; then an optional port
HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(\d{{1,5}}))?")
MAX_PORT = 65535


def base_url(settings: Settings, scheme: str, host: str, headers: Mapping[str, str]) -> str:
    """`scheme` and `host`: the request's own (its Host header); `headers`: the request's."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if settings.trust_forwarded_headers:
        scheme = forwarded_scheme(headers.get("X-Forwarded-Proto")) or scheme
        host = forwarded_host(headers.get("X-Forwarded-Host")) or host
    return f"{scheme}://{host}"


def forwarded_scheme(header: str | None) -> str | None:
    """The first of a proxy chain's comma list, if it is http or https; else None (ignored)."""
    value = _first(header).lower()
    return value if value in SCHEMES else None


def forwarded_host(header: str | None) -> str | None:
    """The first of a comma list, if it is a host[:port] and nothing more (no path, no
    userinfo, no spaces); else None (ignored)."""
    value = _first(header)
    match = HOST.fullmatch(value)
    if match is None or (match[1] is not None and not 0 < int(match[1]) <= MAX_PORT):
        return None
    return value


def _first(header: str | None) -> str:
    return (header or "").split(",", 1)[0].strip()


def key_path(key: ImageKey) -> str:
    """The original's path: /p/6e0/072/682/e66287b662827da75b244a3, or /{ns}/_/{name}."""
    return "/" + key.prefix


def upload_answer(
    info: Mapping[str, Any],
    key: ImageKey,
    tokens: Sequence[str],
    base: str,
    signing_keys: Sequence[str] = (),
    signature_bytes: int = DEFAULT_SIZE,
) -> dict[str, Any]:
    """info.json plus the original's `path` and its `urls`, so that clients never split the
    hash themselves. `tokens`: the canonical tokens rendered on the upload; their URLs are
    signed when there are signing keys (the back end stores them rather than signing)."""
    path = key_path(key)
    outputs = {}
    for token in tokens:
        output = f"{path}/{token}"
        signed = sign(output, signing_keys, size=signature_bytes) if signing_keys else output
        outputs[token] = base + signed
    urls = {"original": f"{base}{path}/{ORIGINAL}", "info": f"{base}{path}/{INFO}"}
    return {**info, "path": path, "urls": {**urls, "outputs": outputs}}
