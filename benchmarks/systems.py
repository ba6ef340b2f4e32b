"""The systems under test, each a server on a free loopback port, started and stopped here.

Every system answers `url(file, width, fmt)` for the same resize of the same source file, or
None where it cannot produce that format. `Limit` is the reference: the same renders done
in-process by pyvips, with no HTTP at all.
"""

from __future__ import annotations

import abc
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import aiohttp
import pyvips

from imageserver.formats import OUTPUT_FORMATS

from .load import Result

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server(abc.ABC):
    """A server process (and its children): started in its own session, stopped as a group."""

    name = "server"

    def __init__(self, command: list[str], port: int, cwd: Path | None = None) -> None:
        self.command = command
        self.port = port
        self.cwd = cwd
        self.base = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not start: {' '.join(self.command)}")

    def stop(self) -> None:
        if self.process is None:
            return
        for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(wait_s)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        self.process = None

    @abc.abstractmethod
    def url(self, file: str, width: int, fmt: str) -> str | None:
        """This system's URL for `w{width}` of `file` as `fmt`; None if it cannot make it."""


class ImageServer(Server):
    name = "imageserver"

    def __init__(
        self, images: Path, extra_args: list[str] | None = None, name: str | None = None
    ) -> None:
        self.images = images
        self.name = name or self.name
        self.storage = Path(tempfile.mkdtemp(prefix="bench-storage-"))
        port = free_port()
        command = [sys.executable, "-m", "imageserver_cli.main", "serve", "--port", str(port)]
        command += ["--storage", str(self.storage), "--log-level", "warning", *(extra_args or [])]
        super().__init__(command, port)
        self.paths: dict[str, str] = {}

    def start(self) -> None:
        super().start()
        self.paths = asyncio.run(self._upload_all())

    async def _upload_all(self) -> dict[str, str]:
        paths = {}
        async with aiohttp.ClientSession() as session:
            for image in sorted(self.images.iterdir()):
                async with session.post(f"{self.base}/p", data=image.read_bytes()) as resp:
                    h = (await resp.json())["hash"]
                paths[image.name] = f"/p/{h[:3]}/{h[3:6]}/{h[6:9]}/{h[9:]}"
        return paths

    def url(self, file: str, width: int, fmt: str) -> str | None:
        return f"{self.base}{self.paths[file]}/w{width}.{fmt}"


class Thumbor(Server):
    """thumbor 7 in its best configuration here: one process per core, no storages."""

    name = "thumbor"
    _FORMATS: ClassVar[dict[str, str]] = {"jpg": "jpeg", "webp": "webp", "png": "png"}

    def __init__(self, binary: Path, images: Path) -> None:
        conf = Path(tempfile.mkdtemp(prefix="bench-thumbor-")) / "thumbor.conf"
        conf.write_text(
            "LOADER = 'thumbor.loaders.file_loader'\n"
            f"FILE_LOADER_ROOT_PATH = '{images}'\n"
            "STORAGE = 'thumbor.storages.no_storage'\n"
            "RESULT_STORAGE = None\n"
            "ALLOW_UNSAFE_URL = True\n"
            "QUALITY = 80\n"
            "MAX_AGE = 0\n"
        )
        port = free_port()
        command = [str(binary), "-p", str(port), "-i", "127.0.0.1", "-c", str(conf)]
        super().__init__([*command, "--processes", "0", "-l", "error"], port)

    def url(self, file: str, width: int, fmt: str) -> str | None:
        if fmt not in self._FORMATS:
            return None
        return f"{self.base}/unsafe/{width}x0/filters:format({self._FORMATS[fmt]})/{file}"


class Ipx(Server):
    """ipx 3 (sharp, the libvips binding for Node) serving the same directory. Not for AVIF:
    sharp encodes it at effort 4, 0.2-5 renders/s here (2026-11-30 run), which would take most
    of a run for rows nobody compares on."""

    name = "ipx"

    def __init__(self, binary: Path, images: Path) -> None:
        port = free_port()
        command = [str(binary), "serve", "--dir", str(images), "--port", str(port)]
        super().__init__([*command, "--host", "127.0.0.1"], port, cwd=binary.parent.parent.parent)

    def url(self, file: str, width: int, fmt: str) -> str | None:
        if fmt == "avif":
            return None
        fmt = "jpeg" if fmt == "jpg" else fmt
        return f"{self.base}/w_{width},f_{fmt},q_80/{file}"


class Limit:
    """The reference: the same renders by a plain loop calling pyvips `thumbnail_buffer` and a
    save in-process, on as many threads as connections, with no HTTP and no storage."""

    name = "pyvips thumbnail loop"

    def __init__(self, images: Path) -> None:
        pyvips.cache_set_max(0)
        self.data = {p.name: p.read_bytes() for p in images.iterdir()}

    def render(self, file: str, width: int, fmt: str) -> bytes:
        options = OUTPUT_FORMATS[fmt].save_options(None)
        image = pyvips.Image.thumbnail_buffer(self.data[file], width)
        if not OUTPUT_FORMATS[fmt].alpha and image.hasalpha():
            image = image.flatten(background=[255, 255, 255])
        return image.write_to_buffer(OUTPUT_FORMATS[fmt].saver_suffix, **options)

    def run(self, jobs: list[tuple[str, int, str]], threads: int) -> Result:
        latencies: list[float] = []

        def one(job: tuple[str, int, str]) -> None:
            started = time.perf_counter()
            self.render(*job)
            latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, jobs))
        return Result(len(jobs), time.perf_counter() - started, latencies)


class Nginx(Server):
    """nginx on loopback: `front` runs deploy/nginx.conf before the app (its workers: one per
    core); otherwise plain nginx serving the same storage directory with `workers` worker
    processes ("auto": one per core), the reference for serving a file from disk."""

    def __init__(
        self, binary: str, ours: ImageServer, *, front: bool, workers: str = "auto"
    ) -> None:
        from deploy import nginx_conf  # the repository's deploy/, as the tests use it

        count = "1 worker" if workers == "1" else f"{workers} workers"
        self.name = "nginx front" if front else f"nginx static ({count})"
        directory = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        port = free_port()
        conf = directory / "nginx.conf"
        if front:
            conf.write_text(nginx_conf.render(directory, ours.storage, ours.port, port))
        else:
            conf.write_text(_static_conf(directory, ours.storage, port, workers))
        super().__init__(nginx_conf.command(binary, directory, conf), port)
        self.ours = ours

    def url(self, file: str, width: int, fmt: str) -> str | None:
        return f"{self.base}{self.ours.paths[file]}/w{width}.{fmt}"


def _static_conf(directory: Path, root: Path, port: int, workers: str) -> str:
    from deploy import nginx_conf

    return (
        f"worker_processes {workers};\nerror_log {directory}/error.log warn;\n"
        f"pid {directory}/nginx.pid;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n{nginx_conf.temp_paths(directory)}    types {{ image/jpeg jpg; }}\n"
        "    sendfile on;\n    access_log off;\n"
        f"    server {{\n        listen 127.0.0.1:{port};\n        root {root};\n"
        '        add_header Cache-Control "public, max-age=31536000, immutable";\n'
        "    }\n}\n"
    )
