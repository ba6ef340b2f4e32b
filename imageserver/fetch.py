"""Downloading source images from user-given URLs without letting them reach our own network.

The rules live in `netguard`; this module applies them where aiohttp resolves and connects.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from imageserver import __version__
from imageserver.errors import (
    BadRequest,
    ImageServerError,
    NotFound,
    RequestTimeout,
    SourceRefused,
    TooLarge,
    UpstreamError,
    UpstreamTimeout,
)
from imageserver.netguard import (
    FetchPolicy,
    IPAddress,
    SourceURL,
    check_source_url,
    host_address,
    is_public_address,
)

AddressRule = Callable[[IPAddress], bool]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MISSING_STATUSES = frozenset({404, 410})


@dataclass(frozen=True)
class Fetched:
    """A downloaded source: its bytes, and what its server said of them (jobs check and report)."""

    data: bytes
    status: int
    content_type: str | None


class GuardedResolver(AbstractResolver):
    """Resolves once and hands aiohttp only the addresses the rule allows.

    aiohttp connects to exactly what the resolver returns, so the address checked
    is the address connected to: no second lookup for a DNS-rebinding answer to win.
    """

    def __init__(self, address_allowed: AddressRule, inner: AbstractResolver | None = None) -> None:
        self._address_allowed = address_allowed
        self._inner = inner if inner is not None else aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._address_allowed(ip_address(r["host"]))]
        if not allowed:
            # The refused addresses stay out of the message: they map our internal DNS.
            raise SourceRefused(f"source host {host!r} refused: it has no public address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def _any_address(_address: IPAddress) -> bool:
    return True


def _literal_guard(address_allowed: AddressRule) -> aiohttp.ClientMiddlewareType:
    """aiohttp connects to IP-literal hosts without asking the resolver; check them here: the
    target's, and a proxy's (which is where a proxied request connects)."""

    async def guard(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        for url in (request.url, request.proxy):
            host = (url.raw_host if url is not None else None) or ""
            address = host_address(host)
            if address is not None and not address_allowed(address):
                raise SourceRefused(f"source address {host} refused: not a public address")
        return await handler(request)

    return guard


def create_fetch_session(
    policy: FetchPolicy, *, address_allowed: AddressRule | None = None
) -> aiohttp.ClientSession:
    """One session per app (the caller closes it) that cannot connect to refused addresses.

    `address_allowed` overrides the rule chosen by `policy.allow_private`; tests use it
    to admit loopback alone. Call from a running event loop.
    """
    if address_allowed is None:
        address_allowed = _any_address if policy.allow_private else is_public_address
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(address_allowed)),
        middlewares=(_literal_guard(address_allowed),),
        headers={"User-Agent": f"imageserver/{__version__}"},
        # One user's source host must not see cookies set during another user's fetch.
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=policy.timeout_s),
        # A proxy taken from the environment would resolve the target itself, past the guard.
        trust_env=False,
    )


async def read_capped(
    stream: aiohttp.StreamReader,
    max_bytes: int,
    *,
    what: str,
    declared_length: int | None = None,
    idle_timeout_s: float | None = None,
) -> bytes:
    """Read a whole body, giving up as soon as it passes `max_bytes`, or when the sender goes
    quiet for `idle_timeout_s` (a client that stops sending would hold its upload for ever).

    A declared length only lets us fail before reading; the bytes actually received
    decide, because a sender may lie about the length or send none (chunked).
    """
    if declared_length is not None and declared_length > max_bytes:
        raise TooLarge(f"{what} declares {declared_length} bytes, over the limit of {max_bytes}")
    chunks: list[bytes] = []
    received = 0
    while True:
        try:
            async with asyncio.timeout(idle_timeout_s):
                chunk = await stream.readany()
        except TimeoutError:
            raise RequestTimeout(
                f"{what}: nothing received for {idle_timeout_s} s after {received} bytes"
            ) from None
        if not chunk:
            break
        received += len(chunk)
        if received > max_bytes:
            raise TooLarge(f"{what} is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_source(session: aiohttp.ClientSession, url: str, policy: FetchPolicy) -> bytes:
    """The bytes alone, which is all an upload from ?source= needs."""
    return (await fetch_response(session, url, policy)).data


async def fetch_response(
    session: aiohttp.ClientSession,
    url: str,
    policy: FetchPolicy,
    headers: Mapping[str, str] | None = None,
    proxy: str | None = None,
) -> Fetched:
    """Download a source image, applying the policy to the URL and to every redirect.

    One deadline covers every hop, connect and body, so a slow chain of redirects
    cannot hold a request longer than `policy.timeout_s`. Through an http:// `proxy`, the
    guarded resolver checks the proxy's address; the proxy resolves the source's host.
    """
    source = check_source_url(url, policy.allowed_hosts)
    try:
        async with asyncio.timeout(policy.timeout_s):
            return await _follow_redirects(session, source, policy, headers or {}, proxy)
    except TimeoutError:
        raise UpstreamTimeout(
            f"source host {source.host} did not answer within {policy.timeout_s:g} s"
        ) from None
    except aiohttp.ClientError as exc:
        # The exception text may hold the full URL (query secrets), so only its type is shown.
        raise UpstreamError(
            f"fetching from source host {source.host} failed: {type(exc).__name__}"
        ) from exc


async def _follow_redirects(
    session: aiohttp.ClientSession,
    source: SourceURL,
    policy: FetchPolicy,
    headers: Mapping[str, str],
    proxy: str | None,
) -> Fetched:
    """Redirects are followed here rather than by aiohttp so each hop passes check_source_url.

    The request's own timeout is the policy's, which a job may set longer than the session's.
    """
    redirects = 0
    timeout = aiohttp.ClientTimeout(total=policy.timeout_s)
    while True:
        request_url = _request_url(source)
        async with session.get(
            request_url, allow_redirects=False, headers=headers, timeout=timeout, proxy=proxy
        ) as response:
            location = _redirect_location(response, source)
            if location is None:
                _raise_for_status(response, source)
                data = await read_capped(
                    response.content,
                    policy.max_bytes,
                    what=f"source from {source.host}",
                    declared_length=response.content_length,
                )
                return Fetched(data, response.status, response.headers.get("Content-Type"))
        redirects += 1
        if redirects > policy.max_redirects:
            raise UpstreamError(
                f"source host {source.host} redirected more than {policy.max_redirects} times"
            )
        source = _next_hop(source, location, policy)


def _request_url(source: SourceURL) -> URL:
    """The URL for aiohttp, refused if aiohttp's parser reads its host differently from ours.

    A parser disagreement would mean the host we checked is not the host we connect to.
    """
    try:
        url = URL(source.url)
    except ValueError:
        raise BadRequest(f"source URL for host {source.host} cannot be parsed") from None
    if (url.scheme, url.raw_host, url.port) != (source.scheme, source.host, source.port):
        raise SourceRefused(f"source URL refused: its host {source.host!r} is ambiguous")
    return url


def _redirect_location(response: aiohttp.ClientResponse, source: SourceURL) -> str | None:
    if response.status not in _REDIRECT_STATUSES:
        return None
    location = response.headers.get("Location")
    if not location:
        raise UpstreamError(f"source host {source.host} redirected without a Location")
    return location


def _next_hop(source: SourceURL, location: str, policy: FetchPolicy) -> SourceURL:
    try:
        return check_source_url(urljoin(source.url, location), policy.allowed_hosts)
    except SourceRefused as exc:
        raise SourceRefused(f"redirect from {source.host}: {exc.message}") from None
    except BadRequest:
        raise UpstreamError(f"source host {source.host} redirected to an invalid URL") from None


def _raise_for_status(response: aiohttp.ClientResponse, source: SourceURL) -> None:
    error: ImageServerError
    if response.status in _MISSING_STATUSES:
        error = NotFound(
            f"source host {source.host} answered {response.status}: the source does not exist",
            code="source_not_found",
        )
    elif not 200 <= response.status < 300:
        error = UpstreamError(f"source host {source.host} answered HTTP {response.status}")
    else:
        return
    error.upstream_status = response.status
    raise error
