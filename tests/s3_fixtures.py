"""S3 for tests: moto in server mode on loopback, a real HTTP S3 API with no patched clients.

A pytest plugin (see `pytest_plugins` in conftest.py). Every test gets a fresh bucket and dummy
credentials from the environment; ~/.aws is never read.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.s3.models import FakeKey
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(port: int) -> ThreadedMotoServer:
    """Buckets live in moto's process-wide state, so a server restarted on a port finds them."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    _lock_moto_etags()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


@functools.cache
def _lock_moto_etags() -> None:
    """A fix to the fake, not to the code under test. moto 5 computes an object's ETag by reading
    its value buffer without the object's lock, moving the position that a concurrent GET of the
    object reads from: that GET answers an empty body, which S3 never does. The readers of
    test_readers_never_see_partial_objects saw it once this process switched threads every
    0.1 ms (render.configure). The ETag is computed once per object, under the lock here."""
    unlocked = FakeKey.etag.fget
    assert unlocked is not None

    def etag(key: FakeKey) -> str:
        with key.lock:
            return unlocked(key)

    FakeKey.etag = property(etag)  # type: ignore[method-assign,assignment]


@functools.cache
def raw_client(endpoint_url: str) -> Any:
    """A plain boto3 client, to look at the bucket behind the code under test (made once)."""
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION)


def make_bucket(endpoint_url: str) -> str:
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    raw_client(endpoint_url).create_bucket(Bucket=bucket)
    return bucket


def s3_overrides(endpoint_url: str, bucket: str, **more: Any) -> dict[str, Any]:
    """Settings for storage in `bucket` under the prefix `images`, with test-sized timeouts."""
    return {
        "storage": f"s3://{bucket}/images",
        "s3_endpoint_url": endpoint_url,
        "s3_region": REGION,
        "s3_timeout_s": 2.0,
        "s3_max_attempts": 2,
        **more,
    }


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = start_moto(port)
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials in the environment; shared config and credentials files point nowhere."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_settings(moto_url: str, aws_env: None) -> dict[str, Any]:
    """Settings overrides for storage in a fresh bucket of the session's moto server."""
    return s3_overrides(moto_url, make_bucket(moto_url))


@pytest.fixture
async def silent_endpoint() -> AsyncIterator[str]:
    """An endpoint that accepts connections and never answers: a hung S3."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()
