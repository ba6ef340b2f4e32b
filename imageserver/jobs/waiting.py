"""Waiting for an event with a time limit, without losing a cancel.

On Python 3.11, `asyncio.wait_for` swallows a cancel that arrives just as the awaited thing
completes (CPython gh-86296). A worker's idle tasks wait on the backend's wake-up event, which
any enqueue or retry sets: when a shutdown's cancel met such a wake-up, the task went on polling,
and saq's stop waited for it for ever. `asyncio.timeout` tells its own cancel from a caller's.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Whether `event` was set within `timeout_s`; a cancel always propagates."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True
