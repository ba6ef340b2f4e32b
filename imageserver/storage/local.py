"""`LocalStorage`: keys as files below a root, laid out so nginx can serve outputs straight from it.

Paths are confined to the root; writes go to a temp file in the same directory and are renamed
into place, so a crash never leaves a partial file under a real name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..blocking import IN_THREAD, Blocking
from .base import TMP_PREFIX, check_key


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
        await run(self._write_atomic, self.path(key), data, durable)

    async def exists(self, key: str) -> bool:
        return await self._blocking(self.path(key).is_file)

    async def list(self, prefix: str) -> list[str]:
        return await self._blocking(self._list, self.path(prefix))

    async def delete_prefix(self, prefix: str) -> int:
        return await self._blocking(self._delete_tree, self.path(prefix))

    async def url(self, key: str) -> str | None:
        """None: the app (or nginx, straight from the directory) serves local files."""
        return None

    async def close(self) -> None:
        return None

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
