"""`JobsConfig`: the slice of `Settings` the job queues, workers and callbacks run on.

Built once from the settings (`JobsConfig.of`), so the jobs package never reads the whole
configuration, and its tests can make one without the rest. Pure: no saq, no aiohttp, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..retries import RetryPolicy
from ..settings import Settings

_REDIS_SCHEMES = ("redis://", "rediss://")


@dataclass(frozen=True)
class JobsConfig:
    url: str  # of the backend: sqlite:///path/jobs.db or redis://host:port/db
    queues: tuple[str, ...]  # the most urgent first
    default_queue: str
    concurrency: int  # jobs a worker process runs at once (callbacks as many again)
    job_retry: RetryPolicy
    callback_retry: RetryPolicy
    timeout_s: int  # of a job, fetch and renders included
    heartbeat_s: int  # a running job silent this long is taken back
    ttl_s: int  # finished jobs are kept this long
    host_limit: int  # concurrent fetches per source host, across all workers
    instance_heartbeat_s: float
    callback_secret: str  # signs callbacks (empty: unsigned)
    callback_timeout_s: float
    callback_stream_url: str | None  # the Redis stream callbacks go to (None: refused)
    allow_private_addresses: bool  # callbacks follow the address rules of sources
    run_workers: bool  # `serve` runs workers in its own process

    @classmethod
    def of(cls, settings: Settings) -> JobsConfig:
        """Jobs and callbacks share the first retry delay; each has its own attempt limit."""
        return cls(
            url=settings.resolved_jobs_url(),
            queues=tuple(settings.job_queues),
            default_queue=settings.job_default_queue,
            concurrency=settings.job_concurrency,
            job_retry=RetryPolicy(settings.job_max_attempts, settings.job_retry_delay_s),
            callback_retry=RetryPolicy(settings.callback_max_attempts, settings.job_retry_delay_s),
            timeout_s=settings.job_timeout_s,
            heartbeat_s=settings.job_heartbeat_s,
            ttl_s=settings.job_ttl_s,
            host_limit=settings.job_host_limit,
            instance_heartbeat_s=settings.instance_heartbeat_s,
            callback_secret=settings.callback_secret,
            callback_timeout_s=settings.callback_timeout_s,
            callback_stream_url=stream_url(settings),
            allow_private_addresses=settings.allow_private_sources,
            run_workers=settings.workers,
        )


def stream_url(settings: Settings) -> str | None:
    """The Redis that stream callbacks are added to: its own setting, else the jobs' Redis."""
    if settings.callback_stream_url:
        return settings.callback_stream_url
    jobs_url = settings.resolved_jobs_url()
    return jobs_url if jobs_url.startswith(_REDIS_SCHEMES) else None
