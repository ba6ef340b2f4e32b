"""The job kinds: what a job does with the source bytes its runner fetched. Open for more kinds.

A kind is a parser of its own request fields (pure, 400s at submit time) and an async `run` over
the services. The runner around it does the rest alike for every kind: fetch limits, mime rule,
timeout, heartbeat, retries, result, callback. Add one with `register(JobKind(...))`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..keys import ImageKey
from ..services import Services
from ..transform import Transform, parse_token
from .request import ParseParams, parse_ingest_params

# (services, the kind's params, the source's bytes, base URL of the server) -> the job's result
RunKind = Callable[[Services, dict[str, Any], bytes, str], Awaitable[dict[str, Any]]]


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


async def ingest(
    services: Services, params: dict[str, Any], data: bytes, base_url: str
) -> dict[str, Any]:
    """What a POST of the bytes to /{namespace}?outputs=... does; the same bytes again are a
    no-op (content hash), which is what makes a job safe to run twice."""
    namespace = params["namespace"]
    max_side = services.settings.max_output_side
    wanted = [parse_token(token, max_side=max_side) for token in params["outputs"]]
    wanted += services.namespace_outputs.get(namespace, [])
    outputs = list({t.token(): t for t in wanted}.values())
    render = _renderer(services, outputs, data) if outputs else None
    key, info = await services.originals.ingest(namespace, data, render)
    return {"hash": key.hash, "info": info, "outputs": _urls(base_url, key, outputs)}


def _renderer(
    services: Services, outputs: list[Transform], data: bytes
) -> Callable[[ImageKey], Awaitable[None]]:
    return functools.partial(services.variants.ensure, transforms=outputs, original=data)


def _urls(base_url: str, key: ImageKey, outputs: list[Transform]) -> dict[str, str]:
    return {t.token(): f"{base_url}/{key.output(t.token())}" for t in outputs}


register(JobKind("ingest", parse_ingest_params, ingest))
