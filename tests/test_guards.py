"""Per-original guards: failures remembered for their TTL, and turns per document."""

from __future__ import annotations

import asyncio

import pytest

from imageserver.errors import OverLimit, RenderTimeout, Undecodable
from imageserver.guards import FailureMemory, PerKeyLimit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_timed_out_page_fails_again_at_once_until_its_ttl_is_over() -> None:
    clock = Clock()
    memory: FailureMemory[tuple[str, int]] = FailureMemory(300, clock)
    memory.remember(("p/abc", 1), RenderTimeout("rendering took longer than 30 s"))
    with pytest.raises(RenderTimeout, match=r"longer than 30 s \(again"):
        memory.check(("p/abc", 1))
    memory.check(("p/abc", 2))  # another page is tried
    clock.now += 300
    memory.check(("p/abc", 1))  # tried again once the TTL is over


def test_only_failures_at_any_size_are_remembered() -> None:
    memory: FailureMemory[str] = FailureMemory(300)
    memory.remember("big", OverLimit("w8000 of this page is over --max-pixels"))
    memory.check("big")  # a smaller output of the same page may pass
    memory.remember("broken", Undecodable("the file crashed its decoder"))
    with pytest.raises(Undecodable):
        memory.check("broken")
    off: FailureMemory[str] = FailureMemory(0)
    off.remember("broken", Undecodable("the file crashed its decoder"))
    off.check("broken")


async def test_one_turn_per_key_and_none_between_keys() -> None:
    limit: PerKeyLimit[str] = PerKeyLimit(1)
    running: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}

    async def use(key: str) -> None:
        async with limit.holding(key):
            running[key] += 1
            most[key] = max(most[key], running[key])
            await asyncio.sleep(0.01)
            running[key] -= 1

    await asyncio.gather(*(use(k) for k in "aaabbb"))
    assert most == {"a": 1, "b": 1}
    assert limit._held == {}  # nothing kept for keys nobody holds
