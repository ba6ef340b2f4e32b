"""Typed errors that carry their HTTP meaning; one middleware turns them into JSON.

Pure: imports nothing from aiohttp or pyvips, so the CLI reports the same codes.
"""

from __future__ import annotations


class ImageServerError(Exception):
    """Base of every error a client can cause; `status` and `code` are its HTTP meaning."""

    status = 500
    code = "internal"
    # The status a source answered, when the error is its answer (jobs report it in callbacks).
    upstream_status: int | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the JSON body (Retry-After, WWW-Authenticate)."""
        return {}

    def to_json(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


class BadRequest(ImageServerError):
    status = 400
    code = "bad_request"


class Unauthorized(ImageServerError):
    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="imageserver"'}


class Forbidden(ImageServerError):
    """The namespace's URL policy does not let this request render (unsigned, not a preset)."""

    status = 403
    code = "forbidden"


class SourceRefused(ImageServerError):
    """The source URL points somewhere we will not fetch from (scheme, host or address)."""

    status = 403
    code = "source_refused"


class NotFound(ImageServerError):
    status = 404
    code = "not_found"


class RequestTimeout(ImageServerError):
    """The client stopped sending its request body."""

    status = 408
    code = "request_timeout"


class Conflict(ImageServerError):
    """The request does not fit the resource's state now (cancel a finished job, ...)."""

    status = 409
    code = "conflict"


class TooLarge(ImageServerError):
    status = 413
    code = "too_large"


class UnsupportedMedia(ImageServerError):
    status = 415
    code = "unsupported_media_type"


class Undecodable(ImageServerError):
    """Recognised as an image but libvips cannot decode it (corrupt, truncated, exotic)."""

    status = 422
    code = "undecodable"


class OverLimit(ImageServerError):
    """Decodable in principle, but over a configured limit (pixels, frames)."""

    status = 422
    code = "over_limit"


class RenderTimeout(OverLimit):
    """The render outlasted its deadline (a PDF page) and was stopped."""


class Encrypted(ImageServerError):
    """A password-protected PDF uploaded without its password, or with a wrong one."""

    status = 422
    code = "encrypted"


class Misconfigured(ImageServerError):
    """The server's configuration names something it cannot use (a watermark whose original is
    not stored): the operator's to fix, not the client's."""

    status = 500
    code = "misconfigured"


class UpstreamError(ImageServerError):
    status = 502
    code = "upstream_error"


class Overloaded(ImageServerError):
    """The render pool's wait queue is full; the client should come back shortly."""

    status = 503
    code = "overloaded"

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class UpstreamTimeout(ImageServerError):
    status = 504
    code = "upstream_timeout"


class StorageUnavailable(ImageServerError):
    """The storage backend (S3) cannot be reached or refused the call; worth retrying later."""

    status = 503
    code = "storage_unavailable"


class StorageFull(ImageServerError):
    """The storage has no space left (ENOSPC, EDQUOT): nothing new can be kept until it has."""

    status = 507
    code = "storage_full"


class StorageTimeout(ImageServerError):
    """The storage backend did not answer within its configured timeout."""

    status = 504
    code = "storage_timeout"
