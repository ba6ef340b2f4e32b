"""Load generators: an aiohttp client for renders (each URL once) and wrk for cached hits."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp


@dataclass
class Result:
    requests: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0

    def __post_init__(self) -> None:
        if self.latencies_ms and self.p50_ms is None:
            ordered = sorted(self.latencies_ms)
            self.p50_ms = statistics.median(ordered)
            self.p99_ms = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, float | int | None]:
        return {
            "rate": self.rate,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "errors": self.errors,
        }


async def run_tasks(tasks: Iterable[Callable[[], Awaitable[None]]], concurrency: int) -> Result:
    """Runs every task once, `concurrency` at a time, timing each."""
    pending = list(tasks)
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while pending:
            task = pending.pop()
            started = time.perf_counter()
            try:
                await task()
            except (AssertionError, aiohttp.ClientError, TimeoutError):
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(len(latencies), time.perf_counter() - started, latencies, errors=errors)


async def get_each(urls: list[str], concurrency: int) -> Result:
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=aiohttp.ClientTimeout(120)
    ) as session:

        def fetch(url: str) -> Callable[[], Awaitable[None]]:
            async def one() -> None:
                async with session.get(url) as resp:
                    await resp.read()
                    assert resp.status == 200, f"{url}: {resp.status}"

            return one

        return await run_tasks([fetch(u) for u in urls], concurrency)


def ensure_wrk() -> str | None:
    """wrk from apt when missing (root on Debian); None when it cannot be had."""
    if shutil.which("wrk") is None and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True, check=False)
    return shutil.which("wrk")


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str,
    connections: int,
    seconds: float,
    script: Path | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    """`script`: a wrk Lua script choosing each request (it reads `env`). Socket timeouts count
    as errors, as do non-2xx/3xx answers."""
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}"]
    command += [f"-d{max(1, round(seconds))}s", "--latency", url]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    p50, p99 = (_latency(out, pct) for pct in ("50%", "99%"))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    duration = max(1, round(seconds))
    return Result(
        round(rate * duration),
        duration,
        p50_ms=p50,
        p99_ms=p99,
        errors=(int(failed[1]) if failed else 0) + (int(timeouts[1]) if timeouts else 0),
    )


def _latency(out: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    return float(match[1]) * _UNITS_MS[match[2]]
