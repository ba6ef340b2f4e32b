"""`python -m benchmarks.jobs [--jobs N] [--backend sqlite|redis]`: ingestion jobs end to end.

A loopback origin serves N distinct JPEGs (800x600); each job fetches one, stores it and renders
w200.jpg; a loopback receiver takes the callbacks. `imageserver serve` runs with its defaults
(workers in-process, 8 jobs at once, 4 fetches per host). Reports jobs/s from the first submit
to the last callback, and the latency from each 202 to its callback, p50 and p99: for a burst
of N jobs at once (throughput; the latency is mostly the wait behind the others), and with
`--rate R`, for jobs submitted steadily at R per second (the latency of the pipeline itself).
`--sync` is the reference: the same work as synchronous `POST /{ns}?source=&outputs=` uploads,
8 at a time (as many as the job workers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pyvips
from aiohttp import web

from .load import Result, run_tasks
from .systems import ROOT, Server, free_port

SUBMITTERS = 16  # clients posting jobs at once
JOB_WORKERS = 8  # --job-concurrency's default
WARMUP_JOBS = 20


class JobServer(Server):
    name = "imageserver"

    def __init__(self, storage: Path, jobs_url: str) -> None:
        port = free_port()
        command = [sys.executable, "-m", "imageserver_cli.main", "serve", f"--port={port}"]
        command += [f"--storage={storage}", f"--jobs-url={jobs_url}", "--allow-private-sources"]
        super().__init__([*command, "--log-level=warning"], port)

    def url(self, file: str, width: int, fmt: str) -> str | None:
        return None  # jobs make their outputs themselves


class RedisServer(Server):
    name = "redis"

    def __init__(self, directory: Path) -> None:
        port = free_port()
        binary = shutil.which("redis-server") or "redis-server"
        super().__init__([binary, "--port", str(port), "--save", "", "--dir", str(directory)], port)
        self.jobs_url = f"redis://127.0.0.1:{port}/0"

    def url(self, file: str, width: int, fmt: str) -> str | None:
        return None


def distinct_jpegs(count: int) -> list[bytes]:
    """One pixel differs per image, so each has its own content hash: nothing is a no-op."""
    base = pyvips.Image.new_from_file(str(ROOT / "test" / "images" / "grid.jpg"))
    return [
        base.draw_rect([i % 256, i // 256 % 256, 7], i % base.width, 0, 1, 1).jpegsave_buffer(Q=85)
        for i in range(count)
    ]


class Loopback:
    """The origin and the callback receiver, in this process."""

    def __init__(self, images: list[bytes]) -> None:
        self.images = images
        self.called_back: dict[str, float] = {}
        self.done = asyncio.Event()
        self.expected = 0
        self.app = web.Application()
        self.app.router.add_get("/img/{n}", self.image)
        self.app.router.add_post("/hook", self.hook)
        self.base = ""

    async def image(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.images[int(request.match_info["n"])], content_type="image/jpeg"
        )

    async def hook(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        self.called_back.setdefault(payload["job_id"], time.perf_counter())
        if len(self.called_back) >= self.expected:
            self.done.set()
        return web.Response()


async def run_jobs(
    server: str, loopback: Loopback, first: int, count: int, rate: float = 0
) -> Result:
    """Submits jobs `first`..`first+count` (all at once, or `rate` per second) and waits for
    every callback."""
    accepted: dict[str, float] = {}
    loopback.called_back.clear()
    loopback.done.clear()
    loopback.expected = count
    async with aiohttp.ClientSession() as session:

        def submit(n: int) -> Callable[[], Awaitable[None]]:
            async def one() -> None:
                body = {
                    "namespace": "bench",
                    "source": f"{loopback.base}/img/{n}",
                    "outputs": ["w200.jpg"],
                    "callback": f"{loopback.base}/hook",
                }
                async with session.post(f"{server}/jobs", json=body) as resp:
                    assert resp.status == 202, await resp.text()
                    accepted[(await resp.json())["job_id"]] = time.perf_counter()

            return one

        started = time.perf_counter()
        if rate:
            for n in range(first, first + count):
                asyncio.get_running_loop().call_later((n - first) / rate, spawn, submit(n)())
            await asyncio.sleep(count / rate)
        else:
            await run_tasks([submit(n) for n in range(first, first + count)], SUBMITTERS)
        await asyncio.wait_for(loopback.done.wait(), 600)
    ended = max(loopback.called_back.values())
    latencies = [(loopback.called_back[key] - at) * 1000 for key, at in accepted.items()]
    return Result(count, ended - started, latencies)


_spawned: set[asyncio.Task[None]] = set()


def spawn(coroutine: Awaitable[None]) -> None:
    task = asyncio.ensure_future(coroutine)
    _spawned.add(task)
    task.add_done_callback(_spawned.discard)


async def run_uploads(server: str, loopback: Loopback, first: int, count: int) -> Result:
    """The synchronous upload of the same sources, one client per job worker."""
    async with aiohttp.ClientSession() as session:

        def upload(n: int) -> Callable[[], Awaitable[None]]:
            async def one() -> None:
                params = {"source": f"{loopback.base}/img/{n}", "outputs": "w200.jpg"}
                async with session.post(f"{server}/bench", params=params) as resp:
                    assert resp.status == 200, await resp.text()

            return one

        return await run_tasks([upload(n) for n in range(first, first + count)], JOB_WORKERS)


async def bench(jobs_url: str, storage: Path, count: int, rate: float, sync: bool) -> Result:
    loopback = Loopback(distinct_jpegs(count + WARMUP_JOBS))
    runner = web.AppRunner(loopback.app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    loopback.base = f"http://127.0.0.1:{port}"
    server = JobServer(storage, jobs_url)
    await asyncio.to_thread(server.start)
    try:
        if sync:
            await run_uploads(server.base, loopback, 0, WARMUP_JOBS)
            return await run_uploads(server.base, loopback, WARMUP_JOBS, count)
        await run_jobs(server.base, loopback, 0, WARMUP_JOBS)
        return await run_jobs(server.base, loopback, WARMUP_JOBS, count, rate)
    finally:
        server.stop()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jobs", description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--rate", type=float, default=0, help="jobs per second (0: a burst)")
    parser.add_argument("--sync", action="store_true", help="synchronous uploads instead")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        directory = Path(tmp)
        redis = RedisServer(directory) if args.backend == "redis" else None
        if redis is not None:
            redis.start()
        jobs_url = redis.jobs_url if redis else f"sqlite:///{directory}/jobs.db"
        try:
            work = bench(jobs_url, directory / "data", args.jobs, args.rate, args.sync)
            result = asyncio.run(work)
        finally:
            if redis is not None:
                redis.stop()
    load = "sync uploads" if args.sync else f"{args.rate:g}/s" if args.rate else "burst"
    print(
        f"| {args.backend} | {args.jobs} {load} | {result.rate:.1f} jobs/s | "
        f"{result.p50_ms:.0f} ms | {result.p99_ms:.0f} ms |"
    )


if __name__ == "__main__":
    main()
