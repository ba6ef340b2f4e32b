"""docker-compose.yml's server and worker services as local processes: the commands and
environments it names, run from the project's own `imageserver` (docker is not available here).

Only addresses change: each compose service's `host:port` becomes a loopback one, and the server's
`--host`/`--port` a loopback port. Test-sized timings and loopback sources are added on top, each
named in TEST_SIZED, so what runs is otherwise exactly what the file says.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
BINARY = Path(sys.executable).with_name("imageserver")  # .venv/bin/imageserver
# What the test needs beyond the compose file: sources on loopback (a deployment refuses them),
# a dead worker's jobs taken back within seconds, and small pools for a 2-core machine.
TEST_SIZED = {
    "IMAGESERVER_ALLOW_PRIVATE_SOURCES": "true",
    "IMAGESERVER_JOB_HEARTBEAT_S": "1",
    "IMAGESERVER_JOB_RETRY_DELAY_S": "0.05",
    "IMAGESERVER_JOB_CONCURRENCY": "2",
    "IMAGESERVER_RENDER_WORKERS": "2",
    "IMAGESERVER_PDF_WORKERS": "1",
    "IMAGESERVER_INSTANCE_HEARTBEAT_S": "1",
    "IMAGESERVER_LOG_LEVEL": "warning",
}
# AWS's own configuration is never read: the credentials are the compose file's settings.
NO_AWS_CONFIG = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
HOST_PORT = re.compile(r"\b([a-z][a-z0-9_-]*):(\d+)\b")


@dataclass(frozen=True)
class Service:
    command: list[str]
    environment: dict[str, str]


def load(path: Path = COMPOSE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def service(compose: dict[str, Any], name: str) -> Service:
    found = compose["services"][name]
    environment = {key: str(value) for key, value in found.get("environment", {}).items()}
    return Service([str(arg) for arg in found["command"]], environment)


def named_hosts(environment: dict[str, str]) -> set[str]:
    """The `host:port` addresses an environment names (redis:6379, minio:9000, ...)."""
    return {f"{m[1]}:{m[2]}" for value in environment.values() for m in HOST_PORT.finditer(value)}


def localize(found: Service, addresses: dict[str, str], port: int | None = None) -> Service:
    """`addresses`: each compose `host:port` to a loopback `127.0.0.1:port`; `port`: the one the
    server listens on, on 127.0.0.1."""
    missing = named_hosts(found.environment) - addresses.keys()
    if missing:
        raise ValueError(f"no loopback address for {sorted(missing)}")
    environment = {
        key: HOST_PORT.sub(lambda m: addresses.get(m[0], m[0]), value)
        for key, value in found.environment.items()
    }
    command = list(found.command)
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        if flag in command:
            command[command.index(flag) + 1] = value
    return Service(command, environment)


@dataclass
class Process:
    """One of the cluster's processes, in its own process group (PDF workers included)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def kill_9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        with contextlib.suppress(ProcessLookupError):  # children of a leader killed earlier
            os.killpg(self.popen.pid, signal.SIGKILL)  # (PDF workers) are still in its group


def start(
    name: str, found: Service, directory: Path, sized: dict[str, str] = TEST_SIZED
) -> Process:
    """`imageserver` + the service's command, with its environment, `sized` on top, and nothing
    of this process's environment but PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(directory), **NO_AWS_CONFIG}
    env |= found.environment | sized
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [str(BINARY), *found.command],
            cwd=directory,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, popen, log)


def start_moto(port: int) -> subprocess.Popen[bytes]:
    """moto's server mode in a process of its own, in place of the compose file's MinIO (the
    cluster's four processes call it; the test's threads would slow it), with
    tests/s3_fixtures.py's fix to the fake applied. Any credentials pass."""
    code = "import sys, threading, tests.s3_fixtures as s;"
    code += "s.start_moto(int(sys.argv[1])); threading.Event().wait()"
    command = [sys.executable, "-c", code, str(port)]
    popen = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for_port(port, popen, "moto")
    return popen


def wait_for_port(port: int, popen: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        if popen.poll() is not None:
            raise RuntimeError(f"{what} exited with {popen.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on {port} within 20 s") from None
            time.sleep(0.05)
