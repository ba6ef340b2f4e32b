"""A job submission parsed once, at the edge, into an immutable `JobRequest`.

Every field is checked before enqueueing, so a bad token or URL is a 400 now rather than a failed
job later; unknown fields are refused, which catches misspelt ones. Pure: no aiohttp, no saq.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BadRequest
from ..formats import OUTPUT_FORMATS, output_format
from ..keys import check_name, check_namespace
from ..netguard import SourceURL, check_literal_host, check_source_url
from ..settings import Settings
from ..transform import parse_tokens
from ..watermarks import check_known
from .config import stream_url
from .mime import parse_mime_rule

MAX_TIMEOUT_S = 600.0
MAX_HEADERS = 32
MAX_TEXT = 4096
MAX_GROUP_LIMIT = 1000
MAX_DPI = 1200
_HASH = re.compile(r"[0-9a-f]{32}")
_KEY_TEXT = re.compile(r"[A-Za-z0-9._:/@+=-]{1,200}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
# Set by the HTTP client or about the connection itself: a job may not choose them.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "proxy-authorization",
        "proxy-connection",
    }
)
COMMON_FIELDS = frozenset(
    {
        "kind",
        "source",
        "callback",
        "callback_type",
        "queue",
        "extra",
        "headers",
        "group",
        "group_limit",
        "mime",
        "timeout_s",
        "proxy",
        "idempotency_key",
    }
)
# Where a callback goes: POSTed to a URL, or added to a Redis stream. The seed downloader's
# `kafka` is taken as the stream type, so that its clients submit unchanged
# (docs/jobs.md "Callbacks").
CALLBACK_TYPES = {"http": "http", "redis": "redis", "kafka": "redis"}
# A job kind's own fields from the body, checked into the params its task receives.
ParseParams = Callable[[Mapping[str, Any], Settings], dict[str, Any]]


@dataclass(frozen=True)
class Fetch:
    """How the source is fetched: the same address rules as ?source=, plus the job's manners."""

    source: str
    timeout_s: float
    headers: dict[str, str] = field(default_factory=dict)
    group: str | None = None
    group_limit: int | None = None
    mime: str | None = None
    proxy: str | None = None  # an http:// proxy; a group keeps its first (Jobs.submit)


