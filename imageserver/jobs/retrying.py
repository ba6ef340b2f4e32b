"""A `RetryPolicy` (retries.py) as saq keeps it on each job, and back: the fields saq's Worker
reads to retry or fail a job, so a job keeps the rule it was submitted with."""

from __future__ import annotations

from typing import Any

from saq import Job

from ..retries import FOR_EVER, MAX_DELAY_S, RetryPolicy
from .views import UNLIMITED_ATTEMPTS


def job_fields(policy: RetryPolicy) -> dict[str, Any]:
    """saq's Job arguments; saq retries while `retries` > `attempts`."""
    return {
        "retries": policy.max_attempts or UNLIMITED_ATTEMPTS,
        "retry_delay": policy.first_delay_s,
        "retry_backoff": policy.max_delay_s,
    }


def policy_of(job: Job) -> RetryPolicy:
    """A job stored before the cap was one (`retry_backoff` True) gets the default cap."""
    backoff = job.retry_backoff
    return RetryPolicy(
        max_attempts=FOR_EVER if job.retries >= UNLIMITED_ATTEMPTS else max(job.retries, 1),
        first_delay_s=job.retry_delay,
        max_delay_s=MAX_DELAY_S if isinstance(backoff, bool) else float(backoff),
    )


def settle(job: Job, transient: bool) -> bool:
    """After a failed try: True when the job will be tried again; else it is made final (saq's
    Worker then fails it instead of retrying it)."""
    if policy_of(job).again(job.attempts, transient):
        return True
    job.retries = job.attempts
    return False
