"""`?source=` downloads for the app and the CLI: one session, safe fetching, statsd events."""

from __future__ import annotations

import aiohttp

from .errors import NotFound
from .fetch import FetchPolicy, create_fetch_session, fetch_source
from .metrics import Metrics


class SourceFetcher:
    def __init__(self, policy: FetchPolicy, metrics: Metrics) -> None:
        self.policy = policy
        self.metrics = metrics
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        """aiohttp wants its session created inside the running loop, so not in __init__."""
        self._session = create_fetch_session(self.policy)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, url: str) -> bytes:
        if self._session is None:
            raise RuntimeError("SourceFetcher.open() was not awaited")
        try:
            data = await fetch_source(self._session, url, self.policy)
        except NotFound:
            self.metrics.event("original_unavailable")
            raise
        self.metrics.event("original_downloaded")
        return data
