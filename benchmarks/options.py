"""What blur, rotate, pad and watermark cost a render, against the same libvips operations run
by pyvips in-process, in one run.

    python -m benchmarks.options [--rounds 5] [--renders 20] [--concurrency 1,4] [--check]

Per image (the 2725x2225 photo, a 1200 px JPEG of it) and option: cold renders by a server on
loopback (each request a new output: copies of the original differing after the JPEG's end,
times qualities q71-q90), and the same pipeline in this process (thumbnail, then gaussblur /
rot90 / embed / composite2, then jpegsave with the server's saver options; one libvips thread
per render, as the server's --vips-concurrency; no HTTP, no storage). Rounds interleave all.

An option's cost: with it less without it (w400; h400 for r90, the same pixels unrotated) at
c1, in CPU ms per render (the server process's CPU clock; this process's for pyvips: other
load on the machine inflates it far less than latency) and in median latency; the difference
per round, median of rounds. Throughput at the highest concurrency against pyvips, same
rounds. `--check`: each option rendered once, sizes and SSIM against pyvips; options that do
not render so are left out of the timing. Writes options.md and options.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import shutil
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyvips

from imageserver.formats import OUTPUT_FORMATS
from imageserver.keys import content_hash
from imageserver.transform import parse_token
from tests.imagecompare import ssim

from . import images, load, peers
from .__main__ import machine
from .load import Result
from .systems import ImageServer

RESULTS = Path(__file__).resolve().parent / "results"
QUALITIES = range(71, 91)  # with the copies, what makes every request a new output
CHECK_QUALITY = 70  # the check's and warm-up's renders, never a measured one
NAMESPACE, LOGO_NAMESPACE = "bench", "brand"
WATERMARK = "se:0.2:0.5"  # position, scale, opacity: the example
JPG = OUTPUT_FORMATS["jpg"]
Pipeline = Callable[[bytes, bytes], pyvips.Image]  # (original, logo) -> pixels to save


def _wide(data: bytes, _logo: bytes) -> pyvips.Image:
    return pyvips.Image.thumbnail_buffer(data, 400)


def _tall(data: bytes, _logo: bytes) -> pyvips.Image:  # h400: thumbnail needs some width
    return pyvips.Image.thumbnail_buffer(data, 100_000, height=400)


def _padded(data: bytes, _logo: bytes) -> pyvips.Image:
    image = pyvips.Image.thumbnail_buffer(data, 400, height=400)
    left, top = (400 - image.width) // 2, (400 - image.height) // 2
    return image.embed(left, top, 400, 400, extend="background", background=[0, 0, 0])


def _watermarked(data: bytes, logo: bytes) -> pyvips.Image:
    """The logo scaled to 0.2 of the width, its alpha halved, composited at the bottom right,
    the alpha composite adds dropped again: what a plain pyvips program would write."""
    image = pyvips.Image.thumbnail_buffer(data, 400)
    mark = pyvips.Image.thumbnail_buffer(logo, round(image.width * 0.2), height=image.height)
    mark = mark.linear([1.0, 1.0, 1.0, 0.5], [0.0] * 4).cast("uchar")
    x, y = image.width - mark.width, image.height - mark.height
    return image.composite2(mark, "over", x=x, y=y).extract_band(0, n=3)


@dataclass(frozen=True)
class Option:
    name: str
    token: str  # without quality; canonical
    pipeline: Pipeline
    base: str  # the option that is the same render without it ("" for the bases)


OPTIONS = (
    Option("none", "w400.jpg", _wide, ""),
    Option("none (h400)", "h400.jpg", _tall, ""),
    Option("blur", "w400-blur2.jpg", lambda d, lg: _wide(d, lg).gaussblur(2), "none"),
    Option("rotate", "w400-r90.jpg", lambda d, lg: _tall(d, lg).rot("d90"), "none (h400)"),
    Option("pad", "x400-pad-bg000000.jpg", _padded, "none"),
    Option("watermark", "w400-wmlogo.jpg", _watermarked, "none"),
)


def token(option: Option, quality: int) -> str:
    return replace(parse_token(option.token), quality=quality).token()


def reference(option: Option, data: bytes, logo: bytes, quality: int) -> bytes:
    image = option.pipeline(data, logo)
    return image.write_to_buffer(JPG.saver_suffix, **JPG.save_options(quality))


@dataclass(frozen=True)
class Source:
    """An image uploaded as `copies` originals; request `n` of an option is copy n // 20 at
    quality 71 + n % 20, on both sides."""

    label: str
    data: bytes
    paths: list[str]  # the copies' URL paths on the server

    def request(self, n: int) -> tuple[str, bytes, int]:
        copy, quality = divmod(n, len(QUALITIES))
        return self.paths[copy + 1], self.data, QUALITIES[quality]  # copy 0: check and warm-up


def make_inputs(directory: Path) -> dict[str, Path]:
    """The photo, a 1200 px JPEG of it, and a 256x96 RGBA PNG logo (a white ring)."""
    directory.mkdir(parents=True, exist_ok=True)
    photo = directory / images.PHOTO_2725.file
    small = directory / "photo1200.jpg"
    logo = directory / "logo.png"
    photo.write_bytes(images.PHOTO.read_bytes())
    pyvips.Image.thumbnail(str(images.PHOTO), 1200).write_to_file(str(small), Q=90)
    xy = pyvips.Image.xyz(256, 96) - [128, 48]
    distance = (xy[0] * xy[0] / 4 + xy[1] * xy[1]) ** 0.5
    alpha = ((distance > 24) & (distance < 44)).ifthenelse(255, 0).cast("uchar")
    rgba = alpha.new_from_image([255, 255, 255]).bandjoin(alpha)
    rgba.copy(interpretation="srgb").write_to_file(str(logo))
    return {"2725x2225 JPEG": photo, "1200x980 JPEG": small, "logo": logo}


def upload(server: ImageServer, namespace: str, data: bytes) -> str:
    request = urllib.request.Request(f"{server.base}/{namespace}", data=data)
    with urllib.request.urlopen(request, timeout=60) as resp:
        h = json.loads(resp.read())["hash"]
    return f"/{namespace}/{h[:3]}/{h[3:6]}/{h[6:9]}/{h[9:]}"


def upload_copies(server: ImageServer, label: str, data: bytes, copies: int) -> Source:
    """The same pixels under distinct hashes: bytes after the JPEG's end (libvips ignores them)."""
    bodies = [data + b"options%04d" % i for i in range(copies)]
    return Source(label, bodies[0], [upload(server, NAMESPACE, body) for body in bodies])


