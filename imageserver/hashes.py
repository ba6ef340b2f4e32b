"""Which content hash a namespace's keys use, and the marker that keeps a namespace to one.

xxh3 is ours; MD5 (the wanelo seed's) is for --md5-namespaces. An MD5 namespace holds a marker,
`{namespace}/namespace.json` ({"content_hash": "md5"}), written before its first original; a
namespace without one is xxh3 (everything stored before markers was). Every ingest checks the
namespace against its configuration, reading storage once per namespace and process: later
ingests cost nothing, output requests never look. A mismatch refuses the upload (409).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .errors import Conflict
from .keys import MD5, XXH3
from .storage import Storage

MARKER = "namespace.json"


class HashConflict(Conflict):
    code = "hash_conflict"


class NamespaceHashes:
    """Per process: the namespaces found to agree with their configuration, and the MD5 ones
    still to mark (empty when checked)."""

    def __init__(self, storage: Storage, md5_namespaces: Iterable[str]) -> None:
        self.storage = storage
        self._md5 = frozenset(md5_namespaces)
        self._agreed: set[str] = set()
        self._unmarked: set[str] = set()

    def of(self, namespace: str) -> str:
        """The configured algorithm, without looking at storage."""
        return MD5 if namespace in self._md5 else XXH3

    async def checked(self, namespace: str) -> str:
        """The configured algorithm, once storage agrees; HashConflict when it does not."""
        configured = self.of(namespace)
        if namespace not in self._agreed:
            held = await self._held(namespace, configured)
            if held != configured:
                raise HashConflict(
                    f"namespace {namespace} holds {held}-keyed originals and is configured for "
                    f"{configured} (--md5-namespaces): a namespace never mixes the two; store "
                    f"into another namespace"
                )
            self._agreed.add(namespace)
        return configured

    async def mark(self, namespace: str) -> None:
        """Before an original is stored: the MD5 namespace's marker, if it has none yet."""
        if namespace in self._unmarked:
            marker = json.dumps({"content_hash": MD5}).encode()
            key = f"{namespace}/{MARKER}"
            await self.storage.put(key, marker, content_type="application/json", durable=True)
            self._unmarked.discard(namespace)

    async def _held(self, namespace: str, configured: str) -> str:
        """The marker's hash; else xxh3, unless the namespace is empty: then the configured one
        (an MD5 namespace is marked at its first store)."""
        raw = await self.storage.get(f"{namespace}/{MARKER}")
        if raw is not None:
            return str(json.loads(raw)["content_hash"])
        if configured == XXH3 or await self.storage.any_below(namespace):
            return XXH3
        self._unmarked.add(namespace)
        return configured
