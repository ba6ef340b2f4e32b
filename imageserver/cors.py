"""Which browser origins may read the server's GET answers (`cors_origins`), and the headers that
say so. Pure: no aiohttp. Writes are never allowed cross-origin: they stay server-to-server.

Every header set is built once, at start: on the hot path (a memory-cache hit) the decision is
a dict lookup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ANY = "*"
READS = frozenset({"GET", "HEAD"})
ALLOW_METHODS = "GET, HEAD"
# a GET from a page may revalidate (If-None-Match) and read a job view with an API key
ALLOW_HEADERS = "Authorization, If-None-Match"
# headers a page's script may read beyond the safelisted few (Content-Type, Cache-Control, ...)
EXPOSE_HEADERS = "ETag, Content-Length, Retry-After, X-Imageserver-Status, X-Imageserver-Error"
PREFLIGHT_MAX_AGE_S = 86400


class Cors:
    """`origins`: exact origins (scheme://host[:port]) or '*' for any (then no cookies or
    credentials are involved, as '*' forbids them)."""

    def __init__(self, origins: Sequence[str]) -> None:
        self.any = ANY in origins
        self.vary = not self.any  # an echoed origin makes the answer differ by Origin
        exposed = {"Access-Control-Expose-Headers": EXPOSE_HEADERS}
        allowed = [ANY] if self.any else [o.rstrip("/") for o in origins]
        self._answers = {o: {"Access-Control-Allow-Origin": o, **exposed} for o in allowed}
        preflight = {
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
        }
        self._preflights = {
            o: {"Access-Control-Allow-Origin": o, **preflight, **self._vary_origin()}
            for o in allowed
        }

    def read_headers(self, origin: str | None) -> Mapping[str, str] | None:
        """The headers of a GET or HEAD answer to a page of `origin`; None: not allowed."""
        if origin is None:
            return None
        return self._answers.get(ANY if self.any else origin)

    def preflight_headers(self, origin: str | None, method: str | None) -> Mapping[str, str] | None:
        """The headers of a 204 to a preflight (OPTIONS) asking for `method`; None: no
        allowance (a preflight for a write gets none)."""
        if origin is None or method not in READS:
            return None
        return self._preflights.get(ANY if self.any else origin)

    def _vary_origin(self) -> dict[str, str]:
        return {"Vary": "Origin"} if self.vary else {}