def fetch(url: str) -> bytes:
    """One GET; a redirect (a token not canonical) is an error here."""
    with urllib.request.urlopen(url, timeout=120) as resp:
        if resp.url != url:
            raise urllib.error.HTTPError(url, 301, f"redirected to {resp.url}", resp.headers, None)
        return resp.read()


def check(server: ImageServer, sources: list[Source], logo: bytes) -> dict[str, dict[str, Any]]:
    """Each option rendered once per image: its size and SSIM against pyvips' render. An option
    renders when the sizes agree and SSIM >= 0.99 (both JPEG at the same quality)."""
    found: dict[str, dict[str, Any]] = {}
    for option, source in itertools.product(OPTIONS, sources):
        made = reference(option, source.data, logo, CHECK_QUALITY)
        expected = pyvips.Image.new_from_buffer(made, "")
        row = found.setdefault(option.name, {"renders": True, "images": {}})
        url = server.base + source.paths[0] + "/" + token(option, CHECK_QUALITY)
        try:
            got = pyvips.Image.new_from_buffer(fetch(url), "")
        except urllib.error.HTTPError as exc:
            row["renders"] = False
            row["images"][source.label] = f"HTTP {exc.code}: {exc.read()[:200].decode()}"
            continue
        size, want = f"{got.width}x{got.height}", f"{expected.width}x{expected.height}"
        if size != want:
            row["renders"] = False
            row["images"][source.label] = f"{size}, expected {want}"
            continue
        similarity = ssim(got, expected)
        row["renders"] &= similarity >= 0.99
        row["images"][source.label] = f"{size}, SSIM {similarity:.4f}"
    return found


def warm(server: ImageServer, sources: list[Source]) -> None:
    """Every copy read once (and probed) before any measured render."""
    urls = [server.base + path + "/w64.jpg" for s in sources for path in s.paths]
    result = asyncio.run(load.get_each(urls, 2))
    assert result.errors == 0, "warm-up renders failed"


def cpu_s(pid: int) -> float:
    """CPU time of a whole process, every thread, those gone included (Linux's process CPU
    clock, ns): what renders cost, which other load on the machine does not inflate."""
    return time.clock_gettime(((~pid) << 3) | 2)  # CPUCLOCK_SCHED of pid: clock_getcpuclockid


