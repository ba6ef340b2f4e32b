"""The dashboard's Instances and Groups pages, on real processes.

Instances: two real `imageserver worker` subprocesses and the server share one SQLite jobs file;
one worker is killed with SIGKILL (no goodbye) and the page marks it stale after ~3 heartbeats.
Groups: jobs held at a loopback origin fill one group's slots and queue behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from imageserver.web.admin.instances import duration
from tests.cli.runner import CLI, environment
from tests.conftest import Server, ServerFactory
from tests.jobs import conftest as jobs
from tests.jobs.conftest import Origin

KEY = "admin-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
BEAT_S = 0.3  # test-sized heartbeats: stale after 0.9 s of silence
STARTUP_S = 15.0  # a worker subprocess imports libvips and saq before its first beat

# the jobs fixtures these tests use, registered here by name (as tests/seeds/conftest.py does)
origin = jobs.origin
start_jobs_server = jobs.start_jobs_server


class Rows(HTMLParser):
    """The body rows of the page's table: each a dict of its cells' text by column heading."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.rows: list[dict[str, str]] = []
        self._cells: list[str] | None = None
        self._text: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._cells = []
        elif tag in ("td", "th"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._text is not None and self._cells is not None:
            self._cells.append(" ".join("".join(self._text).split()))
            self._text = None
        elif tag == "tr" and self._cells is not None:
            if self._in_head:
                self.headings = self._cells
            else:
                self.rows.append(dict(zip(self.headings, self._cells, strict=True)))
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


async def page_rows(server: Server, page: str) -> list[dict[str, str]]:
    async with server.session.get(f"{server.url}/admin/{page}", headers=AUTH) as resp:
        text = await resp.text()
        assert resp.status == 200, text
    parser = Rows()
    parser.feed(text)
    return parser.rows


async def rows_when(
    server: Server, page: str, done: Callable[[list[dict[str, str]]], bool], timeout_s: float
) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout_s
    while not done(rows := await page_rows(server, page)):
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.1)
    return rows


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """`imageserver worker` subprocesses on a jobs URL; any still running are stopped after."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(jobs_url: str) -> subprocess.Popen[bytes]:
        flags = ["--jobs-url", jobs_url, "--storage", str(tmp_path / "data")]
        command = [*CLI, "worker", *flags, "--instance-heartbeat-s", str(BEAT_S)]
        process = subprocess.Popen(command, env=environment(), stderr=subprocess.DEVNULL)
        started.append(process)
        return process

    yield spawn
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def workers(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["PID"]: row for row in rows if row["Kind"] == "worker"}


async def test_two_workers_are_listed_and_a_killed_one_goes_stale(
    start_jobs_server: ServerFactory,
    spawn_worker: Callable[[str], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    jobs_url = f"sqlite:///{tmp_path}/shared-jobs.db"
    server = await start_jobs_server(
        jobs_url=jobs_url, api_keys=[KEY], instance_heartbeat_s=BEAT_S, workers=False
    )
    killed, kept = spawn_worker(jobs_url), spawn_worker(jobs_url)
    rows = await rows_when(server, "instances", lambda r: len(workers(r)) == 2, STARTUP_S)
    assert {row["Status"] for row in rows} == {"live"}
    [me] = [row for row in rows if row["Kind"] == "server"]
    assert (me["PID"], me["Jobs running"]) == (str(os.getpid()), "—")
    assert {row["Jobs running"] for row in workers(rows).values()} == {"0"}

    os.kill(killed.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    rows = await rows_when(
        server, "instances", lambda r: workers(r)[str(killed.pid)]["Status"] == "stale", 10 * BEAT_S
    )
    assert time.monotonic() - killed_at >= 2 * BEAT_S  # not before ~3 missed heartbeats
    assert workers(rows)[str(kept.pid)]["Status"] == "live"
    assert workers(rows)[str(killed.pid)]["Last seen"].endswith(" s ago")

    kept.send_signal(signal.SIGTERM)  # a graceful stop removes its record at once
    kept.wait(timeout=10)
    rows = await page_rows(server, "instances")
    assert str(kept.pid) not in workers(rows)


async def post_job(server: Server, body: dict[str, Any]) -> str:
    async with server.session.post(f"{server.url}/jobs", json=body, headers=AUTH) as resp:
        answer = await resp.json()
        assert resp.status == 202, answer
        return answer["job_id"]


async def state_when(server: Server, job_id: str, state: str) -> None:
    """Polls GET /jobs/{id} (behind the key too) until the job is in `state`."""
    deadline = time.monotonic() + 10
    while True:
        async with server.session.get(f"{server.url}/jobs/{job_id}", headers=AUTH) as resp:
            view = await resp.json()
        if view.get("state") == state:
            return
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.05)


async def test_groups_show_limit_in_flight_queued_and_failures(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    """Two jobs run at once; each holds its group's only slot at the origin, the rest wait."""
    server = await start_jobs_server(api_keys=[KEY], job_concurrency=2)
    a, b = {"group": "a", "group_limit": 1}, {"group": "b", "group_limit": 1}
    failed = await post_job(server, {"namespace": "p", "source": origin.image("missing"), **b})
    await state_when(server, failed, "failed")
    held = [
        await post_job(server, {"namespace": "p", "source": origin.image(hold=1, n=n), **group})
        for n, group in enumerate([b, a])
    ]
    await origin.wait_for(3)  # the failure's fetch, then the two held ones
    for n in range(2):
        await post_job(server, {"namespace": "p", "source": origin.image(n=10 + n), **a})

    rows = await page_rows(server, "groups")
    assert [row["Group"] for row in rows] == ["a", "b"]  # the most queued first
    row_a, row_b = rows
    counts = ("Limit", "In flight", "Queued", "Running")
    assert [row_a[name] for name in counts] == ["1", "1", "2", "1"]
    assert (row_a["Recent failures"], row_a["Last error"]) == ("0", "—")
    assert (row_b["In flight"], row_b["Queued"], row_b["Recent failures"]) == ("1", "0", "1")
    assert "404" in row_b["Last error"] or "not_found" in row_b["Last error"], row_b

    origin.release.set()
    for job_id in held:
        await state_when(server, job_id, "succeeded")
    # a's jobs all done: it is gone; b keeps its failure (for the job TTL), nothing in flight
    rows = await rows_when(server, "groups", lambda r: [row["Group"] for row in r] == ["b"], 10)
    assert (rows[0]["In flight"], rows[0]["Running"], rows[0]["Recent failures"]) == ("0", "0", "1")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.4, "0 s"), (3, "3 s"), (61, "1 min 1 s"), (3601, "1 h 0 min"), (90061, "1 d 1 h")],
)
def test_durations_read_in_their_two_largest_units(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown
