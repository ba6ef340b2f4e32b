"""Process-wide logging set-up, the same for every command and every serving process."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    logging.getLogger("pyvips").setLevel(logging.WARNING)  # libvips narrates every render at INFO
