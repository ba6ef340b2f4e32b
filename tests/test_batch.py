"""The batch core: a lazy walk, capped reads, bounded files in flight, one store per hash."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageserver.batch import (
    Batch,
    Done,
    Failed,
    Feeder,
    Result,
    from_thread,
    read_original,
    walk,
)
from imageserver.errors import TooLarge
from imageserver.services import Services, build_services
from imageserver.settings import Settings
from imageserver.transform import parse_tokens
from tests.conftest import image_bytes


def tree(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")


def test_walk_recurses_directories_and_reads_stdin_lists(tmp_path: Path) -> None:
    tree(tmp_path, ["a.jpg", "d/b.jpg", "d/e/c.jpg", "other/x.jpg"])
    stdin = io.BytesIO(f"{tmp_path / 'other'}\n\n{tmp_path / 'missing.jpg'}\r\n".encode())
    found = list(walk([str(tmp_path / "d"), "-", str(tmp_path / "a.jpg")], stdin))
    assert sorted(found[:2]) == [str(tmp_path / "d/b.jpg"), str(tmp_path / "d/e/c.jpg")]
    assert found[2:] == [
        str(tmp_path / "other/x.jpg"),
        str(tmp_path / "missing.jpg"),  # fails when read, as one line of the report
        str(tmp_path / "a.jpg"),
    ]


def test_walk_is_lazy(tmp_path: Path) -> None:
    """The first file comes before the rest of a huge directory is listed."""
    tree(tmp_path, [f"{i}.jpg" for i in range(1000)])
    paths = walk([str(tmp_path)], io.BytesIO())
    assert isinstance(paths, Iterator)
    assert len(list(itertools.islice(paths, 3))) == 3


def test_walk_skips_links_to_directories_and_reports_unlistable_ones(tmp_path: Path) -> None:
    tree(tmp_path, ["real/a.jpg"])
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "link.jpg").symlink_to(tmp_path / "real/a.jpg")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        found = list(walk([str(tmp_path)], io.BytesIO()))
    finally:
        locked.chmod(0o755)
    files = sorted(item for item in found if isinstance(item, str))
    assert files == [str(tmp_path / "link.jpg"), str(tmp_path / "real/a.jpg")]
    if os.geteuid() != 0:  # root lists anything
        assert found.count(Failed(str(locked), "unreadable", "Permission denied")) == 1


def test_read_original_refuses_files_over_the_limit_and_missing_ones(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 11)
    assert read_original(str(tmp_path / "f"), 11) == b"x" * 11
    with pytest.raises(TooLarge, match="11 bytes is over the limit of 10"):
        read_original(str(tmp_path / "f"), 10)
    with pytest.raises(Exception, match="No such file") as caught:
        read_original(str(tmp_path / "none"), 10)
    assert caught.value.code == "unreadable"  # type: ignore[attr-defined]


async def test_from_thread_yields_in_order_and_raises_what_the_iterator_raises() -> None:
    def broken() -> Iterator[int]:
        yield from range(5)
        raise ValueError("walk broke")

    seen: list[int] = []

    async def consume() -> None:
        async for item in from_thread(broken(), buffer=2):
            seen.append(item)

    with pytest.raises(ValueError, match="walk broke"):
        await consume()
    assert seen == [0, 1, 2, 3, 4]


class SlowBatch:
    """Stands in for Batch: records how many files are in flight at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0

    async def process(self, path: str) -> Result:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.001)
        self.in_flight -= 1
        return Failed(path, "x", "y")


async def test_feeder_bounds_files_in_flight_and_reports_every_one() -> None:
    slow = SlowBatch()
    results: list[Result] = []
    feeder = Feeder(slow, 3, results.append)  # type: ignore[arg-type]
    await feeder.feed(iter([str(i) for i in range(50)] + [Failed("dir", "unreadable", "no")]))
    await feeder.drain()
    assert slow.most == 3
    assert sorted(r.path for r in results) == sorted([str(i) for i in range(50)] + ["dir"])


async def test_identical_files_at_once_store_once_and_the_second_is_found_done(
    services: Services, tmp_path: Path
) -> None:
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes(image_bytes("grid.jpg"))
    batch = Batch(services, "p", parse_tokens("w100.jpg"))
    first, second = await asyncio.gather(
        *(batch.process(str(tmp_path / n)) for n in ("a.jpg", "b.jpg"))
    )
    assert isinstance(first, Done)
    assert isinstance(second, Done)
    assert sorted([first.skipped, second.skipped]) == [False, True]
    assert first.info == second.info
    assert renders(services, "jpg") == 1
    assert not batch._busy  # no lock is kept once its file is done: memory stays bounded


def renders(services: Services, fmt: str) -> int:
    return services.metrics.renders.count(fmt)


async def test_namespace_outputs_are_added_to_the_batch_outputs(tmp_path: Path) -> None:
    settings = Settings(storage=str(tmp_path / "data"), namespace_outputs={"p": ["x50.png"]})
    services = build_services(settings)
    try:
        batch = Batch(services, "p", parse_tokens("w100.jpg,x50.png"))
        assert [t.token() for t in batch.outputs] == ["w100.jpg", "x50.png"]
    finally:
        await services.close()
