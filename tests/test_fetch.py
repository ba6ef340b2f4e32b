"""Fetching against real aiohttp servers on 127.0.0.1; nothing may connect beyond loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_address

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.base_protocol import BaseProtocol

from imageserver import __version__
from imageserver.errors import (
    ImageServerError,
    NotFound,
    SourceRefused,
    TooLarge,
    UpstreamError,
    UpstreamTimeout,
)
from imageserver.fetch import (
    GuardedResolver,
    _request_url,
    create_fetch_session,
    fetch_source,
    read_capped,
)
from imageserver.netguard import FetchPolicy, SourceURL, is_public_address

IMAGE = b"GIF89a" + bytes(range(256)) * 4
LOCAL = FetchPolicy(allow_private=True, timeout_s=2.0)
STREAM_TOTAL = 64 * 1024 * 1024


@dataclass
class Upstream:
    base: str = ""
    paths: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    streamed: int = 0
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every address a client socket connects to; a non-loopback one is blocked and fails."""
    attempted: list[str] = []
    loop_class = asyncio.selector_events.BaseSelectorEventLoop
    real_connect = loop_class.sock_connect

    async def fenced(self: asyncio.AbstractEventLoop, sock: socket.socket, address: tuple) -> None:
        attempted.append(address[0])
        if not ip_address(address[0]).is_loopback:
            raise OSError(f"test fence: connection to {address[0]} blocked")
        await real_connect(self, sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(loop_class, "sock_connect", fenced)
    yield attempted
    assert all(ip_address(a).is_loopback for a in attempted), attempted


def _routes(upstream: Upstream) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/image")
    async def image(request: web.Request) -> web.Response:
        upstream.user_agents.append(request.headers["User-Agent"])
        return web.Response(body=IMAGE, content_type="image/gif")

    @routes.get("/hops/{n:\\d+}")
    async def hops(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"{n - 1}" if n > 1 else "/image")

    @routes.get("/to")
    async def redirect_to(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(request.query["location"])

    @routes.get("/status/{code:\\d+}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="no")

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(body=IMAGE)

    @routes.get("/stream")
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to trust
        await response.prepare(request)
        try:
            while upstream.streamed < STREAM_TOTAL:
                await response.write(b"x" * 65536)
                upstream.streamed += 65536
        finally:  # the client hanging up cancels this handler or fails the write
            upstream.hung_up.set()
        return response

    @routes.get("/declared")
    async def declared(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = STREAM_TOTAL
        await response.prepare(request)
        await response.write(b"x" * 1024)
        await asyncio.sleep(30)
        return response

    return routes


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    state = Upstream()

    @web.middleware
    async def record(request: web.Request, handler: Callable) -> web.StreamResponse:
        state.paths.append(request.path_qs)
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.add_routes(_routes(state))
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def open_session() -> AsyncIterator[Callable[..., aiohttp.ClientSession]]:
    sessions: list[aiohttp.ClientSession] = []

    def open_(policy: FetchPolicy, **kwargs: object) -> aiohttp.ClientSession:
        sessions.append(create_fetch_session(policy, **kwargs))  # type: ignore[arg-type]
        return sessions[-1]

    yield open_
    for session in sessions:
        await session.close()


async def test_download(upstream: Upstream, open_session: Callable) -> None:
    body = await fetch_source(open_session(LOCAL), f"{upstream.base}/image", LOCAL)
    assert body == IMAGE
    assert upstream.user_agents == [f"imageserver/{__version__}"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]"])
async def test_loopback_refused_before_connecting(
    host: str, upstream: Upstream, open_session: Callable, connections: list[str]
) -> None:
    policy = FetchPolicy()
    port = upstream.base.rsplit(":", 1)[1]
    with pytest.raises(SourceRefused, match="refused"):
        await fetch_source(open_session(policy), f"http://{host}:{port}/image", policy)
    assert connections == []
    assert upstream.paths == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/a.png"])
async def test_other_schemes_refused(
    url: str, open_session: Callable, connections: list[str]
) -> None:
    with pytest.raises(SourceRefused, match="only http and https"):
        await fetch_source(open_session(LOCAL), url, LOCAL)
    assert connections == []


async def test_redirect_chain_is_followed(upstream: Upstream, open_session: Callable) -> None:
    body = await fetch_source(open_session(LOCAL), f"{upstream.base}/hops/3", LOCAL)
    assert body == IMAGE
    assert upstream.paths == ["/hops/3", "/hops/2", "/hops/1", "/image"]


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://[::ffff:169.254.169.254]/",
        "http://0xa9fea9fe/",
        "file:///etc/passwd",
    ],
)
async def test_redirect_to_refused_target(
    target: str, upstream: Upstream, open_session: Callable, connections: list[str]
) -> None:
    session = open_session(FetchPolicy(), address_allowed=lambda ip: ip.is_loopback)
    url = f"{upstream.base}/to?location={target}"
    with pytest.raises(SourceRefused, match="refused"):
        await fetch_source(session, url, FetchPolicy())
    assert set(connections) == {"127.0.0.1"}
    assert len(upstream.paths) == 1


async def test_every_hop_must_be_an_allowed_host(
    upstream: Upstream, open_session: Callable, connections: list[str]
) -> None:
    policy = FetchPolicy(allow_private=True, allowed_hosts=("127.0.0.1",))
    target = upstream.base.replace("127.0.0.1", "localhost") + "/image"
    with pytest.raises(SourceRefused, match="'localhost' refused: not in the allowed hosts"):
        await fetch_source(open_session(policy), f"{upstream.base}/to?location={target}", policy)
    assert upstream.paths == [f"/to?location={target}"]
    assert connections == ["127.0.0.1"]


async def test_too_many_redirects(upstream: Upstream, open_session: Callable) -> None:
    policy = FetchPolicy(allow_private=True, max_redirects=2)
    with pytest.raises(UpstreamError, match="more than 2"):
        await fetch_source(open_session(policy), f"{upstream.base}/hops/5", policy)
    assert upstream.paths == ["/hops/5", "/hops/4", "/hops/3"]


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (404, NotFound, "source_not_found"),
        (410, NotFound, "source_not_found"),
        (500, UpstreamError, "upstream_error"),
        (503, UpstreamError, "upstream_error"),
        (304, UpstreamError, "upstream_error"),
    ],
)
async def test_upstream_status(
    status: int,
    error: type[ImageServerError],
    code: str,
    upstream: Upstream,
    open_session: Callable,
) -> None:
    url = f"{upstream.base}/status/{status}"
    with pytest.raises(error, match=str(status)) as failed:
        await fetch_source(open_session(LOCAL), url, LOCAL)
    assert failed.value.code == code


