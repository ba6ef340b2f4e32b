"""Callback delivery: a job of its own (queue `_callbacks`) with its own retries and backoff.

It POSTs the finished job's payload, signed when a secret is set, through the same guarded session
as sources (same address rules). Any 2xx is delivered; otherwise saq retries it. Every attempt is
recorded on the job (`callback` in GET /jobs/{id}); a failing callback never changes the job.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from saq import Job
from saq.types import Context
from saq.utils import now

from ..errors import ImageServerError, NotFound, SourceRefused
from ..fetch import create_fetch_session
from ..netguard import FetchPolicy, check_source_url
from ..settings import Settings
from .client import CALLBACK_WAIT_S, Jobs
from .runner import heartbeat
from .signing import signed_headers
from .views import FINISHED, callback_payload, iso_ms, state_of

POLL_S = 0.02


class CallbackFailed(Exception):
    """Raised to saq so that it retries the delivery; the details are on the job."""


class CallbackSender:
    def __init__(self, jobs: Jobs, settings: Settings) -> None:
        self.jobs = jobs
        self.secret = settings.callback_secret
        self.policy = FetchPolicy(
            allow_private=settings.allow_private_sources, timeout_s=settings.callback_timeout_s
        )
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        """Made at the first callback, inside the running loop, as aiohttp wants."""
        if self._session is None:
            self._session = create_fetch_session(self.policy)
        return self._session

    async def deliver(self, ctx: Context, *, queue: str, key: str) -> dict[str, Any]:
        delivery = ctx["job"]
        async with heartbeat(delivery):
            return await self._deliver(delivery, queue, key)

    async def _deliver(self, delivery: Job, queue: str, key: str) -> dict[str, Any]:
        try:
            job = await self._finished_job(queue, key)
        except NotFound:
            delivery.retries = delivery.attempts  # its job is gone (TTL): nothing to send
            raise
        url = Jobs.callback_url(job) or ""
        status, problem, refused = await self._post(url, callback_payload(job))
        if refused:  # the address rules will refuse it next time too
            delivery.retries = delivery.attempts
        delivered = status is not None and 200 <= status < 300
        final = delivered or delivery.attempts >= delivery.retries
        await job.update(meta={**job.meta, "callback": _record(delivery, status, problem, final)})
        if not delivered:
            raise CallbackFailed(problem)
        return {"status": status}

    async def _finished_job(self, queue: str, key: str) -> Job:
        """The job's worker enqueues its callback just before marking it finished: wait for it."""
        deadline = time.monotonic() + CALLBACK_WAIT_S
        while True:
            job = await self.jobs.queue(queue).job(key)
            if job is None:
                raise NotFound(f"job {key} no longer exists")
            if state_of(job) in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise CallbackFailed(f"job {key} is still {state_of(job).value}")
            await asyncio.sleep(POLL_S)

    async def _post(self, url: str, payload: dict[str, Any]) -> tuple[int | None, str | None, bool]:
        """(status, problem, refused): the answer's status, or None and what went wrong; refused:
        the URL or its address is one we never post to."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        headers |= signed_headers(self.secret, int(time.time()), body)
        try:
            check_source_url(url, ())
            async with (
                asyncio.timeout(self.policy.timeout_s),
                self._client().post(url, data=body, headers=headers, allow_redirects=False) as resp,
            ):
                problem = None if 200 <= resp.status < 300 else f"answered HTTP {resp.status}"
                return resp.status, problem, False
        except SourceRefused as exc:
            return None, exc.message, True
        except ImageServerError as exc:
            return None, exc.message, False
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, f"{type(exc).__name__} posting to the callback URL", False


def _record(delivery: Job, status: int | None, problem: str | None, final: bool) -> dict[str, Any]:
    state = "delivered" if problem is None else ("failed" if final else "retrying")
    record: dict[str, Any] = {
        "state": state,
        "attempts": delivery.attempts,
        "last_status": status,
        "last_error": problem,
    }
    if problem is None:
        record["delivered_at"] = iso_ms(now())
    return record
