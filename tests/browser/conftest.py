"""Browser fixtures: Debian's chromium, driven by Playwright, against a real server on loopback.

Never a downloaded browser (none is reachable from CI): `executable_path` names the system
binary, which .ci/run installs with apt; where it is missing these tests are skipped. Every page
a test visits passes an accessibility smoke check and is saved as a full-page screenshot under
test-artifacts/screenshots/<test>/.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from imageserver.settings import Settings
from imageserver.web.appkeys import JOBS
from tests.cli.runner import CLI, environment
from tests.conftest import ROOT, Server, ServerFactory
from tests.jobs import conftest as jobs

# the jobs fixtures these tests use, registered here by name (as tests/seeds/conftest.py does)
origin = jobs.origin
start_jobs_server = jobs.start_jobs_server

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
CHROMIUM = Path(os.environ.get("IMAGESERVER_CHROMIUM", "/usr/bin/chromium"))
ARTEFACTS = ROOT / "test-artifacts" / "screenshots"
KEY = "dashboard-test-key"
VIEWPORT = {"width": 1280, "height": 800}
WAIT_S = 10.0
_JOB_ID = re.compile(r"[0-9a-f]{16,}")

# Runs in the page: what a screen reader user would trip over first. Returns the problems found.
A11Y_CHECK = """() => {
  const problems = [];
  const text = (el) => (el.innerText || el.value || el.getAttribute("aria-label") || "").trim();
  if (!document.documentElement.lang) problems.push("<html> has no lang");
  const h1s = document.querySelectorAll("h1").length;
  if (h1s !== 1) problems.push(`${h1s} <h1> elements, expected one`);
  let previous = 0;
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const level = Number(h.tagName[1]);
    if (level > previous + 1) problems.push(`<${h.tagName}> "${text(h)}" follows h${previous}`);
    previous = level;
  }
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const labelled = [...(el.labels || [])].some((l) => l.textContent.trim())
      || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!labelled) problems.push(`<${el.tagName.toLowerCase()} name="${el.name}"> has no label`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push(`<img src="${img.src}"> has no alt`);
  }
  for (const b of document.querySelectorAll("button, input[type=submit], [role=button]")) {
    if (!text(b)) problems.push(`a button without text: ${b.outerHTML.slice(0, 80)}`);
  }
  return problems;
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless chromium for one test (half a second to start; no state shared between tests)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    async with async_playwright() as playwright:
        found = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield found
        await found.close()


@pytest.fixture
def artefacts(request: pytest.FixtureRequest) -> Path:
    """This test's screenshot directory, emptied of an earlier run's."""
    directory = ARTEFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


