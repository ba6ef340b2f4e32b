"""The one retry rule of jobs and callbacks: which failures, how many tries, how long between."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from saq import Job

from imageserver.errors import (
    BadRequest,
    ImageServerError,
    NotFound,
    StorageUnavailable,
    Undecodable,
    UpstreamError,
    UpstreamTimeout,
)
from imageserver.jobs.backends import CappedBackoffJob
from imageserver.jobs.config import JobsConfig
from imageserver.jobs.retrying import job_fields, policy_of, settle
from imageserver.jobs.views import UNLIMITED_ATTEMPTS
from imageserver.retries import FOR_EVER, MAX_DELAY_S, MAX_DOUBLINGS, RetryPolicy, transient
from imageserver.settings import Settings

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(0, 100),
    first_delay_s=st.floats(0, 3600, allow_nan=False),
    max_delay_s=st.floats(0, 3600, allow_nan=False),
)
attempts = st.integers(0, 10**6)
draws = st.floats(0, 1, exclude_max=True)


@given(policies, attempts, draws)
def test_a_delay_is_a_draw_below_its_ceiling(policy: RetryPolicy, tries: int, draw: float) -> None:
    delay = policy.delay_s(tries, lambda: draw)
    assert 0 <= delay <= policy.ceiling_s(tries)


@given(policies, attempts)
def test_the_ceiling_doubles_up_to_the_cap_and_never_overflows(
    policy: RetryPolicy, tries: int
) -> None:
    ceiling = policy.ceiling_s(tries)
    assert ceiling <= max(policy.max_delay_s, policy.first_delay_s)
    assert policy.ceiling_s(tries + 1) >= ceiling
    assert policy.ceiling_s(tries + 1) <= 2 * ceiling or ceiling == 0
    if tries <= 1:
        assert ceiling == policy.first_delay_s  # the first wait is the first delay, uncut


def test_the_ceilings_of_the_default_rule() -> None:
    policy = RetryPolicy(max_attempts=3, first_delay_s=1.0)
    assert [policy.ceiling_s(n) for n in (1, 2, 3, 4, 10, 11, 5000)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        512.0,
        MAX_DELAY_S,
        MAX_DELAY_S,
    ]
    assert MAX_DOUBLINGS < 1024  # 2.0**1024 overflows


def test_full_jitter_spreads_over_the_whole_ceiling() -> None:
    policy = RetryPolicy(max_attempts=FOR_EVER, first_delay_s=1.0)
    delays = [policy.delay_s(5000) for _ in range(200)]
    assert all(0 <= d <= MAX_DELAY_S for d in delays)
    assert max(delays) > MAX_DELAY_S / 2
    assert min(delays) < MAX_DELAY_S / 2


@given(st.integers(1, 100), attempts)
def test_tries_stop_at_the_limit(limit: int, tries: int) -> None:
    policy = RetryPolicy(max_attempts=limit, first_delay_s=1.0)
    assert policy.again(tries) == (tries < limit)
    assert not policy.again(tries, transient=False)


@given(attempts)
def test_zero_attempts_means_for_ever_but_never_for_permanent_failures(tries: int) -> None:
    policy = RetryPolicy(max_attempts=FOR_EVER, first_delay_s=1.0)
    assert policy.again(tries)
    assert not policy.again(tries, transient=False)


def test_a_policy_refuses_negative_counts_and_waits() -> None:
    with pytest.raises(ValueError, match="counts and waits from 0"):
        RetryPolicy(max_attempts=-1, first_delay_s=1.0)
    with pytest.raises(ValueError, match="counts and waits from 0"):
        RetryPolicy(max_attempts=1, first_delay_s=-1.0)


def _source_answered(status: int) -> ImageServerError:
    """As fetch.py raises them: a 502 (404 and 410: a 404) carrying the source's status."""
    error = NotFound("gone") if status in (404, 410) else UpstreamError(f"answered {status}")
    error.upstream_status = status
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (UpstreamTimeout("slow"), True),
        (StorageUnavailable("down"), True),
        (ImageServerError("internal"), True),
        (_source_answered(503), True),
        (_source_answered(429), True),
        (_source_answered(408), True),
        (_source_answered(404), False),
        (_source_answered(403), False),
        (NotFound("gone"), False),
        (Undecodable("not an image"), False),
        (BadRequest("bad token"), False),
    ],
)
def test_which_failures_are_transient(error: ImageServerError, expected: bool) -> None:
    assert transient(error) is expected


@pytest.mark.parametrize("limit", [FOR_EVER, 1, 3])
def test_saq_keeps_the_policy_on_the_job(limit: int) -> None:
    policy = RetryPolicy(max_attempts=limit, first_delay_s=2.5, max_delay_s=60.0)
    job = CappedBackoffJob("f", **job_fields(policy))
    assert policy_of(job) == policy
    assert (job.retries == UNLIMITED_ATTEMPTS) is (limit == FOR_EVER)


def test_a_job_stored_with_an_uncapped_backoff_gets_the_cap() -> None:
    job = CappedBackoffJob("f", retries=5, retry_delay=1.0, retry_backoff=True, attempts=40)
    assert policy_of(job) == RetryPolicy(5, 1.0, MAX_DELAY_S)
    assert all(job.next_retry_delay() <= MAX_DELAY_S for _ in range(50))


@pytest.mark.parametrize(
    ("limit", "tries", "is_transient", "again"),
    [
        (3, 1, True, True),
        (3, 1, False, False),
        (3, 3, True, False),
        (FOR_EVER, 10**6, True, True),
        (FOR_EVER, 1, False, False),
    ],
)
def test_settle_makes_a_final_failure_final_for_saq(
    limit: int, tries: int, is_transient: bool, again: bool
) -> None:
    job = Job("f", **job_fields(RetryPolicy(limit, first_delay_s=1.0)), attempts=tries)
    assert settle(job, transient=is_transient) is again
    assert job.retryable is again  # what saq's Worker reads to retry or fail the job


def test_jobs_and_callbacks_share_the_first_delay_each_with_its_own_limit() -> None:
    config = JobsConfig.of(
        Settings(job_max_attempts=0, callback_max_attempts=4, job_retry_delay_s=2.0)
    )
    assert config.job_retry == RetryPolicy(FOR_EVER, 2.0)
    assert config.callback_retry == RetryPolicy(4, 2.0)
    assert job_fields(config.callback_retry)["retry_backoff"] == MAX_DELAY_S  # capped, as jobs