@dataclass(frozen=True)
class Batch:
    """One side's renders of one option in one round."""

    cpu_ms: float  # per render: the server process's CPU, or this process's for pyvips
    p50_ms: float
    rate: float


Runs = dict[tuple[str, int, str, str], list[Batch]]  # (image, c, option, side): one per round


def on_server(server: ImageServer, urls: list[str], c: int) -> Batch:
    cpu = cpu_s(server.pid)
    result = asyncio.run(load.get_each(urls, c))
    assert result.errors == 0, f"{urls[0]}: {result.errors} of {len(urls)} failed"
    return Batch((cpu_s(server.pid) - cpu) * 1000 / len(urls), result.p50_ms, result.rate)


def in_process(jobs: list[Callable[[], bytes]], threads: int) -> Batch:
    latencies: list[float] = []

    def one(job: Callable[[], bytes]) -> None:
        started = time.perf_counter()
        job()
        latencies.append((time.perf_counter() - started) * 1000)

    cpu, started = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, jobs))
    result = Result(len(jobs), time.perf_counter() - started, latencies)
    return Batch((time.process_time() - cpu) * 1000 / len(jobs), result.p50_ms, result.rate)


def measure(
    server: ImageServer, sources: list[Source], logo: bytes, options: list[Option], args: Any
) -> Runs:
    """Round by round, every (image, concurrency, option) on both sides, back to back; the
    order of options turns each round so that none always runs first."""
    runs: Runs = {}
    counters = {(s.label, o.name): itertools.count() for s in sources for o in options}
    for r in range(args.rounds):
        turned = options[r % len(options) :] + options[: r % len(options)]
        for source, c, option in itertools.product(sources, args.concurrency, turned):
            count = counters[(source.label, option.name)]
            requests = [source.request(next(count)) for _ in range(args.renders)]
            urls = [f"{server.base}{path}/{token(option, q)}" for path, _, q in requests]
            jobs = [lambda o=option, d=d, q=q: reference(o, d, logo, q) for _, d, q in requests]
            batches = {"server": on_server(server, urls, c), "pyvips": in_process(jobs, c)}
            for side, batch in batches.items():
                runs.setdefault((source.label, c, option.name, side), []).append(batch)
    return runs


def cost(runs: Runs, image: str, option: Option, side: str) -> dict[str, Any]:
    """At concurrency 1, CPU and median latency with the option and without; the cost, with
    less without in the same round, median of rounds."""
    with_, without = (runs[(image, 1, name, side)] for name in (option.name, option.base))
    found: dict[str, Any] = {}
    for measure_ in ("cpu_ms", "p50_ms"):
        pairs = [
            (getattr(w, measure_), getattr(b, measure_))
            for w, b in zip(with_, without, strict=True)
        ]
        found[measure_] = {
            "with": statistics.median(w for w, _ in pairs),
            "without": statistics.median(b for _, b in pairs),
            "cost": statistics.median(w - b for w, b in pairs),
            "cost_per_round": [w - b for w, b in pairs],
        }
    return found


def throughput(runs: Runs, image: str, c: int, option: Option) -> dict[str, Any]:
    server, vips = ([b.rate for b in runs[(image, c, option.name, s)]] for s in SIDES)
    return {
        "concurrency": c,
        "server_per_s": statistics.median(server),
        "pyvips_per_s": statistics.median(vips),
        "ratio": statistics.median(s / v for s, v in zip(server, vips, strict=True)),
    }


SIDES = ("server", "pyvips")


def summarise(runs: Runs, photos: list[str], options: list[Option], c: int) -> list[dict]:
    rows = []
    for image, option in itertools.product(photos, options):
        row: dict[str, Any] = {"image": image, "option": option.name, "token": option.token}
        if option.base:
            row["base"] = next(o.token for o in OPTIONS if o.name == option.base)
            row |= {side: cost(runs, image, option, side) for side in SIDES}
        row["throughput"] = throughput(runs, image, c, option)
        rows.append(row)
    return rows


def _ratio(server: float, vips: float) -> str:
    return f"{server / vips:.2f}" if vips > 0 else "n/a"


def _costs(row: dict[str, Any], measure_: str) -> str:
    server, vips = (row[side][measure_] for side in SIDES)
    return " | ".join(
        [
            f"{server['without']:.1f} -> {server['with']:.1f}",
            f"{server['cost']:.2f}",
            f"{vips['without']:.1f} -> {vips['with']:.1f}",
            f"{vips['cost']:.2f}",
            f"{server['cost'] - vips['cost']:+.2f}",
            _ratio(server["cost"], vips["cost"]),
        ]
    )


