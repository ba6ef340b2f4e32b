"""All configuration: one frozen `Settings`, built once from flags, `IMAGESERVER_*` env and TOML.

The dataclass fields are the one table of (name, default, help): `--help`, the README table and
the env names all come from it. Pure: no aiohttp, no pyvips.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import aliases, settings_checks
from .access import Policy
from .watermarks import Watermark

ENV_PREFIX = "IMAGESERVER_"
MiB = 1024 * 1024


def _setting(default: Any, help: str, *, flag_name: str | None = None) -> Any:
    """Declares a setting; mutable defaults become factories so instances never share them."""
    metadata = {"help": help, "flag": flag_name}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    host: str = _setting("127.0.0.1", "address to listen on")
    port: int = _setting(7000, "port to listen on")
    processes: int = _setting(
        1,
        "serving processes sharing the port (SO_REUSEPORT), each with its own render pool and "
        "memory cache: more hits per second where the app, not a front nginx, serves them",
    )
    storage: str = _setting(
        "./data", "where originals and outputs are stored: a directory, or s3://bucket/prefix"
    )
    allow_private_sources: bool = _setting(
        False, "let ?source= fetch from loopback, private and link-local addresses"
    )
    source_allowed_hosts: list[str] = _setting(
        [], "when set, ?source= may fetch only from these hosts ('.example.com' for subdomains)"
    )
    source_timeout_s: float = _setting(10.0, "timeout for fetching a source URL, in seconds")
    api_keys: list[str] = _setting(
        [], "bearer keys required for POST and DELETE (none: open)", flag_name="api-key"
    )
    url_signing_keys: list[str] = _setting(
        [],
        "keys that sign output URLs (HMAC-SHA256): the first signs, any verifies, so keys rotate",
        flag_name="url-signing-key",
    )
    url_signature_bytes: int = _setting(
        32, "bytes of the HMAC-SHA256 digest a URL signature keeps (8-32; imgproxy's size)"
    )
    url_policy: str = _setting(
        "public", "who may make outputs render: public, signed or presets-only (see Security)"
    )
    namespace_policies: dict[str, str] = _setting(
        {}, "--url-policy per namespace: 'avatars=signed;docs=presets-only'"
    )
    stored_outputs_public: bool = _setting(
        True,
        "signed and presets-only namespaces serve outputs already stored to anyone (a front "
        "nginx does anyway); --no-stored-outputs-public: stored ones need a signature too",
    )
    max_upload_bytes: int = _setting(50 * MiB, "largest original accepted (upload or source)")
    sweep_after_s: float = _setting(
        3600.0,
        "at start-up, temp files and originals without info.json (left by a crash) older than "
        "this are removed (0: no sweep)",
    )
    upload_idle_timeout_s: float = _setting(
        30.0, "an upload body that sends nothing for this long is dropped with a 408"
    )
    max_pixels: int = _setting(50_000_000, "largest original in pixels, frames summed")
    max_frames: int = _setting(500, "most frames (animation) or pages accepted")
    max_output_side: int = _setting(8192, "largest output width or height, after density")
    namespace_outputs: dict[str, list[str]] = _setting(
        {},
        "outputs rendered on every upload, per namespace: 'avatars=x100.jpg,x50.webp;p=w200.jpg'",
    )
    upload_outputs: list[str] = _setting(
        [],
        "outputs rendered on every upload in every namespace, besides its namespace_outputs "
        "(the wanelo seed's --outputs)",
    )
    md5_namespaces: list[str] = _setting(
        [],
        "namespaces whose content hash is the MD5 of the bytes, as the wanelo seed's, so its "
        "URLs can be recomputed; a namespace never mixes MD5 and xxh3 (uploads that would: 409)",
    )
    namespace_presets: dict[str, dict[str, str]] = _setting(
        {},
        "named outputs per namespace, used as NAME.FORMAT: 'docs=small:w150,header:1200x400'",
    )
    watermarks: dict[str, Watermark] = _setting(
        {},
        "watermarks that tokens name (-wmNAME), originals of a namespace: "
        "'logo=brand/HASH:se:0.2:0.5;badge=brand/_/badge' (SOURCE[:POSITION[:SCALE[:OPACITY"
        "[:MARGIN]]]]; see Watermarks)",
    )
    render_workers: int = _setting(0, "parallel renders (0: one per core)")
    render_queue: int = _setting(64, "renders that may wait for a worker before 503s")
    vips_concurrency: int = _setting(1, "libvips threads per render (0: libvips default)")
    fast_shrink_on_load: bool = _setting(
        False,
        "JPEGs decode at the smallest 1/2, 1/4, 1/8 scale that covers the output (sharp's "
        "fastShrinkOnLoad): faster, grainier on noisy photos",
    )
    malloc_arenas: int = _setting(2, "glibc malloc arenas, fewer keep RSS flat (0: glibc default)")
    malloc_mmap_threshold: int = _setting(
        MiB,
        "allocations of this many bytes or more are mapped on their own and given back when "
        "freed (glibc; 0: glibc's sliding threshold, which keeps freed pixel buffers)",
    )
    release_memory_after_s: float = _setting(
        10.0, "once renders pause this long, freed memory goes back to the OS (glibc; 0: never)"
    )
    pdf_workers: int = _setting(0, "processes that render PDF pages (0: one per core)")
    pdf_page_timeout_s: float = _setting(
        30.0, "longest one PDF page may take to render; its worker process is killed then"
    )
    pdf_max_pages: int = _setting(1000, "most pages a PDF may have")
    document_renders: int = _setting(
        1, "renders of one PDF at once; its other renders wait, other documents go on"
    )
    render_failure_ttl_s: float = _setting(
        300.0,
        "a page that timed out or broke its decoder fails again at once, at any size, for this "
        "long (0: always try again)",
    )
    rasterize_dpi: int = _setting(150, "rasterize jobs: default resolution of the page images")
    rasterize_format: str = _setting(
        "jpg", "rasterize jobs: default format of the page images (an output format; jpeg: jpg)"
    )
    rasterize_max_side: int = _setting(
        0, "rasterize jobs: default longest side of a page image (0: --max-output-side)"
    )
    rasterize_fallback_dpi: int = _setting(
        72, "rasterize jobs: resolution of pages over --max-pixels at the requested one"
    )
    memory_cache_bytes: int = _setting(64 * MiB, "memory for hot outputs (0: off)")
    memory_cache_item_bytes: int = _setting(MiB, "largest output kept in the memory cache")
    fallback_image: str = _setting(
        "",
        "an image file (jpg, png, gif, webp, avif; read at start) answered with 200 when an "
        "output fails to render: undecodable, over a limit, overloaded, storage down; the real "
        "status in X-Imageserver-Status (empty: off; see 'Placeholders and the fallback image')",
    )
    fallback_image_ttl_s: int = _setting(
        60, "Cache-Control max-age of the fallback image, in seconds: the failure may pass"
    )
    maintenance_file: str = _setting("", "while this file exists /healthz answers 503")
    admin_prefix: str = _setting(
        "/admin", "path of the admin dashboard, behind the API keys (empty: no dashboard)"
    )
    admin_session_ttl_s: int = _setting(8 * 3600, "how long a dashboard login lasts, in seconds")
    statsd: str = _setting("", "statsd host:port (empty: off)")
    statsd_prefix: str = _setting("image_server", "prefix of statsd names (the wanelo seed's)")
    log_level: str = _setting("info", "debug, info, warning or error")
    access_log: bool = _setting(False, "log every request (costs throughput on hits)")
    s3_endpoint_url: str = _setting(
        "", "S3 API endpoint for S3-compatible stores: MinIO, Ceph, R2 (empty: AWS)"
    )
    s3_region: str = _setting("", "S3 region (empty: from the standard AWS config and environment)")
    s3_access_key_id: str = _setting(
        "", "S3 access key id (empty: from the standard AWS config and environment)"
    )
    s3_secret_access_key: str = _setting(
        "", "S3 secret access key (empty: from the standard AWS config and environment)"
    )
    s3_serve: str = _setting(
        "stream",
        "stored outputs in S3: stream (through the server) or redirect (302 to the object)",
    )
    s3_public_url: str = _setting(
        "", "redirect mode: base URL of the bucket or of a CDN before it (empty: presigned URLs)"
    )
    s3_presign_ttl_s: int = _setting(3600, "redirect mode: lifetime of presigned URLs, in seconds")
    s3_max_connections: int = _setting(64, "size of the S3 connection pool")
    s3_timeout_s: float = _setting(
        5.0, "longest an S3 call may take, retries included, before a 503 or 504"
    )
    s3_max_attempts: int = _setting(
        2, "tries per S3 call on connection errors, throttling and 5xx (1: no retry)"
    )
    s3_connect_timeout_s: float = _setting(
        0.5, "an S3 endpoint that takes longer to accept a connection counts as down (503)"
    )
    jobs_url: str = _setting(
        "",
        "job queues: sqlite:///path/jobs.db or redis://host:port/db (empty: jobs.db in --storage)",
    )
    workers: bool = _setting(
        True, "serve runs job workers in its own process (--no-workers: HTTP only)"
    )
    job_concurrency: int = _setting(
        8, "jobs a worker process runs at once (callbacks as many again)"
    )
    job_queues: list[str] = _setting(["urgent", "normal"], "job queues, the most urgent first")
    job_default_queue: str = _setting("normal", "queue of jobs that name none")
    job_max_attempts: int = _setting(
        3, "tries per job on transient failures (timeouts, 5xx; 0: for ever, the dlcs seed's)"
    )
    job_retry_delay_s: float = _setting(
        1.0, "first retry delay of jobs and callbacks, doubled per attempt, with full jitter"
    )
    job_timeout_s: int = _setting(300, "longest a job may run, fetch and renders included")
    job_heartbeat_s: int = _setting(
        30, "a running job whose worker is silent this long is taken back and run again"
    )
    job_ttl_s: int = _setting(7 * 24 * 3600, "finished jobs are kept this long for status lookups")
    instance_heartbeat_s: float = _setting(
        5.0,
        "every server and worker process writes a heartbeat to --jobs-url this often (the "
        "dashboard's Instances: stale after 3 missed, forgotten after 10)",
    )
    job_host_limit: int = _setting(4, "concurrent fetches per source host, across all workers")
    callback_secret: str = _setting("", "HMAC-SHA256 key that signs callbacks (empty: unsigned)")
    callback_max_attempts: int = _setting(5, "tries per callback until a 2xx answer")
    callback_timeout_s: float = _setting(10.0, "timeout for one callback request, in seconds")
    callback_stream_url: str = _setting(
        "",
        "Redis that stream callbacks (callback_type redis, or the seed's kafka) are added to "
        "with XADD (empty: --jobs-url when it is Redis; else stream callbacks are refused)",
    )
    # The seeds' own APIs (README "Migrating from ..."): where their requests land.
    insight_namespace: str = _setting(
        "insight", "namespace of insight-reloaded's GET /?url=&callback= previews"
    )
    downloader_namespace: str = _setting(
        "downloads", "namespace of the skroutz downloader's POST /download files"
    )
    gateway_jwt_secret: str = _setting(
        "",
        "CRIM Service Gateway routes: HS256 secret (32 bytes or more) that verifies "
        "'Authorization: <JWT>' (neither JWT key set: the API keys apply)",
    )
    gateway_jwt_public_key: str = _setting(
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


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag_name(f: dataclasses.Field[Any]) -> str:
    return "--" + (f.metadata["flag"] or f.name.replace("_", "-"))


def describe() -> list[tuple[str, str, str, str]]:
    """(flag, env, default, help) per setting: feeds --help and the README table."""
    return [
        (flag_name(f), env_name(f.name), _show_default(_default(f)), f.metadata["help"])
        for f in _fields()
    ]


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _show_default(value: Any) -> str:
    if isinstance(value, list | dict) and not value:
        return "(none)"
    if isinstance(value, list):
        return ",".join(value)  # as the flag and the env variable take it
    return "''" if value == "" else str(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds one flag per setting; unset flags stay None so env and file can fill them."""
    parser.add_argument("--config", metavar="FILE", help="TOML file with settings")
    for f in _fields():
        help_text = (
            f"{f.metadata['help']} (default: {_show_default(_default(f))}; env {env_name(f.name)})"
        )
        if f.type == "bool":
            parser.add_argument(
                flag_name(f), dest=f.name, action=argparse.BooleanOptionalAction, help=help_text
            )
        elif f.type.startswith("list"):
            parser.add_argument(flag_name(f), dest=f.name, action="append", help=help_text)
        else:
            parser.add_argument(flag_name(f), dest=f.name, help=help_text)


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
                values[name] = _coerce(known[name].type, value)
            except (TypeError, ValueError) as exc:
                problems.append(f"{name}: {exc}")
    settings = Settings(**values)
    problems += settings_checks.problems(settings)
    if problems:
        raise SettingsError("\n".join(problems))
    return settings


