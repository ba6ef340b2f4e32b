"""The fallback image (--fallback-image): read and decoded once at start, answered in place of an
output whose render failed (web/handlers.py), never stored. Which failures it covers is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import render
from .errors import ImageServerError
from .settings import Settings, SettingsError

# Failures of the original's pixels: not a supported image (a kept file), undecodable, over a
# limit, timed out, encrypted. Other 4xx are the request's mistakes, which a 200 would hide from
# the page's author: a malformed token (400, before any lookup), a crop outside the picture or a
# page past the document's end (400), a URL policy's refusal (403), an unknown original (404).
_PIXEL_FAILURES = frozenset({415, 422})


@dataclass(frozen=True)
class Fallback:
    body: bytes
    content_type: str
    ttl_s: int  # Cache-Control max-age: the failure may pass (storage back, load gone)

    def covers(self, error: ImageServerError) -> bool:
        """The original's pixels failed, or the server did (5xx: overloaded, storage down or
        slow, a misconfigured watermark): imgproxy answers every processing error so."""
        return error.status in _PIXEL_FAILURES or error.status >= 500


def load_fallback(settings: Settings, limits: render.Limits) -> Fallback | None:
    """settings_checks saw that the file reads and is of a type browsers show; here its
    pixels must decode too (in-process, once: a small decode)."""
    if not settings.fallback_image:
        return None
    with open(settings.fallback_image, "rb") as fh:
        data = fh.read()
    try:
        found = render.probe(data, limits)
    except ImageServerError as exc:
        raise SettingsError(f"fallback_image: {settings.fallback_image}: {exc.message}") from None
    return Fallback(data, found.input.mime, settings.fallback_image_ttl_s)
