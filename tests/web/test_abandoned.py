"""Work nobody waits for: renders of clients that hung up are not started; writes finish."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest

from imageserver.web.appkeys import SERVICES
from tests.conftest import Server, ServerFactory, image_bytes

HOLD_TIMEOUT_S = 10.0  # a failing test never leaves the worker blocked for longer
GIVE_UP = aiohttp.ClientTimeout(total=0.3)


def _held(release: threading.Event) -> None:
    if not release.wait(HOLD_TIMEOUT_S):
        raise TimeoutError("the test never released the worker")


@dataclass
class Busy:
    server: Server
    release: threading.Event
    hash: str  # grid.jpg, uploaded before the worker was taken


@pytest.fixture
async def busy(start_server: ServerFactory) -> AsyncIterator[Busy]:
    """A server whose one render worker is taken until the test sets the event."""
    server = await start_server(render_workers=1, render_queue=16)
    info = await server.upload(image_bytes("grid.jpg"))
    release = threading.Event()
    pool = server.app[SERVICES].pool
    holder = asyncio.ensure_future(pool.run(_held, release))
    holder.add_done_callback(lambda task: task.exception())
    await asyncio.sleep(0)
    yield Busy(server, release, info["hash"])
    release.set()
    await holder


async def _metric(server: Server, line_start: str) -> float:
    async with server.session.get(server.url + "/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith(line_start):
                return float(line.split()[-1])
    return 0.0


async def _until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def _give_up(session: aiohttp.ClientSession, url: str) -> None:
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(url, timeout=GIVE_UP) as resp:
            await resp.read()


async def test_renders_of_clients_that_hung_up_are_not_started(busy: Busy) -> None:
    server, release = busy.server, busy.release
    pool = server.app[SERVICES].pool
    urls = [server.image_url(busy.hash) + f"/w{100 + i}.jpg" for i in range(6)]
    await asyncio.gather(*(_give_up(server.session, url) for url in urls))
    await _until(lambda: pool.pending == 1)  # only the held worker: the queue emptied itself
    assert await _metric(server, 'imageserver_output_lookups_total{result="abandoned"}') == 6
    release.set()
    async with server.session.get(urls[0]) as resp:  # served at once now, rendered afresh
        assert resp.status == 200
    stored = sorted(p.name for p in server.storage.rglob("w1*.jpg"))
    assert stored == ["w100.jpg"]  # the five others were never rendered
    assert await _metric(server, 'imageserver_output_lookups_total{result="render"}') == 1


async def test_a_render_goes_on_while_someone_still_waits(busy: Busy) -> None:
    server, release = busy.server, busy.release
    url = server.image_url(busy.hash) + "/w120.webp"
    patient = asyncio.create_task(server.session.get(url))
    await asyncio.sleep(0.1)
    await _give_up(server.session, url)  # joins the same render, then leaves
    release.set()
    async with await patient as resp:
        assert resp.status == 200
        assert (await resp.read())[8:12] == b"WEBP"
    assert await _metric(server, 'imageserver_output_lookups_total{result="abandoned"}') == 0


async def test_an_upload_whose_client_hangs_up_is_stored_whole(busy: Busy) -> None:
    """The upload waits for the held worker (its decode check), its client gives up: it must
    still end with the original and its info, not one without the other."""
    server, release = busy.server, busy.release
    with pytest.raises(asyncio.TimeoutError):
        await server.session.post(server.url + "/p", data=image_bytes("grid.png"), timeout=GIVE_UP)
    release.set()
    await _until(lambda: len(list(server.storage.rglob("info.json"))) == 2)
    for info in server.storage.rglob("info.json"):
        assert (info.parent / "original").is_file()