def _coerce(kind: Any, value: Any) -> Any:
    """Turns a flag, env string or TOML value into the setting's type."""
    converters = {
        "str": str,
        "int": _to_int,
        "float": float,
        "bool": _to_bool,
        "list[str]": _to_list,
        "dict[str, list[str]]": _to_outputs_map,
        "dict[str, dict[str, str]]": _to_presets_map,
        "dict[str, str]": _to_str_map,
        "dict[str, Watermark]": _to_watermarks,
    }
    return converters[kind](value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool | float):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _to_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _to_outputs_map(value: Any) -> dict[str, list[str]]:
    """Accepts a TOML table {ns = [tokens]} or 'ns=a,b;ns2=c' from a flag or env."""
    if isinstance(value, dict):
        return {str(ns): _to_list(tokens) for ns, tokens in value.items()}
    entries = value if isinstance(value, list) else [value]
    result: dict[str, list[str]] = {}
    for entry in (part for item in entries for part in str(item).split(";") if part.strip()):
        ns, sep, tokens = entry.partition("=")
        if not sep:
            raise ValueError(f"expected 'namespace=token,token', got {entry!r}")
        result[ns.strip()] = _to_list(tokens)
    return result


def _to_presets_map(value: Any) -> dict[str, dict[str, str]]:
    """Accepts a TOML table {ns = {name = stem}} or 'ns=name:stem,name:stem;ns2=...'."""
    if isinstance(value, dict):
        return {str(ns): {str(k): str(v) for k, v in table.items()} for ns, table in value.items()}
    return {
        ns: dict(_preset_pair(item) for item in items)
        for ns, items in _to_outputs_map(value).items()
    }


