"""`?source=` downloads for the app and the jobs: one session, safe fetching, statsd events.

aiohttp's client (a fifth of a second to import) loads with the first fetch, so commands that
never fetch (`process`, `render`) start without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .errors import NotFound
from .metrics import Metrics
from .netguard import FetchPolicy

if TYPE_CHECKING:
    import aiohttp

    from .fetch import Fetched


class SourceFetcher:
    def __init__(self, policy: FetchPolicy, metrics: Metrics) -> None:
        self.policy = policy
        self.metrics = metrics
        self._session: aiohttp.ClientSession | None = None

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
        proxy: str | None = None,
    ) -> Fetched:
        """`headers`, `timeout_s` and `proxy` are a job's own; the address rules and size cap
        are not."""
        from .fetch import create_fetch_session, fetch_response

        if self._session is None:  # aiohttp wants it made inside the running loop
            self._session = create_fetch_session(self.policy)
        policy = self.policy
        if timeout_s is not None:
            policy = dataclasses.replace(policy, timeout_s=timeout_s)
        try:
            fetched = await fetch_response(self._session, url, policy, headers, proxy)
        except NotFound:
            self.metrics.event("original_unavailable")
            raise
        self.metrics.event("original_downloaded")
        return fetched
