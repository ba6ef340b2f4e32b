"""`Jobs`: submit, look up, cancel, retry, list and count jobs; what the HTTP API calls.

Each configured queue is one saq queue of the backend; callbacks have a queue of their own, which
user queue names (namespace-like) can never collide with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from saq import Job, Status

from ..errors import Conflict, NotFound
from ..metrics import JobTally
from ..settings import Settings
from .backends import Backend, ClaimingQueue, open_backend
from .config import JobsConfig
from .request import JobRequest
from .retrying import job_fields
from .views import FINISHED, State, saq_statuses, state_of

CALLBACK_QUEUE = "_callbacks"
CALLBACK_FUNCTION = "callback"
# Longest a callback waits for its job to be marked finished (its worker writes that just after
# enqueueing the callback), before trying again later.
CALLBACK_WAIT_S = 30
_JOB_ID = re.compile(r"[0-9a-f]{32}")


def job_key(idempotency_key: str | None) -> str:
    """The same idempotency key always names the same job; otherwise a fresh random id."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


class Jobs:
    def __init__(self, settings: Settings) -> None:
        """Runs on its slice of the settings (`config`); the whole `settings` stay for the HTTP
        edge, whose request parsing checks outputs and sources against them (request.py)."""
        self.settings = settings
        self.config = JobsConfig.of(settings)
        self.backend: Backend = open_backend(self.config.url)
        self.queues = {name: self.backend.queue(name) for name in self.config.queues}
        self.callbacks = self.backend.queue(CALLBACK_QUEUE)

    async def open(self) -> None:
        await self.backend.open()
        for queue in [*self.queues.values(), self.callbacks]:
            await queue.connect()

    async def close(self) -> None:
        await self.backend.close()

    async def submit(self, request: JobRequest, base_url: str) -> tuple[Job, bool]:
        """The job, and whether it is new: an idempotency key already used returns its job."""
        key = job_key(request.idempotency_key)
        if request.idempotency_key is not None:
            existing = await self.find(key)
            if existing is not None:
                return existing, False
        request = await self._with_group_proxy(request)
        job = self._job(request.kind, {"request": request.to_json(), "base_url": base_url}, key)
        queue = self.queues[request.queue]
        if await queue.enqueue(job) is None:  # the same key, submitted at the same moment
            return await self.get(key), False
        return job, True

    async def _with_group_proxy(self, request: JobRequest) -> JobRequest:
        """A group fetches through the proxy its first job named, whatever later jobs name (the
        seed downloader's aggregations: "it cannot be updated for an existing aggregation")."""
        fetch = request.fetch
        if fetch is None or fetch.group is None:
            return request
        kept = await self.backend.group_proxy(fetch.group, fetch.proxy, self.config.ttl_s)
        if kept == fetch.proxy:
            return request
        return dataclasses.replace(request, fetch=dataclasses.replace(fetch, proxy=kept))

    def _job(self, kind: str, kwargs: dict[str, Any], key: str) -> Job:
        """saq's own timeout stays off: the runner enforces --job-timeout-s and reports it as an
        error of ours, while the heartbeat lets a sweep take back the jobs of a dead worker."""
        return Job(
            function=kind,
            kwargs=kwargs,
            key=key,
            timeout=0,
            heartbeat=self.config.heartbeat_s,
            ttl=self.config.ttl_s,
            **job_fields(self.config.job_retry),
        )

    async def find(self, job_id: str) -> Job | None:
        if not _JOB_ID.fullmatch(job_id):
            return None
        for queue in self.queues.values():
            job = await queue.job(job_id)
            if job is not None:
                return job
        return None

    async def get(self, job_id: str) -> Job:
        job = await self.find(job_id)
        if job is None:
            raise NotFound(f"no job {job_id} (unknown, or finished more than a TTL ago)")
        return job

    async def cancel(self, job_id: str) -> Job:
        """A queued job is cancelled at once, a running one by its worker within a second or two."""
        job = await self.get(job_id)
        if state_of(job) in FINISHED:
            raise Conflict(f"job {job_id} is {state_of(job).value}: nothing to cancel")
        await job.get_queue().abort(job, "cancelled")
        await self.send_callback(job)
        return job

    async def delete(self, job_id: str) -> tuple[Job, bool]:
        """DELETE /jobs/{id}: a queued or running job is cancelled; a finished one (succeeded,
        failed or cancelled: the seed's admin deleting tasks) is removed, True. Its images stay;
        its id and idempotency key name nothing any more."""
        job = await self.get(job_id)
        if state_of(job) not in FINISHED:
            return await self.cancel(job_id), False
        if not await job.get_queue().remove(job.key):
            job = await self.get(job_id)  # 404 when another DELETE came first
            raise Conflict(f"job {job_id} is {state_of(job).value} again: retried meanwhile")
        return job, True

    async def retry(self, job_id: str) -> Job:
        """A failed or cancelled job runs again under the same id, from its first attempt."""
        job = await self.get(job_id)
        if state_of(job) not in (State.FAILED, State.CANCELLED):
            raise Conflict(f"job {job_id} is {state_of(job).value}: only failed jobs are retried")
        again = self._job(job.function, job.kwargs or {}, job.key)
        if await job.get_queue().enqueue(again) is None:
            raise Conflict(f"job {job_id} is still being cancelled; try again in a few seconds")
        return again

    async def resend_callback(self, job_id: str) -> Job:
        job = await self.get(job_id)
        if state_of(job) not in FINISHED:
            raise Conflict(f"job {job_id} is {state_of(job).value}: its callback comes at its end")
        if not self.callback_url(job):
            raise Conflict(f"job {job_id} has no callback URL")
        await self.send_callback(job)
        return job

    async def send_callback(self, job: Job) -> None:
        """Enqueued before the job is marked finished, so a crash in between cannot lose it; the
        delivery waits for the mark (CALLBACK_WAIT_S). Delivered at least once."""
        if not self.callback_url(job):
            return
        kwargs = {"queue": job.get_queue().name, "key": job.key}
        callback = Job(
            function=CALLBACK_FUNCTION,
            kwargs=kwargs,
            key=uuid.uuid4().hex,
            timeout=int(self.config.callback_timeout_s) + CALLBACK_WAIT_S + 5,
            heartbeat=self.config.heartbeat_s,
            ttl=self.config.ttl_s,
            **job_fields(self.config.callback_retry),
        )
        await self.callbacks.enqueue(callback)

    @staticmethod
    def callback_url(job: Job) -> str | None:
        return (job.kwargs or {}).get("request", {}).get("callback")

    async def listed(self, state: State | None, queue: str | None, limit: int) -> list[Job]:
        """In no particular order (Redis has none to give), at most `limit`."""
        found: list[Job] = []
        async with aclosing(self.iter_listed(state, queue)) as listing:
            async for job in listing:
                found.append(job)
                if len(found) >= limit:
                    break
        return found

    async def iter_listed(self, state: State | None, queue: str | None) -> AsyncIterator[Job]:
        """Every job in `state` of `queue` (None: any), queue by queue in the backend's order:
        what the dashboard pages through (web/admin/jobs.py)."""
        statuses = [Status(s) for s in saq_statuses(state)] if state else list(Status)
        for name in [queue] if queue else self.queues:
            async for job in self.queue(name).iter_jobs(statuses):
                yield job

    async def state_counts(self) -> dict[str, dict[str, int]]:
        """Jobs per queue and state: queued and running as the backend counts them, finished ones
        by one pass over them (kept a TTL). For dashboards, not hot paths."""
        finished = [Status(s) for state in FINISHED for s in saq_statuses(state)]
        counts: dict[str, dict[str, int]] = {}
        for name, queue in self.queues.items():
            status = await self.queue_status(name)
            ended = Counter([state_of(job) async for job in queue.iter_jobs(finished)])
            live = {State.QUEUED: status["queued"], State.RUNNING: status["running"]}
            counts[name] = {state.value: live.get(state, ended[state]) for state in State}
        return counts

    async def tally(self) -> JobTally:
        """What /metrics shows: jobs waiting and running per queue, as the backend counts them,
        and the runs of finished jobs, which their workers record there (backends `record_run`):
        every worker's, on every node, in a few reads however many jobs are kept."""
        counts = {}
        for name in self.queues:
            status = await self.queue_status(name)
            counts[name] = {"queued": status["queued"], "running": status["running"]}
        return JobTally(counts, await self.backend.job_runs())

    async def pending_groups(self) -> Counter[str]:
        """Queued jobs (a retry's backoff included) per group, across the queues: the seed
        downloader's aggregations. One pass over the queued jobs, so for dashboards, not hot
        paths."""
        pending: Counter[str] = Counter()
        for queue in self.queues.values():
            async for job in queue.iter_jobs([Status.NEW, Status.QUEUED]):
                group = ((job.kwargs or {}).get("request", {}).get("fetch") or {}).get("group")
                if group:
                    pending[group] += 1
        return pending

    def queue(self, name: str) -> ClaimingQueue:
        if name not in self.queues:
            raise NotFound(f"no queue {name!r}; the queues are {', '.join(self.queues)}")
        return self.queues[name]

    async def queue_status(self, name: str) -> dict[str, Any]:
        """The seed's `number_in_queue`: jobs waiting, a retry's backoff included."""
        queue = self.queue(name)
        running = await queue.count("active")
        waiting = await queue.count("incomplete") - running
        return {"queue": name, "number_in_queue": waiting, "queued": waiting, "running": running}

    async def status(self) -> dict[str, Any]:
        queues = {name: await self.queue_status(name) for name in self.queues}
        return {
            "number_in_queue": sum(q["queued"] for q in queues.values()),
            "running": sum(q["running"] for q in queues.values()),
            "queues": queues,
        }
