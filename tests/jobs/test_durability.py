"""kill -9 with jobs in flight, then a restart: every job accepted before the kill completes,
and every callback is delivered. Real processes: `serve`, then `serve --no-workers` + `worker`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.jobs.conftest import Origin, Receiver
from tests.s3_fixtures import free_port

JOBS = 12


def command(tmp_path: Path, jobs_url: str, *args: str) -> list[str]:
    """Test-sized timings: a dead worker's jobs are taken back within a few seconds. Three jobs
    at a time, since saq's Redis sweep waits two seconds for each stuck job in turn."""
    settings = [
        f"--storage={tmp_path / 'data'}",
        f"--jobs-url={jobs_url}",
        "--allow-private-sources",
        "--job-heartbeat-s=1",
        "--job-retry-delay-s=0.05",
        "--job-host-limit=50",
        "--job-max-attempts=5",
        "--job-concurrency=3",
        "--source-timeout-s=2",
    ]
    return [sys.executable, "-m", "imageserver_cli.main", *args, *settings]


@pytest.fixture
async def processes() -> AsyncIterator[Callable[[list[str]], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            await asyncio.to_thread(process.wait, 10)


async def up(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            async with session.get(url + "/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        await asyncio.sleep(0.1)


async def test_kill_9_with_jobs_in_flight_then_restart(
    tmp_path: Path,
    jobs_url: str,
    origin: Origin,
    receiver: Receiver,
    processes: Callable[[list[str]], subprocess.Popen[bytes]],
) -> None:
    first_port, second_port = free_port(), free_port()
    server = processes(command(tmp_path, jobs_url, "serve", f"--port={first_port}"))
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{first_port}"
        await up(session, url)
        ids = []
        for n in range(JOBS):
            body = {
                "namespace": "p",
                "source": origin.image(delay=0.4, n=n),
                "callback": receiver.url,
            }
            async with session.post(url + "/jobs", json=body) as resp:
                ids.append((await resp.json())["job_id"])
        await origin.wait_for(4)
        os.kill(server.pid, signal.SIGKILL)
        server.wait()

        url = f"http://127.0.0.1:{second_port}"
        processes(command(tmp_path, jobs_url, "serve", f"--port={second_port}", "--no-workers"))
        processes(command(tmp_path, jobs_url, "worker"))
        await up(session, url)
        views = await all_finished(session, url, ids)
    assert {view["state"] for view in views} == {"succeeded"}
    assert max(view["attempts"] for view in views) >= 2  # taken back from the killed worker
    await receiver.wait_until(lambda calls: called_back(calls) >= set(ids), timeout_s=20)
    assert called_back(receiver.calls) == set(ids)


def called_back(calls: list[tuple[dict, bytes]]) -> set[str]:
    return {json.loads(raw)["job_id"] for _, raw in calls}


async def all_finished(session: aiohttp.ClientSession, url: str, ids: list[str]) -> list[dict]:
    deadline = time.monotonic() + 30
    while True:
        views = []
        for job_id in ids:
            async with session.get(f"{url}/jobs/{job_id}") as resp:
                views.append(await resp.json())
        if all(view["state"] in ("succeeded", "failed", "cancelled") for view in views):
            return views
        assert time.monotonic() < deadline, [view["state"] for view in views]
        await asyncio.sleep(0.2)
