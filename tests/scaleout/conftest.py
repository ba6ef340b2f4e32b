"""The compose file's deployment on loopback: moto in place of MinIO, one real redis-server, two
servers and two workers (its commands, tests/scaleout/compose.py), a real nginx before the
servers with deploy/nginx-s3.conf, and an origin serving the test's sources."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from deploy import nginx_conf
from tests.jobs.conftest import redis_server, redis_url  # noqa: F401 (fixtures)
from tests.s3_fixtures import free_port, raw_client
from tests.scaleout import compose

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


@pytest.fixture
def moto_process(aws_env: None) -> Iterator[str]:
    port = free_port()
    process = compose.start_moto(port)
    yield f"http://127.0.0.1:{port}"
    process.kill()
    process.wait(10)


@dataclass
class Sources:
    """`/src/{name}?delay=s`: bytes the test put under `name`, after `delay` seconds."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, name: str, data: bytes, delay_s: float = 0.0) -> str:
        self.files[name] = data
        return f"{self.url}/src/{name}?delay={delay_s}"

    async def serve(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", 0)))
        return web.Response(body=self.files[request.match_info["name"]])


@pytest.fixture
async def sources() -> AsyncIterator[Sources]:
    found = Sources()
    app = web.Application()
    app.router.add_get("/src/{name}", found.serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield found
    await runner.cleanup()


@dataclass
class Cluster:
    front: str  # nginx
    servers: list[compose.Process]
    server_urls: list[str]
    workers: list[compose.Process]
    bucket: str
    prefix: str
    s3_endpoint: str
    redis_url: str


def _bucket_and_prefix(storage: str) -> tuple[str, str]:
    parts = urlsplit(storage)
    return parts.netloc, parts.path.strip("/")


@pytest.fixture
async def cluster(
    tmp_path: Path,
    moto_process: str,
    redis_url: str,  # noqa: F811 (the imported fixture)
) -> AsyncIterator[Cluster]:
    """Two servers and two workers as the compose file runs them, behind nginx, all up."""
    if NGINX is None:
        pytest.skip("no nginx binary (.ci/run installs it)")
    spec = compose.load()
    server, worker = compose.service(spec, "server"), compose.service(spec, "worker")
    front_port, server_ports = free_port(), [free_port(), free_port()]
    addresses = {
        "minio:9000": urlsplit(moto_process).netloc,
        "redis:6379": urlsplit(redis_url).netloc,
        "localhost:8080": f"127.0.0.1:{front_port}",  # the public URL: nginx's
    }
    bucket, prefix = _bucket_and_prefix(server.environment["IMAGESERVER_STORAGE"])
    raw_client(moto_process).create_bucket(Bucket=bucket)  # the compose file's `bucket` service
    processes: list[compose.Process] = []
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for i, port in enumerate(server_ports):
            local = compose.localize(server, addresses, port)
            processes.append(compose.start(f"server{i}", local, tmp_path / f"server{i}"))
        for i in range(2):
            local = compose.localize(worker, addresses)
            processes.append(compose.start(f"worker{i}", local, tmp_path / f"worker{i}"))
        nginx = _start_nginx(tmp_path / "nginx", server_ports, front_port)
        server_urls = [f"http://127.0.0.1:{port}" for port in server_ports]
        await _healthy([*server_urls, f"http://127.0.0.1:{front_port}"], processes)
        yield Cluster(
            f"http://127.0.0.1:{front_port}",
            processes[:2],
            server_urls,
            processes[2:],
            bucket,
            prefix,
            moto_process,
            redis_url,
        )
    finally:
        for process in processes:
            process.stop()
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)


def _start_nginx(directory: Path, app_ports: list[int], port: int) -> subprocess.Popen[bytes]:
    directory.mkdir()
    conf = directory / "nginx.conf"
    conf.write_text(nginx_conf.render_upstream(directory, app_ports, port))
    assert NGINX is not None
    process = subprocess.Popen(nginx_conf.command(NGINX, directory, conf))
    compose.wait_for_port(port, process, "nginx")
    return process


async def _healthy(urls: list[str], processes: list[compose.Process]) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        for url in urls:
            while not await _answers(session, url + "/healthz"):
                for process in processes:
                    assert process.popen.poll() is None, process.log.read_text()
                assert time.monotonic() < deadline, f"{url} not healthy within 30 s"
                await asyncio.sleep(0.1)


async def _answers(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url) as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False
