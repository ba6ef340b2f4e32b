"""`imageserver process PATH...`: files stored as uploads would be, one JSON line per input.

The work is `imageserver.batch` over `build_services`; this module parses arguments, sizes the
pool from --jobs, handles Ctrl-C, and prints lines, the progress bar and the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO

from imageserver import blocking, eventloop, settings
from imageserver.batch import STDIN, Batch, Failed, Feeder, Result, walk
from imageserver.errors import ImageServerError
from imageserver.keys import check_namespace
from imageserver.services import build_services
from imageserver.settings import Settings
from imageserver.transform import Transform

from .arguments import output_tokens, positive_int
from .output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, bad_arguments, emit, quiet_libvips
from .progress import ProgressBar
from .setting_groups import COMMAND_SETTINGS

FILES_PER_JOB = 2  # files in flight per render thread: one renders while the other reads/writes


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "process",
        help="store files as uploads would, with their outputs",
        description="Store each file exactly as an upload to the server would (same hash, "
        "layout, info.json and outputs), so a server on the same storage serves them at once. "
        "Prints one JSON line per input; reruns skip what is done. Exit status: 0 all stored, "
        "1 some failed, 2 bad arguments, 130 interrupted. The settings below, and any other "
        "from IMAGESERVER_* env or --config, apply as for serve.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a file, a directory (recursed), or - for paths on stdin, one a line",
    )
    parser.add_argument("--namespace", default="p", help="namespace to store into (default: p)")
    parser.add_argument(
        "--outputs",
        default="",
        metavar="TOKENS",
        help="outputs to render for every file, e.g. x300.webp,x300.jpg (--upload-outputs "
        "and the namespace's --namespace-outputs are added)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        metavar="N",
        help="render threads; twice as many files in flight (default: --render-workers, "
        "0 meaning one per core)",
    )
    parser.add_argument(
        "--force", action="store_true", help="render outputs again even where they are stored"
    )
    settings.add_arguments(parser, COMMAND_SETTINGS["process"])
    parser.set_defaults(run=run)


def run(config: Settings, args: argparse.Namespace) -> int:
    try:
        outputs = output_tokens(args.outputs.split(","), config.max_output_side)
        check_namespace(args.namespace)
    except ImageServerError as exc:
        return bad_arguments("process", exc.message)
    quiet_libvips()
    jobs = args.jobs or config.resolved_render_workers()
    per_file = (
        len(outputs)
        + len(config.upload_outputs)
        + len(config.namespace_outputs.get(args.namespace, []))
    )
    return eventloop.run(_process(batch_settings(config, jobs, per_file), args, outputs))


def batch_settings(config: Settings, jobs: int, outputs_per_file: int) -> Settings:
    """The server's settings, with the pool sized by --jobs.

    The pool takes every render of the files in flight (the batch bounds them itself, so it must
    never answer 'overloaded'), and the memory cache goes: a batch never reads an output twice.
    """
    return dataclasses.replace(
        config,
        render_workers=jobs,
        render_queue=jobs * FILES_PER_JOB * (outputs_per_file + 1),
        memory_cache_bytes=0,
    )


async def _process(config: Settings, args: argparse.Namespace, outputs: list[Transform]) -> int:
    services = build_services(config, blocking.inline)  # see imageserver/blocking.py
    await services.open()
    tally = Tally(ProgressBar(sys.stderr) if sys.stderr.isatty() else None)
    try:
        batch = Batch(services, args.namespace, outputs, force=args.force)
        feeder = Feeder(batch, config.render_workers * FILES_PER_JOB, tally.add)
        if tally.progress:
            tally.progress.count_in_background(args.paths)
        paths = walk(args.paths, _stdin_reader() if STDIN in args.paths else io.BytesIO())
        interrupted = await _feed_until_done(feeder, paths, tally)
    finally:
        await services.close()
    tally.finish(interrupted)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if tally.counts["failed"] else EXIT_OK


def _stdin_reader() -> BinaryIO:
    """A reader of our own on fd 0: the walk's daemon thread may still be blocked in it at exit,
    and Python aborts at shutdown when that happens inside sys.stdin."""
    return open(0, "rb", closefd=False)


async def _feed_until_done(feeder: Feeder, paths: Iterator[str | Failed], tally: Tally) -> bool:
    """Returns True when stopped early. Ctrl-C (or SIGTERM, or stdout closing) once: take no new
    files and finish those in flight; twice: abandon those too. Writes are atomic either way."""
    loop = asyncio.get_running_loop()
    feeding = asyncio.create_task(feeder.feed(paths))
    stops = 0

    def stop() -> None:
        nonlocal stops
        stops += 1
        if stops == 1:
            feeding.cancel()
        else:
            feeder.abandon()

    tally.on_stdout_closed = stop
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    try:
        await asyncio.wait({feeding})
        if not feeding.cancelled():
            feeding.result()  # a broken walk is a bug: let it show
        await feeder.drain()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return stops > 0


class Tally:
    """Counts results and prints each as a JSON line, keeping the progress bar below them."""

    def __init__(self, progress: ProgressBar | None) -> None:
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self.on_stdout_closed = lambda: None
        # lines and bar on one terminal: the bar steps aside for each line, then comes back
        self._interleaved = progress is not None and sys.stdout.isatty()

    def add(self, result: Result) -> None:
        self.counts[_outcome(result)] += 1
        if self.progress and self._interleaved:
            self.progress.clear()
        try:
            emit(result.to_json())
        except BrokenPipeError:  # `process ... | head`: stop as Ctrl-C would
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            self.on_stdout_closed()
        if self.progress:
            self.progress.draw(self.done, self.counts["failed"], force=self._interleaved)

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def finish(self, interrupted: bool) -> None:
        if self.progress:
            self.progress.clear()
        print(self.summary(time.monotonic() - self.started, interrupted), file=sys.stderr)

    def summary(self, elapsed_s: float, interrupted: bool) -> str:
        rate = self.done / elapsed_s if elapsed_s > 0 else 0.0
        counts = ", ".join(f"{self.counts[k]} {k}" for k in ("stored", "skipped", "failed"))
        files = f"{self.done} file" + ("" if self.done == 1 else "s")
        text = f"imageserver process: {files} in {elapsed_s:.1f} s ({rate:.1f}/s): "
        text += counts
        if interrupted:
            text += "; interrupted, the rest is left for the next run"
        return text


def _outcome(result: Result) -> str:
    if isinstance(result, Failed):
        return "failed"
    return "skipped" if result.skipped else "stored"
