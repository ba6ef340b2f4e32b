"""Runs a job of any kind: polite fetch, mime rule, the kind's work, and what saq makes of failures.

Failures are classified by their HTTP meaning (retries.transient): 5xx (timeouts, the source's
5xx, connection errors, storage down) are retried, waits doubling with jitter (retries.py); 4xx
(404 and the source's other 4xx, refused, mime, undecodable, too large) fail at once. The
job's error code and message, and the source's status, go to `job.meta`, which is what clients
and callbacks see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from saq import Job
from saq.types import Context

from ..errors import ImageServerError, UpstreamTimeout
from ..formats import sniff
from ..keys import ImageKey
from ..netguard import check_source_url
from ..retries import transient
from ..services import Services
from .client import Jobs
from .limits import Limiter, Slot
from .mime import declared_type, parse_mime_rule
from .request import Fetch, JobRequest
from .retrying import settle
from .tasks import KINDS, Work

log = logging.getLogger(__name__)
FETCHED_PROGRESS = 0.5


class JobFailed(Exception):
    """Raised to saq, which retries or fails the job by `job.retries`; the details are in meta."""


class JobTimeout(UpstreamTimeout):
    code = "job_timeout"


class Runner:
    def __init__(self, jobs: Jobs, services: Services, limiter: Limiter) -> None:
        self.jobs = jobs
        self.services = services
        self.config = jobs.config
        self.limiter = limiter

    async def run(self, ctx: Context, *, request: dict[str, Any], base_url: str) -> dict[str, Any]:
        """saq calls this for every kind in the registry (the job's `function` is its kind)."""
        job = ctx["job"]
        parsed = JobRequest.from_json(request)
        try:
            async with asyncio.timeout(self.config.timeout_s), heartbeat(job):
                data, declared = await self._input(job, parsed)
                work = Work(self.services, parsed.params, data, base_url, _reporter(job), declared)
                result = await KINDS[parsed.kind].run(work)
        except Exception as exc:  # not CancelledError: a cancel or a shutdown is saq's to handle
            raise await self._failed(job, self._as_error(exc)) from exc
        job.meta.pop("error", None)  # a failed attempt's, before this one succeeded
        await self.jobs.send_callback(job)
        return result

    async def _input(self, job: Job, parsed: JobRequest) -> tuple[bytes, str | None]:
        """The source, fetched, and the type its server declared; or the stored original the
        params name (nothing to fetch)."""
        if parsed.fetch is None:
            key = ImageKey(parsed.params["namespace"], parsed.params["hash"])
            return await self.services.originals.original(key), None
        return await self._fetch(job, parsed.fetch)

    async def _fetch(self, job: Job, fetch: Fetch) -> tuple[bytes, str | None]:
        async with self.limiter.holding(self._slots(fetch), job.key, fetch.timeout_s):
            fetched = await self.services.sources.fetch_response(
                fetch.source, headers=fetch.headers, timeout_s=fetch.timeout_s, proxy=fetch.proxy
            )
        job.meta["response_code"] = fetched.status
        declared = declared_type(fetched.content_type)
        if fetch.mime:
            sniffed = sniff(fetched.data)
            parse_mime_rule(fetch.mime).check(sniffed.mime if sniffed else declared)
        await job.update(progress=FETCHED_PROGRESS)
        return fetched.data, declared

    def _slots(self, fetch: Fetch) -> list[Slot]:
        allowed_hosts = tuple(self.services.settings.source_allowed_hosts)
        host = check_source_url(fetch.source, allowed_hosts).host
        slots = [(f"host:{host}", self.config.host_limit)]
        if fetch.group and fetch.group_limit:
            slots.append((f"group:{fetch.group}", fetch.group_limit))
        return slots

    def _as_error(self, exc: Exception) -> ImageServerError:
        if isinstance(exc, ImageServerError):
            return exc
        if isinstance(exc, TimeoutError):
            return JobTimeout(f"the job ran longer than {self.config.timeout_s} s")
        log.exception("job failed unexpectedly")
        return ImageServerError(f"internal error: {type(exc).__name__}")

    async def _failed(self, job: Job, error: ImageServerError) -> JobFailed:
        """Transient errors (5xx) are retried while attempts remain; the last failure of a job
        sends its callback, as a success does."""
        job.meta["error"] = {"code": error.code, "message": error.message}
        if error.upstream_status is not None:
            job.meta["response_code"] = error.upstream_status
        final = not settle(job, transient(error))
        log.warning(
            "job %s attempt %d %s: %s: %s",
            job.key,
            job.attempts,
            "failed" if final else "will be retried",
            error.code,
            error.message,
        )
        if final:
            await self.jobs.send_callback(job)
        return JobFailed(f"{error.code}: {error.message}")


def _reporter(job: Job) -> Callable[[float], Awaitable[None]]:
    """A kind's progress (0-1) is the second half of the job's: the fetch is the first."""

    async def report(fraction: float) -> None:
        await job.update(progress=FETCHED_PROGRESS + (1 - FETCHED_PROGRESS) * fraction)

    return report


@contextlib.asynccontextmanager
async def heartbeat(job: Job) -> AsyncIterator[None]:
    """Touches the job while it runs, so only a dead or hung worker's jobs look stuck to a sweep."""
    if not job.heartbeat:
        yield
        return
    beating = asyncio.create_task(_beat(job))
    try:
        yield
    finally:
        beating.cancel()
        # Not `await beating` under suppress(CancelledError): that would also swallow a cancel
        # of this task arriving meanwhile (a shutdown, DELETE /jobs).
        await asyncio.wait([beating])


async def _beat(job: Job) -> None:
    while True:
        await asyncio.sleep(job.heartbeat / 3)
        try:
            await job.update()
        except Exception:  # the store is down: the job's own writes will say so
            log.warning("heartbeat of job %s failed", job.key, exc_info=True)
