"""Storage backends behind one protocol, chosen by URL: a path (or file://) means local disk."""

from __future__ import annotations

from urllib.parse import urlparse

from ..settings import SettingsError
from .base import Storage
from .local import LocalStorage

__all__ = ["LocalStorage", "Storage", "open_storage"]


def open_storage(url: str) -> Storage:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return LocalStorage(parsed.path if parsed.scheme else url)
    raise SettingsError(f"storage: expected a directory or file:// URL, got {url!r}")
