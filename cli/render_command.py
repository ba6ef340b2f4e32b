"""`imageserver render INPUT TOKEN... [-o DIR]`: outputs of one file as plain files, no storage.

For scripts and for checking a token: the same parsing, limits and render as the server,
written to `{DIR}/{input stem}-{canonical token}`, one JSON line per token.
"""

from __future__ import annotations

import argparse
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from imageserver import render, settings
from imageserver.batch import Failed, read_original
from imageserver.errors import ImageServerError
from imageserver.services import limits_of, render_setup_of
from imageserver.settings import Settings
from imageserver.transform import Transform

from .arguments import output_tokens
from .output import EXIT_FAILED, EXIT_OK, bad_arguments, emit, quiet_libvips
from .setting_groups import COMMAND_SETTINGS


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "render",
        help="render tokens of one file to plain files (no storage)",
        description="Render each TOKEN of INPUT to DIR/{stem}-{token}, e.g. photo-w200.jpg, "
        "without any storage; one JSON line per token. Exit status: 0 all rendered, 1 some "
        "failed, 2 bad arguments. Limits and --vips-concurrency come from the settings.",
    )
    parser.add_argument("input", metavar="INPUT", help="the original image file")
    parser.add_argument("tokens", nargs="+", metavar="TOKEN", help="an output, e.g. w200.jpg")
    parser.add_argument(
        "-o", "--output-dir", default=".", metavar="DIR", help="where to write (default: .)"
    )
    settings.add_arguments(parser, COMMAND_SETTINGS["render"])
    parser.set_defaults(run=run)


def run(config: Settings, args: argparse.Namespace) -> int:
    try:
        transforms = output_tokens(args.tokens, config.max_output_side)
    except ImageServerError as exc:
        return bad_arguments("render", exc.message)
    try:
        data = read_original(args.input, config.max_upload_bytes)
    except ImageServerError as exc:
        emit(Failed.of(args.input, exc).to_json())
        return EXIT_FAILED
    quiet_libvips()
    render.configure(*render_setup_of(config))
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    one = functools.partial(
        _render_one, data, limits_of(config), config.fast_shrink_on_load, args.input, out_dir
    )
    with ThreadPoolExecutor(config.resolved_render_workers()) as pool:
        lines = list(map(_emitted, pool.map(one, transforms)))
    return EXIT_OK if all("error" not in line for line in lines) else EXIT_FAILED


def _render_one(
    data: bytes,
    limits: render.Limits,
    fast_shrink: bool,
    input_path: str,
    out_dir: Path,
    transform: Transform,
) -> dict[str, Any]:
    token = transform.token()
    try:
        rendered = render.render(data, transform, limits, fast_shrink=fast_shrink)
    except ImageServerError as exc:
        return {**Failed.of(input_path, exc).to_json(), "token": token}
    target = out_dir / f"{Path(input_path).stem}-{token}"
    target.write_bytes(rendered.data)
    return {
        "path": input_path,
        "token": token,
        "output": str(target),
        "width": rendered.width,
        "height": rendered.height,
        "content_type": rendered.format.mime,
        "size": len(rendered.data),
    }


def _emitted(line: dict[str, Any]) -> dict[str, Any]:
    emit(line)
    return line
