"""Mime rules of a job, `"!image/vnd.adobe.photoshop,image/*"`: an allow-list with negations.

Parsed at submit time (400 before enqueueing), checked against the type sniffed from the bytes.
Pure: stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BadRequest, UnsupportedMedia

_PATTERN = re.compile(r"(?:\*/\*|[a-z0-9][a-z0-9!#$&^_.+-]*/(?:\*|[a-z0-9][a-z0-9!#$&^_.+-]*))")


class MimeRefused(UnsupportedMedia):
    """The source's type is not one the job's mime rule admits: permanent, never retried."""

    code = "mime_refused"


@dataclass(frozen=True)
class MimeRule:
    """Admits a type that matches an allowed pattern and no negated one.

    A rule of negations alone (`!image/svg+xml`) admits every other type.
    """

    allowed: tuple[str, ...]
    denied: tuple[str, ...]

    def admits(self, mime: str) -> bool:
        mime = mime.lower()
        if any(_matches(pattern, mime) for pattern in self.denied):
            return False
        return not self.allowed or any(_matches(pattern, mime) for pattern in self.allowed)

    def check(self, mime: str | None) -> None:
        """`mime` None: the bytes are of no known type, which only a rule of negations admits."""
        if mime is None and self.allowed:
            raise MimeRefused(f"source type unknown, expected {self}")
        if mime is not None and not self.admits(mime):
            raise MimeRefused(f"source type {mime} refused by the mime rule {str(self)!r}")

    def __str__(self) -> str:
        return ",".join([*("!" + d for d in self.denied), *self.allowed])


def parse_mime_rule(text: str) -> MimeRule:
    """Comma-separated `type/subtype`, `type/*` or `*/*`, each optionally negated with `!`."""
    allowed: list[str] = []
    denied: list[str] = []
    for entry in (part.strip().lower() for part in text.split(",")):
        negated = entry.startswith("!")
        pattern = entry.removeprefix("!").strip()
        if not _PATTERN.fullmatch(pattern):
            raise BadRequest(
                f"mime: expected comma-separated type/subtype, type/* or */*, each optionally "
                f"negated with '!', got {text!r}"
            )
        (denied if negated else allowed).append(pattern)
    return MimeRule(tuple(allowed), tuple(denied))


def declared_type(content_type: str | None) -> str | None:
    """`type/subtype` of a Content-Type header, lowercased and without parameters; None when
    missing or malformed (a server's header is not trusted to be well-formed)."""
    mime = (content_type or "").partition(";")[0].strip().lower()
    return mime if _PATTERN.fullmatch(mime) and "*" not in mime else None


def _matches(pattern: str, mime: str) -> bool:
    if pattern == "*/*":
        return True
    if pattern.endswith("/*"):
        return mime.startswith(pattern[:-1])
    return mime == pattern
