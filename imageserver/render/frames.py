"""Animations as libvips holds them: every frame stacked in one tall strip (`page-height`)."""

from __future__ import annotations

from collections.abc import Callable

import pyvips

Action = Callable[[pyvips.Image], pyvips.Image]


def per_frame(image: pyvips.Image, animated: bool, action: Action) -> pyvips.Image:
    """An action on each frame of an animation, so none reaches into the next (a blur, a
    rotation, a crop); stills take it whole. Cut, act, join: all lazy, no pixel copy."""
    if not animated:
        return action(image)
    page_height = image.get("page-height")
    frames = [
        action(image.crop(0, top, image.width, page_height))
        for top in range(0, image.height - page_height + 1, page_height)
    ]
    joined = pyvips.Image.arrayjoin(frames, across=1).copy()
    joined.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    for name in ("delay", "loop"):
        if image.get_typeof(name):
            joined.set_type(image.get_typeof(name), name, image.get(name))
    return joined
