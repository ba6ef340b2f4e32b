"""`imageserver process` against a plain in-process pyvips loop doing the same renders, in one run.

    python -m benchmarks.cli_process [--rounds 3] [--files 200] [--jobs N]

Makes `--files` distinct copies of the 2725x2225 JPEG (the same bytes plus a different tail after
the EOI marker, so every hash differs and every file really renders, while the pixels decode the
same), then interleaves rounds of (a) `imageserver process --outputs x300.jpg,x300.webp DIR`
into fresh storage, run as the user runs it (a subprocess, start-up included), and (b) a
thread pool of `--jobs` threads reading each file, rendering both outputs with
`thumbnail_buffer` + save, and writing them to files. Reports images per second and the ratio,
and CPU milliseconds per image (user + system), which other load on the machine disturbs less.

Every round writes into directories of its own, and all are deleted at the end, not between
rounds. On ext4 without a journal (this project's CI and dev machines), creating an inode scans
past the ones freed in the last minutes (the kernel's `recently_deleted`): right after a round's
1600 files and directories were deleted, each `mkdir` of the next round cost about 0.5 ms of
kernel time instead of 0.03 ms, a cost of the benchmark's own clean-up, not of the command.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyvips

from benchmarks.images import PHOTO
from imageserver.formats import OUTPUT_FORMATS

OUTPUTS = "x300.jpg,x300.webp"
SIDE = 300
# The server's saver options, read from its format table, so both sides encode alike.
SAVERS = {
    OUTPUT_FORMATS[ext].saver_suffix: OUTPUT_FORMATS[ext].save_options(None)
    for ext in ("jpg", "webp")
}


def make_copies(directory: Path, count: int) -> list[Path]:
    """libvips ignores bytes after a JPEG's EOI, even with fail_on=error (checked below)."""
    data = PHOTO.read_bytes()
    paths = []
    for i in range(count):
        path = directory / f"photo-{i:04d}.jpg"
        path.write_bytes(data + f"copy {i}".encode())
        paths.append(path)
    check = pyvips.Image.new_from_file(str(paths[-1]), fail_on="error")
    assert (check.width, check.height, check.avg()) == (
        2725,
        2225,
        pyvips.Image.new_from_buffer(data, "").avg(),
    )
    return paths


class Measure:
    """Wall time and CPU time (of this process or of its finished children) over a block."""

    def __init__(self, who: int) -> None:
        self.who = who

    def __enter__(self) -> Measure:
        self.wall_s, self.cpu_s = time.perf_counter(), self._cpu_s()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall_s = time.perf_counter() - self.wall_s
        self.cpu_s = self._cpu_s() - self.cpu_s

    def _cpu_s(self) -> float:
        usage = resource.getrusage(self.who)
        return usage.ru_utime + usage.ru_stime

    def per_image(self, images: int) -> tuple[float, float]:
        """(images per second, CPU ms per image)"""
        return images / self.wall_s, 1000 * self.cpu_s / images


def compile_bytecode() -> None:
    """As `pip install` does for the package: an editable install under PYTHONDONTWRITEBYTECODE
    (set on our machines) would compile every module from source at each start, 45 ms."""
    root = Path(__file__).resolve().parents[1]
    for package in ("imageserver", "cli"):  # cli/ is the imageserver_cli package
        compileall.compile_dir(root / package, quiet=1)


def through_cli(directory: Path, storage: Path, jobs: int) -> tuple[float, float]:
    """The command as a user runs it, start-up included, into a fresh storage."""
    command = [sys.executable, "-m", "imageserver_cli.main", "process", "--storage", str(storage)]
    command += ["--outputs", OUTPUTS, "--jobs", str(jobs), str(directory)]
    with Measure(resource.RUSAGE_CHILDREN) as measure:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # 0: every file stored
        raise RuntimeError(done.stderr)
    return measure.per_image(len(done.stdout.splitlines()))


def plain_loop(paths: list[Path], out: Path, jobs: int) -> tuple[float, float]:
    """pyvips alone: read, one thumbnail kept in memory, two saves, two writes.

    The strongest plain loop: both outputs share one size, so it decodes once, as the CLI does.
    """
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)  # as the server's --vips-concurrency default; one file per thread

    def one(path: Path, out: Path) -> None:
        data = path.read_bytes()
        image = pyvips.Image.thumbnail_buffer(
            data, SIDE, height=SIDE, crop="centre", option_string="fail_on=error"
        ).copy_memory()
        for suffix, options in SAVERS.items():
            (out / (path.name + suffix)).write_bytes(image.write_to_buffer(suffix, **options))

    out.mkdir()
    with ThreadPoolExecutor(jobs) as pool, Measure(resource.RUSAGE_SELF) as measure:
        list(pool.map(lambda p: one(p, out), paths))
    return measure.per_image(len(paths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--workdir",
        help="where inputs and outputs go (default: the system's temp directory)",
    )
    args = parser.parse_args()
    compile_bytecode()
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        inputs = Path(work, "inputs")
        inputs.mkdir()
        paths = make_copies(inputs, args.files)
        cli, plain = [], []
        for i in range(args.rounds):  # interleaved, so drift in the machine hits both alike
            plain.append(plain_loop(paths, Path(work, f"plain-{i}"), args.jobs))
            cli.append(through_cli(inputs, Path(work, f"cli-{i}"), args.jobs))
    print(json.dumps(report(cli, plain) | {"files": args.files, "jobs": args.jobs}, indent=2))


def report(cli: list[tuple[float, float]], plain: list[tuple[float, float]]) -> dict[str, object]:
    rate = {
        "cli": statistics.median(r for r, _ in cli),
        "plain": statistics.median(r for r, _ in plain),
    }
    cpu = {
        "cli": statistics.median(c for _, c in cli),
        "plain": statistics.median(c for _, c in plain),
    }
    paired = [c / p for (c, _), (p, _) in zip(cli, plain, strict=True)]
    return {
        "images_per_s": rate,
        "ratio": rate["cli"] / rate["plain"],
        # each round's two runs are back to back: their ratio is what drift in the machine
        # (other tenants come and go) disturbs least
        "ratio_per_round": paired,
        "ratio_median_of_rounds": statistics.median(paired),
        "cpu_ms_per_image": cpu,
        "cpu_ratio": cpu["plain"] / cpu["cli"],
        "rounds_images_per_s": {"cli": [r for r, _ in cli], "plain": [r for r, _ in plain]},
    }


if __name__ == "__main__":
    main()
