"""The seeds' own configuration names, read as settings: a migrating deployment keeps its env.

dlcs composite-handler's `PDF_RASTERIZER_*` and `ENGINE_WORKER_*`, wanelo image-server's
`IMG_OUTPUTS`, `AWS_*`, ... Each seed has one function from the environment to the settings its
names stand for; `IMAGESERVER_*` names win over them (settings.load). Pure: stdlib only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

SeedEnv = Callable[[Mapping[str, str]], dict[str, Any]]


def _dlcs(env: Mapping[str, str]) -> dict[str, Any]:
    """dlcs composite-handler (README "Migrating from dlcs composite-handler")."""
    return {}


def _wanelo(env: Mapping[str, str]) -> dict[str, Any]:
    """wanelo image-server (README "Migrating from wanelo image-server")."""
    return {}


SEEDS: tuple[SeedEnv, ...] = (_dlcs, _wanelo)


def settings_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings the seeds' env names set, as raw values for settings' own coercion."""
    found: dict[str, Any] = {}
    for seed in SEEDS:
        found.update(seed(env))
    return found
