"""Secrets stay out of the logs: `password=` values in logged request lines are masked.

The password of an encrypted PDF comes as `?password=` (upload, job), and aiohttp's access log
writes the whole request line. A filter on that logger, so any access-log format is covered.
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


def redact_access_log() -> None:
    """Idempotent: logging keeps one instance of an equal filter (the one instance here)."""
    logging.getLogger("aiohttp.access").addFilter(_REDACT)


_REDACT = RedactSecrets()
