"""What survives a power cut: originals and info.json are fsynced, file and directory;
outputs are not (a lost output renders again at its next request), but stay atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imageserver.services import Services
from imageserver.transform import parse_token
from tests.conftest import image_bytes


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths os.fsync is called on, in order (the real fsync still runs)."""
    paths: list[str] = []
    real = os.fsync

    def recording(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return paths


async def test_originals_and_info_are_synced_outputs_are_not(
    services: Services, synced: list[str]
) -> None:
    outputs = [parse_token("w100.jpg"), parse_token("x50.webp")]
    data = image_bytes("grid.jpg")
    ingested = await services.originals.ingest(
        "p", data, services.variants.for_upload(outputs, data)
    )
    directory = Path(services.storage.path(ingested.key.prefix))  # type: ignore[attr-defined]
    names = [Path(p).name for p in synced]
    # each file is written under a temporary name, synced, renamed; then its directory is synced
    assert len(synced) == 4
    assert all(name.startswith(".tmp-") for name in names[0::2])
    assert [Path(p) for p in synced[1::2]] == [directory, directory]
    assert sorted(os.listdir(directory)) == ["info.json", "original", "w100.jpg", "x50.webp"]
    synced.clear()
    await services.variants.get(ingested.key, parse_token("w200.png"))
    assert synced == []  # an output on demand: no fsync either
    assert (directory / "w200.png").is_file()
