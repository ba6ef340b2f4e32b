"""`S3Storage`: keys as objects below `s3://bucket/prefix`, the same layout as on disk (aioboto3).

Imported only when an s3:// URL is used. One client and connection pool per process, opened and
closed with the services. Every call has one deadline, retries included, and every failure
becomes `StorageUnavailable` (503) or `StorageTimeout` (504) naming the call and S3's error code:
never a credential, never S3's own message text.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import quote, urlparse

import aioboto3
import aiohttp
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from ..errors import StorageTimeout, StorageUnavailable
from ..keys import IMMUTABLE
from ..settings import SettingsError
from .base import check_key
from .s3_config import S3Config

log = logging.getLogger(__name__)
# botocore's DEBUG lines carry signed request headers, access key id included: keep them out
for _name in ("boto3", "botocore", "aiobotocore", "aioboto3"):
    logging.getLogger(_name).setLevel(logging.WARNING)

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})  # HEAD answers a bare 404
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes
_TIMEOUTS = (TimeoutError, ReadTimeoutError)  # a connect timeout is a down S3: unavailable
# S3's answers that another try may get past; anything else (AccessDenied, NoSuchBucket) stays
_TRANSIENT = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "500", "503"}
)
_THROTTLE_PAUSE_S = 0.2
T = TypeVar("T")
_FAILURES = (BotoCoreError, ClientError, aiohttp.ClientError)


class S3Storage:
    def __init__(self, bucket: str, prefix: str, config: S3Config) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.config = config
        self._stack = AsyncExitStack()
        self._client: Any = None

    @classmethod
    def from_url(cls, url: str, config: S3Config) -> S3Storage:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise SettingsError(f"storage: expected s3://bucket/prefix, got {url!r}")
        return cls(parsed.netloc, parsed.path, config)

    async def open(self) -> None:
        """Credentials: --s3-access-key-id and --s3-secret-access-key when set, else the standard
        AWS chain (env, shared config and profile, instance role)."""
        session = aioboto3.Session(
            aws_access_key_id=self.config.access_key_id or None,
            aws_secret_access_key=self.config.secret_access_key or None,
        )
        client = session.client(
            "s3",
            endpoint_url=self.config.endpoint_url or None,
            region_name=self.config.region or None,
            config=client_config(self.config),
        )
        self._client = await self._stack.enter_async_context(client)

    async def sweep(self, older_than_s: float) -> int:
        """Nothing to sweep: a put is whole or absent. An original whose info.json was never
        written (a crash between the two puts) is not an image (info.json says one exists) and
        its next upload completes it; finding it would mean listing the whole bucket."""
        return 0

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    @property
    def _s3(self) -> Any:
        if self._client is None:
            raise RuntimeError("S3Storage.open() was not awaited")
        return self._client

    async def get(self, key: str) -> bytes | None:
        return await self._call("get", lambda: self._get(key))

    async def put(self, key: str, data: bytes, *, content_type: str, durable: bool = False) -> None:
        """A PutObject is all or nothing; Content-MD5 makes S3 refuse bytes damaged on the way.

        `durable` needs nothing more: S3 answers only once the object is stored redundantly.
        """
        content_md5 = await asyncio.to_thread(_md5_base64, data)  # 50 MB: 80 ms off the loop
        await self._call(
            "put",
            lambda: self._s3.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ContentType=content_type,
                CacheControl=IMMUTABLE,
                ContentMD5=content_md5,
            ),
        )

    async def exists(self, key: str) -> bool:
        found = await self._call("exists", lambda: self._object_or_none(self._s3.head_object, key))
        return found is not None

    async def list(self, prefix: str) -> list[str]:
        return sorted(await self._call("list", lambda: self._list(prefix)))

    async def any_below(self, prefix: str) -> bool:
        response = await self._call(
            "list",
            lambda: self._s3.list_objects_v2(
                Bucket=self.bucket, Prefix=self._key(prefix) + "/", MaxKeys=1
            ),
        )
        return bool(response.get("KeyCount"))

    async def delete_prefix(self, prefix: str) -> int:
        return await self._call("delete", lambda: self._delete_all(prefix))

    async def url(self, key: str) -> str | None:
        """Redirect mode: the public URL when a base is set, else a presigned GET."""
        if self.config.serve != "redirect":
            return None
        full_key = self._key(key)
        if self.config.public_url:
            return f"{self.config.public_url.rstrip('/')}/{quote(full_key)}"
        return await self._call(  # may need to refresh credentials first
            "presign",
            lambda: self._s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": full_key},
                ExpiresIn=self.config.presign_ttl_s,
            ),
        )

    async def _get(self, key: str) -> bytes | None:
        response = await self._object_or_none(self._s3.get_object, key)
        if response is None:
            return None
        async with response["Body"] as body:
            return await body.read()

    async def _delete_all(self, prefix: str) -> int:
        keys = await self._list(prefix)
        for start in range(0, len(keys), _DELETE_BATCH):
            await self._delete(keys[start : start + _DELETE_BATCH])
        return len(keys)

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def _object_or_none(self, call: Callable[..., Awaitable[Any]], key: str) -> Any:
        try:
            return await call(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    async def _list(self, prefix: str) -> list[str]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix) + "/"
        )
        return [
            self._relative(item["Key"]) async for page in pages for item in page.get("Contents", [])
        ]

    async def _delete(self, keys: list[str]) -> None:
        objects = [{"Key": self._key(key)} for key in keys]
        response = await self._s3.delete_objects(
            Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
        )
        errors = response.get("Errors", [])
        if errors:
            raise StorageUnavailable(f"S3 delete failed for {len(errors)} objects")

    async def _call(self, call: str, operation: Callable[[], Awaitable[T]]) -> T:
        """One deadline per call, retries included, so a dead or slow S3 never hangs a request;
        `--s3-max-attempts` tries, the next one at once after a refused connection (a restarted
        endpoint, a stale pooled connection) and after a short random pause when S3 sheds load.
        botocore's own retries are off: their backoff made a down S3 a 503 only after 2.8 s."""
        async with self._deadline(call):
            for attempt in range(1, self.config.max_attempts + 1):
                try:
                    return await operation()
                except _FAILURES as exc:
                    pause = _retry_pause(exc)
                    if pause is None or attempt == self.config.max_attempts:
                        raise
                    await asyncio.sleep(pause)
        raise AssertionError("unreachable: s3_max_attempts >= 1")

    @asynccontextmanager
    async def _deadline(self, call: str) -> AsyncIterator[None]:
        timeout_s = self.config.timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                yield
        except _TIMEOUTS as exc:
            log.warning("S3 %s timed out: %s", call, type(exc).__name__)
            raise StorageTimeout(f"S3 {call} took longer than {timeout_s}s") from exc
        except _FAILURES as exc:
            log.warning("S3 %s failed: %s", call, _code(exc))
            raise StorageUnavailable(f"S3 {call} failed ({_code(exc)})") from exc


def _retry_pause(exc: BaseException) -> float | None:
    """Seconds to wait before trying again, or None when trying again cannot help."""
    if isinstance(exc, ClientError):
        return random.uniform(0, _THROTTLE_PAUSE_S) if _code(exc) in _TRANSIENT else None
    return 0.0  # connection-level: the next try takes a fresh connection


def client_config(config: S3Config) -> AioConfig:
    """Timeouts per attempt (connecting: --s3-connect-timeout-s), no retries of botocore's own
    (S3Storage._call retries), and a pool sized by the settings.

    Checksums only where S3 requires them: several S3-compatible stores refuse the newer
    default ones, and `put` sends Content-MD5, which every S3 API checks.
    """
    return AioConfig(
        connect_timeout=min(config.connect_timeout_s, config.timeout_s),
        read_timeout=config.timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=config.max_connections,
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def _md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _code(exc: BaseException) -> str:
    """S3's error code (NoSuchBucket, AccessDenied, SlowDown), else the exception's class name."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "unknown"))
    return type(exc).__name__
