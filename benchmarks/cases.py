"""The benchmark cases. Compared systems run interleaved, round by round; medians are kept."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from . import images, load
from .load import Result
from .rss import PeakSampler, tree_rss_bytes
from .systems import ImageServer, Limit, Server

_fresh_widths = itertools.count()


@dataclass(frozen=True)
class Profile:
    """How much to measure: `quick` finishes in under two minutes."""

    images: tuple[images.BenchImage, ...]
    widths: tuple[int, ...]
    formats: tuple[str, ...]
    concurrency: tuple[int, ...]
    renders: int
    rounds: int
    hit_concurrency: tuple[int, ...]
    hit_seconds: float
    uploads: int
    memory_requests: int


QUICK = Profile((images.PHOTO_2725,), (200,), ("jpg",), (1, 4), 24, 2, (16, 64), 2, 40, 0)
FULL = Profile(
    images.ALL,
    (200, 720),
    ("jpg", "webp", "avif"),
    (1, 2, 4, 16),
    16,
    2,
    (1, 16, 64),
    5,
    200,
    10_000,
)


def median_result(results: list[Result]) -> dict[str, Any]:
    ordered = sorted(results, key=lambda r: r.rate)
    middle = ordered[len(ordered) // 2]
    return {**middle.summary(), "rates": [r.rate for r in results]}


def cold_renders(profile: Profile, limit: Limit, servers: list[Server]) -> list[dict[str, Any]]:
    """Distinct widths every time, so every request is a render nobody has stored yet."""
    rows = []
    combos = itertools.product(profile.images, profile.widths, profile.formats, profile.concurrency)
    for image, width, fmt, concurrency in combos:
        runs: dict[str, list[Result]] = {}
        for _ in range(profile.rounds):
            widths = [width + next(_fresh_widths) for _ in range(profile.renders)]
            jobs = [(image.file, w, fmt) for w in widths]
            runs.setdefault(limit.name, []).append(limit.run(jobs, concurrency))
            for server in servers:
                urls = [server.url(image.file, w, fmt) for w in widths]
                if None not in urls:
                    result = asyncio.run(load.get_each(urls, concurrency))  # type: ignore[arg-type]
                    runs.setdefault(server.name, []).append(result)
        rows.append(
            {
                "image": image.label,
                "width": width,
                "format": fmt,
                "concurrency": concurrency,
                "systems": {name: median_result(results) for name, results in runs.items()},
            }
        )
    return rows


def cached_hits(profile: Profile, targets: dict[str, str]) -> list[dict[str, Any]]:
    """wrk against the same stored output through each way of serving it."""
    rows = []
    for concurrency in profile.hit_concurrency:
        runs: dict[str, list[Result]] = {}
        for _ in range(profile.rounds):
            for name, url in targets.items():
                runs.setdefault(name, []).append(load.wrk(url, concurrency, profile.hit_seconds))
        rows.append(
            {
                "concurrency": concurrency,
                "systems": {name: median_result(results) for name, results in runs.items()},
            }
        )
    return rows


def uploads(profile: Profile, server: ImageServer, data: bytes) -> dict[str, Any]:
    """New originals each time (a trailer after the JPEG's end makes each hash distinct)."""
    bodies = [data + b"bench%08d" % next(_fresh_widths) for _ in range(profile.uploads)]

    async def run() -> Result:
        async with aiohttp.ClientSession() as session:

            def post(body: bytes) -> Callable[[], Any]:
                async def one() -> None:
                    async with session.post(f"{server.base}/p", data=body) as resp:
                        await resp.read()
                        assert resp.status == 200

                return one

            return await load.run_tasks([post(b) for b in bodies], 4)

    return asyncio.run(run()).summary()


def peak_rss(profile: Profile, server: ImageServer) -> dict[str, Any]:
    """Peak RSS of a fresh server while it renders 24 MP JPEGs at concurrency 16."""
    widths = [720 + next(_fresh_widths) for _ in range(max(32, profile.renders))]
    urls = [server.url(images.PHOTO_24MP.file, w, "jpg") for w in widths]
    idle = tree_rss_bytes(server.pid)
    with PeakSampler(server.pid) as sampler:
        result = asyncio.run(load.get_each(urls, 16))  # type: ignore[arg-type]
    return {"idle_mb": idle / 2**20, "peak_mb": sampler.peak_bytes / 2**20, **result.summary()}


def rss_growth(profile: Profile, server: ImageServer) -> dict[str, Any]:
    """RSS after the first 1,000 of a long mixed run against RSS at its end."""
    mixed = _mixed_urls(server, profile.memory_requests)
    asyncio.run(load.get_each(mixed[:1000], 8))
    after_first = tree_rss_bytes(server.pid)
    asyncio.run(load.get_each(mixed[1000:], 8))
    after_all = tree_rss_bytes(server.pid)
    return {
        "requests": len(mixed),
        "after_1000_mb": after_first / 2**20,
        "after_all_mb": after_all / 2**20,
        "growth_percent": 100 * (after_all - after_first) / after_first,
    }


def _mixed_urls(server: ImageServer, count: int) -> list[str]:
    """Mostly hits on a few hot outputs, a fifth new renders, some misses and info."""
    hot = [server.url(images.PHOTO_2725.file, w, f) for w in (200, 400) for f in ("jpg", "webp")]
    urls = []
    for i in range(count):
        kind = i % 10
        if kind < 7:
            urls.append(hot[i % len(hot)])
        elif kind < 9:
            urls.append(server.url(images.RGBA_PNG.file, 100 + next(_fresh_widths) % 900, "webp"))
        else:
            urls.append(
                server.url(images.PHOTO_2725.file, 200, "jpg").rsplit("/", 1)[0] + "/info.json"
            )
    return [u for u in urls if u is not None]
