"""`serve --processes N`: N processes share the port, /metrics is the whole server's, a dead
process comes back, SIGTERM stops all of them after their requests finish; a busy port is one
line. Real processes on loopback, started as a user would start them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import image_bytes

START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Supervised:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serving(self) -> list[int]:
        """The pids of the serving processes (not multiprocessing's resource tracker)."""
        pids = []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        for pid in children.read_text().split():
            try:
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(int(pid))
            except FileNotFoundError:
                continue
        return pids

    def get(self, path: str) -> bytes:
        request = urllib.request.Request(self.base + path, headers={"Connection": "close"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.read()

    def metric(self, name: str) -> float:
        for line in self.get("/metrics").decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0


def _wait(predicate: object, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if predicate():  # type: ignore[operator]
                return
        except (OSError, urllib.error.URLError):
            pass
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.1)


def _start(
    tmp_path: Path, port: int, *flags: str, stderr: int | None = None
) -> subprocess.Popen[bytes]:
    """stderr goes to the test's directory unless asked for (`stderr=subprocess.PIPE`)."""
    command = [sys.executable, "-m", "imageserver_cli.main", "serve", "--port", str(port)]
    command += ["--storage", str(tmp_path / "data"), "--log-level", "warning", *flags]
    if stderr is None:
        with (tmp_path / "stderr.log").open("ab") as log:
            return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Supervised]:
    port = _free_port()
    server = Supervised(_start(tmp_path, port, "--processes", "2"), port)
    _wait(lambda: len(server.serving()) == 2 and server.get("/healthz"))
    _wait(lambda: _listeners(port) == 2)
    yield server
    if server.process.poll() is None:
        left = server.serving()
        server.process.kill()
        server.process.wait()
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _listeners(port: int) -> int:
    """Listening TCP sockets on the port, whoever holds them (/proc/net/tcp, state 0A)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1 for row in rows if row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "0A"
    )


def test_processes_share_the_port_and_metrics_add_up(supervised: Supervised) -> None:
    assert _listeners(supervised.port) == 2  # SO_REUSEPORT: one listening socket each
    request = urllib.request.Request(supervised.base + "/p", data=image_bytes("grid.jpg"))
    with urllib.request.urlopen(request, timeout=30) as resp:
        digest = json.loads(resp.read())["hash"]
    path = f"/p/{digest[:3]}/{digest[3:6]}/{digest[6:9]}/{digest[9:]}/w100.jpg"
    for _ in range(40):  # a new connection each: the kernel spreads them over both
        assert supervised.get(path)[:2] == b"\xff\xd8"
    ok = 'imageserver_http_requests_total{method="GET",status="200"}'
    # each process publishes its counts every second: soon every answer is counted once
    _wait(lambda: supervised.metric(ok) >= 40, timeout_s=5)
    assert supervised.metric("imageserver_processes") == 2


def test_a_dead_process_is_replaced_and_the_counts_go_on(supervised: Supervised) -> None:
    ok = 'imageserver_http_requests_total{method="GET",status="200"}'
    for _ in range(20):
        supervised.get("/healthz")
    _wait(lambda: supervised.metric(ok) >= 20, timeout_s=5)
    time.sleep(1.5)  # both have published what they counted
    victim = supervised.serving()[0]
    os.kill(victim, signal.SIGKILL)
    _wait(lambda: victim not in supervised.serving() and len(supervised.serving()) == 2)
    _wait(lambda: _listeners(supervised.port) == 2)
    assert supervised.metric(ok) >= 20  # the new process took up the dead one's counts


def test_sigterm_stops_every_process_after_its_requests(supervised: Supervised) -> None:
    """A render in progress when the stop begins (a 2725 px GIF takes seconds) is answered,
    then every process exits. (aiohttp drops the rest of a body still arriving at a stop, so
    an upload must have been received whole to be finished.)"""
    request = urllib.request.Request(
        supervised.base + "/p", data=image_bytes("2569067123_aca715a2ee_o.jpg")
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        digest = json.loads(resp.read())["hash"]
    path = f"/p/{digest[:3]}/{digest[3:6]}/{digest[6:9]}/{digest[9:]}/w2725.gif"
    with socket.create_connection(("127.0.0.1", supervised.port)) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        time.sleep(0.5)  # rendering
        serving = supervised.serving()
        supervised.process.send_signal(signal.SIGTERM)
        answer = b""
        while chunk := client.recv(1 << 20):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b"\r\n\r\nGIF89a" in answer
    assert supervised.process.wait(timeout=30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in serving)
    assert _listeners(supervised.port) == 0


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for flags in ([], ["--processes", "2"]):
            process = _start(tmp_path, port, *flags, stderr=subprocess.PIPE)
            _, stderr = process.communicate(timeout=START_TIMEOUT_S)
            assert process.returncode == 1
            lines = stderr.decode().strip().splitlines()
            assert len(lines) == 1, lines
            assert f"port {port}" in lines[0]