@dataclass(frozen=True)
class JobRequest:
    kind: str
    queue: str
    fetch: Fetch | None  # None for a job on a stored original (its params name its `hash`)
    params: dict[str, Any]
    callback: str | None = None  # the URL, or the stream's name (callback_type "redis")
    callback_type: str = "http"
    extra: str | None = None
    idempotency_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        """What the job stores, and what its task gets back with `from_json`."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRequest:
        fetch = Fetch(**data["fetch"]) if data.get("fetch") else None
        return cls(**{**data, "fetch": fetch})


def parse_request(
    body: Mapping[str, Any], settings: Settings, kinds: Mapping[str, ParseParams]
) -> JobRequest:
    """`kinds` maps each job kind to the parser of its own fields (the task registry's).

    Without `kind`, a body with a field named after a kind is that kind (`"rasterize": {...}`).
    A kind's params that name a stored original (`hash`) leave nothing to fetch.
    """
    kind = _text(body, "kind") or next((name for name in kinds if name in body), "ingest")
    if kind not in kinds:
        raise BadRequest(f"kind: expected one of {', '.join(sorted(kinds))}, got {kind!r}")
    params = kinds[kind](body, settings)
    unknown = sorted(set(body) - COMMON_FIELDS - set(params))
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}")
    callback_type = _callback_type(body)
    return JobRequest(
        kind=kind,
        queue=_queue(body, settings),
        fetch=None if "hash" in params else _fetch(body, settings),
        params=params,
        callback=_callback(body, callback_type, settings),
        callback_type=callback_type,
        extra=_text(body, "extra", MAX_TEXT),
        idempotency_key=_key_text(body, "idempotency_key"),
    )


def parse_ingest_params(body: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """An original into a namespace, with outputs rendered before the job succeeds: from
    `source`, or the original stored under `hash` (its outputs made again where missing)."""
    namespace = check_namespace(_text(body, "namespace") or "")
    outputs = body.get("outputs") or []
    if isinstance(outputs, list) and all(isinstance(t, str) for t in outputs):
        outputs = ",".join(outputs)
    if not isinstance(outputs, str):
        raise BadRequest("outputs: expected a list of tokens or a comma-separated string")
    transforms = parse_tokens(outputs, max_side=settings.max_output_side)  # refuses .auto
    check_known(transforms, settings.watermarks)
    tokens = list(dict.fromkeys(t.token() for t in transforms))
    return {"namespace": namespace, "outputs": tokens, **_stored_or_source(body), **_name(body)}


def parse_download_params(body: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """ingest's fields, for sources that may be images or files; a file is kept under its
    content hash alone, so there is no `name` to give."""
    if "name" in body:
        raise BadRequest("name: download jobs keep their files under the content hash")
    return parse_ingest_params(body, settings)


def parse_rasterize_params(body: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Every page of a PDF into its own image: the PDF from `source`, or stored (`hash`)."""
    namespace = check_namespace(_text(body, "namespace") or "")
    options = body.get("rasterize")
    if not isinstance(options, dict) or set(options) - {"dpi", "format", "max_side"}:
        raise BadRequest("rasterize: expected an object of dpi, format and max_side")
    raster = {
        "dpi": _int(options, "dpi", 1, MAX_DPI) or settings.rasterize_dpi,
        "format": _raster_format(options, settings),
        "max_side": _int(options, "max_side", 1, settings.max_output_side)
        or settings.rasterize_max_side
        or settings.max_output_side,
        "fallback_dpi": settings.rasterize_fallback_dpi,
    }
    return {"namespace": namespace, "rasterize": raster, **_stored_or_source(body)}


def _raster_format(options: Mapping[str, Any], settings: Settings) -> str:
    """As output tokens spell formats: `jpeg` is jpg, `tif` is tiff."""
    given = _text(options, "format") or settings.rasterize_format
    fmt = output_format(given)
    if fmt is None:
        expected = ", ".join(OUTPUT_FORMATS)
        raise BadRequest(f"format: expected one of {expected}, got {given!r}", code="bad_format")
    return fmt


def _stored_or_source(body: Mapping[str, Any]) -> dict[str, Any]:
    """`hash` names a stored original (already decrypted: no password); else `source` is
    fetched (with `password` for an encrypted PDF)."""
    hash_ = _text(body, "hash")
    if hash_ is None:
        return _password(body)
    if "source" in body or "password" in body:
        raise BadRequest("hash: expected either hash or source (and password), not both")
    if not _HASH.fullmatch(hash_):
        raise BadRequest(f"hash: expected 32 hex digits, got {hash_!r}")
    return {"hash": hash_}


def _name(body: Mapping[str, Any]) -> dict[str, Any]:
    """Stores the source under the client's `name` (keys.ImageKey), written once, rather than
    under its content hash."""
    name = _text(body, "name")
    if name is None:
        return {}
    if "hash" in body:
        raise BadRequest("name: expected with a source, not with a stored original's hash")
    return {"name": check_name(name)}


def _password(body: Mapping[str, Any]) -> dict[str, Any]:
    """An encrypted PDF's password: kept in the job's params, never shown (views.py)."""
    password = _text(body, "password", MAX_TEXT)
    return {"password": password} if password else {}


def _fetch(body: Mapping[str, Any], settings: Settings) -> Fetch:
    source = _text(body, "source")
    if not source:
        raise BadRequest("source: expected the URL of the image to fetch")
    _check_url(source, settings, settings.source_allowed_hosts)
    group = _key_text(body, "group")
    group_limit = _int(body, "group_limit", 1, MAX_GROUP_LIMIT)
    if (group is None) != (group_limit is None):
        raise BadRequest("group, group_limit: expected both or neither")
    mime = _text(body, "mime", MAX_TEXT)
    if mime is not None:
        parse_mime_rule(mime)
    proxy = _text(body, "proxy", MAX_TEXT)
    if proxy is not None:
        _check_proxy(proxy, settings)
    return Fetch(
        source=source,
        timeout_s=_timeout(body, settings.source_timeout_s),
        headers=_headers(body.get("headers")),
        group=group,
        group_limit=group_limit,
        mime=mime,
        proxy=proxy,
    )


def _queue(body: Mapping[str, Any], settings: Settings) -> str:
    queue = _text(body, "queue") or settings.job_default_queue
    if queue not in settings.job_queues:
        expected = ", ".join(settings.job_queues)
        raise BadRequest(f"queue: expected one of {expected}, got {queue!r}")
    return queue


def _callback_type(body: Mapping[str, Any]) -> str:
    given = _text(body, "callback_type") or "http"
    if given not in CALLBACK_TYPES:
        raise BadRequest(f"callback_type: expected http, redis or kafka, got {given!r}")
    return CALLBACK_TYPES[given]


def _callback(body: Mapping[str, Any], callback_type: str, settings: Settings) -> str | None:
    """A URL obeys the rules of sources (no allowed-hosts list: that one is about sources); a
    stream needs a Redis to be added to."""
    callback = _text(body, "callback", MAX_TEXT)
    if callback and callback_type == "http":
        _check_url(callback, settings, [])
    elif callback:
        _key_text(body, "callback")
        if stream_url(settings) is None:
            raise BadRequest(
                "callback_type: stream callbacks need a Redis: set --callback-stream-url "
                "(or use a redis:// --jobs-url)"
            )
    return callback or None


def _check_proxy(proxy: str, settings: Settings) -> None:
    """The address rules of sources apply to the proxy: it is where we connect."""
    if _check_url(proxy, settings, []).scheme != "http":
        raise BadRequest(f"proxy: expected an http:// proxy URL, got {proxy!r}")


def _check_url(url: str, settings: Settings, allowed_hosts: list[str]) -> SourceURL:
    checked = check_source_url(url, tuple(allowed_hosts))
    if not settings.allow_private_sources:
        check_literal_host(checked)
    return checked


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_HEADERS:
        raise BadRequest(f"headers: expected an object of at most {MAX_HEADERS} name: value")
    for name, text in value.items():
        if not isinstance(text, str) or not _HEADER_NAME.fullmatch(name) or len(text) > MAX_TEXT:
            raise BadRequest(f"headers: {name!r}: expected a header name and a string value")
        if name.lower() in _RESERVED_HEADERS or any(c in text for c in "\r\n\0"):
            raise BadRequest(f"headers: {name!r} cannot be set by a job")
    return dict(value)


def _timeout(body: Mapping[str, Any], default_s: float) -> float:
    value = body.get("timeout_s", default_s)
    if isinstance(value, str):
        value = _number(value, "timeout_s")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"timeout_s: expected a number of seconds, got {value!r}")
    if not 0 < value <= MAX_TIMEOUT_S:
        raise BadRequest(f"timeout_s: expected more than 0 and at most {MAX_TIMEOUT_S:g}")
    return float(value)


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadRequest(f"{name}: expected a number, got {text!r}") from None


def _int(body: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name}: expected an integer {low}-{high}, got {value!r}")
    return value


def _text(body: Mapping[str, Any], name: str, max_length: int = 200) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise BadRequest(f"{name}: expected a string of at most {max_length} characters")
    return value


def _key_text(body: Mapping[str, Any], name: str) -> str | None:
    value = _text(body, name)
    if value is not None and not _KEY_TEXT.fullmatch(value):
        raise BadRequest(f"{name}: expected 1-200 of A-Z a-z 0-9 . _ : / @ + = -, got {value!r}")
    return value