def _to_str_map(value: Any) -> dict[str, str]:
    """Accepts a TOML table {ns = "value"} or 'ns=value;ns2=value'."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {ns: ",".join(values) for ns, values in _to_outputs_map(value).items()}


def _to_watermarks(value: Any) -> dict[str, Watermark]:
    """Accepts a TOML table {name = {source = ..., position = ...}} (or {name = "SOURCE:..."}),
    or 'name=SOURCE[:POSITION[:SCALE[:OPACITY[:MARGIN]]]];name2=...' from a flag or env."""
    if isinstance(value, dict):
        return {str(name): _watermark(str(name), spec) for name, spec in value.items()}
    result: dict[str, Watermark] = {}
    for entry in (part for part in str(value).split(";") if part.strip()):
        name, sep, spec = entry.partition("=")
        if not sep:
            raise ValueError(f"expected 'name=namespace/HASH:se:0.2:0.5', got {entry!r}")
        result[name.strip()] = _watermark(name.strip(), spec)
    return result


def _watermark(name: str, spec: Any) -> Watermark:
    try:
        return Watermark.of(spec)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _preset_pair(item: str) -> tuple[str, str]:
    name, sep, stem = item.partition(":")
    if not sep:
        raise ValueError(f"expected 'name:stem' (small:w150), got {item!r}")
    return name.strip(), stem.strip()
