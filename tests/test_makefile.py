"""The Makefile a newcomer runs: `make run PORT=... STORAGE=... HOST=...`, a busy port in one
line, and `make test` from ruff to pytest."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_cli import _get_when_up

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

# this interpreter's scripts; the virtualenv is taken as installed (no pip run by a test)
MAKE = ["make", "--no-print-directory", "-C", str(ROOT), "-o", ".venv/.installed"]
MAKE += [f"BIN={Path(sys.executable).parent}"]


def make(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "STORAGE")}
    return subprocess.run(
        [*MAKE, *args], capture_output=True, text=True, timeout=timeout_s, env=env, check=False
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_defaults_and_overrides() -> None:
    assert "serve --host 127.0.0.1 --port 7000 --storage ./data" in make("-n", "run").stdout
    given = make("-n", "run", "PORT=8080", "STORAGE=/tmp/x", "HOST=0.0.0.0").stdout
    assert "serve --host 0.0.0.0 --port 8080 --storage /tmp/x" in given


def test_test_is_ruff_first_and_pytest_last() -> None:
    commands = [
        line.split()[0] for line in make("-n", "test").stdout.splitlines() if line[0] != "#"
    ]
    names = [Path(c).name for c in commands]
    assert (names[0], names[-1]) == ("ruff", "pytest")  # type checks may come between


def test_run_serves_on_the_port_and_storage_given(tmp_path: Path) -> None:
    port = free_port()
    storage = tmp_path / "images"
    command = [*MAKE, "run", f"PORT={port}", f"STORAGE={storage}"]
    running = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        assert b'"imageserver"' in _get_when_up(f"http://127.0.0.1:{port}/")
        assert storage.is_dir()
    finally:
        os.killpg(running.pid, signal.SIGTERM)  # make and the server it started
        running.wait(timeout=10)


def test_run_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = make("run", f"PORT={port}", f"STORAGE={tmp_path / 'data'}")
    ours = [line for line in done.stderr.splitlines() if not line.startswith("make")]
    assert done.returncode != 0
    assert len(ours) == 1, done.stderr  # no traceback
    assert ours[0].startswith(f"imageserver: port {port} on 127.0.0.1 is in use: ")
    assert ours[0].endswith("(make run PORT=...)")  # the way to pick another, from make
