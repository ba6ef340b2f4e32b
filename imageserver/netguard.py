"""Which source URLs and network addresses the server may fetch from (SSRF rules).

Pure: stdlib only, no aiohttp and no I/O, so the rules can be tested as tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from urllib.parse import SplitResult, urlsplit

from imageserver.errors import BadRequest, SourceRefused

IPAddress = IPv4Address | IPv6Address


@dataclass(frozen=True)
class FetchPolicy:
    """Limits on source fetching, built once from settings; the defaults are the safe ones."""

    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()
    timeout_s: float = 10.0
    max_bytes: int = 50 * 1024 * 1024
    max_redirects: int = 5


_SCHEMES = {"http": 80, "https": 443}

# IPv6 prefixes whose last 32 bits are an IPv4 address that a translator or dual
# stack may end up connecting to: IPv4-compatible, IPv4-mapped, IPv4-translated
# (SIIT) and the well-known NAT64 prefix. 6to4 (2002::/16) is unwrapped separately.
_V4_IN_LAST_32_BITS = tuple(
    ip_network(net) for net in ("::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)

# Not globally reachable, yet `is_global` says otherwise on some Python patch
# releases; listed so the answer does not depend on the interpreter's tables.
_NOT_GLOBAL: tuple[IPv4Network | IPv6Network, ...] = tuple(
    ip_network(net)
    for net in (
        "192.0.0.0/24",  # IETF protocol assignments
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "2001::/23",  # IETF protocol assignments, includes Teredo 2001::/32
        "64:ff9b:1::/48",  # local-use NAT64: where the IPv4 part sits is site-specific
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs
        "fec0::/10",  # deprecated site-local
    )
)

# A host, bracketed IPv6 or not, then an optional port; urllib tolerates junk around
# brackets ("a[::1]") and would judge a host that other parsers do not see.
_NETLOC = re.compile(r"(?:\[[^\[\]]+\]|[^\[\]:]+)(?::[0-9]*)?")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+", re.IGNORECASE)
_NAME_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


@dataclass(frozen=True)
class SourceURL:
    """A source URL that passed the URL rules; its host still needs the address rule."""

    scheme: str
    host: str
    port: int
    url: str


def is_public_address(ip: IPAddress) -> bool:
    """True only for unicast addresses on the public internet.

    IPv6 forms that carry an IPv4 address are judged by that IPv4 address,
    because that is where a translator or dual stack would really connect.
    """
    if isinstance(ip, IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast and not any(ip in net for net in _NOT_GLOBAL)


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    if any(ip in net for net in _V4_IN_LAST_32_BITS):
        return IPv4Address(int(ip) & 0xFFFF_FFFF)
    return ip.sixtofour


def host_address(host: str) -> IPAddress | None:
    """The address an IP-literal host names, or None for a DNS name.

    Numeric forms other than a dotted quad (2130706433, 0x7f.1, 0177.0.0.1, 127.1)
    are refused: resolvers and socket calls disagree on what they mean, which is
    exactly how address checks get bypassed.
    """
    if ":" in host:
        return _ipv6_literal(host)
    last_label = host.rstrip(".").rpartition(".")[2]
    if not _NUMERIC_LABEL.fullmatch(last_label):
        return None
    try:
        return IPv4Address(host)
    except ValueError:
        raise SourceRefused(
            f"source host {host!r} refused: numeric hosts must be written as a dotted quad"
            " such as 93.184.216.34"
        ) from None


def _ipv6_literal(host: str) -> IPv6Address:
    if "%" in host:
        raise SourceRefused(f"source host {host!r} refused: IPv6 zone identifiers are not fetched")
    try:
        return IPv6Address(host)
    except ValueError:
        raise BadRequest(f"source host {host!r} is not a valid IPv6 address") from None


def check_source_url(url: str, allowed_hosts: tuple[str, ...]) -> SourceURL:
    """Apply every rule that needs only the URL text, before any network I/O.

    The host of the result is canonical (lowercase; IPv6 compressed) so that it can
    be compared with what the HTTP client parsed from the same string.
    """
    parts = _split(url)
    if parts.scheme not in _SCHEMES:
        shown = parts.scheme or "(none)"
        raise SourceRefused(f"source URL scheme {shown!r} refused: only http and https are fetched")
    if "@" in parts.netloc:
        raise SourceRefused("source URL refused: credentials (user:password@) are not accepted")
    host = _canonical_host(parts)
    if allowed_hosts and not _is_listed(host, allowed_hosts):
        raise SourceRefused(f"source host {host!r} refused: not in the allowed hosts")
    return SourceURL(parts.scheme, host, _port(parts), url)


def check_literal_host(source: SourceURL) -> None:
    """The address rule for what the URL text alone shows: an IP literal that is not public, or
    a `localhost` name (RFC 6761: always loopback). Jobs apply it at submit, so such a URL is a
    403 there rather than a job that fails later; DNS names are checked when connecting."""
    host = source.host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise SourceRefused(f"host {source.host!r} refused: it is the loopback interface")
    address = host_address(host)
    if address is not None and not is_public_address(address):
        raise SourceRefused(f"address {source.host} refused: not a public address")


def _split(url: str) -> SplitResult:
    if any(ch <= " " or ch == "\x7f" for ch in url):
        raise BadRequest("source URL must not contain spaces or control characters")
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise BadRequest(f"source URL cannot be parsed: {exc}") from None


def _port(parts: SplitResult) -> int:
    try:
        port = parts.port
    except ValueError:
        raise BadRequest("source URL port must be an integer 0-65535") from None
    return _SCHEMES[parts.scheme] if port is None else port


def _canonical_host(parts: SplitResult) -> str:
    host = parts.hostname
    if not host:
        raise SourceRefused("source URL refused: it has no host")
    if not _NETLOC.fullmatch(parts.netloc):
        raise BadRequest("source URL host and port are malformed")
    address = host_address(host)
    if address is not None:
        return address.compressed
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_NAME_LABEL.fullmatch(label) for label in labels):
        raise BadRequest(
            f"source host {host!r} is not a valid host name"
            " (ASCII letters, digits, '-' and '.'; write international names in punycode)"
        )
    return host


def _is_listed(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Exact match, or a subdomain of an entry written with a leading dot.

    ".example.com" admits img.example.com but not example.com itself; list both
    when both are meant.
    """
    name = host.removesuffix(".")
    for entry in (e.lower() for e in allowed_hosts):
        if name == entry or (entry.startswith(".") and name.endswith(entry)):
            return True
    return False
