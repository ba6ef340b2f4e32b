"""`?source=` downloads for the app and the CLI: one session, safe fetching, statsd events."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import aiohttp

from .errors import NotFound
from .fetch import Fetched, FetchPolicy, create_fetch_session, fetch_response
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
        return (await self.fetch_response(url)).data

    async def fetch_response(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Fetched:
        """`headers` and `timeout_s` are a job's own; the address rules and size cap are not."""
        if self._session is None:
            raise RuntimeError("SourceFetcher.open() was not awaited")
        policy = self.policy
        if timeout_s is not None:
            policy = dataclasses.replace(policy, timeout_s=timeout_s)
        try:
            fetched = await fetch_response(self._session, url, policy, headers)
        except NotFound:
            self.metrics.event("original_unavailable")
            raise
        self.metrics.event("original_downloaded")
        return fetched