def report(results: dict[str, Any]) -> str:
    c = results["concurrency"][-1]
    costs = [row for row in results["rows"] if "base" in row]
    head = "| image | option | server {0} | server cost | pyvips {0} | pyvips cost | "
    head += "server - pyvips | cost ratio |"
    lines = [
        "# Options: what each costs a render, against pyvips in-process",
        "",
        f"`{results['command']}`",
        "",
        f"Machine: {results['machine']}; load average {results['load_before']:.1f} before, "
        f"{results['load_after']:.1f} after. {results['rounds']} interleaved rounds of "
        f"{results['renders']} cold renders per option, side and concurrency.",
        "",
        "An option's cost: with it less without it (its base) at c1, per round, median of "
        "rounds (without and with are medians of rounds too, so the cost need not be their "
        "difference). CPU per render: the server process's (HTTP and storage write included; "
        "the base pays them too), this process's for pyvips. Throughput: c"
        f"{c}, ratio = server / pyvips in the same rounds.",
        "",
    ]
    for measure_, title, unit in (
        ("cpu_ms", "CPU ms per render", "CPU ms"),
        ("p50_ms", "Median latency ms", "p50 ms"),
    ):
        lines += [f"## {title} (c1)", "", head.format(unit + " without -> with")]
        lines += ["|" + "---|" * 8]
        lines += [f"| {r['image']} | {_option(r)} | {_costs(r, measure_)} |" for r in costs]
        lines.append("")
    lines += [f"## Throughput (c{c})", "", "| image | output | server/s | pyvips/s | ratio |"]
    lines += ["|---|---|---|---|---|"]
    for row in results["rows"]:
        rate = row["throughput"]
        lines.append(
            f"| {row['image']} | `{row['token']}` | {rate['server_per_s']:.1f} | "
            f"{rate['pyvips_per_s']:.1f} | {rate['ratio']:.2f}x |"
        )
    lines += ["", "Checks (one render per option and image, against pyvips' own):", ""]
    for name, found in results["check"].items():
        state = "renders" if found["renders"] else "NOT MEASURED: does not render as pyvips does"
        detail = "; ".join(f"{k}: {v}" for k, v in found["images"].items())
        lines.append(f"- {name}: {state} ({detail})")
    return "\n".join(lines) + "\n"


def _option(row: dict[str, Any]) -> str:
    return f"{row['option']}: `{row['base']}` -> `{row['token']}`"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.options", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--renders", type=int, default=20, help="per option, side and round")
    parser.add_argument("--concurrency", default="1,4", help="comma list; 1 gives the costs")
    parser.add_argument("--images", type=int, default=2, help="1: the 2725 px photo only")
    parser.add_argument("--check", action="store_true", help="render each option once, no timing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.concurrency = concurrency = sorted(int(c) for c in args.concurrency.split(","))
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)  # as the server's --vips-concurrency default
    inputs = make_inputs(peers.cache_dir() / "options")
    logo = inputs.pop("logo").read_bytes()
    photos = dict(itertools.islice(inputs.items(), args.images))
    requests = args.rounds * args.renders * len(concurrency)
    copies = 1 + (0 if args.check else math.ceil(requests / len(QUALITIES)))
    marks = f"logo={LOGO_NAMESPACE}/{content_hash(logo)}:{WATERMARK}"
    with ExitStack() as stack:
        server = ImageServer(inputs["1200x980 JPEG"].parent, ["--watermarks", marks])
        stack.callback(shutil.rmtree, server.storage, ignore_errors=True)
        server.start()
        stack.callback(server.stop)
        upload(server, LOGO_NAMESPACE, logo)
        sources = [upload_copies(server, k, p.read_bytes(), copies) for k, p in photos.items()]
        checked = check(server, sources, logo)
        print(json.dumps(checked, indent=2), file=sys.stderr)
        if args.check:
            return 0 if all(found["renders"] for found in checked.values()) else 1
        options = [o for o in OPTIONS if checked[o.name]["renders"] or not o.base]
        warm(server, sources)
        load_before = os.getloadavg()[0]
        runs = measure(server, sources, logo, options, args)
    results = {
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "command": "python -m benchmarks.options "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "rounds": args.rounds,
        "renders": args.renders,
        "concurrency": concurrency,
        "check": checked,
        "rows": summarise(runs, list(photos), options, concurrency[-1]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "options.json").write_text(json.dumps(results, indent=2))
    text = report(results)
    (args.out / "options.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
