"""`imageserver serve ...`: flags come from the settings table, so --help lists every setting."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from imageserver import __version__, settings
from imageserver.web import create_app

EXIT_BAD_ARGUMENTS = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imageserver", description="On-demand image server.")
    parser.add_argument("--version", action="version", version=f"imageserver {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the HTTP server",
        description="Run the HTTP server. Every flag can also be set by its IMAGESERVER_* "
        "environment variable or in the --config TOML file; flags win, then env, then file.",
    )
    settings.add_arguments(serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    try:
        config = settings.load(args)
    except settings.SettingsError as exc:
        print(f"imageserver: bad configuration:\n{exc}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pyvips").setLevel(logging.WARNING)  # libvips narrates every render at INFO
    return {"serve": serve}[command](config)


def serve(config: settings.Settings) -> int:
    access_log = logging.getLogger("aiohttp.access") if config.access_log else None
    web.run_app(create_app(config), host=config.host, port=config.port, access_log=access_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
