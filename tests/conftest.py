"""Shared fixtures: real servers on loopback, real images, settings in a temp directory."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from imageserver.services import Services, build_services
from imageserver.settings import Settings
from imageserver.web import SERVER_OPTIONS, create_app

# test images: test/images/, then the optional shared corpus (tests/corpus.py says how)
from tests.corpus import ABSENT, IMAGES, REQUIRED, ROOT, TESTDATA, image_bytes, present

pytest_plugins = ["tests.s3_fixtures"]  # moto S3 server, buckets, dummy AWS credentials

__all__ = ["IMAGES", "ROOT", "TESTDATA", "image_bytes"]


def pytest_configure() -> None:
    """CI (IMAGESERVER_REQUIRE_CORPUS=1) runs the corpus-wide tests: no corpus is an error."""
    if REQUIRED and not present():
        raise pytest.UsageError(f"IMAGESERVER_REQUIRE_CORPUS is set but {ABSENT}")


def pytest_report_header() -> str:
    return f"corpus: {TESTDATA}" if present() else f"corpus: {ABSENT}"


@dataclasses.dataclass
class Server:
    url: str
    app: web.Application
    session: aiohttp.ClientSession
    storage: Path

    async def upload(self, data: bytes, namespace: str = "p", **params: str) -> dict[str, Any]:
        async with self.session.post(f"{self.url}/{namespace}", data=data, params=params) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            return body

    def image_url(self, hash_: str, namespace: str = "p") -> str:
        return f"{self.url}/{namespace}/{hash_[:3]}/{hash_[3:6]}/{hash_[6:9]}/{hash_[9:]}"


ServerFactory = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """Starts real servers on 127.0.0.1 (free port); every one is stopped after the test."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(storage: Path | None = None, **overrides: Any) -> Server:
        """`storage`: a directory to serve (one the CLI filled); by default a fresh one."""
        storage = storage or tmp_path / f"data{len(runners)}"
        defaults = {
            "storage": str(storage),
            "allow_private_sources": True,
            # in the test's directory even for S3 storage, whose default is ./data/jobs.db
            "jobs_url": f"sqlite:///{tmp_path}/jobs{len(runners)}.db",
        }
        settings = Settings(**{**defaults, **overrides})
        app = create_app(settings)
        runner = web.AppRunner(app, **SERVER_OPTIONS)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Server(f"http://127.0.0.1:{port}", app, session, storage)

    yield start
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server()


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    """The services without a server (what the CLI runs on), on a fresh local storage."""
    services = build_services(Settings(storage=str(tmp_path / "data")))
    await services.open()
    yield services
    await services.close()
