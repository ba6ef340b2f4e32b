"""`python -m benchmarks [--quick]`: every case, every system, one run, one report.

Starts each server on loopback, warms it, measures, stops what it started, and writes
benchmarks/results/latest.md, latest.json and charts. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyvips

from . import cases, images, load, peers, report
from .systems import ImageServer, Ipx, Limit, Nginx, Server, Thumbor

RESULTS = Path(__file__).resolve().parent / "results"
CASES = ("cold", "quality", "hits", "signing", "uploads", "memory", "overload")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="a small run, under two minutes")
    parser.add_argument("--no-peers", action="store_true", help="skip thumbor and ipx")
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help="comma list of " + ", ".join(CASES),
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--renders", type=int, help="renders per cold run (default: the profile's)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default: the profile's)")
    return parser.parse_args(argv)


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    )


def start(stack: ExitStack, server: Server) -> Server:
    server.start()
    stack.callback(server.stop)
    return server


def start_peers(stack: ExitStack, workdir: Path, wanted: bool) -> list[Server]:
    found: list[Server] = []
    if not wanted:
        return found
    thumbor, ipx = peers.thumbor_binary(), peers.ipx_binary()
    if thumbor:
        found.append(start(stack, Thumbor(thumbor, workdir)))
    if ipx:
        found.append(start(stack, Ipx(ipx, workdir)))
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = cases.QUICK if args.quick else cases.FULL
    overrides = {k: getattr(args, k) for k in ("renders", "rounds") if getattr(args, k)}
    profile = dataclasses.replace(profile, **overrides)
    wanted = set(args.cases.split(","))
    workdir = images.prepare(peers.cache_dir() / "images")
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
    }
    with ExitStack() as stack:
        ours = start(stack, ImageServer(workdir))
        renders = wanted & {"cold", "quality"}
        others = start_peers(stack, workdir, not args.no_peers and bool(renders))
        results["peers"] = ", ".join(s.name for s in others) or "none"
        if "cold" in wanted:
            results["cold"] = cases.cold_renders(profile, Limit(workdir), [ours, *others])
            report.write(results, args.out)  # saved as each case ends: a late failure keeps it
        if "quality" in wanted:
            results["quality"] = cases.quality(profile, Limit(workdir), [ours, *others])
            report.write(results, args.out)
        if "hits" in wanted and load.ensure_wrk():
            results["hits"] = cases.cached_hits(profile, hit_targets(stack, ours, workdir))
            report.write(results, args.out)
        if "uploads" in wanted:
            results["uploads"] = cases.uploads(
                profile, ours, (workdir / images.PHOTO_2725.file).read_bytes()
            )
    results.update(fresh_server_cases(profile, workdir, wanted))
    print((report.write(results, args.out)).read_text())
    return 0


def hit_targets(stack: ExitStack, ours: ImageServer, workdir: Path) -> dict[str, str]:
    """The same stored output through the app (one process, then two), nginx in front of it,
    and plain nginx (one worker, then one per core)."""
    targets = {}
    for server in (ours, start(stack, ImageServer(workdir, PROCESSES_2, "imageserver x2"))):
        url = server.url(images.PHOTO_2725.file, 200, "jpg")
        asyncio.run(load.get_each([url] * 2, 1))  # rendered, then kept in memory
        targets[f"{server.name} app"] = url
    nginx = peers.nginx_binary()
    if nginx:
        for front, workers in ((True, "auto"), (False, "1"), (False, "auto")):
            server = start(stack, Nginx(nginx, ours, front=front, workers=workers))
            targets[server.name] = server.url(images.PHOTO_2725.file, 200, "jpg")
    return targets


PROCESSES_2 = ["--processes", "2"]


def fresh_server_cases(profile: cases.Profile, workdir: Path, wanted: set[str]) -> dict[str, Any]:
    """A fresh server each, so earlier cases do not colour the figures."""
    found: dict[str, Any] = {}
    if "memory" in wanted:
        with ExitStack() as stack:
            found["peak_rss"] = cases.peak_rss(profile, start(stack, ImageServer(workdir)))
        if profile.memory_requests:
            with ExitStack() as stack:
                found["rss_growth"] = cases.rss_growth(profile, start(stack, ImageServer(workdir)))
    if "signing" in wanted and load.ensure_wrk():
        with ExitStack() as stack:
            server = start(stack, ImageServer(workdir, cases.SIGNING_ARGS, "imageserver signed"))
            found["signing"] = cases.signing(profile, server)
    if "overload" in wanted and load.ensure_wrk():
        with ExitStack() as stack:
            found["recovery"] = cases.recovery(profile, start(stack, ImageServer(workdir)))
    return found


if __name__ == "__main__":
    sys.exit(main())
