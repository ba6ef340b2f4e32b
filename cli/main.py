"""`imageserver serve | process | render | worker | url`: each takes the settings it reads as flags.

Flags, `IMAGESERVER_*` env and --config build one `Settings` for every command, as for the
server; setting_groups.py says which settings each command offers as flags.
The wanelo seed's command line (`images [global flags] server|process ...`) is rewritten into
ours first (aliases.wanelo_argv).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from imageserver import __version__, aliases, logconfig, settings

from . import process, render_command, setting_groups, url_command, worker_command
from .arguments import settings_flags
from .output import EXIT_BAD_ARGUMENTS, EXIT_FAILED, EXIT_INTERRUPTED


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
    settings.add_arguments(serve, setting_groups.COMMAND_SETTINGS["serve"])
    serve.set_defaults(run=run_serve)
    process.add_parser(commands)
    render_command.add_parser(commands)
    worker_command.add_parser(commands)
    url_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    try:
        seed = aliases.wanelo_argv(given, os.environ, settings.Settings.storage)
    except aliases.SeedFlagError as exc:
        print(f"imageserver: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    ours, dropped = seed.argv, []
    if ours != given:  # a seed command line: its global flags went to every command
        ours, dropped = setting_groups.drop_unoffered(ours)
    for note in [*seed.notes, *dropped]:
        print(f"imageserver: {note}", file=sys.stderr)
    args = build_parser().parse_args(ours)
    try:
        config = settings.load(settings_flags(args))
    except settings.SettingsError as exc:
        print(f"imageserver: bad configuration:\n{exc}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    logconfig.configure(config.log_level)
    try:
        return args.run(config, args)
    except KeyboardInterrupt:  # render: its writes finish in their threads, none is partial
        return EXIT_INTERRUPTED


def run_serve(config: settings.Settings, _args: argparse.Namespace) -> int:
    # imported here, not at the top: aiohttp's server and the jobs' saq cost `process` and
    # `render` a third of a second of start-up they never use
    from imageserver.web.serving import PortBusy, serve

    try:
        return serve(config)
    except PortBusy as exc:
        print(
            f"imageserver: {exc.strerror}: stop what listens there, or pick another --port "
            "(make run PORT=...)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
