"""The servers users would pick instead, installed outside the project's environment.

thumbor (PyPI) goes into its own virtualenv and ipx (npm, sharp inside) into its own
node_modules, both under a cache directory, so a benchmark never changes what the project runs on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

THUMBOR_SPEC = "thumbor>=7,<8"
IPX_SPEC = "ipx@3"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imageserver-bench"


def thumbor_binary() -> Path | None:
    """Installs thumbor on first use; None (reported as n/a) when it does not install."""
    venv = cache_dir() / "thumbor-venv"
    binary = venv / "bin" / "thumbor"
    if not binary.exists():
        _quiet([sys.executable, "-m", "venv", str(venv)])
        _quiet([str(venv / "bin" / "pip"), "install", "--quiet", THUMBOR_SPEC])
    return binary if binary.exists() else None


def ipx_binary() -> Path | None:
    directory = cache_dir() / "ipx"
    binary = directory / "node_modules" / ".bin" / "ipx"
    if not binary.exists() and shutil.which("npm"):
        directory.mkdir(parents=True, exist_ok=True)
        _quiet(["npm", "init", "-y"], cwd=directory)
        _quiet(["npm", "install", "--no-audit", "--no-fund", IPX_SPEC], cwd=directory)
    return binary if binary.exists() else None


def nginx_binary() -> str | None:
    if shutil.which("nginx") is None and shutil.which("apt-get"):
        _quiet(["apt-get", "install", "-y", "-qq", "nginx"])
    return shutil.which("nginx")


def _quiet(command: list[str], cwd: Path | None = None) -> None:
    subprocess.run(command, cwd=cwd, capture_output=True, check=False)
