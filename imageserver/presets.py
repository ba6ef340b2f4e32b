"""Named presets per namespace: `small.jpg` is the namespace's `w150.jpg`. Pure: no I/O.

A preset names a token stem (`SIZE[-OPTIONS][@Nx]`, no format). Its name stands where SIZE stands,
so options may follow it (`small-p3.webp` is `w150-p3.webp`); the expanded token is then parsed
like any other, and its canonical spelling is where the output is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_LEADING_NAME = re.compile(r"[a-z][a-z0-9_]*")
# A name that reads as a size (w150, x20, h3) would shadow that size for the whole namespace.
_SIZE_LIKE = re.compile(r"[whx][0-9]+")
RESERVED = frozenset({"placeholder"})  # transform.PLACEHOLDER (transform imports this module)


def expand(token: str, presets: Mapping[str, str]) -> str:
    """`small-p3.jpg` -> `w150-p3.jpg` when `small` is a preset; any other token unchanged."""
    match = _LEADING_NAME.match(token)
    if match is None or match[0] not in presets:
        return token
    rest = token[match.end() :]
    return presets[match[0]] + rest if rest[:1] in ("-", "@", ".") else token


def is_preset(token: str, presets: Mapping[str, str]) -> bool:
    return expand(token, presets) != token


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a preset name, or None when it can."""
    if not NAME.fullmatch(name):
        return f"expected a name matching {NAME.pattern}, got {name!r}"
    if _SIZE_LIKE.fullmatch(name):
        return f"{name!r} reads as a size (wN, hN, xN)"
    if name in RESERVED:
        return f"{name!r} is an output of its own (placeholder.png)"
    return None
