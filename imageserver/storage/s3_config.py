"""`S3Config`: the slice of `Settings` that `S3Storage` runs on.

Apart from storage/s3.py so that it is built (and type-checked) without importing aioboto3.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..settings import Settings


@dataclass(frozen=True)
class S3Config:
    """The meaning and default of each are its setting's (s3_*, settings.py). Empty strings:
    the standard AWS config and environment decide (endpoint, region, keys)."""

    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)  # never in a log line
    serve: str  # stored outputs: "stream" through the server, or "redirect" to S3
    public_url: str  # redirect mode: base URL of the bucket or a CDN (empty: presigned)
    presign_ttl_s: int
    max_connections: int
    timeout_s: float  # of one call, retries included
    max_attempts: int  # tries per call on connection errors, throttling and 5xx
    connect_timeout_s: float

    @classmethod
    def of(cls, settings: Settings) -> S3Config:
        return cls(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            serve=settings.s3_serve,
            public_url=settings.s3_public_url,
            presign_ttl_s=settings.s3_presign_ttl_s,
            max_connections=settings.s3_max_connections,
            timeout_s=settings.s3_timeout_s,
            max_attempts=settings.s3_max_attempts,
            connect_timeout_s=settings.s3_connect_timeout_s,
        )
