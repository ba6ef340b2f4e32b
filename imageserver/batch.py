"""Files on disk stored as uploads: the walk over paths and the store of one file, via services.

Used by `imageserver process`. Paths stream from a lazy walk (memory is one directory entry per
level, whatever the size of the tree), and each file goes through `Originals.ingest` and
`Variants` exactly as a POST does: same key, same original, same info.json, same outputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

from .errors import ImageServerError, TooLarge
from .keys import ImageKey, check_namespace
from .render import Probe
from .services import Services
from .transform import Transform

STDIN = "-"
T = TypeVar("T")
log = logging.getLogger(__name__)


class Unreadable(ImageServerError):
    """A path that cannot be read or listed (missing, no permission): the file's problem."""

    code = "unreadable"

    @classmethod
    def of(cls, exc: OSError) -> Unreadable:
        return cls(exc.strerror or str(exc))


@dataclass(frozen=True)
class Done:
    """A stored file; `skipped`: its original and every output were there already."""

    path: str
    info: dict[str, Any]
    outputs: dict[str, str]  # token -> storage key
    skipped: bool

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, **self.info, "outputs": self.outputs, "skipped": self.skipped}


@dataclass(frozen=True)
class Failed:
    path: str
    error: str
    message: str

    @classmethod
    def of(cls, path: str, exc: ImageServerError) -> Failed:
        return cls(path, exc.code, exc.message)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "error": self.error, "message": self.message}


Result = Done | Failed


def walk(paths: Iterable[str], stdin: BinaryIO) -> Iterator[str | Failed]:
    """Files under each path, lazily; `-` reads more paths from stdin, one a line."""
    for path in paths:
        yield from _paths_from(stdin) if path == STDIN else expand(path)


def _paths_from(stdin: BinaryIO) -> Iterator[str | Failed]:
    """Bytes decoded as the OS does (surrogateescape), so any file name round-trips to open()."""
    for raw in stdin:
        path = os.fsdecode(raw.rstrip(b"\r\n"))
        if path:
            yield from expand(path)


def expand(path: str) -> Iterator[str | Failed]:
    """A file is itself (a missing one fails when read); a directory is every file below it."""
    if os.path.isdir(path):
        yield from _walk_dir(path)
    else:
        yield path


def _walk_dir(directory: str) -> Iterator[str | Failed]:
    """scandir, not os.walk: os.walk lists a whole directory before yielding any of it.

    Regular files and links to them; links to directories are not followed (no cycles).
    """
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    yield from _walk_dir(entry.path)
                elif entry.is_file():
                    yield entry.path
    except OSError as exc:
        yield Failed.of(directory, Unreadable.of(exc))


