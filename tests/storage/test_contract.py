"""The storage contract, run against every backend: LocalStorage, and S3Storage on moto."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from imageserver import blocking
from imageserver.errors import BadRequest
from imageserver.settings import Settings, SettingsError
from imageserver.storage import LocalStorage, Storage, open_storage


@pytest.fixture(params=["local", "local-inline", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "local":
        backend = open_storage(str(tmp_path / "root"))
    elif request.param == "local-inline":  # as `process` runs it (imageserver/blocking.py)
        backend = open_storage(str(tmp_path / "root"), blocking=blocking.inline)
    else:
        settings = Settings(**request.getfixturevalue("s3_settings"))
        backend = open_storage(settings.storage, settings)
    await backend.open()
    yield backend
    await backend.close()


async def test_put_get_exists(storage: Storage) -> None:
    assert await storage.get("p/abc/original") is None
    assert not await storage.exists("p/abc/original")
    await storage.put("p/abc/original", b"bytes", content_type="image/jpeg", durable=True)
    assert await storage.get("p/abc/original") == b"bytes"
    assert await storage.exists("p/abc/original")


async def test_put_replaces_whole_object(storage: Storage) -> None:
    await storage.put("p/a/x", b"old" * 1000, content_type="text/plain")
    await storage.put("p/a/x", b"new", content_type="text/plain")
    assert await storage.get("p/a/x") == b"new"


async def test_list_and_delete_prefix(storage: Storage) -> None:
    for key in ("p/a/b/original", "p/a/b/w1.jpg", "p/a/c/original", "q/a/b/original"):
        await storage.put(key, b"x", content_type="application/octet-stream")
    assert await storage.list("p/a/b") == ["p/a/b/original", "p/a/b/w1.jpg"]
    assert await storage.delete_prefix("p/a/b") == 2
    assert await storage.list("p/a/b") == []
    assert await storage.get("p/a/c/original") == b"x"
    assert await storage.get("q/a/b/original") == b"x"
    assert await storage.delete_prefix("p/none") == 0


async def test_any_below(storage: Storage) -> None:
    assert not await storage.any_below("p")
    await storage.put("pq/a/b/original", b"x", content_type="application/octet-stream")
    assert not await storage.any_below("p")  # a sibling sharing the name's start is not below
    await storage.put("p/a/b/original", b"x", content_type="application/octet-stream")
    assert await storage.any_below("p")
    assert await storage.any_below("p/a")
    await storage.delete_prefix("p/a/b")
    assert not await storage.any_below("p")


@pytest.mark.parametrize("key", ["../etc/passwd", "p/../../x", "/abs", "p//x", "p/./x", ""])
async def test_keys_cannot_escape(storage: Storage, key: str) -> None:
    with pytest.raises(BadRequest):
        await storage.get(key)
    with pytest.raises(BadRequest):
        await storage.put(key, b"x", content_type="text/plain")


async def test_readers_never_see_partial_objects(storage: Storage) -> None:
    """Many writes of large objects while readers poll: every read is None or a whole object."""
    versions = [bytes([i]) * 2_000_000 for i in range(1, 6)]
    seen: set[int] = set()

    async def reader() -> None:
        for _ in range(200):
            data = await storage.get("p/big/w1.png")
            if data is not None:
                assert data in versions
                seen.add(data[0])
            await asyncio.sleep(0)

    async def writer() -> None:
        for data in versions:
            await storage.put("p/big/w1.png", data, content_type="image/png")

    await asyncio.gather(reader(), reader(), writer())
    assert await storage.get("p/big/w1.png") == versions[-1]


async def test_failed_local_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between writing and renaming leaves no file under the real name, and no temp."""
    storage = LocalStorage(tmp_path)

    def crash(*_: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        await storage.put("p/a/original", b"data", content_type="image/jpeg")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def test_local_files_are_readable_by_a_front_server(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("p/a/w1.jpg", b"x", content_type="image/jpeg")
    assert (tmp_path / "p/a/w1.jpg").stat().st_mode & 0o444 == 0o444


async def test_objects_are_served_through_the_app_unless_redirecting(storage: Storage) -> None:
    await storage.put("p/a/w1.jpg", b"x", content_type="image/jpeg")
    assert await storage.url("p/a/w1.jpg") is None


def test_open_storage_by_url(tmp_path: Path) -> None:
    assert isinstance(open_storage(str(tmp_path)), LocalStorage)
    assert isinstance(open_storage(f"file://{tmp_path}"), LocalStorage)
    s3: Any = open_storage("s3://bucket/some/prefix/")
    assert (type(s3).__name__, s3.bucket, s3.prefix) == ("S3Storage", "bucket", "some/prefix")
    with pytest.raises(SettingsError, match="s3://bucket/prefix"):
        open_storage("s3:///prefix")
    with pytest.raises(SettingsError, match="expected a directory"):
        open_storage("ftp://host/x")
