"""The long-lived parts (storage, pool, caches, fetcher), built once from `Settings`.

The one place that wires services together: the web app and the CLI both call `build_services`.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import render, urlsigning
from .blocking import IN_THREAD, Blocking
from .errors import Conflict
from .fallback import Fallback, load_fallback
from .guards import FailureMemory, PerKeyLimit
from .keys import ImageKey
from .memcache import ByteLRU
from .metrics import QUEUE_DEPTH, Metrics
from .netguard import FetchPolicy
from .originals import Originals
from .overlays import Overlays
from .pool import IdleHook, RenderPool
from .render.processes import ProcessPool
from .settings import Settings
from .sources import SourceFetcher
from .storage import Storage, open_storage
from .transform import Transform, parse_tokens
from .variants import Output, Variants


@dataclass(frozen=True)
class Services:
    settings: Settings
    storage: Storage
    pool: RenderPool
    originals: Originals
    variants: Variants
    metrics: Metrics
    sources: SourceFetcher
    namespace_outputs: dict[str, list[Transform]]
    upload_outputs: list[Transform]  # in every namespace (the wanelo seed's --outputs)
    signatures: urlsigning.Verifier  # of output URLs, with --url-signing-key
    blocking: Blocking  # how local file calls run: in threads (server) or inline (`process`)
    fallback: Fallback | None = None  # answered for failed renders (--fallback-image)

    def outputs_on_upload(self, namespace: str) -> list[Transform]:
        """What every upload into `namespace` renders besides its own ?outputs= (server, jobs
        and `process` alike): --upload-outputs, then the namespace's --namespace-outputs."""
        return self.upload_outputs + self.namespace_outputs.get(namespace, [])

    async def open(self) -> None:
        await self.storage.open()

    async def delete_original(self, key: ImageKey) -> int:
        """The original, its info and every stored output, and this process's memory of them.
        A named original is written once (keys.py): deleting it would let its name take other
        bytes under URLs that caches keep for a year, so it is refused."""
        if key.named:
            raise Conflict(f"{key.namespace}/_/{key.hash} is a named original: never deleted")
        removed = await self.originals.delete(key)
        self.variants.forget(key)
        return removed

    async def close(self) -> None:
        await self.sources.close()
        await self.storage.close()
        self.pool.close()


def limits_of(settings: Settings) -> render.Limits:
    return render.Limits(
        max_pixels=settings.max_pixels,
        max_frames=settings.max_frames,
        max_pages=settings.pdf_max_pages,
    )


def fetch_policy_of(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        allow_private=settings.allow_private_sources,
        allowed_hosts=tuple(settings.source_allowed_hosts),
        timeout_s=settings.source_timeout_s,
        max_bytes=settings.max_upload_bytes,
    )


def namespace_outputs_of(settings: Settings) -> dict[str, list[Transform]]:
    return {
        ns: parse_tokens(
            ",".join(tokens),
            max_side=settings.max_output_side,
            presets=settings.namespace_presets.get(ns),
        )
        for ns, tokens in settings.namespace_outputs.items()
    }


def upload_outputs_of(settings: Settings) -> list[Transform]:
    return parse_tokens(",".join(settings.upload_outputs), max_side=settings.max_output_side)


def render_setup_of(settings: Settings) -> tuple[int, int, int]:
    """render.configure's arguments: every process that renders runs it (the server, the CLI,
    the PDF workers)."""
    return settings.vips_concurrency, settings.malloc_arenas, settings.malloc_mmap_threshold


def _pdf_pool(settings: Settings) -> ProcessPool:
    """PDFium is not thread-safe and parses hostile files: PDF pages render in processes."""
    return ProcessPool(
        settings.resolved_pdf_workers(),
        settings.pdf_page_timeout_s,
        render.configure,
        render_setup_of(settings),
    )


def _release_memory(settings: Settings) -> IdleHook | None:
    if settings.release_memory_after_s <= 0:
        return None
    return IdleHook(render.release_free_memory, settings.release_memory_after_s)


def build_services(settings: Settings, blocking: Blocking = IN_THREAD) -> Services:
    render.configure(*render_setup_of(settings))
    fallback_image = load_fallback(settings, limits_of(settings))  # before pools start
    metrics = Metrics(settings.statsd, settings.statsd_prefix)
    storage = open_storage(settings.storage, settings, blocking)
    pool = RenderPool(
        settings.resolved_render_workers(),
        settings.render_queue,
        _pdf_pool(settings),
        _release_memory(settings),
    )
    limits = limits_of(settings)
    originals = Originals(storage, pool, limits, settings.md5_namespaces)
    cache: ByteLRU[Output] = ByteLRU(
        settings.memory_cache_bytes,
        settings.memory_cache_item_bytes,
        # outputs not yet hit twice: 1 MiB of the default 64 (memcache.py)
        probation_bytes=max(settings.memory_cache_item_bytes, settings.memory_cache_bytes // 64),
    )
    metrics.watch(
        QUEUE_DEPTH,
        "Renders running or waiting in the pool",
        lambda: pool.pending,
    )
    metrics.watch(
        "imageserver_memory_cache_bytes",
        "Bytes of outputs held in the memory cache",
        lambda: cache.used_bytes,
    )
    return Services(
        settings=settings,
        storage=storage,
        pool=pool,
        originals=originals,
        variants=Variants(
            storage,
            originals,
            pool,
            cache,
            limits,
            metrics,
            settings.fast_shrink_on_load,
            failures=FailureMemory(settings.render_failure_ttl_s),
            per_document=PerKeyLimit(settings.document_renders),
            overlays=Overlays(storage, pool, limits, settings.watermarks),
        ),
        metrics=metrics,
        sources=SourceFetcher(fetch_policy_of(settings), metrics),
        namespace_outputs=namespace_outputs_of(settings),
        upload_outputs=upload_outputs_of(settings),
        signatures=urlsigning.Verifier(settings.url_signing_keys, settings.url_signature_bytes),
        blocking=blocking,
        fallback=fallback_image,
    )
