"""The admin dashboard in a real browser: log in, retry a failed job, cancel a queued one, watch
workers under Instances, delete an image. Every page visited passes the accessibility smoke check
and is saved as a screenshot (conftest.py)."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import WAIT_S, Dashboard, DashboardFactory
from tests.conftest import image_bytes
from tests.jobs.conftest import Origin

RETRY_DELAY_S = 1.5  # how long the source of the retried job takes to answer
HEARTBEAT_S = 0.3  # instances: stale after three missed beats, under a second


async def test_a_wrong_key_is_refused_and_the_right_one_lands_on_jobs(
    start_dashboard: DashboardFactory,
) -> None:
    dashboard = await start_dashboard()
    await dashboard.log_in("not-the-key")
    assert "/login" in dashboard.page.url
    await expect(dashboard.page.get_by_role("alert")).to_contain_text("key")
    await dashboard.log_in()
    await expect(heading(dashboard)).to_have_text(re.compile("jobs", re.I))
    cookies = await dashboard.page.context.cookies()
    assert cookies, "no session cookie"
    assert all(c["httpOnly"] and c["secure"] and c["sameSite"] == "Strict" for c in cookies), (
        cookies
    )


async def test_every_page_passes_the_smoke_check_from_the_nav(
    start_dashboard: DashboardFactory,
) -> None:
    dashboard = await start_dashboard()
    await dashboard.log_in()
    nav = dashboard.page.get_by_role("navigation")
    for name in ("Jobs", "Groups", "Instances", "Images", "Metrics"):
        await nav.get_by_role("link", name=name, exact=True).click()
        await dashboard.seen()
        await expect(heading(dashboard)).to_contain_text(name)


async def test_a_failed_job_is_retried_and_succeeds(
    start_dashboard: DashboardFactory, origin: Origin
) -> None:
    """The source answers 404 once (a permanent failure), then the image: the retry succeeds,
    and the overview's counts show it without a reload. The source takes a while to answer, so
    the overview is up before the retry is done."""
    dashboard = await start_dashboard()
    source = origin.image(fail=1, status=404, delay=RETRY_DELAY_S)
    job_id = await dashboard.submit({"namespace": "p", "source": source})
    await dashboard.job_until(job_id, lambda view: view["state"] == "failed")
    await dashboard.log_in()
    await dashboard.open("/jobs?state=failed")
    await dashboard.page.locator(f'a[href$="/jobs/{job_id}"]').first.click()
    await dashboard.until_text(state("failed"))
    await dashboard.page.get_by_role("button", name="Retry").click()
    await dashboard.seen()
    await dashboard.open()
    succeeded = dashboard.page.locator('[data-state="succeeded"]:not([data-queue])')
    await expect(succeeded).to_have_text("0")
    await expect(succeeded).to_have_text("1", timeout=WAIT_S * 1000)  # live counts: no reload
    await dashboard.seen()
    await dashboard.open(f"/jobs/{job_id}")
    await expect(dashboard.page.get_by_text(state("succeeded"))).to_be_visible()
    assert (await dashboard.job(job_id))["state"] == "succeeded"


async def test_a_queued_job_is_cancelled(start_dashboard: DashboardFactory, origin: Origin) -> None:
    dashboard = await start_dashboard(job_concurrency=1)
    blocker = await dashboard.submit({"namespace": "p", "source": origin.image(hold=1)})
    await dashboard.job_until(blocker, lambda view: view["state"] == "running")
    queued = await dashboard.submit({"namespace": "p", "source": origin.image(hold=2)})
    await dashboard.log_in()
    await dashboard.open(f"/jobs/{queued}")
    await dashboard.page.get_by_role("button", name="Cancel").click()
    await dashboard.until_text(state("cancelled"))
    assert (await dashboard.job(queued))["state"] == "cancelled"
    assert (await dashboard.job(blocker))["state"] == "running"
    origin.release.set()


async def test_two_workers_are_listed_and_a_killed_one_goes_stale(
    start_dashboard: DashboardFactory, start_worker: Callable[..., Any], tmp_path: Path
) -> None:
    dashboard = await start_dashboard(
        workers=False, jobs_url=f"sqlite:///{tmp_path}/jobs.db", instance_heartbeat_s=HEARTBEAT_S
    )
    workers = [start_worker(dashboard.settings, instance_heartbeat_s=HEARTBEAT_S) for _ in range(2)]
    await dashboard.log_in()
    await dashboard.open("/instances")
    for worker in workers:
        await dashboard.until_text(re.compile(rf"\b{worker.pid}\b"))
    kinds = dashboard.page.get_by_role("cell", name="worker", exact=True)
    await expect(kinds).to_have_count(2)
    killed, alive = workers
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    await until_row(dashboard, killed.pid, re.compile("stale", re.I))
    assert "stale" not in (await row(dashboard, alive.pid).inner_text()).lower()


async def test_an_uploaded_image_is_deleted(start_dashboard: DashboardFactory) -> None:
    dashboard = await start_dashboard()
    uploaded = await dashboard.upload(image_bytes("grid.jpg"), namespace="p")
    await dashboard.log_in()
    await dashboard.open("/images")
    thumbnail = dashboard.page.get_by_role("img").first
    await expect(thumbnail).to_be_visible()
    assert await thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    await dashboard.page.locator(f'a[href*="{uploaded["hash"]}"]').first.click()
    await dashboard.seen()
    await dashboard.page.get_by_role("button", name="Delete").click()
    await dashboard.seen()
    info_url = dashboard.server.image_url(uploaded["hash"]) + "/info.json"
    async with dashboard.server.session.get(info_url) as resp:
        assert resp.status == 404
    await dashboard.open("/images")
    assert not await dashboard.page.locator(f'a[href*="{uploaded["hash"]}"]').count()


def heading(dashboard: Dashboard) -> Any:
    return dashboard.page.get_by_role("heading", level=1)


def row(dashboard: Dashboard, pid: int) -> Any:
    """The Instances row of the process `pid`."""
    cell = dashboard.page.get_by_role("cell", name=str(pid), exact=True)
    return dashboard.page.get_by_role("row").filter(has=cell)


async def until_row(dashboard: Dashboard, pid: int, text: re.Pattern[str]) -> None:
    """Reloads Instances until the process's row shows `text`."""
    deadline = time.monotonic() + 10
    while not text.search(await row(dashboard, pid).inner_text()):
        assert time.monotonic() < deadline, await row(dashboard, pid).inner_text()
        await dashboard.page.wait_for_timeout(200)
        await dashboard.page.reload()
    await dashboard.seen()


def state(name: str) -> re.Pattern[str]:
    """A job's state shown alone in its element (not inside a sentence or a button)."""
    return re.compile(rf"^\s*{name}\s*$", re.I)
