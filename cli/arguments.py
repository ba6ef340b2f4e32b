"""Argument handling shared by the commands: settings flags apart, tokens, counts."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from imageserver.transform import Transform, parse_tokens

from .setting_groups import ALL

# What settings.load takes: a flag per setting a command offers (setting_groups), and --config.
SETTING_NAMES = ALL | {"config"}


def settings_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags that are settings, leaving out the command's own arguments."""
    return {name: value for name, value in vars(args).items() if name in SETTING_NAMES}


def positive_int(text: str) -> int:
    """An argparse type: a bad count is a usage error (exit 2) before any work."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return int(text)


def output_tokens(tokens: Iterable[str], max_side: int) -> list[Transform]:
    """Tokens parsed as the server parses outputs lists."""
    return parse_tokens(",".join(tokens), max_side=max_side)
