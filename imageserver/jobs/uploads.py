"""Recent uploads per namespace, kept in the job backend (SQLite or Redis), so the dashboard's
Images page lists what every server and worker of one deployment ingested.

An original is recorded once, when it is first stored (an upload to the server, or an ingest or
download job): one small write. The same bytes again are not a new upload; a delete forgets it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass

from ..keys import ImageKey
from ..originals import Ingested, Originals
from .backends import Backend

log = logging.getLogger(__name__)
KEEP = 200  # per namespace: the newest this many


@dataclass(frozen=True)
class Upload:
    namespace: str
    hash: str  # the key's: a content hash, or the client's name for a named original
    named: bool
    at: float  # epoch seconds
    size: int
    content_type: str
    file: bool = False  # bytes of no image format, kept as they came: no thumbnail

    @property
    def key(self) -> ImageKey:
        return ImageKey(self.namespace, self.hash, named=self.named)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Upload:
        return cls(**json.loads(text))

    @classmethod
    def of(cls, ingested: Ingested, at: float) -> Upload:
        key, info = ingested.key, ingested.info
        return cls(
            namespace=key.namespace,
            hash=key.hash,
            named=key.named,
            at=at,
            size=int(info.get("size", 0)),
            content_type=str(info.get("content_type", "")),
            file=bool(info.get("file", False)),
        )


def entry(key: ImageKey) -> str:
    """What names an upload in the backend, whatever its namespace: its storage prefix."""
    return key.prefix


class RecentUploads:
    """Records what `originals` stores and forgets what it deletes, while attached (a Listener
    of originals.py); reads it back for the dashboard."""

    def __init__(self, backend: Backend, keep: int = KEEP) -> None:
        self.backend = backend
        self.keep = keep

    def attach(self, originals: Originals) -> None:
        originals.listeners.append(self)

    def detach(self, originals: Originals) -> None:
        if self in originals.listeners:
            originals.listeners.remove(self)

    async def created(self, ingested: Ingested) -> None:
        upload = Upload.of(ingested, time.time())
        await self.backend.record_upload(
            upload.namespace, entry(upload.key), upload.to_json(), self.keep
        )

    async def recent(self, namespace: str | None = None, limit: int = KEEP) -> list[Upload]:
        """Newest first; of every namespace when None."""
        records = await self.backend.recent_uploads(namespace, limit)
        return [Upload.from_json(record) for record in records]

    async def namespaces(self) -> list[str]:
        return sorted(await self.backend.upload_namespaces())

    async def deleted(self, key: ImageKey) -> None:
        await self.backend.forget_upload(key.namespace, entry(key))
