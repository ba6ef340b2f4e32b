"""The benchmark cases. Compared systems run interleaved, round by round; medians are kept."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pyvips

from imageserver import urlsigning
from tests.imagecompare import ssim

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
    overload_s: int  # how long wrk -c256 asks for distinct cold renders


QUICK = Profile((images.PHOTO_2725,), (200,), ("jpg",), (1, 4), 24, 2, (16, 64), 2, 40, 0, 5)
FULL = Profile(
    images.ALL,
    (200, 720),
    ("jpg", "webp", "avif"),
    (4, 16),
    16,
    3,
    (16, 64),
    5,
    200,
    10_000,
    30,
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


# Longer than the server's --release-memory-after-s (10 s), after which it hands freed memory back.
REST_S = 12.0


def rss_growth(profile: Profile, server: ImageServer) -> dict[str, Any]:
    """RSS after the first 1,000 of a long mixed run against RSS at its end: at rest, REST_S
    after the load (what a leak or fragmentation shows in), and as the load stops. Also at rest
    without the memory cache's bytes, which grow by design up to --memory-cache-bytes."""
    mixed = _mixed_urls(server, profile.memory_requests)
    first = _load_then_rss(server, mixed[:1000])
    last = _load_then_rss(server, mixed[1000:])
    return {
        "requests": len(mixed),
        "after_1000_mb": first.rest / 2**20,
        "after_all_mb": last.rest / 2**20,
        "growth_percent": _growth(first.rest, last.rest),
        "loaded_after_1000_mb": first.loaded / 2**20,
        "loaded_after_all_mb": last.loaded / 2**20,
        "loaded_growth_percent": _growth(first.loaded, last.loaded),
        "cache_after_1000_mb": first.cache / 2**20,
        "cache_after_all_mb": last.cache / 2**20,
        "growth_beyond_cache_percent": _growth(first.rest - first.cache, last.rest - last.cache),
    }


@dataclass(frozen=True)
class _Rss:
    loaded: int  # as the load stops
    rest: int  # REST_S later
    cache: int  # the memory cache's bytes, at rest


def _load_then_rss(server: ImageServer, urls: list[str]) -> _Rss:
    asyncio.run(load.get_each(urls, 8))
    loaded = tree_rss_bytes(server.pid)
    time.sleep(REST_S)
    return _Rss(loaded, tree_rss_bytes(server.pid), _memory_cache_bytes(server))


def _memory_cache_bytes(server: ImageServer) -> int:
    with urllib.request.urlopen(f"{server.base}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("imageserver_memory_cache_bytes "):
                return int(float(line.split()[1]))
    raise RuntimeError("/metrics has no imageserver_memory_cache_bytes")


def _growth(before: int, after: int) -> float:
    return 100 * (after - before) / before


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


def quality(profile: Profile, limit: Limit, servers: list[Server]) -> list[dict[str, Any]]:
    """SSIM of each system's output (decoded) against libvips' default thumbnail of the same
    source at the same width, before any encoding: what each pipeline and encoder cost in
    fidelity. The loop encodes that very thumbnail, so its row is the encoder's cost alone."""
    rows = []
    for image, width, fmt in itertools.product(profile.images, profile.widths, profile.formats):
        reference = pyvips.Image.thumbnail_buffer(limit.data[image.file], width).copy_memory()
        found = {limit.name: _ssim(reference, limit.render(image.file, width, fmt))}
        for server in servers:
            url = server.url(image.file, width, fmt)
            if url is not None:
                with urllib.request.urlopen(url, timeout=120) as resp:
                    found[server.name] = _ssim(reference, resp.read())
        rows.append({"image": image.label, "width": width, "format": fmt, "ssim": found})
    return rows


def _ssim(reference: pyvips.Image, data: bytes) -> float:
    """Sizes may differ by a pixel of rounding between systems: such an output is fitted to the
    reference's size first."""
    image = pyvips.Image.new_from_buffer(data, "")
    if (image.width, image.height) != (reference.width, reference.height):
        image = image.thumbnail_image(reference.width, height=reference.height, size="force")
    return ssim(reference, image)


OVERLOAD_LUA = Path(__file__).resolve().parent / "overload.lua"


def recovery(profile: Profile, server: ImageServer) -> dict[str, Any]:
    """wrk -c256 asks for distinct cold renders (w100-2000 x q40-79) until the server is far past
    its render queue, then stops: how long until a fresh render is answered (503s retried
    every 50 ms)? Renders whose clients gave up must not be left in the way."""
    path = server.paths[images.PHOTO_2725.file]
    overload = load.wrk(
        server.base + path + "/w100.jpg",
        256,
        profile.overload_s,
        script=OVERLOAD_LUA,
        env={"BASE": path},
    )
    started = time.perf_counter()
    tries = 0
    while True:
        tries += 1
        try:
            with urllib.request.urlopen(server.base + path + "/w1234-q33.jpg", timeout=120) as resp:
                resp.read()
            break
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise
            time.sleep(0.05)
    return {
        "fresh_render_s": time.perf_counter() - started,
        "tries": tries,
        "overload": overload.summary(),
        "overload_seconds": profile.overload_s,
    }


SIGNING_ARGS = ["--url-signing-key", "bench-key", "--namespace-policies", "s=signed"]
SIGNING_ARGS += ["--no-stored-outputs-public"]  # so that every hit checks its signature


def signing(profile: Profile, server: ImageServer) -> dict[str, Any]:
    """Cached hits of one output through one server (started with SIGNING_ARGS): unsigned in a
    public namespace, and signed in a signed one whose hits all check their signature. Rounds
    interleave the two at the highest hit concurrency."""
    data = (server.images / images.PHOTO_2725.file).read_bytes()
    public = server.base + server.paths[images.PHOTO_2725.file] + "/w200.jpg"
    with urllib.request.urlopen(urllib.request.Request(server.base + "/s", data=data)) as resp:
        h = json.loads(resp.read())["hash"]
    path = f"/s/{h[:3]}/{h[3:6]}/{h[6:9]}/{h[9:]}/w200.jpg"
    signed = server.base + urlsigning.sign(path, ["bench-key"])
    for url in (public, signed, public, signed):  # rendered, then held in memory
        urllib.request.urlopen(url).read()
    concurrency = max(profile.hit_concurrency)
    # the same query on an unsigned URL: what aiohttp's parsing of any query string costs
    queried = public + signed[signed.index("?") :]
    runs: dict[str, list[Result]] = {"unsigned": [], "signed": [], "unsigned, same query": []}
    for _ in range(profile.rounds):
        for name, url in (
            ("unsigned", public),
            ("signed", signed),
            ("unsigned, same query", queried),
        ):
            runs[name].append(load.wrk(url, concurrency, profile.hit_seconds))
    return {
        "concurrency": concurrency,
        "systems": {name: median_result(results) for name, results in runs.items()},
    }
