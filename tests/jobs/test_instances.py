"""Heartbeats and slot occupancy, one contract for both backends (SQLite file, real redis-server).

A process's record is written at start and every interval, listed by any connection, shown stale
after STALE_BEATS silent intervals, swept after SWEPT_BEATS, and deleted by a graceful stop.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from imageserver import __version__
from imageserver.jobs.backends import Backend
from imageserver.jobs.instances import STALE_BEATS, SWEPT_BEATS, Heartbeat, live_instances
from imageserver.settings import SettingsError, load

TINY_S = 0.1  # test-sized heartbeat interval


async def test_a_heartbeat_is_listed_by_another_connection_until_its_graceful_stop(
    backends: tuple[Backend, Backend],
) -> None:
    writer, reader = backends
    heartbeat = Heartbeat(writer, "server", TINY_S, port=7000, running=lambda: 2)
    await heartbeat.start()
    [listed] = await live_instances(reader)
    assert (listed.id, listed.kind, listed.port, listed.running) == (
        heartbeat.instance.id,
        "server",
        7000,
        2,
    )
    assert (listed.pid, listed.version, listed.interval_s) == (os.getpid(), __version__, TINY_S)
    assert listed.host
    assert listed.load >= 0
    assert listed.started_at <= listed.last_seen
    await heartbeat.stop()
    assert await live_instances(reader) == []


async def test_beats_go_on_so_a_live_process_never_goes_stale(
    backends: tuple[Backend, Backend],
) -> None:
    writer, reader = backends
    heartbeat = Heartbeat(writer, "worker", TINY_S)
    await heartbeat.start()
    first = (await live_instances(reader))[0].last_seen
    await asyncio.sleep(STALE_BEATS * 2 * TINY_S)
    [listed] = await live_instances(reader)
    assert listed.last_seen > first
    assert not listed.stale(time.time())
    assert listed.running is None  # no workers to count
    await heartbeat.stop()


async def test_a_silent_process_goes_stale_then_is_swept(
    backends: tuple[Backend, Backend],
) -> None:
    """One beat and then nothing: a process killed with SIGKILL."""
    writer, reader = backends
    killed, alive = Heartbeat(writer, "worker", TINY_S), Heartbeat(writer, "worker", TINY_S)
    await killed.beat()
    await alive.start()
    assert [i.stale(time.time()) for i in await live_instances(reader)] == [False, False]
    await asyncio.sleep((STALE_BEATS + 1) * TINY_S)
    stale = {i.id: i.stale(time.time()) for i in await live_instances(reader)}
    assert stale == {killed.instance.id: True, alive.instance.id: False}
    await asyncio.sleep((SWEPT_BEATS - STALE_BEATS) * TINY_S)
    assert [i.id for i in await live_instances(reader)] == [alive.instance.id]
    await alive.stop()


async def test_held_counts_the_unexpired_leases_of_slots_by_prefix(
    backends: tuple[Backend, Backend],
) -> None:
    writer, reader = backends
    assert await writer.acquire("group:a", 3, "job1", 30)
    assert await writer.acquire("group:a", 3, "job2", 30)
    assert await writer.acquire("group:b_%*", 3, "job1", 30)
    assert await writer.acquire("group:c", 3, "job3", 0.05)
    assert await writer.acquire("host:example.com", 3, "job1", 30)
    await asyncio.sleep(0.1)  # job3's lease expires
    assert await reader.held("group:") == {"group:a": 2, "group:b_%*": 1}
    await writer.release("group:a", "job1")
    assert await reader.held("group:a") == {"group:a": 1}
    assert await reader.held("group:x") == {}


def test_the_heartbeat_interval_must_be_positive() -> None:
    with pytest.raises(SettingsError, match="instance_heartbeat_s: must be > 0"):
        load({"instance_heartbeat_s": "0"}, env={})
