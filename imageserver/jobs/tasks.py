"""The job kinds: what a job does with the source bytes its runner fetched. Open for more kinds.

A kind is a parser of its own request fields (pure, 400s at submit time) and an async `run` of a
`Work` (the services, its params, the fetched bytes, a progress reporter). The runner around it
does the rest alike for every kind: fetch limits, mime rule, timeout, heartbeat, retries, result,
callback. Add one with `register(JobKind(...))`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import documents, publicurl
from ..formats import sniff
from ..keys import ImageKey
from ..pages import Raster
from ..services import Services
from ..transform import Transform, parse_token
from .request import (
    ParseParams,
    parse_download_params,
    parse_ingest_params,
    parse_rasterize_params,
)


@dataclass(frozen=True)
class Work:
    """What a kind's `run` gets; it returns the job's result (JSON)."""

    services: Services
    params: dict[str, Any]  # what the kind's parser made of the request
    data: bytes  # the source, fetched; or the stored original the params name by `hash`
    base_url: str  # of the server the job was submitted to, for the result's URLs
    progress: Callable[[float], Awaitable[None]]  # the kind's own 0-1 (shown as 50-100%)
    content_type: str | None = None  # what the source's server declared the bytes to be


RunKind = Callable[[Work], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class JobKind:
    name: str
    parse: ParseParams
    run: RunKind


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> None:
    KINDS[kind.name] = kind


def parsers() -> Mapping[str, ParseParams]:
    return {name: kind.parse for name, kind in KINDS.items()}


async def ingest(work: Work) -> dict[str, Any]:
    """What a POST of the bytes to /{namespace}?outputs=... does; the same bytes again are a
    no-op (content hash), which is what makes a job safe to run twice."""
    services, namespace = work.services, work.params["namespace"]
    max_side = services.settings.max_output_side
    wanted = [parse_token(token, max_side=max_side) for token in work.params["outputs"]]
    wanted += services.outputs_on_upload(namespace)
    outputs = list({t.token(): t for t in wanted}.values())
    key, info = await _stored_or_ingested(work, outputs)
    settings = services.settings
    located = publicurl.upload_answer(
        {},
        key,
        [t.token() for t in outputs],
        work.base_url,
        settings.url_signing_keys,
        settings.url_signature_bytes,
    )
    # the content hash, under a `name` too (key.hash is then the name; info.json has both);
    # `path` and `urls` as an upload answers them
    return {"hash": info["hash"], "info": info, "outputs": located["urls"]["outputs"], **located}


async def _stored_or_ingested(
    work: Work, outputs: list[Transform]
) -> tuple[ImageKey, dict[str, Any]]:
    """The original the params name by `hash`, its missing outputs made from the stored bytes;
    or the fetched source, ingested with its outputs. Its key and info."""
    services, params = work.services, work.params
    if "hash" in params:
        key = ImageKey(params["namespace"], params["hash"])
        await services.variants.ensure(key, outputs, work.data)
        return key, await services.originals.info(key)
    render = services.variants.for_upload(outputs, work.data)
    password, name = params.get("password"), params.get("name")
    ingested = await services.originals.ingest(
        params["namespace"], work.data, render, password=password, name=name
    )
    return ingested.key, ingested.info


async def rasterize(work: Work) -> dict[str, Any]:
    """Every page of a PDF into an image of its own (documents.py), with the manifest's URL as
    the one output. The PDF is the stored original named by `hash`, or the source, stored first."""
    services, params = work.services, work.params
    if "hash" in params:
        key = ImageKey(params["namespace"], params["hash"])
    else:
        password = params.get("password")
        ingested = await services.originals.ingest(
            params["namespace"], work.data, password=password
        )
        key = ingested.key
    raster = Raster(**params["rasterize"])
    manifest = await documents.rasterize(services, key, raster, work.progress)
    return {
        "hash": key.hash,
        "info": await services.originals.info(key),
        "outputs": {documents.MANIFEST: f"{work.base_url}/{key.output(documents.MANIFEST)}"},
        "path": publicurl.key_path(key),
        "pages": manifest["pages"],
    }


async def download(work: Work) -> dict[str, Any]:
    """The seed downloader's jobs: an image is ingested as `ingest` does (outputs and all);
    bytes of no image format are kept as a file (Originals.keep_file), with no outputs."""
    if "hash" in work.params or sniff(work.data[:1024]) is not None:
        return await ingest(work)
    content_type = work.content_type or "application/octet-stream"
    kept = await work.services.originals.keep_file(
        work.params["namespace"], work.data, content_type
    )
    return {"hash": kept.key.hash, "info": kept.info, "outputs": {}}


register(JobKind("ingest", parse_ingest_params, ingest))
register(JobKind("rasterize", parse_rasterize_params, rasterize))
register(JobKind("download", parse_download_params, download))
