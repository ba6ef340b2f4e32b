"""Which settings each command offers as flags: those it reads, declared in groups by concern.

Only the flags are selected: every command still loads every setting from `IMAGESERVER_*` env
and --config (settings.load), so a TOML file written for `serve` works unchanged for `process`,
and a setting offered nowhere but `serve` (s3_presign_ttl_s) still reaches a worker from env.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from imageserver.settings import Settings, flag_name

ALL = frozenset(f.name for f in dataclasses.fields(Settings))

LOGGING = frozenset({"log_level"})
METRICS = frozenset({"statsd", "statsd_prefix"})
STORAGE = frozenset(
    {
        "storage",
        "s3_endpoint_url",
        "s3_region",
        "s3_access_key_id",
        "s3_secret_access_key",
        "s3_max_connections",
        "s3_timeout_s",
        "s3_max_attempts",
        "s3_connect_timeout_s",
    }
)
LIMITS = frozenset(
    {"max_upload_bytes", "max_pixels", "max_frames", "max_output_side", "pdf_max_pages"}
)
# what one render in this process uses: the render module's set-up and the pool's size
RENDER_ENGINE = frozenset(
    {
        "render_workers",
        "vips_concurrency",
        "fast_shrink_on_load",
        "malloc_arenas",
        "malloc_mmap_threshold",
    }
)
# what renders through the services add: PDF worker processes, failure memory, memory release
RENDER_SERVICES = RENDER_ENGINE | {
    "pdf_workers",
    "pdf_page_timeout_s",
    "document_renders",
    "render_failure_ttl_s",
    "release_memory_after_s",
}
# what an original stored by the services gets: its hash, and the outputs rendered with it
STORED_OUTPUTS = frozenset(
    {"md5_namespaces", "namespace_outputs", "upload_outputs", "namespace_presets", "watermarks"}
)
SIGNING = frozenset({"url_signing_keys", "url_signature_bytes"})

# Read only while serving HTTP: the listening socket, requests and answers, the dashboard.
HTTP_ONLY = frozenset(
    {
        "host",
        "port",
        "processes",
        "workers",
        "api_keys",
        "url_policy",
        "namespace_policies",
        "stored_outputs_public",
        "sweep_after_s",
        "upload_idle_timeout_s",
        "fallback_image",
        "fallback_image_ttl_s",
        "public_url",
        "trust_forwarded_headers",
        "cors_origins",
        "maintenance_file",
        "admin_prefix",
        "admin_session_ttl_s",
        "access_log",
        "s3_serve",
        "s3_public_url",
        "s3_presign_ttl_s",
        "insight_namespace",
        "downloader_namespace",
        "gateway_jwt_secret",
        "gateway_jwt_public_key",
    }
)

COMMAND_SETTINGS: dict[str, frozenset[str]] = {
    "serve": ALL,
    "process": LOGGING | METRICS | STORAGE | LIMITS | RENDER_SERVICES | STORED_OUTPUTS,
    "render": LOGGING | LIMITS | RENDER_ENGINE,
    # jobs fetch, store, render, rasterize and call back: everything but serving HTTP (the memory
    # cache stays: the services a worker builds hold one)
    "worker": ALL - HTTP_ONLY,
    "url": LOGGING | SIGNING,
}


def drop_unoffered(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The wanelo seed's global flags applied to every command, and its rewrite (aliases.py) puts
    them after ours as `--flag=value`: those our command does not offer are dropped, each with a
    note, instead of failing a seed command line that worked."""
    at = next((i for i, word in enumerate(argv) if word in COMMAND_SETTINGS), len(argv))
    if at == len(argv):
        return list(argv), []
    offered = COMMAND_SETTINGS[argv[at]]
    unoffered = {flag_name(f) for f in dataclasses.fields(Settings) if f.name not in offered}
    kept, notes = list(argv[: at + 1]), []
    for word in argv[at + 1 :]:
        flag = word.partition("=")[0]
        if word.startswith("--") and "=" in word and flag in unoffered:
            notes.append(f"{flag} has no effect on {argv[at]}")
        else:
            kept.append(word)
    return kept, notes
