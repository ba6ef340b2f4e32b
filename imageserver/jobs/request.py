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
from ..formats import OUTPUT_FORMATS
from ..keys import check_namespace
from ..netguard import check_literal_host, check_source_url
from ..settings import Settings
from ..transform import parse_tokens
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
        "queue",
        "extra",
        "headers",
        "group",
        "group_limit",
        "mime",
        "timeout_s",
        "idempotency_key",
    }
)
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


@dataclass(frozen=True)
class JobRequest:
    kind: str
    queue: str
    fetch: Fetch | None  # None for a job on a stored original (its params name its `hash`)
    params: dict[str, Any]
    callback: str | None = None
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
    return JobRequest(
        kind=kind,
        queue=_queue(body, settings),
        fetch=None if "hash" in params else _fetch(body, settings),
        params=params,
        callback=_callback(body, settings),
        extra=_text(body, "extra", MAX_TEXT),
        idempotency_key=_key_text(body, "idempotency_key"),
    )


def parse_ingest_params(body: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """An original into a namespace, with outputs rendered before the job succeeds."""
    namespace = check_namespace(_text(body, "namespace") or "")
    outputs = body.get("outputs") or []
    if isinstance(outputs, list) and all(isinstance(t, str) for t in outputs):
        outputs = ",".join(outputs)
    if not isinstance(outputs, str):
        raise BadRequest("outputs: expected a list of tokens or a comma-separated string")
    transforms = parse_tokens(outputs, max_side=settings.max_output_side)  # refuses .auto
    tokens = list(dict.fromkeys(t.token() for t in transforms))
    return {"namespace": namespace, "outputs": tokens, **_password(body)}


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
    fmt = _text(options, "format") or settings.rasterize_format
    if fmt not in OUTPUT_FORMATS:
        expected = ", ".join(OUTPUT_FORMATS)
        raise BadRequest(f"format: expected one of {expected}, got {fmt!r}", code="bad_format")
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
    return Fetch(
        source=source,
        timeout_s=_timeout(body, settings.source_timeout_s),
        headers=_headers(body.get("headers")),
        group=group,
        group_limit=group_limit,
        mime=mime,
    )


def _queue(body: Mapping[str, Any], settings: Settings) -> str:
    queue = _text(body, "queue") or settings.job_default_queue
    if queue not in settings.job_queues:
        expected = ", ".join(settings.job_queues)
        raise BadRequest(f"queue: expected one of {expected}, got {queue!r}")
    return queue


def _callback(body: Mapping[str, Any], settings: Settings) -> str | None:
    """The URL rules of sources (no allowed-hosts list: that one is about sources)."""
    callback = _text(body, "callback", MAX_TEXT)
    if callback:
        _check_url(callback, settings, [])
    return callback or None


def _check_url(url: str, settings: Settings, allowed_hosts: list[str]) -> None:
    checked = check_source_url(url, tuple(allowed_hosts))
    if not settings.allow_private_sources:
        check_literal_host(checked)


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
