"""Callback delivery: a job of its own (queue `_callbacks`) with its own retries and backoff.

It POSTs the finished job's payload, signed when a secret is set, through the same guarded session
as sources (same address rules). Any 2xx is delivered; otherwise saq retries it. A stream callback
(`callback_type` redis, or the seed's kafka) is an XADD of the payload to a Redis stream instead,
retried alike. Every attempt is recorded on the job (`callback` in GET /jobs/{id}); a failing
callback never changes the job.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from saq import Job
from saq.types import Context
from saq.utils import now

from ..errors import ImageServerError, NotFound, SourceRefused
from ..fetch import create_fetch_session
from ..netguard import FetchPolicy, check_source_url
from .client import CALLBACK_WAIT_S, Jobs
from .config import JobsConfig
from .retrying import settle
from .runner import heartbeat
from .signing import signed_headers
from .views import FINISHED, callback_payload, iso_ms, state_of

if TYPE_CHECKING:
    from redis.asyncio import Redis

POLL_S = 0.02


class CallbackFailed(Exception):
    """Raised to saq so that it retries the delivery; the details are on the job."""


@dataclass(frozen=True)
class Sent:
    """One attempt: the receiver's HTTP status (None: a stream, or no answer), what went wrong
    (None: delivered), and whether the target is one we never send to (no retry then)."""

    status: int | None
    problem: str | None
    refused: bool = False


class CallbackSender:
    def __init__(self, jobs: Jobs, config: JobsConfig) -> None:
        self.jobs = jobs
        self.secret = config.callback_secret
        self.policy = FetchPolicy(
            allow_private=config.allow_private_addresses, timeout_s=config.callback_timeout_s
        )
        self.stream_url = config.callback_stream_url
        self._session: aiohttp.ClientSession | None = None
        self._redis: Redis | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._redis is not None:
            await self._redis.aclose()

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
            settle(delivery, transient=False)  # its job is gone (TTL): nothing to send
            raise
        sent = await self._send(job)
        # a refused target (the address rules) will be refused next time too
        final = sent.problem is None or not settle(delivery, transient=not sent.refused)
        record = _record(delivery, sent.status, sent.problem, final)
        await job.update(meta={**job.meta, "callback": record})
        if sent.problem is not None:
            raise CallbackFailed(sent.problem)
        return {"status": sent.status}

    async def _send(self, job: Job) -> Sent:
        request = (job.kwargs or {})["request"]
        body = json.dumps(callback_payload(job)).encode()
        if request.get("callback_type", "http") == "http":
            return await self._post(request["callback"], body)
        return await self._add_to_stream(request["callback"], body)

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

    async def _post(self, url: str, body: bytes) -> Sent:
        headers = {"Content-Type": "application/json"}
        headers |= signed_headers(self.secret, int(time.time()), body)
        try:
            check_source_url(url, ())
            async with (
                asyncio.timeout(self.policy.timeout_s),
                self._client().post(url, data=body, headers=headers, allow_redirects=False) as resp,
            ):
                problem = None if 200 <= resp.status < 300 else f"answered HTTP {resp.status}"
                return Sent(resp.status, problem)
        except SourceRefused as exc:
            return Sent(None, exc.message, refused=True)
        except ImageServerError as exc:
            return Sent(None, exc.message)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Sent(None, f"{type(exc).__name__} posting to the callback URL")

    async def _add_to_stream(self, stream: str, body: bytes) -> Sent:
        """XADD of one field, `payload` (the JSON); delivered once Redis has stored it. redis-py
        loads with the first stream callback, as the Redis jobs backend loads with its URL."""
        from redis.asyncio import from_url
        from redis.exceptions import RedisError

        if self.stream_url is None:
            return Sent(None, "no Redis for stream callbacks (--callback-stream-url)", refused=True)
        if self._redis is None:
            self._redis = from_url(self.stream_url)
        try:
            async with asyncio.timeout(self.policy.timeout_s):
                await self._redis.xadd(stream, {"payload": body})
        except (RedisError, TimeoutError) as exc:
            return Sent(None, f"{type(exc).__name__} adding to stream {stream!r}")
        return Sent(None, None)


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
