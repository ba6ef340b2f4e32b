"""The `Storage` protocol: a flat key space of immutable blobs, local or remote.

Keys are `/`-separated relative paths (see `keys.py`). Implementations must make `put` atomic:
a reader sees the whole old object, the whole new one, or nothing.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import BadRequest

# LocalStorage writes into temp files named so; no backend accepts such keys, so the layout
# stays the same everywhere and a front server can tell temp files apart.
TMP_PREFIX = ".tmp-"


class Storage(Protocol):
    async def open(self) -> None:
        """Acquires what the backend holds for the process's life (S3: one client and its pool)."""

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    async def put(self, key: str, data: bytes, *, content_type: str, durable: bool = False) -> None:
        """`durable`: the bytes must survive a power cut (originals); outputs can re-render."""

    async def exists(self, key: str) -> bool: ...

    async def list(self, prefix: str) -> list[str]:
        """Every key below `prefix/`."""

    async def any_below(self, prefix: str) -> bool:
        """Whether any key lies below `prefix/`, in one cheap call whatever their number (S3:
        a listing of one key), where `list` would read them all."""

    async def delete_prefix(self, prefix: str) -> int:
        """Deletes every key below `prefix/`; returns how many there were."""

    async def url(self, key: str) -> str | None:
        """A URL clients may fetch the object from themselves, or None: serve it through the app.

        Says nothing about whether the object exists. Only S3 in redirect mode has one.
        """

    async def sweep(self, older_than_s: float) -> int:
        """Removes what interrupted writes left (local temp files, originals without info.json)
        older than that; returns how many objects it removed. S3's puts leave nothing partial."""

    async def close(self) -> None: ...


def check_key(key: str) -> str:
    """Refuses what could step outside a root (.., absolute, empty parts) and temp names."""
    parts = key.split("/")
    if any(p in ("", ".", "..") or p.startswith(TMP_PREFIX) or "\\" in p for p in parts):
        raise BadRequest(f"invalid storage key {key!r}")
    return key
