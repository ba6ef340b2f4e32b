"""The start-up checks of a `Settings` across its values: shapes and combinations nobody could
serve, and contents that must parse (outputs, presets, watermarks, the fallback image).

The bounds of one value are in its type (settings_parsers.Bounds). A configuration that cannot
work is refused at start with every problem listed, not discovered at the first request that
needs it. Pure: no aiohttp, no pyvips.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import presets, publicurl, watermarks
from .access import Policy
from .errors import ImageServerError
from .formats import OUTPUT_FORMATS, output_format, sniff
from .keys import check_namespace
from .transform import parse_token, parse_tokens

if TYPE_CHECKING:
    from .settings import Settings


def problems(settings: Settings) -> list[str]:
    """Every problem at once, one line each: an operator fixes them in one go."""
    problems: list[str] = []
    if settings.statsd and not settings.statsd.rpartition(":")[2].isdigit():
        problems.append(f"statsd: expected host:port, got {settings.statsd!r}")
    problems += _namespace_output_problems(settings)
    problems += _preset_problems(settings)
    problems += _watermark_problems(settings)
    problems += _policy_problems(settings)
    problems += _pdf_problems(settings)
    problems += _s3_problems(settings)
    problems += _jobs_problems(settings)
    problems += _gateway_problems(settings)
    problems += _fallback_problems(settings)
    problems += _public_url_problems(settings)
    return problems


def _public_url_problems(settings: Settings) -> list[str]:
    """A base URL or an origin with a path, query or odd scheme would put broken URLs in every
    answer, or never match a browser's Origin header: refused at start."""
    problems = []
    if settings.public_url and not _is_origin(settings.public_url, path_allowed=True):
        problems.append(
            f"public_url: expected http(s)://host[:port][/path], got {settings.public_url!r}"
        )
    for origin in settings.cors_origins:
        if origin != "*" and not _is_origin(origin, path_allowed=False):
            problems.append(
                f"cors_origins: expected '*' or an origin like https://app.example.com, "
                f"got {origin!r}"
            )
    return problems


def _is_origin(url: str, *, path_allowed: bool) -> bool:
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if scheme not in publicurl.SCHEMES or not sep or publicurl.forwarded_host(host) is None:
        return False
    return path_allowed or not (slash and path)  # a trailing slash alone is no path


def _namespace_output_problems(settings: Settings) -> list[str]:
    """Default outputs are checked at start, not discovered broken at the first upload."""
    problems = []
    for namespace, tokens in settings.namespace_outputs.items():
        try:
            check_namespace(namespace)
            outputs = parse_tokens(
                ",".join(tokens),
                max_side=settings.max_output_side,
                presets=settings.namespace_presets.get(namespace),
            )
            watermarks.check_known(outputs, settings.watermarks)
        except ImageServerError as exc:
            problems.append(f"namespace_outputs: {namespace}: {exc.message}")
    upload = _error_of(
        lambda: watermarks.check_known(
            parse_tokens(",".join(settings.upload_outputs), max_side=settings.max_output_side),
            settings.watermarks,
        )
    )
    if upload:
        problems.append(f"upload_outputs: {upload}")
    problems += [
        f"md5_namespaces: {error}"
        for error in map(_namespace_error, settings.md5_namespaces)
        if error
    ]
    return problems


def _preset_problems(settings: Settings) -> list[str]:
    """Presets are checked at start like default outputs: names, and stems that parse."""
    problems = []
    for namespace, table in settings.namespace_presets.items():
        for name, stem in table.items():
            problem = presets.name_problem(name) or _stem_problem(stem, settings)
            if problem:
                problems.append(f"namespace_presets: {namespace}: {name}: {problem}")
        error = _namespace_error(namespace)
        if error:
            problems.append(f"namespace_presets: {error}")
    return problems


def _policy_problems(settings: Settings) -> list[str]:
    """A policy that nobody could satisfy is a start-up error, not a namespace of 403s."""
    known = ", ".join(p.value for p in Policy)
    problems = [
        f"namespace_policies: {ns}: expected {known}, got {policy!r}"
        for ns, policy in settings.namespace_policies.items()
        if policy not in set(Policy)
    ]
    policies = [settings.url_policy, *settings.namespace_policies.values()]
    if problems or settings.url_policy not in set(Policy):
        return problems  # url_policy's own type names its choices (settings.py)
    if Policy.SIGNED in policies and not settings.url_signing_keys:
        problems.append("url_policy signed needs --url-signing-key")
    if settings.url_policy == Policy.PRESETS_ONLY:
        problems.append("url_policy presets-only applies per namespace: use namespace_policies")
    problems += [
        f"namespace_policies: {ns}: presets-only needs namespace_presets for {ns}"
        for ns, policy in settings.namespace_policies.items()
        if policy == Policy.PRESETS_ONLY and not settings.namespace_presets.get(ns)
    ]
    return problems


