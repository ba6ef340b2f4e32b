"""Single flight: one task per key however many callers wait for it, dropped when nobody does.

A client that hangs up cancels its handler (web/app.py: handler cancellation). When the last
waiter of a flight leaves before the flight has started its real work (a render waiting for a
worker), the flight is cancelled: a render nobody waits for is never started. Once started, it
runs to the end and its result is kept, since its cost is paid already.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(eq=False)
class Flight(Generic[T]):
    task: asyncio.Future[T] = field(init=False)
    owned: bool = False  # its starter waits for it whatever joiners do (a batch of outputs)
    started: bool = False  # past the point where cancelling it would waste work
    waiters: int = 0

    def abandoned(self) -> bool:
        return self.waiters == 0 and not (self.owned or self.started or self.task.done())


class Flights(Generic[T]):
    def __init__(self, on_abandoned: Callable[[], None] | None = None) -> None:
        """`on_abandoned` is called for each flight dropped because nobody waited any more."""
        self._flights: dict[str, Flight[T]] = {}
        self._on_abandoned = on_abandoned

    def __contains__(self, key: str) -> bool:
        return key in self._flights

    def __len__(self) -> int:
        return len(self._flights)

    async def join(self, key: str, start: Callable[[Flight[T]], Awaitable[T]]) -> T:
        """Waits for the key's flight, starting it with `start(flight)` if there is none."""
        flight = self._flights.get(key) or self._add(key, start, owned=False)
        flight.waiters += 1
        try:
            # shield: one waiter leaving must not cancel the work the others wait for
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.abandoned():
                self._forget(key, flight)  # a caller arriving now starts afresh
                flight.task.cancel()
                if self._on_abandoned is not None:
                    self._on_abandoned()

    def add(self, key: str, work: Awaitable[T]) -> None:
        """A flight whose starter waits for it: callers join it, and leaving never cancels it."""
        self._add(key, lambda _flight: work, owned=True)

    def _add(
        self, key: str, start: Callable[[Flight[T]], Awaitable[T]], *, owned: bool
    ) -> Flight[T]:
        flight: Flight[T] = Flight(owned=owned)
        flight.task = asyncio.ensure_future(start(flight))
        flight.task.add_done_callback(lambda _task: self._finished(key, flight))
        self._flights[key] = flight
        return flight

    def _finished(self, key: str, flight: Flight[T]) -> None:
        self._forget(key, flight)
        if not flight.task.cancelled():
            flight.task.exception()  # seen: its waiters have the error, and there may be none

    def _forget(self, key: str, flight: Flight[T]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
