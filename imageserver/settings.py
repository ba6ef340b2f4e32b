"""All configuration: one frozen `Settings`, built once from flags, `IMAGESERVER_*` env and TOML.

The dataclass fields are the one table of settings: each declares its name, its type with its
bounds (`PositiveInt`, `Annotated[str, Bounds(choices=...)]`), its default, help and parser
(settings_parsers.py). `--help`, the table of docs/configuration.md, the env names and the checks
of single values all come from it; checks across settings are settings_checks.py's. Pure: no
aiohttp, no pyvips.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from . import aliases, settings_checks, settings_flags
from .access import Policy
from .settings_flags import ENV_PREFIX, env_name
from .settings_flags import flag_name as flag_name  # re-exported: the CLI's name for it
from .settings_parsers import (
    LOG_LEVELS,
    MAX_PRESIGN_TTL_S,
    S3_SERVE_MODES,
    Bounds,
    NonNegativeFloat,
    NonNegativeInt,
    Port,
    PositiveFloat,
    PositiveInt,
    bounds_problems,
    setting,
    to_outputs_map,
    to_presets_map,
    to_str_map,
    to_watermarks,
)
from .watermarks import Watermark

MiB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    host: str = setting("127.0.0.1", "address to listen on")
    port: Port = setting(7000, "port to listen on")
    processes: PositiveInt = setting(
        1,
        "serving processes sharing the port (SO_REUSEPORT), each with its own render pool and "
        "memory cache: more hits per second where the app, not a front nginx, serves them",
    )
    storage: str = setting(
        "./data", "where originals and outputs are stored: a directory, or s3://bucket/prefix"
    )
    allow_private_sources: bool = setting(
        False, "let ?source= fetch from loopback, private and link-local addresses"
    )
    source_allowed_hosts: list[str] = setting(
        [], "when set, ?source= may fetch only from these hosts ('.example.com' for subdomains)"
    )
    source_timeout_s: PositiveFloat = setting(10.0, "timeout for fetching a source URL, in seconds")
    api_keys: list[str] = setting(
        [], "bearer keys required for POST and DELETE (none: open)", flag_name="api-key"
    )
    url_signing_keys: list[str] = setting(
        [],
        "keys that sign output URLs (HMAC-SHA256): the first signs, any verifies, so keys rotate",
        flag_name="url-signing-key",
    )
    url_signature_bytes: Annotated[int, Bounds(at_least=8, at_most=32)] = setting(
        32, "bytes of the HMAC-SHA256 digest a URL signature keeps (8-32; imgproxy's size)"
    )
    url_policy: Annotated[str, Bounds(choices=tuple(p.value for p in Policy))] = setting(
        "public", "who may make outputs render: public, signed or presets-only (see Security)"
    )
    namespace_policies: dict[str, str] = setting(
        {}, "--url-policy per namespace: 'avatars=signed;docs=presets-only'", parse=to_str_map
    )
    stored_outputs_public: bool = setting(
        True,
        "signed and presets-only namespaces serve outputs already stored to anyone (a front "
        "nginx does anyway); --no-stored-outputs-public: stored ones need a signature too",
    )
    max_upload_bytes: PositiveInt = setting(
        50 * MiB, "largest original accepted (upload or source)"
    )
    sweep_after_s: NonNegativeFloat = setting(
        3600.0,
        "at start-up, temp files and originals without info.json (left by a crash) older than "
        "this are removed (0: no sweep)",
    )
    upload_idle_timeout_s: PositiveFloat = setting(
        30.0, "an upload body that sends nothing for this long is dropped with a 408"
    )
    max_pixels: PositiveInt = setting(50_000_000, "largest original in pixels, frames summed")
    max_frames: PositiveInt = setting(500, "most frames (animation) or pages accepted")
    max_output_side: PositiveInt = setting(8192, "largest output width or height, after density")
    namespace_outputs: dict[str, list[str]] = setting(
        {},
        "outputs rendered on every upload, per namespace: 'avatars=x100.jpg,x50.webp;p=w200.jpg'",
        parse=to_outputs_map,
    )
    upload_outputs: list[str] = setting(
        [],
        "outputs rendered on every upload in every namespace, besides its namespace_outputs "
        "(the wanelo seed's --outputs)",
    )
    md5_namespaces: list[str] = setting(
        [],
        "namespaces whose content hash is the MD5 of the bytes, as the wanelo seed's, so its "
        "URLs can be recomputed; a namespace never mixes MD5 and xxh3 (uploads that would: 409)",
    )
    namespace_presets: dict[str, dict[str, str]] = setting(
        {},
        "named outputs per namespace, used as NAME.FORMAT: 'docs=small:w150,header:1200x400'",
        parse=to_presets_map,
    )
    watermarks: dict[str, Watermark] = setting(
        {},
        "watermarks that tokens name (-wmNAME), originals of a namespace: "
        "'logo=brand/HASH:se:0.2:0.5;badge=brand/_/badge' (SOURCE[:POSITION[:SCALE[:OPACITY"
        "[:MARGIN]]]]; see Watermarks)",
        parse=to_watermarks,
    )
    render_workers: NonNegativeInt = setting(0, "parallel renders (0: one per core)")
    render_queue: PositiveInt = setting(64, "renders that may wait for a worker before 503s")
    vips_concurrency: NonNegativeInt = setting(1, "libvips threads per render (0: libvips default)")
    fast_shrink_on_load: bool = setting(
        False,
        "JPEGs decode at the smallest 1/2, 1/4, 1/8 scale that covers the output (sharp's "
        "fastShrinkOnLoad): faster, grainier on noisy photos",
    )
    malloc_arenas: NonNegativeInt = setting(
        2, "glibc malloc arenas, fewer keep RSS flat (0: glibc default)"
    )
    malloc_mmap_threshold: NonNegativeInt = setting(
        MiB,
        "allocations of this many bytes or more are mapped on their own and given back when "
        "freed (glibc; 0: glibc's sliding threshold, which keeps freed pixel buffers)",
    )
    release_memory_after_s: NonNegativeFloat = setting(
        10.0, "once renders pause this long, freed memory goes back to the OS (glibc; 0: never)"
    )
    pdf_workers: NonNegativeInt = setting(0, "processes that render PDF pages (0: one per core)")
    pdf_page_timeout_s: PositiveFloat = setting(
        30.0, "longest one PDF page may take to render; its worker process is killed then"
    )
    pdf_max_pages: PositiveInt = setting(1000, "most pages a PDF may have")
    document_renders: PositiveInt = setting(
        1, "renders of one PDF at once; its other renders wait, other documents go on"
    )
    render_failure_ttl_s: NonNegativeFloat = setting(
        300.0,
        "a page that timed out or broke its decoder fails again at once, at any size, for this "
        "long (0: always try again)",
    )
    rasterize_dpi: PositiveInt = setting(
        150, "rasterize jobs: default resolution of the page images"
    )
    rasterize_format: str = setting(
        "jpg", "rasterize jobs: default format of the page images (an output format; jpeg: jpg)"
    )
    rasterize_max_side: NonNegativeInt = setting(
        0, "rasterize jobs: default longest side of a page image (0: --max-output-side)"
    )
    rasterize_fallback_dpi: PositiveInt = setting(
        72, "rasterize jobs: resolution of pages over --max-pixels at the requested one"
    )
    memory_cache_bytes: NonNegativeInt = setting(64 * MiB, "memory for hot outputs (0: off)")
    memory_cache_item_bytes: NonNegativeInt = setting(
        MiB, "largest output kept in the memory cache"
    )
    fallback_image: str = setting(
        "",
        "an image file (jpg, png, gif, webp, avif; read at start) answered with 200 when an "
        "output fails to render: undecodable, over a limit, overloaded, storage down; the real "
        "status in X-Imageserver-Status (empty: off; see 'Placeholders and the fallback image')",
    )
    fallback_image_ttl_s: NonNegativeInt = setting(
        60, "Cache-Control max-age of the fallback image, in seconds: the failure may pass"
    )
    public_url: str = setting(
        "",
        "the server's public base URL (https://img.example.com) in every URL it answers: upload "
        "answers, job views, callbacks, redirects (empty: from the request)",
    )
    trust_forwarded_headers: bool = setting(
        False,
        "take the scheme and host of answered URLs from X-Forwarded-Proto and X-Forwarded-Host "
        "(only behind a proxy that sets them; --public-url wins)",
    )
    cors_origins: list[str] = setting(
        [],
        "origins allowed to GET images, info.json and job views from a browser: "
        "'https://app.example.com' or '*' (none: no CORS headers)",
    )
    maintenance_file: str = setting("", "while this file exists /healthz answers 503")
    admin_prefix: str = setting(
        "/admin", "path of the admin dashboard, behind the API keys (empty: no dashboard)"
    )
    admin_session_ttl_s: PositiveInt = setting(
        8 * 3600, "how long a dashboard login lasts, in seconds"
    )
    statsd: str = setting("", "statsd host:port (empty: off)")
    statsd_prefix: str = setting("image_server", "prefix of statsd names (the wanelo seed's)")
    log_level: Annotated[str, Bounds(choices=LOG_LEVELS)] = setting(
        "info", "debug, info, warning or error"
    )
    access_log: bool = setting(False, "log every request (costs throughput on hits)")
    s3_endpoint_url: str = setting(
        "", "S3 API endpoint for S3-compatible stores: MinIO, Ceph, R2 (empty: AWS)"
    )
    s3_region: str = setting("", "S3 region (empty: from the standard AWS config and environment)")
    s3_access_key_id: str = setting(
        "", "S3 access key id (empty: from the standard AWS config and environment)"
    )
    s3_secret_access_key: str = setting(
        "", "S3 secret access key (empty: from the standard AWS config and environment)"
    )
    s3_serve: Annotated[str, Bounds(choices=S3_SERVE_MODES)] = setting(
        "stream",
        "stored outputs in S3: stream (through the server) or redirect (302 to the object)",
    )
    s3_public_url: str = setting(
        "", "redirect mode: base URL of the bucket or of a CDN before it (empty: presigned URLs)"
    )
    s3_presign_ttl_s: Annotated[int, Bounds(at_least=1, at_most=MAX_PRESIGN_TTL_S)] = setting(
        3600, "redirect mode: lifetime of presigned URLs, in seconds"
    )
    s3_max_connections: PositiveInt = setting(64, "size of the S3 connection pool")
    s3_timeout_s: PositiveFloat = setting(
        5.0, "longest an S3 call may take, retries included, before a 503 or 504"
    )
    s3_max_attempts: PositiveInt = setting(
        2, "tries per S3 call on connection errors, throttling and 5xx (1: no retry)"
    )
    s3_connect_timeout_s: PositiveFloat = setting(
        0.5, "an S3 endpoint that takes longer to accept a connection counts as down (503)"
    )
    jobs_url: str = setting(
        "",
        "job queues: sqlite:///path/jobs.db or redis://host:port/db (empty: jobs.db in --storage)",
    )
    workers: bool = setting(
        True, "serve runs job workers in its own process (--no-workers: HTTP only)"
    )
    job_concurrency: PositiveInt = setting(
        8, "jobs a worker process runs at once (callbacks as many again)"
    )
    job_queues: list[str] = setting(["urgent", "normal"], "job queues, the most urgent first")
    job_default_queue: str = setting("normal", "queue of jobs that name none")
    job_max_attempts: NonNegativeInt = setting(
        3, "tries per job on transient failures (timeouts, 5xx; 0: for ever, the dlcs seed's)"
    )
    job_retry_delay_s: NonNegativeFloat = setting(
        1.0, "first retry delay of jobs and callbacks, doubled per attempt, with full jitter"
    )
    job_timeout_s: PositiveInt = setting(300, "longest a job may run, fetch and renders included")
    job_heartbeat_s: PositiveInt = setting(
        30, "a running job whose worker is silent this long is taken back and run again"
    )
    job_ttl_s: PositiveInt = setting(
        7 * 24 * 3600, "finished jobs are kept this long for status lookups"
    )
    instance_heartbeat_s: PositiveFloat = setting(
        5.0,
        "every server and worker process writes a heartbeat to --jobs-url this often (the "
        "dashboard's Instances: stale after 3 missed, forgotten after 10)",
    )
    job_host_limit: PositiveInt = setting(
        4, "concurrent fetches per source host, across all workers"
    )
    callback_secret: str = setting("", "HMAC-SHA256 key that signs callbacks (empty: unsigned)")
    callback_max_attempts: PositiveInt = setting(5, "tries per callback until a 2xx answer")
    callback_timeout_s: PositiveFloat = setting(
        10.0, "timeout for one callback request, in seconds"
    )
    callback_stream_url: str = setting(
        "",
        "Redis that stream callbacks (callback_type redis, or the seed's kafka) are added to "
        "with XADD (empty: --jobs-url when it is Redis; else stream callbacks are refused)",
    )
    # The seeds' own APIs (docs/migrating.md): where their requests land.
    insight_namespace: str = setting(
        "insight", "namespace of insight-reloaded's GET /?url=&callback= previews"
    )
    downloader_namespace: str = setting(
        "downloads", "namespace of the skroutz downloader's POST /download files"
    )
    gateway_jwt_secret: str = setting(
        "",
        "CRIM Service Gateway routes: HS256 secret (32 bytes or more) that verifies "
        "'Authorization: <JWT>' (neither JWT key set: the API keys apply)",
    )
    gateway_jwt_public_key: str = setting(
        "",
        "CRIM Service Gateway routes: RS256 public key (PEM, or a PEM file's path, read at "
        "start) that verifies 'Authorization: <JWT>'",
    )

    def policy_of(self, namespace: str) -> Policy:
        return Policy(self.namespace_policies.get(namespace, self.url_policy))

    def resolved_render_workers(self) -> int:
        return self.render_workers or os.cpu_count() or 1

    def resolved_pdf_workers(self) -> int:
        return self.pdf_workers or os.cpu_count() or 1

    def resolved_jobs_url(self) -> str:
        """The jobs database beside the images by default (./data/jobs.db); S3 keeps it local."""
        if self.jobs_url:
            return self.jobs_url
        directory = "./data" if self.storage.startswith("s3://") else self.storage
        return "sqlite:///" + os.path.join(directory.removeprefix("file://"), "jobs.db")


class SettingsError(ValueError):
    """Every problem found in the configuration at once, one per line."""


def _fields() -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(Settings)


def describe() -> list[tuple[str, str, str, str]]:
    """(flag, env, default, help) per setting: feeds --help and docs/configuration.md's table."""
    return settings_flags.describe(_fields())


