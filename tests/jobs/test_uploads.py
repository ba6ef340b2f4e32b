"""Recent uploads in the job backend (jobs/uploads.py), on SQLite and a real redis-server: newest
first, capped per namespace, the same original once, forgotten when deleted, seen by another
connection (another process or machine)."""

from __future__ import annotations

from imageserver.jobs.backends import Backend
from imageserver.jobs.uploads import RecentUploads, Upload, entry
from imageserver.keys import ImageKey
from imageserver.originals import Ingested

HASHES = [f"{i:032x}" for i in range(1, 8)]


def ingested(namespace: str, hash_: str, size: int = 10, named: bool = False) -> Ingested:
    info = {"hash": hash_, "content_type": "image/jpeg", "size": size}
    return Ingested(ImageKey(namespace, hash_, named=named), info, created=True)


async def test_newest_first_capped_per_namespace_and_shared(
    backends: tuple[Backend, Backend],
) -> None:
    writer, reader = RecentUploads(backends[0], keep=3), RecentUploads(backends[1])
    for i, hash_ in enumerate(HASHES[:5]):
        await writer.created(ingested("p", hash_, size=i))
    await writer.created(ingested("q", HASHES[5]))
    in_p = await reader.recent("p")
    assert [u.hash for u in in_p] == [HASHES[4], HASHES[3], HASHES[2]]
    assert in_p[0] == Upload("p", HASHES[4], False, in_p[0].at, 4, "image/jpeg")
    assert [u.hash for u in await reader.recent(None)] == [HASHES[5], *[u.hash for u in in_p]]
    assert [u.hash for u in await reader.recent(None, limit=2)] == [HASHES[5], HASHES[4]]
    assert await reader.namespaces() == ["p", "q"]


async def test_the_same_original_again_is_listed_once(backends: tuple[Backend, Backend]) -> None:
    uploads = RecentUploads(backends[0])
    for hash_ in (HASHES[0], HASHES[1], HASHES[0]):
        await uploads.created(ingested("p", hash_))
    assert [u.hash for u in await uploads.recent("p")] == [HASHES[0], HASHES[1]]


async def test_deleted_originals_are_forgotten(backends: tuple[Backend, Backend]) -> None:
    uploads = RecentUploads(backends[0])
    await uploads.created(ingested("p", HASHES[0]))
    await uploads.created(ingested("p", "logo", named=True))
    await uploads.created(ingested("q", HASHES[1]))
    await uploads.deleted(ImageKey("p", HASHES[0]))
    await uploads.deleted(ImageKey("q", HASHES[1]))
    found = await uploads.recent(None)
    assert [(u.hash, u.named, u.key.prefix) for u in found] == [("logo", True, "p/_/logo")]
    assert await uploads.namespaces() == ["p"]
    await uploads.deleted(ImageKey("p", "nothing", named=True))  # not listed: nothing to do


def test_an_upload_is_named_by_its_key_whatever_the_namespace() -> None:
    assert entry(ImageKey("p", HASHES[0])) == f"p/000/000/000/{HASHES[0][9:]}"
    assert entry(ImageKey("p", "logo", named=True)) == "p/_/logo"
