"""A bounded in-memory LRU of small outputs, so hot hits cost no disk or network I/O.

Counted in bytes, not entries: the setting is how much memory hits may use.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteLRU(Generic[V]):
    def __init__(self, max_bytes: int, max_item_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_item_bytes = min(max_item_bytes, max_bytes)
        self.used_bytes = 0
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, value: V, size: int) -> None:
        """Items over `max_item_bytes` are not kept: big outputs would evict many hot small ones."""
        self.discard(key)
        if size > self.max_item_bytes:
            return
        self._items[key] = (value, size)
        self.used_bytes += size
        while self.used_bytes > self.max_bytes:
            _, (_, old_size) = self._items.popitem(last=False)
            self.used_bytes -= old_size

    def discard(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.used_bytes -= item[1]

    def discard_prefix(self, prefix: str) -> None:
        for key in [k for k in self._items if k.startswith(prefix)]:
            self.discard(key)

    def __len__(self) -> int:
        return len(self._items)