def read_original(path: str, max_bytes: int) -> bytes:
    """Blocking. Refuses a file over the upload limit before reading it, as uploads are refused."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            # sized by the file, not the limit: a 50 MB buffer per read costs more than the read
            data = _read_up_to(fh, size + 1, max_bytes + 1) if size <= max_bytes else b""
    except OSError as exc:
        raise Unreadable.of(exc) from None
    if size > max_bytes or len(data) > max_bytes:
        raise TooLarge(f"{max(size, len(data))} bytes is over the limit of {max_bytes}")
    return data


def _read_up_to(fh: BinaryIO, expected: int, cap: int) -> bytes:
    """`expected` bytes first, then more (up to `cap`) only if the file grew meanwhile."""
    data = fh.read(expected)
    if len(data) == expected:
        data += fh.read(cap - expected)
    return data


class Batch:
    """Stores files as a POST to /{namespace}?outputs=... would, and skips what is done."""

    def __init__(
        self, services: Services, namespace: str, outputs: list[Transform], *, force: bool = False
    ) -> None:
        self.services = services
        self.namespace = check_namespace(namespace)
        wanted = outputs + services.outputs_on_upload(namespace)
        self.outputs = list({t.token(): t for t in wanted}.values())
        self.force = force
        self._busy: dict[str, asyncio.Event] = {}

    async def process(self, path: str) -> Result:
        """Never raises for a bad file: the problem is its result, and the batch goes on."""
        max_bytes = self.services.settings.max_upload_bytes
        try:
            data = await self.services.blocking(read_original, path, max_bytes)
            return await self._store(path, data)
        except ImageServerError as exc:
            return Failed.of(path, exc)
        except Exception as exc:  # storage down, disk full: report it and go on to the next file
            log.debug("%s failed", path, exc_info=True)
            return Failed(path, "internal", f"{type(exc).__name__}: {exc}")

    async def _store(self, path: str, data: bytes) -> Done:
        """Skipped: the original was stored and `ensure` found every output there too."""
        key = self.services.originals.key_of(self.namespace, data)
        rendered: list[Transform] = []

        async def render_outputs(key: ImageKey, *, probe: Probe | None) -> None:
            variants = self.services.variants
            made = await variants.ensure(key, self.outputs, data, probe=probe, force=self.force)
            rendered.extend(made)

        async with self._exclusive(key.hash):  # identical files: the second finds the first done
            ingested = await self.services.originals.ingest(
                self.namespace, data, render_outputs if self.outputs else None
            )
        outputs = {t.token(): key.output(t.token()) for t in self.outputs}
        skipped = not (ingested.created or rendered)
        return Done(path, ingested.info, outputs, skipped=skipped)

    @contextlib.asynccontextmanager
    async def _exclusive(self, name: str) -> AsyncIterator[None]:
        while (busy := self._busy.get(name)) is not None:
            await busy.wait()
        released = self._busy[name] = asyncio.Event()
        try:
            yield
        finally:
            del self._busy[name]
            released.set()


class Feeder:
    """Keeps at most `in_flight` files in flight and reports each result as it comes.

    Cancelling `feed` stops taking new paths; `drain` then lets the files in flight finish.
    """

    def __init__(self, batch: Batch, in_flight: int, report: Callable[[Result], None]) -> None:
        self.batch = batch
        self.report = report
        self._slots = asyncio.Semaphore(in_flight)
        self._read_ahead = in_flight
        self._in_flight: set[asyncio.Task[None]] = set()

    async def feed(self, paths: Iterator[str | Failed]) -> None:
        async with contextlib.aclosing(from_thread(paths, self._read_ahead)) as items:
            async for item in items:
                if isinstance(item, Failed):
                    self.report(item)
                    continue
                await self._slots.acquire()
                task = asyncio.create_task(self._one(item))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

    async def drain(self) -> None:
        await asyncio.gather(*self._in_flight, return_exceptions=True)

    def abandon(self) -> None:
        """Stops the files in flight now; storage writes are atomic, so none is left partial."""
        for task in self._in_flight:
            task.cancel()

    async def _one(self, path: str) -> None:
        try:
            self.report(await self.batch.process(path))
        finally:
            self._slots.release()


@dataclass(frozen=True)
class _End:
    """The last thing the walk thread sends: how its iterator ended."""

    error: Exception | None = None


async def from_thread(items: Iterator[T], buffer: int) -> AsyncIterator[T]:
    """A blocking iterator (a walk, stdin) run ahead in a daemon thread, at most `buffer` ahead.

    The loop never waits on a slow disk or pipe, and exiting never waits on the thread (a read
    from stdin cannot be interrupted; a daemon thread is simply left behind).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    room = threading.Semaphore(buffer)
    stopped = threading.Event()

    def produce() -> None:
        end = _End()
        try:
            for item in items:
                room.acquire()
                if stopped.is_set():
                    return
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except Exception as exc:  # a broken walk fails the run instead of hanging it
            end = _End(exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the run is over
            loop.call_soon_threadsafe(queue.put_nowait, end)

    threading.Thread(target=produce, name="walk", daemon=True).start()
    try:
        while not isinstance(item := await queue.get(), _End):
            room.release()
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stopped.set()
        room.release()
