"""An upload's bytes from its request body: raw (`--data-binary @x.jpg`) or the file part of a
multipart form (`-F file=@x.jpg`), both streamed under the same size cap and idle timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ..errors import BadRequest, RequestTimeout, TooLarge
from ..fetch import read_capped
from ..settings import Settings

T = TypeVar("T")

# A form's boundaries and part headers around the file: a declared length over the cap by more
# than this is refused before reading, like a raw body's
MULTIPART_OVERHEAD_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024
FILE_FIELD = "file"
WHAT = "upload"


async def upload_bytes(request: web.Request, settings: Settings) -> bytes:
    if request.content_type == "multipart/form-data":
        data = await _multipart_file(request, settings)
    else:
        data = await read_capped(
            request.content,
            settings.max_upload_bytes,
            what=WHAT,
            declared_length=request.content_length,
            idle_timeout_s=settings.upload_idle_timeout_s,
        )
    if not data:
        raise BadRequest(
            "expected the image as the request body, or ?source=URL", code="empty_body"
        )
    return data


async def _multipart_file(request: web.Request, settings: Settings) -> bytes:
    """The first file part: named `file`, or sent with a file name (`-F x=@a.jpg`). Text fields
    before it are skipped, read under the same cap and timeout as the file itself."""
    max_bytes, idle_s = settings.max_upload_bytes, settings.upload_idle_timeout_s
    declared = request.content_length
    if declared is not None and declared > max_bytes + MULTIPART_OVERHEAD_BYTES:
        raise TooLarge(f"{WHAT} declares {declared} bytes, over the limit of {max_bytes}")
    try:
        reader = await request.multipart()
        while (part := await _idle(reader.next(), idle_s)) is not None:
            if not isinstance(part, BodyPartReader):
                raise BadRequest("multipart body: expected a file part, not a nested multipart")
            data = await read_capped(_PartStream(part), max_bytes, what=WHAT, idle_timeout_s=idle_s)
            if part.name == FILE_FIELD or part.filename is not None:
                return data
    except (ValueError, HttpProcessingError) as exc:  # aiohttp's words for a malformed form
        reason = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
        raise BadRequest(f"multipart body: {reason}", code="bad_multipart") from None
    raise BadRequest(
        "multipart body: expected a file part (-F file=@image.jpg)", code="no_file_part"
    )


async def _idle(awaitable: Awaitable[T], idle_s: float) -> T:
    """A part's headers are awaited no longer than a chunk of its bytes (fetch.read_capped)."""
    try:
        async with asyncio.timeout(idle_s):
            return await awaitable
    except TimeoutError:
        raise RequestTimeout(f"{WHAT}: nothing received for {idle_s} s") from None


class _PartStream:
    """A form part read as fetch.read_capped reads a stream: chunk by chunk, b"" at its end."""

    def __init__(self, part: BodyPartReader) -> None:
        self._part = part

    async def readany(self) -> bytes:
        return await self._part.read_chunk(CHUNK_BYTES)
