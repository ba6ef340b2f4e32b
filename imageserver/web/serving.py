"""Running the app: in this process, or in `--processes N` that share the listening port.

With N > 1 this process is a supervisor that serves nothing itself. Each serving process binds
the port with SO_REUSEPORT, so the kernel spreads new connections over their listening
sockets; each has its own render pool, memory cache and job workers, and /metrics adds up all
of them (siblings.py). A serving process that dies is started again; SIGTERM or SIGINT stops
every one gracefully (in-flight requests finish), then the supervisor.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import shutil
import signal
import socket
import tempfile
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from aiohttp import web

from .. import eventloop, logconfig
from ..settings import Settings
from .app import SERVER_OPTIONS, create_app
from .siblings import Siblings

log = logging.getLogger(__name__)

SHUTDOWN_S = 60.0  # in-flight requests get this long at a stop (aiohttp's run_app default)
RESTART_DELAY_S = 1.0
# A serving process that dies this soon after starting, this many times in a row, cannot
# start at all (a bad setting, the port taken): the supervisor gives up instead of looping.
EARLY_DEATH_S = 5.0
EARLY_DEATHS = 3


class PortBusy(OSError):
    """Something else listens on the port: one clear line at start, not a restart loop."""


def serve(settings: Settings) -> int:
    """Serves until stopped; the exit status of the command."""
    check_port(settings.host, settings.port)
    if settings.processes == 1:
        run_one(settings)
        return 0
    return Supervisor(settings).run()


def check_port(host: str, port: int) -> None:
    """Binds and lets go: a listener already there (ours or not) is found before any process
    starts. Connections in TIME_WAIT do not count (SO_REUSEADDR)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortBusy(exc.errno, f"port {port} on {host} is in use") from None
            raise


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def run_one(settings: Settings, siblings: Siblings | None = None) -> None:
    """One serving process; `siblings`: it is one of N, so it shares the port (and N banners
    would say the same thing: only the supervisor's log line says where it serves)."""
    access_log = logging.getLogger("aiohttp.access") if settings.access_log else None
    web.run_app(
        create_app(settings, siblings),
        host=settings.host,
        port=settings.port,
        reuse_port=siblings is not None,
        access_log=access_log,
        shutdown_timeout=SHUTDOWN_S,
        loop=eventloop.new_event_loop(),
        print=print if siblings is None else None,
        **SERVER_OPTIONS,
    )


def _serving_process(settings: Settings, siblings: Siblings) -> None:
    """The entry point of each serving process (spawned: a fresh interpreter, no threads)."""
    logconfig.configure(settings.log_level)
    run_one(settings, siblings)


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = Path(tempfile.mkdtemp(prefix="imageserver-siblings-"))
        self._context = multiprocessing.get_context("spawn")
        self._processes: dict[int, BaseProcess] = {}
        self._started_at: dict[int, float] = {}
        self._early_deaths = 0
        self._stopping = False

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for index in range(self.settings.processes):
                self._start(index)
            log.info(
                "serving on http://%s:%d with %d processes",
                self.settings.host,
                self.settings.port,
                self.settings.processes,
            )
            status = self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            shutil.rmtree(self.directory, ignore_errors=True)
        return status

    def _start(self, index: int) -> None:
        siblings = Siblings(self.directory, index)
        process = self._context.Process(
            target=_serving_process,
            args=(self.settings, siblings),
            name=f"imageserver-{index}",
        )
        process.start()
        self._processes[index] = process
        self._started_at[index] = time.monotonic()

    def _watch(self) -> int:
        """Restarts processes that die, until a stop signal (0) or they cannot start (1)."""
        while not self._stopping:
            wait([p.sentinel for p in self._processes.values()], timeout=0.5)
            for index, process in list(self._processes.items()):
                if self._stopping or process.is_alive():
                    continue
                if not self._restartable(index, process):
                    return 1
                time.sleep(RESTART_DELAY_S)
                self._start(index)
        return 0

    def _restartable(self, index: int, process: BaseProcess) -> bool:
        lived_s = time.monotonic() - self._started_at[index]
        log.error(
            "serving process %d (pid %s) exited with %s after %.1f s",
            index,
            process.pid,
            process.exitcode,
            lived_s,
        )
        self._early_deaths = self._early_deaths + 1 if lived_s < EARLY_DEATH_S else 0
        if self._early_deaths >= EARLY_DEATHS:
            log.error("serving processes keep dying at start; stopping")
            return False
        return True

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def _stop_all(self) -> None:
        """SIGTERM: each finishes its requests and stops its workers; SIGKILL past the limit."""
        alive = [p for p in self._processes.values() if p.is_alive()]
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        deadline = time.monotonic() + SHUTDOWN_S + 5
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("serving process %s did not stop in time: killed", process.pid)
                process.kill()
                process.join()
