"""The seeds' own configuration names, read as settings: a migrating deployment keeps its env.

dlcs composite-handler's `PDF_RASTERIZER_*` and `ENGINE_WORKER_*`, wanelo image-server's
`IMG_OUTPUTS`, `AWS_*`, ... Each seed has one function from the environment to the settings its
names stand for; `IMAGESERVER_*` names win over them (settings.load). wanelo's command line
(`images [global flags] server|process`) is rewritten into ours by `wanelo_argv`, before
argparse. Pure: stdlib only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SeedEnv = Callable[[Mapping[str, str]], dict[str, Any]]


# dlcs composite-handler's counts and seconds that are one of our settings as they are. Its other
# names (DJANGO_*, DATABASE_URL, SCRATCH_DIRECTORY, ENGINE_WORKER_RETRY, ...) have no equivalent
# and are ignored: docs/migrating.md's tables say why for each.
_DLCS_NUMBERS = {
    "PDF_RASTERIZER_THREAD_COUNT": "pdf_workers",
    "PDF_RASTERIZER_DPI": "rasterize_dpi",
    "PDF_RASTERIZER_FALLBACK_DPI": "rasterize_fallback_dpi",
    "PDF_RASTERIZER_MAX_LENGTH": "rasterize_max_side",  # 0: no limit, as ours
    "ENGINE_WORKER_COUNT": "job_concurrency",
    "ENGINE_WORKER_TIMEOUT": "job_timeout_s",
    "ENGINE_WORKER_MAX_ATTEMPTS": "job_max_attempts",  # 0: for ever, as ours
}
# Its PDF_RASTERIZER_FORMAT values; ppm is none of our outputs.
_DLCS_FORMATS = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "tiff": "tiff"}
_DLCS_PREFIX = "composites"  # its DLCS_S3_OBJECT_KEY_PREFIX default


def _dlcs(env: Mapping[str, str]) -> dict[str, Any]:
    """dlcs composite-handler (docs/migrating.md). A value that cannot be used is an error naming
    the seed's variable; ranges are the settings' to check."""
    problems = [
        f"{name}: expected a whole number, got {env[name]!r}"
        for name in _DLCS_NUMBERS
        if name in env and not env[name].strip().isdecimal()
    ]
    found: dict[str, Any] = {
        setting: env[name].strip() for name, setting in _DLCS_NUMBERS.items() if name in env
    }
    given = env.get("PDF_RASTERIZER_FORMAT")
    if given is not None and given.strip().lower() in _DLCS_FORMATS:
        found["rasterize_format"] = _DLCS_FORMATS[given.strip().lower()]
    elif given is not None:
        problems.append(
            "PDF_RASTERIZER_FORMAT: expected jpg, jpeg, png or tiff (ppm is not an output "
            f"format here), got {given!r}"
        )
    if env.get("DLCS_S3_BUCKET_NAME", "").strip():
        found["storage"] = _dlcs_storage(env)
    if problems:
        raise ValueError("\n".join(problems))
    return found


def _dlcs_storage(env: Mapping[str, str]) -> str:
    """Its bucket and key prefix as our S3 storage URL (the seed's prefix when none is set)."""
    bucket = env["DLCS_S3_BUCKET_NAME"].strip()
    prefix = env.get("DLCS_S3_OBJECT_KEY_PREFIX", _DLCS_PREFIX).strip().strip("/")
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def _wanelo(env: Mapping[str, str]) -> dict[str, Any]:
    """wanelo image-server (docs/migrating.md): the names its `make dev-server*` targets turned
    into flags. IMG_REMOTE_BASE_PATH is the key prefix in AWS_BUCKET
    and, like the seed's without an uploader, does nothing alone; IMG_REMOTE_BASE_URL and the
    Manta names have no equivalent. AWS_SECRET_KEY is its spelling of AWS_SECRET_ACCESS_KEY."""
    found: dict[str, Any] = {}
    if env.get("IMG_OUTPUTS", "").strip():
        found["upload_outputs"] = env["IMG_OUTPUTS"]
    if env.get("AWS_BUCKET", "").strip():
        found["storage"] = _s3_url(env["AWS_BUCKET"], env.get("IMG_REMOTE_BASE_PATH", ""))
    if env.get("AWS_SECRET_KEY"):
        found["s3_secret_access_key"] = env["AWS_SECRET_KEY"]
        found["s3_access_key_id"] = env.get("AWS_ACCESS_KEY_ID", "")
    return found


def _s3_url(bucket: str, path: str) -> str:
    return _below(f"s3://{bucket.strip()}", path)


def _below(base: str, path: str) -> str:
    """`path` as a directory (or key prefix) below the storage URL `base`."""
    path = path.strip().strip("/")
    return f"{base.rstrip('/')}/{path}" if path else base


SEEDS: tuple[SeedEnv, ...] = (_dlcs, _wanelo)


def settings_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings the seeds' env names set, as raw values for settings' own coercion."""
    found: dict[str, Any] = {}
    for seed in SEEDS:
        found.update(seed(env))
    return found


# wanelo image-server's command line, `images [global flags] server|process ...`: Go's flags, so
# -name or --name, the value after a space or `=`. Each global flag is one of our settings flags
# as it is, or joins others into one (storage, statsd), or is ignored or refused: the tables of
# docs/migrating.md.
_WANELO_SAME = {
    "listen": "--host",
    "port": "--port",
    "outputs": "--upload-outputs",  # rendered on every upload, `process` included, as the seed's
    "http_timeout": "--source-timeout-s",
    "processor_concurrency": "--render-workers",
    "maximum_width": "--max-output-side",  # bounds heights too
    "statsd_prefix": "--statsd-prefix",
    "aws_access_key_id": "--s3-access-key-id",
    "aws_secret_key": "--s3-secret-access-key",
}
_WANELO_JOINED = frozenset(
    {"aws_bucket", "remote_base_path", "local_base_path", "statsd_host", "statsd_port", "namespace"}
)
_WANELO_IGNORED = {
    "extensions": "every output format is served; --url-policy limits what may render",
    "default_quality": "outputs without -qN take each format's default quality",
    "uploader_concurrency": "S3 writes share the --s3-max-connections pool",
    "remote_base_url": "stored files are read through the S3 API (redirects: --s3-public-url)",
    "profile": "Go's pprof has no counterpart here (/metrics, or py-spy)",
}
_WANELO_REFUSED = {
    name: "Manta storage is not supported: use --aws_bucket (S3) or --local_base_path"
    for name in ("manta_url", "manta_user", "manta_key_id", "sdc_identity")
}
_WANELO_SWITCHES = frozenset({"profile"})  # take no value
_WANELO_FLAGS = (
    _WANELO_SAME.keys() | _WANELO_JOINED | _WANELO_IGNORED.keys() | _WANELO_REFUSED.keys()
)
_WANELO_COMMANDS = {"server": "serve"}
_STATSD_HOST, _STATSD_PORT = "127.0.0.1", "8125"  # the seed's defaults


class SeedFlagError(ValueError):
    """A seed flag that cannot be honoured: running without it would do something else."""


@dataclass(frozen=True)
class Argv:
    argv: list[str]
    notes: list[str]  # seed flags taken but without effect here, one line each


def wanelo_argv(argv: Sequence[str], env: Mapping[str, str], default_storage: str) -> Argv:
    """The seed's global flags (before the command) as our settings flags after it, where
    argparse takes them; `server` is `serve`. A command line without them is left as it is."""
    given, before, at = _wanelo_globals(argv)
    if at is None or not (given or argv[at] in _WANELO_COMMANDS):
        return Argv(list(argv), [])
    refused = sorted({_WANELO_REFUSED[name] for name in given if name in _WANELO_REFUSED})
    if refused:
        raise SeedFlagError("\n".join(refused))
    command = _WANELO_COMMANDS.get(argv[at], argv[at])
    flags = [
        f"{_WANELO_SAME[name]}={value}" for name, value in given.items() if name in _WANELO_SAME
    ]
    joined, notes = _wanelo_joined(given, env, default_storage, command)
    notes += [
        f"--{name} (wanelo image-server) has no effect: {why}"
        for name, why in _WANELO_IGNORED.items()
        if name in given
    ]
    return Argv([*before, command, *flags, *joined, *argv[at + 1 :]], notes)


def _wanelo_globals(argv: Sequence[str]) -> tuple[dict[str, str], list[str], int | None]:
    """The seed's flags before the command, the other tokens there, and where the command is."""
    given: dict[str, str] = {}
    before: list[str] = []
    at = 0
    while at < len(argv) and argv[at].startswith("-"):
        name, has_value, value = argv[at].lstrip("-").partition("=")
        if name not in _WANELO_FLAGS:
            before.append(argv[at])
        elif has_value or name in _WANELO_SWITCHES:
            given[name] = value
        elif at + 1 < len(argv):
            given[name] = argv[at + 1]
            at += 1
        else:
            raise SeedFlagError(f"--{name}: expected a value")
        at += 1
    return given, before, at if at < len(argv) else None


def _wanelo_joined(
    given: Mapping[str, str], env: Mapping[str, str], default_storage: str, command: str
) -> tuple[list[str], list[str]]:
    """The flags that several seed flags make together, or that depend on the command."""
    flags, notes = [], []
    storage = _wanelo_storage(given, env, default_storage)
    if storage is not None:
        flags.append(f"--storage={storage}")
    if "aws_bucket" in given and "local_base_path" in given:
        notes.append("--local_base_path has no effect with --aws_bucket: everything is in S3")
    if "statsd_host" in given or "statsd_port" in given:
        host = given.get("statsd_host", _STATSD_HOST)
        flags.append(f"--statsd={host}:{given.get('statsd_port', _STATSD_PORT)}")
    if "namespace" in given and command == "process":
        flags.append(f"--namespace={given['namespace']}")
    elif "namespace" in given:
        notes.append(f"--namespace has no effect on {command}: each URL names its namespace")
    return flags, notes


def _wanelo_storage(
    given: Mapping[str, str], env: Mapping[str, str], default_storage: str
) -> str | None:
    """--aws_bucket [--remote_base_path]: that bucket and prefix. --remote_base_path alone: a
    directory below the storage used otherwise (--local_base_path, IMAGESERVER_STORAGE,
    AWS_BUCKET, the default), so the CLI example's files land below that path, as its Manta
    job's did. A --config file's storage is not consulted: argv is rewritten before it is read."""
    local = given.get("local_base_path")
    if "aws_bucket" in given:
        return _s3_url(given["aws_bucket"], given.get("remote_base_path", ""))
    if "remote_base_path" not in given:
        return local
    bucket = env.get("AWS_BUCKET", "").strip()
    base = local or env.get("IMAGESERVER_STORAGE") or (_s3_url(bucket, "") if bucket else "")
    return _below(base or default_storage, given["remote_base_path"])
