"""Verifies the CRIM Service Gateway's `Authorization: <JWT>`: HS256 under a shared secret, RS256
under an RSA public key, each algorithm pinned to its own key (never `none`, never an HS256 token
checked against the public key's bytes). Keys are loaded once, at start. No aiohttp, no pyvips.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .errors import Unauthorized

# RFC 7518 3.2: an HS256 key at least as long as its hash; PyJWT warns on every shorter one.
MIN_SECRET_BYTES = 32
PEM_START = "-----BEGIN"


@dataclass(frozen=True)
class JwtKeys:
    """The configured keys by the one algorithm each verifies."""

    by_algorithm: Mapping[str, Any]

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; 401 when it is missing, malformed, forged or expired (`exp` is
        checked when the token has one, as PyJWT does)."""
        if not token:
            raise Unauthorized("this request needs 'Authorization: <JWT>'")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"Authorization: not a JWT ({exc})") from None
        key = self.by_algorithm.get(algorithm)
        if key is None:
            expected = " or ".join(self.by_algorithm)
            raise Unauthorized(f"JWT algorithm: expected {expected}, got {algorithm!r}")
        try:
            return jwt.decode(token, key, algorithms=[algorithm])
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the JWT has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid JWT: {exc}") from None


def load_keys(secret: str, public_key: str) -> JwtKeys | None:
    """None when neither is set (the gateway then takes API keys). Reads a key file now, once;
    raises OSError or ValueError for what `key_problems` reports at start."""
    keys: dict[str, Any] = {}
    if secret:
        keys["HS256"] = secret
    if public_key:
        keys["RS256"] = _rsa_public_key(public_key)
    return JwtKeys(keys) if keys else None


def key_problems(secret: str, public_key: str) -> list[str]:
    """For settings' start-up check: a short secret, an unreadable key file, a bad PEM."""
    problems = []
    if secret and len(secret.encode()) < MIN_SECRET_BYTES:
        problems.append(
            f"gateway_jwt_secret: expected at least {MIN_SECRET_BYTES} bytes (RFC 7518 3.2)"
        )
    if public_key:
        try:
            _rsa_public_key(public_key)
        except (OSError, ValueError) as exc:
            problems.append(f"gateway_jwt_public_key: {exc}")
    return problems


def _rsa_public_key(pem_or_path: str) -> RSAPublicKey:
    text = pem_or_path
    if not text.lstrip().startswith(PEM_START):
        text = Path(text).read_text()
    key = load_pem_public_key(text.encode())
    if not isinstance(key, RSAPublicKey):
        raise ValueError(f"expected an RSA public key, got {type(key).__name__}")
    return key
