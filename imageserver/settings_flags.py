"""How settings are shown to an operator: one flag and one `IMAGESERVER_*` env name per setting,
and the (flag, env, default, help) rows of `--help` and the table of docs/configuration.md.

Works on the dataclass fields settings.py declares (settings_parsers.setting). Pure: no aiohttp,
no pyvips.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Collection
from typing import Any

from .settings_parsers import to_bool, to_list

ENV_PREFIX = "IMAGESERVER_"
Fields = tuple[dataclasses.Field[Any], ...]


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag_name(f: dataclasses.Field[Any]) -> str:
    return "--" + (f.metadata["flag"] or f.name.replace("_", "-"))


def describe(fields: Fields) -> list[tuple[str, str, str, str]]:
    return [
        (flag_name(f), env_name(f.name), _show_default(_default(f)), f.metadata["help"])
        for f in fields
    ]


def add_arguments(
    parser: argparse.ArgumentParser, fields: Fields, names: Collection[str] | None
) -> None:
    """A name in `names` that no field has is a mistake of the command's, refused at once."""
    unknown = set(names or ()) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    parser.add_argument("--config", metavar="FILE", help="TOML file with settings")
    for f in fields:
        if names is None or f.name in names:
            _add_flag(parser, f)


def _add_flag(parser: argparse.ArgumentParser, f: dataclasses.Field[Any]) -> None:
    """Unset flags stay None, so env and file can fill them; lists take the flag repeated."""
    help_text = (
        f"{f.metadata['help']} (default: {_show_default(_default(f))}; env {env_name(f.name)})"
    )
    if f.metadata["parse"] is to_bool:
        action: Any = argparse.BooleanOptionalAction
        parser.add_argument(flag_name(f), dest=f.name, action=action, help=help_text)
    elif f.metadata["parse"] is to_list:
        parser.add_argument(flag_name(f), dest=f.name, action="append", help=help_text)
    else:
        parser.add_argument(flag_name(f), dest=f.name, help=help_text)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _show_default(value: Any) -> str:
    if isinstance(value, list | dict) and not value:
        return "(none)"
    if isinstance(value, list):
        return ",".join(value)  # as the flag and the env variable take it
    return "''" if value == "" else str(value)