def _stem_problem(stem: str, settings: Settings) -> str | None:
    """A stem is a token without its format: it must parse with some format (jpg takes most
    options; `-lossless` and an alpha background need webp), and a watermark it names must be
    configured."""
    problems = [_stem_format_problem(stem, fmt, settings) for fmt in ("jpg", "webp")]
    return None if None in problems else problems[0]


def _stem_format_problem(stem: str, fmt: str, settings: Settings) -> str | None:
    return _error_of(
        lambda: watermarks.check_known(
            [parse_token(f"{stem}.{fmt}", max_side=settings.max_output_side)], settings.watermarks
        )
    )


def _namespace_error(namespace: str) -> str | None:
    return _error_of(lambda: check_namespace(namespace))


def _error_of(check: Callable[[], object]) -> str | None:
    """The message of the ImageServerError that `check()` raises, if it does."""
    try:
        check()
    except ImageServerError as exc:
        return exc.message
    return None


def _pdf_problems(settings: Settings) -> list[str]:
    problems = []
    if settings.rasterize_max_side > settings.max_output_side:  # >= 0: its type's bound
        problems.append(f"rasterize_max_side: expected 0-{settings.max_output_side}")
    if output_format(settings.rasterize_format) is None:
        expected = ", ".join(OUTPUT_FORMATS)
        problems.append(
            f"rasterize_format: expected one of {expected}, got {settings.rasterize_format!r}"
        )
    return problems


def _s3_problems(settings: Settings) -> list[str]:
    """Only the shape: whether the bucket answers is learnt per request (S3 may be down now)."""
    problems = []
    if settings.storage.startswith("s3://") and not settings.storage[5:].split("/")[0]:
        problems.append(f"storage: expected s3://bucket/prefix, got {settings.storage!r}")
    if bool(settings.s3_access_key_id) != bool(settings.s3_secret_access_key):
        problems.append("s3_access_key_id and s3_secret_access_key: set both or neither")
    return problems


def _jobs_problems(settings: Settings) -> list[str]:
    """Queue names are URL path segments (/queues/{name}/status), so they follow namespaces'."""
    problems = []
    for name in settings.job_queues:
        try:
            check_namespace(name)
        except ImageServerError:
            problems.append(f"job_queues: expected names like namespaces, got {name!r}")
    if len(set(settings.job_queues)) != len(settings.job_queues) or not settings.job_queues:
        problems.append("job_queues: expected at least one name, each once")
    if settings.job_default_queue not in settings.job_queues:
        problems.append(f"job_default_queue: {settings.job_default_queue!r} is not in job_queues")
    # where insight-reloaded's GET /?url= jobs store their previews
    insight = _namespace_error(settings.insight_namespace)
    if insight:
        problems.append(f"insight_namespace: {insight}")
    if settings.jobs_url and not settings.jobs_url.startswith(
        ("sqlite://", "redis://", "rediss://")
    ):
        problems.append("jobs_url: expected sqlite:///path or redis://host:port/db")
    if settings.callback_stream_url and not settings.callback_stream_url.startswith(
        ("redis://", "rediss://")
    ):
        problems.append("callback_stream_url: expected redis://host:port/db")
    return problems


def _gateway_problems(settings: Settings) -> list[str]:
    """The gateway's JWT keys load now, not at its first request. PyJWT and cryptography are
    imported only when a key is set."""
    if not (settings.gateway_jwt_secret or settings.gateway_jwt_public_key):
        return []
    from .jwtauth import key_problems

    return key_problems(settings.gateway_jwt_secret, settings.gateway_jwt_public_key)


def _watermark_problems(settings: Settings) -> list[str]:
    return [
        f"watermarks: {problem}"
        for name, mark in settings.watermarks.items()
        for problem in watermarks.problems(name, mark)
    ]


# Types every browser shows: the fallback goes out as it is, with its own Content-Type.
FALLBACK_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/avif")
FALLBACK_MAX_BYTES = 4 * 1024 * 1024  # kept in memory, answered whole


def _fallback_problems(settings: Settings) -> list[str]:
    """The file is read now, not at the first failed render; its pixels are decoded when the
    services start (fallback.py), by the render package this module may not import."""
    path = settings.fallback_image
    if not path:
        return []
    try:
        with open(path, "rb") as fh:
            head, size = fh.read(1024), os.fstat(fh.fileno()).st_size
    except OSError as exc:
        return [f"fallback_image: cannot read {path!r}: {exc.strerror}"]
    found = sniff(head)
    if found is None or found.mime not in FALLBACK_TYPES:
        kind = found.mime if found else "not an image"
        expected = ", ".join(t.removeprefix("image/") for t in FALLBACK_TYPES)
        problems = [f"fallback_image: expected {expected}, got {kind} in {path!r}"]
    else:
        problems = []
    if size > FALLBACK_MAX_BYTES:
        problems.append(
            f"fallback_image: expected at most {FALLBACK_MAX_BYTES} bytes, got {size} in {path!r}"
        )
    return problems
