"""Single flight: one task per key, cancelled when its last waiter leaves before it starts."""

from __future__ import annotations

import asyncio

from imageserver.flights import Flight, Flights


class Work:
    """A flight's work: waits for `start`, marks itself started, then waits for `finish`."""

    def __init__(self) -> None:
        self.runs = 0
        self.start = asyncio.Event()
        self.finish = asyncio.Event()
        self.cancelled = 0

    async def __call__(self, flight: Flight[str]) -> str:
        self.runs += 1
        try:
            await self.start.wait()  # waiting for a worker: cancelling is free
            flight.started = True
            await self.finish.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return f"result {self.runs}"


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiters_share_one_run() -> None:
    flights: Flights[str] = Flights()
    work = Work()
    waiters = [asyncio.create_task(flights.join("k", work)) for _ in range(5)]
    await _settle()
    work.start.set()
    work.finish.set()
    assert await asyncio.gather(*waiters) == ["result 1"] * 5
    assert work.runs == 1
    assert "k" not in flights


async def test_flight_nobody_waits_for_is_cancelled_before_it_starts() -> None:
    flights: Flights[str] = Flights()
    work = Work()
    waiters = [asyncio.create_task(flights.join("k", work)) for _ in range(3)]
    await _settle()
    for waiter in waiters[:2]:
        waiter.cancel()
    await _settle()
    assert work.cancelled == 0  # one waiter is left
    waiters[2].cancel()
    await _settle()
    assert work.cancelled == 1
    assert "k" not in flights


async def test_started_flight_runs_to_the_end_for_nobody() -> None:
    flights: Flights[str] = Flights()
    work = Work()
    waiter = asyncio.create_task(flights.join("k", work))
    await _settle()
    work.start.set()
    await _settle()
    waiter.cancel()
    await _settle()
    assert "k" in flights  # its cost is paid: the result will be kept
    work.finish.set()
    await _settle()
    assert work.cancelled == 0
    assert "k" not in flights


async def test_caller_arriving_as_a_flight_is_dropped_starts_a_new_one() -> None:
    flights: Flights[str] = Flights()
    work = Work()
    first = asyncio.create_task(flights.join("k", work))
    await _settle()
    first.cancel()
    second = asyncio.create_task(flights.join("k", work))  # before the cancel has landed
    await _settle()
    work.start.set()
    work.finish.set()
    assert await second == "result 2"
    assert work.cancelled == 1


async def test_owned_flight_is_never_cancelled_by_joiners() -> None:
    flights: Flights[str] = Flights()
    done = asyncio.Event()

    async def batch() -> str:
        await done.wait()
        return "batch"

    flights.add("k", batch())
    joiner = asyncio.create_task(flights.join("k", Work()))
    await _settle()
    joiner.cancel()
    await _settle()
    assert "k" in flights
    done.set()
    await _settle()
    assert "k" not in flights
