"""Cold renders and cached hits of the server against pyvips called in-process, in one run.

    python -m benchmarks.core [--rounds 3] [--renders 60] [--concurrency 4]

Starts `imageserver serve` on a free loopback port, uploads the 2725x2225 JPEG, then interleaves
rounds of (a) distinct w{N}.jpg renders through HTTP and (b) the same renders done by
`thumbnail_buffer` + `jpegsave` on a thread pool of the same size, and reports medians and ratios.
Cached hits are measured with wrk when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import pyvips

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT.parent / "shared" / "testdata" / "2569067123_aca715a2ee_o.jpg"
JPEG_OPTIONS = {"Q": 80, "optimize_coding": True, "keep": "none"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, storage: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "imageserver_cli.main", "serve", "--port", str(port)]
    process = subprocess.Popen([*command, "--storage", storage], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start")


def in_process(data: bytes, widths: list[int], workers: int) -> float:
    """Renders per second of the plain pyvips loop: the physical limit for the server."""
    pyvips.cache_set_max(0)

    def one(width: int) -> int:
        return len(
            pyvips.Image.thumbnail_buffer(data, width).write_to_buffer(".jpg", **JPEG_OPTIONS)
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, widths))
    return len(widths) / (time.perf_counter() - started)


async def through_server(base: str, widths: list[int], concurrency: int) -> float:
    queue = list(widths)
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            while queue:
                async with session.get(f"{base}/w{queue.pop()}.jpg") as resp:
                    assert resp.status == 200, resp.status
                    await resp.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(widths) / (time.perf_counter() - started)


async def upload(url: str, data: bytes) -> str:
    async with aiohttp.ClientSession() as session, session.post(url + "/p", data=data) as resp:
        h = (await resp.json())["hash"]
    return f"{url}/p/{h[:3]}/{h[3:6]}/{h[6:9]}/{h[9:]}"


def wrk(url: str, connections: int, seconds: int) -> float | None:
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("Requests/sec"))
    return float(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--renders", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--hit-seconds", type=int, default=5)
    args = parser.parse_args()
    data = PHOTO.read_bytes()
    port = free_port()
    with tempfile.TemporaryDirectory() as storage:
        server = start_server(port, storage)
        try:
            result = run(f"http://127.0.0.1:{port}", data, args)
        finally:
            server.terminate()
            server.wait()
    print(json.dumps(result, indent=2))


def run(url: str, data: bytes, args: argparse.Namespace) -> dict[str, object]:
    base = asyncio.run(upload(url, data))
    ref, srv = [], []
    for i in range(args.rounds):  # interleaved, fresh widths each round: every render is cold
        widths = [200 + i * args.renders + k for k in range(args.renders)]
        ref.append(in_process(data, widths, args.concurrency))
        srv.append(asyncio.run(through_server(base, widths, args.concurrency)))
    hits = wrk(f"{base}/w200.jpg", 64, args.hit_seconds)
    return {
        "cold_renders_per_s": {
            "server": statistics.median(srv),
            "in_process": statistics.median(ref),
        },
        "cold_ratio": statistics.median(srv) / statistics.median(ref),
        "rounds": {"server": srv, "in_process": ref},
        "hits_per_s_c64": hits,
        "concurrency": args.concurrency,
    }


if __name__ == "__main__":
    main()
