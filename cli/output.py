"""What the commands print: one JSON line per result on stdout, problems on stderr; exit codes."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1  # some inputs failed; each has its JSON line
EXIT_BAD_ARGUMENTS = 2  # nothing was done
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it


def emit(line: dict[str, Any]) -> None:
    """Flushed per line, so a consumer (jq, a script) sees each result as it happens."""
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def bad_arguments(command: str, message: str) -> int:
    print(f"imageserver {command}: {message}", file=sys.stderr)
    return EXIT_BAD_ARGUMENTS


def quiet_libvips() -> None:
    """libvips narrates a bad input's failure as warnings; its JSON line says it already."""
    logging.getLogger("pyvips").setLevel(logging.ERROR)
