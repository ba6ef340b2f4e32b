"""Argument handling shared by the commands: settings flags apart, tokens, counts."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from typing import Any

from imageserver.errors import BadRequest
from imageserver.settings import Settings
from imageserver.transform import AUTO_FORMAT, Transform, parse_token

# What settings.load takes: one flag per setting (settings.add_arguments), and --config.
SETTING_NAMES = frozenset({f.name for f in dataclasses.fields(Settings)} | {"config"})


def settings_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags that are settings, leaving out the command's own arguments."""
    return {name: value for name, value in vars(args).items() if name in SETTING_NAMES}


def positive_int(text: str) -> int:
    """An argparse type: a bad count is a usage error (exit 2) before any work."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return int(text)


def output_tokens(tokens: Iterable[str], max_side: int) -> list[Transform]:
    """Tokens parsed as the server parses them; `.auto` needs a request's Accept header."""
    transforms = [parse_token(t.strip(), max_side=max_side) for t in tokens if t.strip()]
    for transform in transforms:
        if transform.format == AUTO_FORMAT:
            raise BadRequest(
                f"format: .auto is chosen per request from its Accept header; name a format "
                f"for files, got {transform.token()!r}",
                code="bad_format",
            )
    return transforms
