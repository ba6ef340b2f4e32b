"""The start-up checks of a `Settings`: ranges, shapes and combinations nobody could serve.

A configuration that cannot work is refused at start with every problem listed, not discovered
at the first request that needs it. Pure: no aiohttp, no pyvips.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import presets, watermarks
from .access import Policy
from .errors import ImageServerError
from .formats import OUTPUT_FORMATS, output_format, sniff
from .keys import check_namespace
from .transform import parse_token, parse_tokens

if TYPE_CHECKING:
    from .settings import Settings

MAX_PRESIGN_TTL_S = 7 * 24 * 3600


def problems(settings: Settings) -> list[str]:
    """Every problem at once, one line each: an operator fixes them in one go."""
    problems = _positive(
        settings,
        (
            "processes",
            "max_upload_bytes",
            "max_pixels",
            "max_frames",
            "max_output_side",
            "render_queue",
            "upload_idle_timeout_s",
            "source_timeout_s",
        ),
    )
    problems += _non_negative(
        settings,
        (
            "render_workers",
            "vips_concurrency",
            "malloc_arenas",
            "malloc_mmap_threshold",
            "release_memory_after_s",
            "memory_cache_bytes",
            "render_failure_ttl_s",
            "sweep_after_s",
        ),
    )
    if not 0 < settings.port < 65536:
        problems.append(f"port: expected 1-65535, got {settings.port}")
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
    if settings.log_level not in {"debug", "info", "warning", "error"}:
        problems.append(
            f"log_level: expected debug, info, warning or error, got {settings.log_level!r}"
        )
    return problems


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
    policies = {"url_policy": settings.url_policy} | {
        f"namespace_policies: {ns}": policy for ns, policy in settings.namespace_policies.items()
    }
    problems = [
        f"{where}: expected {known}, got {policy!r}"
        for where, policy in policies.items()
        if policy not in set(Policy)
    ]
    if problems:
        return problems
    if Policy.SIGNED in policies.values() and not settings.url_signing_keys:
        problems.append("url_policy signed needs --url-signing-key")
    if settings.url_policy == Policy.PRESETS_ONLY:
        problems.append("url_policy presets-only applies per namespace: use namespace_policies")
    problems += [
        f"namespace_policies: {ns}: presets-only needs namespace_presets for {ns}"
        for ns, policy in settings.namespace_policies.items()
        if policy == Policy.PRESETS_ONLY and not settings.namespace_presets.get(ns)
    ]
    if not 8 <= settings.url_signature_bytes <= 32:
        problems.append(f"url_signature_bytes: expected 8-32, got {settings.url_signature_bytes}")
    return problems


def _stem_problem(stem: str, settings: Settings) -> str | None:
    """A stem is a token without its format: it must parse with some format (jpg takes most
    options; `-lossless` and an alpha background need webp), and a watermark it names must be
    configured."""
    problems = [
        _error_of(
            lambda fmt=fmt: watermarks.check_known(
                [parse_token(f"{stem}.{fmt}", max_side=settings.max_output_side)],
                settings.watermarks,
            )
        )
        for fmt in ("jpg", "webp")
    ]
    return None if None in problems else problems[0]


def _positive(settings: Settings, names: tuple[str, ...]) -> list[str]:
    return [f"{name}: must be > 0" for name in names if getattr(settings, name) <= 0]


def _non_negative(settings: Settings, names: tuple[str, ...]) -> list[str]:
    return [f"{name}: must be >= 0" for name in names if getattr(settings, name) < 0]


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
    problems = _positive(
        settings,
        (
            "pdf_page_timeout_s",
            "pdf_max_pages",
            "rasterize_dpi",
            "rasterize_fallback_dpi",
            "document_renders",
        ),
    )
    problems += _non_negative(settings, ("pdf_workers",))
    if not 0 <= settings.rasterize_max_side <= settings.max_output_side:
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
    if settings.s3_serve not in {"stream", "redirect"}:
        problems.append(f"s3_serve: expected stream or redirect, got {settings.s3_serve!r}")
    if not 0 < settings.s3_presign_ttl_s <= MAX_PRESIGN_TTL_S:
        problems.append(f"s3_presign_ttl_s: expected 1-{MAX_PRESIGN_TTL_S} (SigV4's limit)")
    if bool(settings.s3_access_key_id) != bool(settings.s3_secret_access_key):
        problems.append("s3_access_key_id and s3_secret_access_key: set both or neither")
    problems += _positive(
        settings, ("s3_max_connections", "s3_timeout_s", "s3_max_attempts", "s3_connect_timeout_s")
    )
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
    problems += _positive(
        settings,
        (
            "job_concurrency",
            "job_timeout_s",
            "job_ttl_s",
            "job_heartbeat_s",
            "instance_heartbeat_s",
            "job_host_limit",
            "callback_max_attempts",
            "callback_timeout_s",
        ),
    )
    problems += _non_negative(settings, ("job_max_attempts", "job_retry_delay_s"))
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
    problems = _non_negative(settings, ("fallback_image_ttl_s",))
    path = settings.fallback_image
    if not path:
        return problems
    try:
        with open(path, "rb") as fh:
            head, size = fh.read(1024), os.fstat(fh.fileno()).st_size
    except OSError as exc:
        return [*problems, f"fallback_image: cannot read {path!r}: {exc.strerror}"]
    found = sniff(head)
    if found is None or found.mime not in FALLBACK_TYPES:
        kind = found.mime if found else "not an image"
        expected = ", ".join(t.removeprefix("image/") for t in FALLBACK_TYPES)
        problems.append(f"fallback_image: expected {expected}, got {kind} in {path!r}")
    if size > FALLBACK_MAX_BYTES:
        problems.append(
            f"fallback_image: expected at most {FALLBACK_MAX_BYTES} bytes, got {size} in {path!r}"
        )
    return problems
