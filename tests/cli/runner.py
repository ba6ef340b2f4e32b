"""Runs `imageserver` as users do: a real subprocess, with its exit code, JSON lines and stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import image_bytes

CLI = [sys.executable, "-m", "imageserver_cli.main"]
TIMEOUT_S = 60
PHOTO = "2569067123_aca715a2ee_o.jpg"  # 2725x2225: slow enough to interrupt mid-batch


@dataclass(frozen=True)
class Run:
    returncode: int
    lines: list[dict[str, Any]]
    stderr: str

    def by_path(self) -> dict[str, dict[str, Any]]:
        return {line["path"]: line for line in self.lines}


def environment() -> dict[str, str]:
    """The caller's environment without IMAGESERVER_* settings, which would change the run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}


def run_cli(*args: str | Path, stdin: str | None = None) -> Run:
    done = subprocess.run(
        [*CLI, *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=environment(),
        check=False,
    )
    return Run(done.returncode, parse_lines(done.stdout), done.stderr)


def parse_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def interrupted_run(*args: str | Path, presses: int) -> Run:
    """Starts a run, presses Ctrl-C `presses` times once the first file is reported."""
    process = subprocess.Popen(
        [*CLI, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    for _ in range(presses):
        process.send_signal(signal.SIGINT)
    rest, stderr = process.communicate(timeout=TIMEOUT_S)
    return Run(process.returncode, parse_lines(first + rest), stderr)


def distinct_copies(directory: Path, name: str, count: int) -> list[Path]:
    """The same pixels under different hashes: libvips ignores bytes after a JPEG's end."""
    directory.mkdir(parents=True, exist_ok=True)
    data = image_bytes(name)
    paths = [directory / f"copy-{i:03d}.jpg" for i in range(count)]
    for i, path in enumerate(paths):
        path.write_bytes(data + f"copy {i}".encode())
    return paths


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())
