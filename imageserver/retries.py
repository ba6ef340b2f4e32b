"""Whether a failed try is made again, and after how long: the one rule of jobs and callbacks.

Another try is worth it only for a transient failure, while tries remain (0: for ever, the dlcs
seed's). The waits double from a first delay up to a cap, with full jitter (a uniform draw below
the doubled delay), so the retries of many jobs failed by one outage spread out instead of
coming back together. Pure: no saq, no aiohttp, no I/O.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ImageServerError

FOR_EVER = 0  # max_attempts that sets no limit
MAX_DELAY_S = 600.0  # the longest wait between two tries, unless the first delay is longer
# Past this many doublings any first delay is over any cap; 2.0**1024 would overflow a float
# (the 1025th try of a job that retries for ever).
MAX_DOUBLINGS = 62
# A source's 4xx will not change on another try, except these: it asks to be tried later.
_RETRY_LATER = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int  # tries in all, the first included; FOR_EVER: no limit
    first_delay_s: float  # the wait before the second try
    max_delay_s: float = MAX_DELAY_S

    def __post_init__(self) -> None:
        if self.max_attempts < 0 or self.first_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"a retry policy counts and waits from 0, got {self}")

    def again(self, attempts: int, transient: bool = True) -> bool:
        """After `attempts` tries, the last of which failed: whether to make another."""
        return transient and (self.max_attempts == FOR_EVER or attempts < self.max_attempts)

    def ceiling_s(self, attempts: int) -> float:
        """The longest wait after try number `attempts`: the first delay, doubled per try before
        it, capped (a first delay over the cap is kept as it is)."""
        doublings = min(max(attempts - 1, 0), MAX_DOUBLINGS)
        return min(max(self.max_delay_s, self.first_delay_s), self.first_delay_s * 2.0**doublings)

    def delay_s(self, attempts: int, draw: Callable[[], float] = random.random) -> float:
        """The wait after try number `attempts`: full jitter below its ceiling; `draw` gives a
        number in [0, 1)."""
        return self.ceiling_s(attempts) * draw()


def transient(error: ImageServerError) -> bool:
    """Worth another try: a 5xx, ours or the source's (timeouts, connection errors, storage
    down); a source's 4xx answer will not change, 408 and 429 aside. Everything else (404,
    refused, undecodable, too large) fails at once."""
    answered = error.upstream_status
    if answered is not None and 400 <= answered < 500:
        return answered in _RETRY_LATER
    return error.status >= 500
