"""The `Storage` protocol: a flat key space of immutable blobs, local or remote.

Keys are `/`-separated relative paths (see `keys.py`). Implementations must make `put` atomic:
a reader sees the whole old object, the whole new one, or nothing.
"""

from __future__ import annotations

from typing import Protocol


class Storage(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    async def put(self, key: str, data: bytes, *, content_type: str, durable: bool = False) -> None:
        """`durable`: the bytes must survive a power cut (originals); outputs can re-render."""

    async def exists(self, key: str) -> bool: ...

    async def list(self, prefix: str) -> list[str]:
        """Every key below `prefix/`."""

    async def delete_prefix(self, prefix: str) -> int:
        """Deletes every key below `prefix/`; returns how many there were."""

    async def close(self) -> None: ...
