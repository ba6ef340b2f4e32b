"""S3Storage beyond the shared contract: object headers, layout, redirect URLs, and faults."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from imageserver.errors import StorageTimeout, StorageUnavailable
from imageserver.keys import IMMUTABLE
from imageserver.settings import Settings
from imageserver.storage.s3 import S3Storage
from imageserver.storage.s3_config import S3Config
from tests.s3_fixtures import free_port, raw_client, s3_overrides


@asynccontextmanager
async def opened(**overrides: Any) -> AsyncIterator[S3Storage]:
    settings = Settings(**overrides)
    storage = S3Storage.from_url(settings.storage, S3Config.of(settings))
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


def bucket_of(settings: dict[str, Any]) -> str:
    return settings["storage"].removeprefix("s3://").split("/")[0]


async def test_objects_carry_content_type_and_cache_control(s3_settings: dict[str, Any]) -> None:
    async with opened(**s3_settings) as storage:
        await storage.put("p/abc/info.json", b"{}", content_type="application/json")
        await storage.put("p/abc/w1.webp", b"RIFF", content_type="image/webp")
    client, bucket = raw_client(s3_settings["s3_endpoint_url"]), bucket_of(s3_settings)
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["images/p/abc/info.json", "images/p/abc/w1.webp"]
    head = client.head_object(Bucket=bucket, Key="images/p/abc/info.json")
    assert (head["ContentType"], head["CacheControl"]) == ("application/json", IMMUTABLE)
    assert client.head_object(Bucket=bucket, Key="images/p/abc/w1.webp")["ContentType"] == (
        "image/webp"
    )


async def test_without_a_prefix_keys_start_at_the_bucket_root(s3_settings: dict[str, Any]) -> None:
    bucket = bucket_of(s3_settings)
    async with opened(**{**s3_settings, "storage": f"s3://{bucket}"}) as storage:
        await storage.put("p/abc/original", b"x", content_type="image/png")
        assert await storage.list("p/abc") == ["p/abc/original"]
    listed = raw_client(s3_settings["s3_endpoint_url"]).list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["p/abc/original"]


async def test_redirect_mode_presigns_or_uses_the_public_base(s3_settings: dict[str, Any]) -> None:
    async with opened(**s3_settings, s3_serve="redirect", s3_presign_ttl_s=60) as storage:
        await storage.put("p/abc/w1.jpg", b"jpeg bytes", content_type="image/jpeg")
        url = await storage.url("p/abc/w1.jpg")
    assert url is not None
    assert "X-Amz-Expires=60" in url
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert await resp.read() == b"jpeg bytes"
        assert resp.headers["Content-Type"] == "image/jpeg"
    public = {"s3_serve": "redirect", "s3_public_url": "https://cdn.example.com/"}
    async with opened(**s3_settings, **public) as storage:
        assert (
            await storage.url("p/abc/w 1.jpg") == "https://cdn.example.com/images/p/abc/w%201.jpg"
        )


async def test_unreachable_s3_is_unavailable_at_once(aws_env: None) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    async with opened(**s3_overrides(nobody, "bucket")) as storage:  # with its one retry
        started = time.monotonic()
        with pytest.raises(StorageUnavailable, match=r"S3 get failed \(EndpointConnectionError\)"):
            await storage.get("p/abc/original")
        assert time.monotonic() - started < 1


async def test_hung_s3_times_out_within_the_deadline(aws_env: None, silent_endpoint: str) -> None:
    """Retries included: three attempts still answer within the one deadline."""
    settings = s3_overrides(silent_endpoint, "bucket", s3_timeout_s=0.3, s3_max_attempts=3)
    async with opened(**settings) as storage:
        calls = {
            "get": storage.get("p/abc/original"),
            "put": storage.put("p/abc/w1.jpg", b"x", content_type="image/jpeg"),
            "exists": storage.exists("p/abc/info.json"),
            "list": storage.list("p/abc"),
            "delete": storage.delete_prefix("p/abc"),
        }
        for name, call in calls.items():
            started = time.monotonic()
            with pytest.raises(StorageTimeout, match=f"S3 {name} took longer than 0.3s"):
                await call
            assert time.monotonic() - started < 0.6


async def test_failures_name_the_code_never_the_credentials(
    moto_url: str, aws_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with opened(**s3_overrides(moto_url, "no-such-bucket")) as storage:
        with pytest.raises(StorageUnavailable) as raised:
            await storage.get("p/abc/original")
    assert raised.value.to_json() == {
        "error": "storage_unavailable",
        "message": "S3 get failed (NoSuchBucket)",
    }
    assert "NoSuchBucket" in caplog.text
    assert "test-secret-key" not in caplog.text
    assert "test-access-key" not in caplog.text


async def test_a_write_cut_off_midway_leaves_no_object(s3_settings: dict[str, Any]) -> None:
    data = b"\xff" * 32_000_000
    async with opened(**{**s3_settings, "s3_timeout_s": 0.05}) as hasty:
        with pytest.raises(StorageTimeout):
            await hasty.put("p/abc/w1.png", data, content_type="image/png")
    async with opened(**s3_settings) as storage:
        assert await storage.get("p/abc/w1.png") is None
        assert await storage.list("p/abc") == []


def test_aioboto3_is_imported_only_for_s3_urls(tmp_path: Path) -> None:
    """A server on local disk pays nothing for S3 (in a fresh interpreter, where nothing is yet)."""
    code = (
        "import sys; from imageserver.services import build_services; "
        "from imageserver.settings import Settings; import imageserver.web; "
        "build_services(Settings(storage=sys.argv[1])); "
        "loaded = [m for m in ('aioboto3', 'botocore') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)


@pytest.fixture
async def resetting_endpoint() -> AsyncIterator[tuple[str, list[int]]]:
    """An endpoint that takes each connection and drops it at once: a crashed S3 behind a
    load balancer. Counts the connections, so retries can be counted."""
    accepted: list[int] = []

    async def drop(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        writer.transport.abort()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", accepted
    server.close()


async def test_a_down_s3_is_one_retry_and_no_backoff(
    aws_env: None, resetting_endpoint: tuple[str, list[int]]
) -> None:
    """With the default settings: two tries at once, not botocore's three with backoff."""
    endpoint, accepted = resetting_endpoint
    defaults = {k: v for k, v in s3_overrides(endpoint, "bucket").items() if "attempts" not in k}
    async with opened(**defaults) as storage:
        assert storage.config.max_attempts == 2
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            await storage.get("p/abc/original")
        elapsed = time.monotonic() - started
    # two tries; aiohttp itself connects once more when a fresh connection drops before answering
    assert len(accepted) <= 4
    assert elapsed < 0.5  # botocore's backoff took 1-3 s
