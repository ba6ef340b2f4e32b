"""Secrets stay out of the logs: `password=` values in logged request lines are masked, and a
request that is not well-formed HTTP is one line without its bytes.

The password of an encrypted PDF comes as `?password=` (upload, job), and aiohttp's access log
writes the whole request line. A filter on that logger, so any access-log format is covered.
aiohttp's server logs a request it cannot parse as an ERROR with a traceback that quotes the
offending header line: an `Authorization` with a stray control byte put the API key in the log.
"""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(r"([?&]password=)[^&\s\"]*", re.IGNORECASE)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET.search(message):
            record.msg, record.args = _SECRET.sub(r"\1***", message), ()
        return True


class OneLineMalformed(logging.Filter):
    """Parse errors (aiohttp.http_exceptions, status 400) become one INFO line: their kind, never
    the bytes. Anything else the server logs passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or type(exc).__module__ != "aiohttp.http_exceptions":
            return True
        kind = str(getattr(exc, "message", "")).split("\n", 1)[0].rstrip(": ") or type(exc).__name__
        record.msg, record.args = "malformed request from %s: %s", (_remote(record), kind)
        record.exc_info, record.exc_text = None, None
        if record.levelno > logging.INFO:
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _remote(record: logging.LogRecord) -> str:
    args = record.args if isinstance(record.args, tuple) else ()
    return str(args[0]) if args else "?"


def redact_access_log() -> None:
    """Idempotent: logging keeps one instance of an equal filter (the one instance here)."""
    logging.getLogger("aiohttp.access").addFilter(_REDACT)
    logging.getLogger("aiohttp.server").addFilter(_ONE_LINE)


_REDACT = RedactSecrets()
_ONE_LINE = OneLineMalformed()
