"""How one setting's value is read and bounded: a flag, env string or TOML value into its type,
then checked against the bounds its declaration names (settings.py).

Only one value at a time: checks across settings are settings_checks.py's. Pure: stdlib and the
watermark spec only; no aiohttp, no pyvips.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from .watermarks import Watermark

Parse = Callable[[Any], Any]
LOG_LEVELS = ("debug", "info", "warning", "error")
S3_SERVE_MODES = ("stream", "redirect")
MAX_PRESIGN_TTL_S = 7 * 24 * 3600  # SigV4's limit


@dataclass(frozen=True)
class Bounds:
    """What a parsed value may be: above (exclusive) or at least a minimum, at most a maximum,
    or one of a few words. The messages name what was expected and what was received."""

    above: float | None = None
    at_least: float | None = None
    at_most: float | None = None
    choices: Sequence[str] = ()

    def problem(self, value: Any) -> str | None:
        if self.choices and value not in self.choices:
            *most, last = self.choices
            expected = f"{', '.join(most)} or {last}" if most else last
            return f"expected {expected}, got {value!r}"
        if self.at_least is not None and self.at_most is not None:
            if not self.at_least <= value <= self.at_most:
                return f"expected {self.at_least}-{self.at_most}, got {value}"
            return None
        if self.above is not None and value <= self.above:
            return f"must be > {self.above}"
        if self.at_least is not None and value < self.at_least:
            return f"must be >= {self.at_least}"
        if self.at_most is not None and value > self.at_most:
            return f"must be <= {self.at_most}"
        return None


# The bounds of most settings, in their types (settings.py reads them with get_type_hints).
PositiveInt = Annotated[int, Bounds(above=0)]
PositiveFloat = Annotated[float, Bounds(above=0)]
NonNegativeInt = Annotated[int, Bounds(at_least=0)]
NonNegativeFloat = Annotated[float, Bounds(at_least=0)]
Port = Annotated[int, Bounds(at_least=1, at_most=65535)]


def setting(
    default: Any, help: str, *, flag_name: str | None = None, parse: Parse | None = None
) -> Any:
    """Declares a setting: its help, and how a flag, env or TOML value is parsed (by the
    default's type unless `parse` says); the bounds of the value are in its type. Mutable
    defaults become factories so instances never share them."""
    metadata = {"help": help, "flag": flag_name, "parse": parse or BY_TYPE[type(default)]}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def bounds_problems(instance: Any) -> list[str]:
    """Each value of a dataclass of settings against the bounds its type declares."""
    found = (
        (name, bounds.problem(getattr(instance, name)))
        for name, bounds in field_bounds(type(instance)).items()
    )
    return [f"{name}: {problem}" for name, problem in found if problem]


def field_bounds(cls: type) -> dict[str, Bounds]:
    """Field name -> the Bounds in its `Annotated` type, for the fields that have one."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {
        f.name: extra
        for f in dataclasses.fields(cls)
        for extra in getattr(hints[f.name], "__metadata__", ())
        if isinstance(extra, Bounds)
    }


def to_int(value: Any) -> int:
    if isinstance(value, bool | float):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def to_float(value: Any) -> float:
    return float(value)


def to_str(value: Any) -> str:
    return str(value)


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def to_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


# The parser of a setting whose declaration names none, by its default's type.
BY_TYPE: dict[type, Parse] = {
    bool: to_bool,
    int: to_int,
    float: to_float,
    str: to_str,
    list: to_list,
}


def to_outputs_map(value: Any) -> dict[str, list[str]]:
    """Accepts a TOML table {ns = [tokens]} or 'ns=a,b;ns2=c' from a flag or env."""
    if isinstance(value, dict):
        return {str(ns): to_list(tokens) for ns, tokens in value.items()}
    entries = value if isinstance(value, list) else [value]
    result: dict[str, list[str]] = {}
    for entry in (part for item in entries for part in str(item).split(";") if part.strip()):
        ns, sep, tokens = entry.partition("=")
        if not sep:
            raise ValueError(f"expected 'namespace=token,token', got {entry!r}")
        result[ns.strip()] = to_list(tokens)
    return result


def to_presets_map(value: Any) -> dict[str, dict[str, str]]:
    """Accepts a TOML table {ns = {name = stem}} or 'ns=name:stem,name:stem;ns2=...'."""
    if isinstance(value, dict):
        return {str(ns): {str(k): str(v) for k, v in table.items()} for ns, table in value.items()}
    return {
        ns: dict(_preset_pair(item) for item in items)
        for ns, items in to_outputs_map(value).items()
    }


def to_str_map(value: Any) -> dict[str, str]:
    """Accepts a TOML table {ns = "value"} or 'ns=value;ns2=value'."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {ns: ",".join(values) for ns, values in to_outputs_map(value).items()}


def to_watermarks(value: Any) -> dict[str, Watermark]:
    """Accepts a TOML table {name = {source = ..., position = ...}} (or {name = "SOURCE:..."}),
    or 'name=SOURCE[:POSITION[:SCALE[:OPACITY[:MARGIN]]]];name2=...' from a flag or env."""
    if isinstance(value, dict):
        return {str(name): _watermark(str(name), spec) for name, spec in value.items()}
    result: dict[str, Watermark] = {}
    for entry in (part for part in str(value).split(";") if part.strip()):
        name, sep, spec = entry.partition("=")
        if not sep:
            raise ValueError(f"expected 'name=namespace/HASH:se:0.2:0.5', got {entry!r}")
        result[name.strip()] = _watermark(name.strip(), spec)
    return result


def _watermark(name: str, spec: Any) -> Watermark:
    try:
        return Watermark.of(spec)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _preset_pair(item: str) -> tuple[str, str]:
    name, sep, stem = item.partition(":")
    if not sep:
        raise ValueError(f"expected 'name:stem' (small:w150), got {item!r}")
    return name.strip(), stem.strip()
