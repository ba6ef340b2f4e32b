"""Callback signatures: HMAC-SHA256 over `{timestamp}.{body}`, so a receiver can trust a callback.

The timestamp is signed with the body so that a recorded callback cannot be replayed later.
Pure: stdlib only. docs/jobs.md ("Callbacks") shows the receiver's side, which `verify` implements.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Imageserver-Timestamp"
SIGNATURE_HEADER = "X-Imageserver-Signature"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: `sha256=` and the hex digest."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    if not secret:
        return {}
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    now_s: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        timestamp = int(headers.get(TIMESTAMP_HEADER, ""))
    except ValueError:
        return False
    if abs(now_s - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, ""))