@dataclass
class Dashboard:
    """A server with the dashboard, a fresh browser context's page and the test's artefacts."""

    server: Server
    page: Page
    artefacts: Path
    shots: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url + self.settings.admin_prefix

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEY}"}

    @property
    def settings(self) -> Settings:
        return self.server.app[JOBS].settings

    async def open(self, path: str = "") -> None:
        """Goes to a dashboard page (path under the prefix) and checks it as `seen` does."""
        response = await self.page.goto(self.url + path)
        assert response is not None
        if not response.ok:
            await self.shoot("error")
            raise AssertionError(f"{path}: {response.status}")
        await self.seen()

    async def seen(self) -> None:
        """The page now shown is saved as the next screenshot and passes the smoke check."""
        await self.page.wait_for_load_state()
        await self.shoot()
        problems = await self.page.evaluate(A11Y_CHECK)
        assert not problems, f"{self.page.url}: {problems}"
        assert not self.errors, f"{self.page.url}: {self.errors}"

    async def shoot(self, suffix: str = "") -> None:
        """A full-page screenshot, numbered in visiting order and named after the page."""
        self.shots += 1
        name = page_name(self.page.url, self.url) + (f"-{suffix}" if suffix else "")
        await self.page.screenshot(
            path=self.artefacts / f"{self.shots:02d}-{name}.png", full_page=True
        )

    async def log_in(self, key: str = KEY) -> None:
        await self.open("/login")
        await self.page.get_by_label(re.compile("key", re.I)).fill(key)
        await self.page.get_by_role("button", name=re.compile("log ?in|sign in", re.I)).click()
        await self.seen()

    async def until_text(self, text: str | re.Pattern[str], timeout_s: float = WAIT_S) -> None:
        """Reloads until `text` shows: live updates are a nicety, reading works without them."""
        deadline = time.monotonic() + timeout_s
        while not await self.page.get_by_text(text).count():
            assert time.monotonic() < deadline, f"{text!r} never showed on {self.page.url}"
            await self.page.wait_for_timeout(200)
            await self.page.reload()
        await self.seen()

    async def submit(self, body: dict[str, Any]) -> str:
        """A job through the JSON API (the dashboard only shows and acts on jobs)."""
        url = f"{self.server.url}/jobs"
        async with self.server.session.post(url, json=body, headers=self.headers) as resp:
            answer = await resp.json()
            assert resp.status == 202, answer
            return answer["job_id"]

    async def job(self, job_id: str) -> dict[str, Any]:
        url = f"{self.server.url}/jobs/{job_id}"
        async with self.server.session.get(url, headers=self.headers) as resp:
            assert resp.status == 200
            return await resp.json()

    async def job_until(
        self, job_id: str, done: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """The job's API view once `done(view)`: the state a scenario starts from."""
        deadline = time.monotonic() + WAIT_S
        while not done(view := await self.job(job_id)):
            assert time.monotonic() < deadline, view
            await asyncio.sleep(0.02)
        return view

    async def upload(self, data: bytes, namespace: str = "p") -> dict[str, Any]:
        url = f"{self.server.url}/{namespace}"
        async with self.server.session.post(url, data=data, headers=self.headers) as resp:
            answer = await resp.json()
            assert resp.status == 200, answer
            return answer


def page_name(url: str, base: str) -> str:
    """A screenshot's name from its page: /admin/jobs/<id> is 'jobs-id'."""
    path = url.removeprefix(base).split("?")[0].strip("/") or "overview"
    return _JOB_ID.sub("id", path).replace("/", "-")


DashboardFactory = Callable[..., Awaitable[Dashboard]]


@pytest.fixture
async def start_dashboard(
    start_jobs_server: ServerFactory, browser: Browser, artefacts: Path
) -> AsyncIterator[DashboardFactory]:
    """A job server behind an API key with test-sized timings, and a page in a fresh context."""
    contexts = []

    async def start(**overrides: Any) -> Dashboard:
        started = await start_jobs_server(**{"api_keys": [KEY], **overrides})
        context = await browser.new_context(viewport=VIEWPORT, locale="en-GB")
        contexts.append(context)
        context.set_default_timeout(WAIT_S * 1000)
        page = await context.new_page()
        dashboard = Dashboard(started, page, artefacts)
        page.on("pageerror", lambda error: dashboard.errors.append(str(error)))
        page.on("console", lambda msg: _console_error(dashboard, msg))
        return dashboard

    yield start
    for context in contexts:
        await context.close()


def _console_error(dashboard: Dashboard, message: Any) -> None:
    """A script error, a CSP refusal or a stylesheet, script or image that failed to load is a
    failure; the page's own status is the test's to check (a 401 for a wrong key), and a
    missing favicon is nobody's."""
    url = message.location.get("url") or ""
    if message.type == "error" and url != dashboard.page.url and "favicon" not in url:
        dashboard.errors.append(f"{message.text} ({url})")


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[Settings], subprocess.Popen[bytes]]]:
    """`imageserver worker` processes on a server's jobs database and storage."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings, **flags: Any) -> subprocess.Popen[bytes]:
        args = [
            "worker",
            f"--jobs-url={settings.jobs_url}",
            f"--storage={settings.storage}",
            "--allow-private-sources",
        ]
        for name, value in {**jobs.FAST, **flags}.items():
            args.append(f"--{name.replace('_', '-')}={value}")
        with (tmp_path / f"worker{len(processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [*CLI, *args], stdout=log, stderr=subprocess.STDOUT, env=environment()
            )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
