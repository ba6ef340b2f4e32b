"""`LocalStorage`: keys as files below a root, laid out so nginx can serve outputs straight from it.

Paths are confined to the root; writes go to a temp file in the same directory and are renamed
into place, so a crash never leaves a partial file under a real name. What a crash does leave (a
temp file, an original whose info.json was never written) `sweep` removes at start-up.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..blocking import IN_THREAD, Blocking
from ..errors import StorageFull
from ..keys import INFO, NAMED
from .base import TMP_PREFIX, check_key

log = logging.getLogger(__name__)
_FULL = (errno.ENOSPC, errno.EDQUOT)
# {ns}/{aaa}/{bbb}/{ccc}/{rest}: an original's files sit this many directories below the root
_IMAGE_DEPTH = 5


class LocalStorage:
    def __init__(self, root: str | Path, blocking: Blocking = IN_THREAD) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._blocking = blocking

    def path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    async def open(self) -> None:
        return None

    async def get(self, key: str) -> bytes | None:
        return await self._blocking(self._read, self.path(key))

    async def put(self, key: str, data: bytes, *, content_type: str, durable: bool = False) -> None:
        # fsync waits on the device for milliseconds: a thread's job even where other file
        # calls run inline, so the loop goes on feeding the renders meanwhile
        run = IN_THREAD if durable else self._blocking
        try:
            await run(self._write_atomic, self.path(key), data, durable)
        except OSError as exc:
            if exc.errno in _FULL:
                raise StorageFull(f"no space left in the storage for {len(data)} bytes") from None
            raise

    async def exists(self, key: str) -> bool:
        return await self._blocking(self.path(key).is_file)

    async def list(self, prefix: str) -> list[str]:
        return await self._blocking(self._list, self.path(prefix))

    async def any_below(self, prefix: str) -> bool:
        return await self._blocking(_any_file, self.path(prefix))

    async def delete_prefix(self, prefix: str) -> int:
        return await self._blocking(self._delete_tree, self.path(prefix))

    async def url(self, key: str) -> str | None:
        """None: the app (or nginx, straight from the directory) serves local files."""
        return None

    async def close(self) -> None:
        return None

    async def sweep(self, older_than_s: float) -> int:
        """Removes what writers killed mid-way left behind, once older than `older_than_s` (a
        live writer of another process may still be at it): temp files, and the files of an
        original that has no info.json, which ingest writes last. Returns how many it removed."""
        return await IN_THREAD(self._sweep, time.time() - older_than_s)

    def _sweep(self, cutoff: float) -> int:
        removed = 0
        for directory in _image_directories(self.root):
            removed += _sweep_image(directory, cutoff)
            self._prune_empty_parents(directory.parent)
        if removed:
            log.warning("removed %d files that interrupted writes left in %s", removed, self.root)
        return removed

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    @staticmethod
    def _write_atomic(path: Path, data: bytes, durable: bool) -> None:
        fd, tmp = _temp_file(path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide outputs from a front nginx
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if durable:
            _fsync_dir(path.parent)

    def _list(self, directory: Path) -> list[str]:
        if not directory.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root).as_posix())
            for p in directory.rglob("*")
            if p.is_file() and not p.name.startswith(TMP_PREFIX)
        )

    def _delete_tree(self, directory: Path) -> int:
        count = len(self._list(directory))
        shutil.rmtree(directory, ignore_errors=True)
        self._prune_empty_parents(directory.parent)
        return count

    def _prune_empty_parents(self, directory: Path) -> None:
        """Removes the now-empty hash partitions, never the namespace directory or the root."""
        while directory != self.root and directory.parent != self.root:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


def _any_file(directory: Path) -> bool:
    """Stops at the first file (temp files are nobody's), so a full tree costs one path down."""
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if _any_file(Path(entry.path)):
                        return True
                elif not entry.name.startswith(TMP_PREFIX):
                    return True
    except (FileNotFoundError, NotADirectoryError):
        pass
    return False


def _temp_file(directory: Path) -> tuple[int, str]:
    """Directories are made when a write finds them missing, not checked before every write."""
    try:
        return tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
    except FileNotFoundError:
        directory.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _image_directories(root: Path) -> list[Path]:
    """Content keys' directories, and named keys' ({ns}/_/{name}: keys.NAMED)."""
    level = [root]
    for _ in range(_IMAGE_DEPTH):
        level = [entry for d in level for entry in _subdirectories(d)]
    named = [d for ns in _subdirectories(root) for d in _subdirectories(ns / NAMED)]
    return level + named


def _subdirectories(directory: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(directory) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _sweep_image(directory: Path, cutoff: float) -> int:
    """Temp files older than `cutoff`; everything when info.json is missing and the newest file
    is older than `cutoff` (an upload is written in seconds, outputs first)."""
    try:
        entries = [e for e in os.scandir(directory) if e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return 0
    old = [e for e in entries if e.stat(follow_symlinks=False).st_mtime < cutoff]
    complete = any(e.name == INFO for e in entries)
    doomed = [e for e in old if e.name.startswith(TMP_PREFIX)]
    if not complete and len(old) == len(entries):
        doomed = old
    for entry in doomed:
        Path(entry.path).unlink(missing_ok=True)
    if len(doomed) == len(entries):
        with contextlib.suppress(OSError):  # another process swept it, or wrote there since
            directory.rmdir()
    return len(doomed)
