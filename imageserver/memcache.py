"""A bounded in-memory LRU of small outputs, so hot hits cost no disk or network I/O.

Counted in bytes, not entries: the setting is how much memory hits may use. Segmented (SLRU):
an item enters a probation segment and moves to the protected rest at its first hit; what the
protected segment has no room for goes back to probation, whose least recently used go first.
With a small probation, outputs asked for once (a crawler, a render nobody looks at again)
churn within its bytes instead of pushing hot ones out; with probation as large as the whole,
it is a plain LRU.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteLRU(Generic[V]):
    def __init__(
        self, max_bytes: int, max_item_bytes: int, probation_bytes: int | None = None
    ) -> None:
        """`probation_bytes`: what items never hit may hold (default: all of `max_bytes`)."""
        self.max_bytes = max_bytes
        self.max_item_bytes = min(max_item_bytes, max_bytes)
        self.probation_bytes = (
            max_bytes if probation_bytes is None else min(probation_bytes, max_bytes)
        )
        self._probation: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._protected: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._sizes = {"probation": 0, "protected": 0}

    @property
    def used_bytes(self) -> int:
        return self._sizes["probation"] + self._sizes["protected"]

    def get(self, key: str) -> V | None:
        item = self._protected.get(key)
        if item is not None:
            self._protected.move_to_end(key)
            return item[0]
        item = self._probation.pop(key, None)
        if item is None:
            return None
        self._sizes["probation"] -= item[1]
        self._protected[key] = item  # hit once: it has earned its place
        self._sizes["protected"] += item[1]
        while self._sizes["protected"] > self.max_bytes - self.probation_bytes:
            demoted, old = self._protected.popitem(last=False)
            self._sizes["protected"] -= old[1]
            self._enter_probation(demoted, old)
        return item[0]

    def put(self, key: str, value: V, size: int) -> None:
        """Items over `max_item_bytes` are not kept: big outputs would evict many hot small ones."""
        self.discard(key)
        if size <= self.max_item_bytes and size <= self.probation_bytes:
            self._enter_probation(key, (value, size))

    def _enter_probation(self, key: str, item: tuple[V, int]) -> None:
        self._probation[key] = item
        self._sizes["probation"] += item[1]
        while self._sizes["probation"] > self.probation_bytes:
            _, (_, size) = self._probation.popitem(last=False)
            self._sizes["probation"] -= size

    def discard(self, key: str) -> None:
        for name, segment in (("probation", self._probation), ("protected", self._protected)):
            item = segment.pop(key, None)
            if item is not None:
                self._sizes[name] -= item[1]

    def discard_prefix(self, prefix: str) -> None:
        for key in [k for k in (*self._probation, *self._protected) if k.startswith(prefix)]:
            self.discard(key)

    def __contains__(self, key: str) -> bool:
        """Whether it is held, without counting as a hit."""
        return key in self._probation or key in self._protected

    def __len__(self) -> int:
        return len(self._probation) + len(self._protected)
