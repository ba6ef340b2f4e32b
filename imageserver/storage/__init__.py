"""Storage backends behind one protocol, chosen by URL: a path (or file://) is local disk,
`s3://bucket/prefix` is S3 (its module, and aioboto3, are imported only then)."""

from __future__ import annotations

from urllib.parse import urlparse

from ..blocking import IN_THREAD, Blocking
from ..settings import Settings, SettingsError
from .base import Storage
from .local import LocalStorage

__all__ = ["LocalStorage", "Storage", "open_storage"]


def open_storage(
    url: str, settings: Settings | None = None, blocking: Blocking = IN_THREAD
) -> Storage:
    """S3 runs on its slice of `settings` (S3Config: endpoint, timeouts, pool); local disk needs
    none, but runs its file calls through `blocking`."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return LocalStorage(parsed.path if parsed.scheme else url, blocking)
    if parsed.scheme == "s3":
        from .s3 import S3Storage
        from .s3_config import S3Config

        return S3Storage.from_url(url, S3Config.of(settings or Settings()))
    raise SettingsError(f"storage: expected a directory, file:// or s3:// URL, got {url!r}")
