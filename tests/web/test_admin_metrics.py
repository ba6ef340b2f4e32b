"""The dashboard's Metrics page on a real server: after some renders and hits its charts and
their text summaries show them; with serve --processes N, every process's counts."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from imageserver.settings import Settings
from imageserver.web import SERVER_OPTIONS, create_app
from imageserver.web.siblings import PUBLISH_S, Siblings
from tests.conftest import Server, ServerFactory, image_bytes

KEY = "k-metrics-test"
BEARER = {"Authorization": f"Bearer {KEY}"}
_SUMMARY = re.compile(r'<desc id="(\w+)-desc">([^<]*)</desc>')


async def metrics_page(url: str, session: aiohttp.ClientSession) -> str:
    async with session.get(f"{url}/admin/metrics", headers=BEARER) as resp:
        text = await resp.text()
        assert resp.status == 200, text
        return html.unescape(text)


async def outputs(url: str, session: aiohttp.ClientSession, hash_: str, *tokens: str) -> None:
    base = f"{url}/p/{hash_[:3]}/{hash_[3:6]}/{hash_[6:9]}/{hash_[9:]}"
    for token in tokens:
        async with session.get(f"{base}/{token}") as resp:
            assert resp.status == 200, await resp.text()


async def uploaded(url: str, session: aiohttp.ClientSession) -> str:
    async with session.post(f"{url}/p", data=image_bytes("grid.jpg"), headers=BEARER) as resp:
        assert resp.status == 200
        return (await resp.json())["hash"]


async def test_charts_show_renders_hits_and_latency(start_server: ServerFactory) -> None:
    server: Server = await start_server(api_keys=[KEY])
    before = _SUMMARY.findall(await metrics_page(server.url, server.session))
    assert dict(before)["renders"].startswith("0 renders")
    hash_ = await uploaded(server.url, server.session)
    await outputs(server.url, server.session, hash_, "w100.webp", "w100.webp", "x50.png")
    page = await metrics_page(server.url, server.session)
    summaries = dict(_SUMMARY.findall(page))
    assert list(summaries) == ["renders", "hits", "latency", "depth"]
    assert summaries["renders"].startswith("2 renders in the last hour")
    assert summaries["hits"].startswith("33% of 3 output lookups")
    assert re.search(
        r"Over 3 output requests in the last hour: p50 [\d.]+ ms", summaries["latency"]
    )
    assert "The render pool held at most" in summaries["depth"]
    # each chart: a heading, an SVG image named by its title and described by its summary, axes
    assert page.count('role="img"') == 4
    headings = re.findall(r"<h(\d)[ >]", page)
    assert headings[0] == "1"
    assert set(headings[1:]) == {"2"}
    for chart in summaries:
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in page
    assert page.count(">minutes ago</text>") == 4
    assert re.search(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[1-9][\d.]*">', page)
    assert "the process that answered this page" in page


@pytest.fixture
async def two_processes(tmp_path: Path) -> AsyncIterator[list[str]]:
    """Two serving processes of one server (serve --processes 2) as two apps sharing a storage,
    a jobs database and a siblings directory."""
    settings = Settings(
        storage=str(tmp_path / "data"), jobs_url=f"sqlite:///{tmp_path}/jobs.db", api_keys=[KEY]
    )
    runners, urls = [], []
    for index in range(2):
        app = create_app(settings, Siblings(tmp_path, index))
        runner = web.AppRunner(app, **SERVER_OPTIONS)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
    yield urls
    for runner in runners:
        await runner.cleanup()


async def test_every_process_counts_on_any_process_page(two_processes: list[str]) -> None:
    first, second = two_processes
    async with aiohttp.ClientSession() as session:
        hash_ = await uploaded(first, session)
        await outputs(first, session, hash_, "w100.webp", "w80.webp")
        deadline = time.monotonic() + 5 * PUBLISH_S
        while True:
            page = await metrics_page(second, session)
            if dict(_SUMMARY.findall(page))["renders"].startswith("2 renders"):
                break
            assert time.monotonic() < deadline, page
            await asyncio.sleep(PUBLISH_S / 4)
    assert "all 2 serving processes" in page