async def test_connection_failure_hides_the_query(open_session: Callable) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"http://127.0.0.1:{port}/a.png?token=s3cret"
    with pytest.raises(UpstreamError) as failed:
        await fetch_source(open_session(LOCAL), url, LOCAL)
    assert "s3cret" not in failed.value.message


async def test_slow_upstream_times_out(upstream: Upstream, open_session: Callable) -> None:
    policy = FetchPolicy(allow_private=True, timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await fetch_source(open_session(policy), f"{upstream.base}/slow", policy)
    assert time.monotonic() - started < 1.5


async def test_chunked_body_over_cap_stops_early(
    upstream: Upstream, open_session: Callable
) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=100_000)
    with pytest.raises(TooLarge, match="100000"):
        await fetch_source(open_session(policy), f"{upstream.base}/stream", policy)
    await asyncio.wait_for(upstream.hung_up.wait(), 2)
    assert upstream.streamed < STREAM_TOTAL // 2


async def test_declared_length_over_cap_fails_before_reading(
    upstream: Upstream, open_session: Callable
) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=100_000, timeout_s=5)
    started = time.monotonic()
    with pytest.raises(TooLarge, match="declares"):
        await fetch_source(open_session(policy), f"{upstream.base}/declared", policy)
    assert time.monotonic() - started < 1


def test_a_url_aiohttp_reads_differently_is_refused() -> None:
    with pytest.raises(SourceRefused, match="ambiguous"):
        _request_url(SourceURL("http", "checked.test", 80, "http://other.test/"))


class FixedResolver(AbstractResolver):
    """Answers from a table, so resolver tests need no DNS."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


async def test_resolver_drops_refused_addresses() -> None:
    inner = FixedResolver(["127.0.0.1", "8.8.8.8", "::ffff:10.0.0.1", "2606:4700:4700::1111"])
    results = await GuardedResolver(is_public_address, inner).resolve("mixed.test", 80)
    assert [r["host"] for r in results] == ["8.8.8.8", "2606:4700:4700::1111"]


async def test_resolver_refuses_a_host_with_no_public_address() -> None:
    inner = FixedResolver(["169.254.169.254", "fd00::1"])
    with pytest.raises(SourceRefused, match="no public address") as refused:
        await GuardedResolver(is_public_address, inner).resolve("internal.test", 80)
    assert "169.254" not in refused.value.message


def _stream(*chunks: bytes, eof: bool = True) -> aiohttp.StreamReader:
    loop = asyncio.get_running_loop()
    stream = aiohttp.StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    for chunk in chunks:
        stream.feed_data(chunk)
    if eof:
        stream.feed_eof()
    return stream


async def test_read_capped_joins_chunks_up_to_the_limit() -> None:
    assert await read_capped(_stream(b"ab", b"cd", b"e"), 5, what="upload") == b"abcde"
    assert await read_capped(_stream(), 5, what="upload") == b""


async def test_read_capped_refuses_one_byte_over() -> None:
    with pytest.raises(TooLarge, match="upload is over the limit of 4 bytes"):
        await read_capped(_stream(b"ab", b"cde"), 4, what="upload")


async def test_read_capped_trusts_a_declared_length_only_to_fail_early() -> None:
    with pytest.raises(TooLarge, match="declares 10 bytes"):
        await read_capped(_stream(eof=False), 5, what="upload", declared_length=10)
    with pytest.raises(TooLarge):
        await read_capped(_stream(b"x" * 6), 5, what="upload", declared_length=1)