def add_arguments(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
    """Adds one flag per setting, or per setting in `names` (a command that uses only those);
    unset flags stay None so env and file can fill them."""
    settings_flags.add_arguments(parser, _fields(), names)


def load(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_path: str | None = None,
) -> Settings:
    """Flags win over env, env over the TOML file, the file over defaults. The seeds' own env
    names (aliases.py) count as env, under `IMAGESERVER_*`."""
    flags = flags or {}
    env = os.environ if env is None else env
    config_path = config_path or flags.get("config") or env.get(ENV_PREFIX + "CONFIG")
    toml = _read_toml(config_path) if config_path else {}
    try:  # the seeds' env names (aliases.py) under our own IMAGESERVER_* ones
        seeds = aliases.settings_from_env(env)
    except ValueError as exc:  # a seed's value that maps to nothing, named by its variable
        raise SettingsError(str(exc)) from exc
    layers = [toml, seeds, _from_env(env), flags]
    raw: dict[str, Any] = {}
    for layer in layers:
        raw.update({k: v for k, v in layer.items() if v is not None and k != "config"})
    return _build(raw)


def _read_toml(path: str) -> dict[str, Any]:
    import tomllib  # only with --config: its parser costs start-up (20 ms) to every command

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"config file {path}: {exc}") from exc


def _from_env(env: Mapping[str, str]) -> dict[str, str]:
    return {f.name: env[env_name(f.name)] for f in _fields() if env_name(f.name) in env}


def _build(raw: dict[str, Any]) -> Settings:
    known = {f.name: f for f in _fields()}
    problems = [f"unknown setting '{name}'" for name in raw if name not in known]
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in known:
            try:
                values[name] = known[name].metadata["parse"](value)
            except (TypeError, ValueError) as exc:
                problems.append(f"{name}: {exc}")
    settings = Settings(**values)
    problems += bounds_problems(settings)
    problems += settings_checks.problems(settings)
    if problems:
        raise SettingsError("\n".join(problems))
    return settings
