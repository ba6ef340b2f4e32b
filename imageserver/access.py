"""Who may make a namespace render: its URL policy, decided per request. Pure.

Rendering costs CPU and stores a file for good, so a public deployment does not let anonymous
URLs pick any of the millions of valid tokens:
- `public`: any valid token renders (the embedded default, for trusted networks);
- `signed`: only URLs signed with a key of `--url-signing-keys` render (urlsigning.py);
- `presets-only`: only the namespace's preset names render (`small.jpg`, not `w150.jpg`).
Outputs already stored are served to anyone when `--stored-outputs-public` (the default: a
front nginx serves them from disk anyway), else only to signed URLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Policy(StrEnum):
    PUBLIC = "public"
    SIGNED = "signed"
    PRESETS_ONLY = "presets-only"


@dataclass(frozen=True)
class Access:
    render: bool  # may render an output nobody stored yet
    stored: bool  # may be served an output that is stored (memory or storage)


PUBLIC = Access(render=True, stored=True)


def decide(policy: Policy, *, signed: bool, preset: bool, stored_public: bool) -> Access:
    """`signed`: the URL carries a valid signature; `preset`: the token is a preset name."""
    if policy is Policy.PUBLIC:
        return PUBLIC
    may_render = signed if policy is Policy.SIGNED else preset
    return Access(render=may_render, stored=may_render or signed or stored_public)


def refusal(policy: Policy, namespace: str) -> str:
    """The 403's message: what the client would have to do instead."""
    if policy is Policy.SIGNED:
        return (
            f"namespace {namespace!r} renders signed URLs only (?s=...): ask the site for this "
            "image's URL"
        )
    return f"namespace {namespace!r} renders its preset names only, not explicit sizes"
