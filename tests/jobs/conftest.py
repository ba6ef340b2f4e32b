"""Jobs fixtures: a loopback origin and callback receiver, a real redis-server, job servers.

The origin serves test images and records what it saw (concurrency per path, headers, order);
the receiver records callbacks and can be told to fail the first ones.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import web

from imageserver.jobs.backends import Backend, open_backend
from tests.conftest import Server, ServerFactory, image_bytes
from tests.s3_fixtures import free_port

FINISHED = {"succeeded", "failed", "cancelled"}
# Test-sized timings: retries in tens of milliseconds, stuck jobs noticed within two seconds.
FAST = {
    "job_retry_delay_s": 0.05,
    "job_heartbeat_s": 2,
    "source_timeout_s": 3.0,
    "callback_timeout_s": 2.0,
}


@dataclass
class Origin:
    """`/img/{name}?delay=s&fail=n&type=mime`: an image of test/images, slow, failing n times."""

    url: str = ""
    active: int = 0
    most_active: int = 0
    requests: list[web.Request] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def image(self, name: str = "grid.jpg", **params: Any) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.url}/img/{name}" + (f"?{query}" if query else "")

    async def serve(self, request: web.Request) -> web.StreamResponse:
        async with self.arrived:
            self.requests.append(request)
            self.arrived.notify_all()
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            return await self._answer(request)
        finally:
            self.active -= 1

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> None:
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: len(self.requests) >= count), timeout_s
            )

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        if "hold" in query:
            await self.release.wait()
        await asyncio.sleep(float(query.get("delay", 0)))
        seen = self.failures.get(request.path_qs, 0)
        if seen < int(query.get("fail", 0)):
            self.failures[request.path_qs] = seen + 1
            return web.Response(status=int(query.get("status", 503)))
        name = request.match_info["name"]
        if name == "missing":
            return web.Response(status=404)
        content_type = query.get("type", "application/octet-stream")
        return web.Response(body=image_bytes(name), content_type=content_type)


@dataclass
class Receiver:
    """Records each callback (headers, raw body); answers `fail_first` of them with a 500."""

    url: str = ""
    fail_first: int = 0
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self.arrived:
            self.calls.append((dict(request.headers), body))
            self.arrived.notify_all()
        return web.Response(status=500 if len(self.calls) <= self.fail_first else 200)

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[tuple[dict, bytes]]:
        return await self.wait_until(lambda calls: len(calls) >= count, timeout_s)

    async def wait_until(
        self, done: Callable[[list[tuple[dict, bytes]]], bool], timeout_s: float = 10.0
    ) -> list[tuple[dict, bytes]]:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: done(self.calls)), timeout_s)
        return self.calls


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    found = Origin()
    app = web.Application()
    app.router.add_get("/img/{name}", found.serve)
    runner, found.url = await _serve(app)
    yield found
    found.release.set()
    await runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner, base = await _serve(app)
    found.url = base + "/hook"
    yield found
    await runner.cleanup()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port and a temp dir, for the whole session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    process = subprocess.Popen(
        [*command, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for_redis(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's server, emptied for this test."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture(params=["sqlite", "redis"])
def jobs_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend in turn: the contract and the main API tests run on both."""
    if request.param == "redis":
        return request.getfixturevalue("redis_url")
    return f"sqlite:///{tmp_path}/jobs.db"


@pytest.fixture
async def backends(jobs_url: str) -> AsyncIterator[tuple[Backend, Backend]]:
    """Two connections to one store (SQLite file or Redis), as two processes have."""
    pair = (open_backend(jobs_url), open_backend(jobs_url))
    for backend in pair:
        await backend.open()
    yield pair
    for backend in pair:
        await backend.close()


@pytest.fixture
def start_jobs_server(start_server: ServerFactory) -> ServerFactory:
    """A server with test-sized job timings; its jobs database beside its storage by default."""

    async def start(**overrides: Any) -> Server:
        return await start_server(**{**FAST, **overrides})

    return start


@pytest.fixture
async def server(start_jobs_server: ServerFactory) -> Server:
    """The default job server of these tests (shadows the plain one of tests/conftest.py)."""
    return await start_jobs_server()


async def submit(server: Server, body: dict[str, Any], status: int = 202) -> dict[str, Any]:
    async with server.session.post(f"{server.url}/jobs", json=body) as resp:
        answer = await resp.json()
        assert resp.status == status, answer
        return answer


async def job(server: Server, job_id: str) -> dict[str, Any]:
    async with server.session.get(f"{server.url}/jobs/{job_id}") as resp:
        assert resp.status == 200
        return await resp.json()


async def reached(
    server: Server, job_id: str, done: Callable[[dict[str, Any]], bool], timeout_s: float = 10.0
) -> dict[str, Any]:
    """The job's view once `done(view)`, polled; fails the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not done(view := await job(server, job_id)):
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.02)
    return view


async def finished(server: Server, job_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
    return await reached(server, job_id, lambda view: view["state"] in FINISHED, timeout_s)


async def running(server: Server, job_id: str) -> dict[str, Any]:
    return await reached(server, job_id, lambda view: view["state"] == "running")


async def delivery(server: Server, job_id: str, state: str) -> dict[str, Any]:
    """The view once its callback's delivery is in `state` (delivered, failed)."""
    return await reached(server, job_id, lambda view: view["callback"]["state"] == state)
