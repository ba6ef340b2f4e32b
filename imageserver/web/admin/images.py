"""Images page: recent uploads per namespace (jobs/uploads.py) with thumbnails rendered by this
server itself (an output URL, so stored as any output is), an original's info and stored outputs,
and its delete.

In the dashboard's URLs an original is `{namespace}/{code}`: its content hash, or `_` and its
name for a named one (a hash is hex, so it never starts with `_`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from ... import urlsigning
from ...access import Policy
from ...errors import NotFound
from ...jobs.uploads import KEEP, RecentUploads, Upload
from ...keys import INFO, ORIGINAL, ImageKey, check_namespace
from ...settings import Settings
from ..appkeys import JOBS, SERVICES
from ..middleware import runs_to_completion
from . import auth

THUMBNAIL = "w160.webp"  # an output like any other: the first view renders and stores it
NAMED_MARK = "_"


@dataclass(frozen=True)
class UploadRow:
    upload: Upload
    code: str  # the original in the dashboard's URLs
    when: str
    when_iso: str
    thumbnail: str | None  # None: this namespace's URL policy lets no thumbnail render


@dataclass(frozen=True)
class Stored:
    name: str  # below the original's prefix: `original`, `info.json`, an output's token
    url: str  # where it is served (signed when the server signs)


async def page(request: web.Request) -> web.StreamResponse:
    namespace = request.query.get("namespace") or None
    if namespace is not None:
        check_namespace(namespace)
    uploads = RecentUploads(request.app[JOBS].backend)
    settings = request.app[SERVICES].settings
    rows = [row(upload, settings) for upload in await uploads.recent(namespace, KEEP)]
    context = {
        "rows": rows,
        "namespace": namespace,
        "namespaces": await uploads.namespaces(),
        "keep": KEEP,
    }
    return auth.render(request, "images.html", context)


async def detail(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    key = key_of(request.match_info["namespace"], request.match_info["hash"])
    info = await services.originals.info(key)
    names = [name[len(key.prefix) + 1 :] for name in await services.storage.list(key.prefix)]
    context = {
        "key": key,
        "code": code_of(key),
        "info": info,
        "info_json": json.dumps(info, indent=2, sort_keys=True),
        "info_url": "/" + key.info,
        "original_url": "/" + key.original,
        "outputs": [Stored(n, output_url(key, n, services.settings)) for n in outputs_of(names)],
        "thumbnail": None if info.get("file") else thumbnail_url(key, services.settings),
    }
    return auth.render(request, "images_detail.html", context)


@runs_to_completion  # a browser that leaves mid-way must not stop a delete halfway
async def delete(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    key = key_of(request.match_info["namespace"], request.match_info["hash"])
    removed = await services.delete_original(key)  # its listeners forget the upload
    response = auth.redirect(f"{auth.prefix_of(request)}/images?namespace={key.namespace}")
    auth.flash(request, response, f"Deleted {key.hash} from {key.namespace} ({removed} files).")
    return response


# -- pure helpers -----------------------------------------------------------------------------


def row(upload: Upload, settings: Settings) -> UploadRow:
    when = datetime.fromtimestamp(upload.at, UTC)
    return UploadRow(
        upload=upload,
        code=code_of(upload.key),
        when=when.strftime("%Y-%m-%d %H:%M:%S UTC"),
        when_iso=when.isoformat(timespec="seconds").replace("+00:00", "Z"),
        thumbnail=None if upload.file else thumbnail_url(upload.key, settings),
    )


def code_of(key: ImageKey) -> str:
    return NAMED_MARK + key.hash if key.named else key.hash


def key_of(namespace: str, code: str) -> ImageKey:
    """The inverse of `code_of`; anything else names no image (404)."""
    if code.startswith(NAMED_MARK):
        return ImageKey.of_name(namespace, code[len(NAMED_MARK) :])
    if len(code) != 32:
        raise NotFound(f"no image {code!r} in namespace {namespace}")
    return ImageKey.from_path(namespace, code[0:3], code[3:6], code[6:9], code[9:])


def thumbnail_url(key: ImageKey, settings: Settings) -> str | None:
    """The thumbnail's output URL, if this namespace's policy lets the dashboard's browser
    render it: any URL (public), or one signed with the server's key (signed). A presets-only
    namespace renders its presets alone, so it shows none."""
    policy = settings.policy_of(key.namespace)
    if policy is Policy.PRESETS_ONLY or (policy is Policy.SIGNED and not settings.url_signing_keys):
        return None
    return output_url(key, THUMBNAIL, settings)


def output_url(key: ImageKey, name: str, settings: Settings) -> str:
    """Signed when the server has signing keys: a signed URL is served whatever the policy."""
    path = "/" + key.output(name)
    if not settings.url_signing_keys or settings.policy_of(key.namespace) is Policy.PUBLIC:
        return path
    return urlsigning.sign(path, settings.url_signing_keys, size=settings.url_signature_bytes)


def outputs_of(names: list[str]) -> list[str]:
    """The stored outputs: every key below the original but itself and its info.json."""
    return [name for name in names if name not in (ORIGINAL, INFO)]
