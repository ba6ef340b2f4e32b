"""`imageserver url NAMESPACE HASH TOKEN`: the URL a back end links, signed with the first
--url-signing-key (urlsigning.output_url, which back ends in Python may call themselves)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from imageserver import settings, urlsigning
from imageserver.errors import ImageServerError
from imageserver.settings import Settings

from .output import EXIT_OK, bad_arguments
from .setting_groups import COMMAND_SETTINGS


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "url",
        help="print an output's URL, signed with --url-signing-key",
        description="Print the URL of one output, its token in canonical spelling, signed with "
        "the first --url-signing-key (IMAGESERVER_URL_SIGNING_KEYS, --config) when one is set.",
    )
    parser.add_argument("namespace")
    parser.add_argument("hash", help="the original's content hash (32 hex digits)")
    parser.add_argument("token", help="the output, e.g. w200.jpg")
    parser.add_argument("--expires-in", type=int, metavar="S", help="valid for S seconds")
    parser.add_argument("--base-url", default="", help="prefix, e.g. https://img.example.com")
    settings.add_arguments(parser, COMMAND_SETTINGS["url"])
    parser.set_defaults(run=run)


def run(config: Settings, args: argparse.Namespace) -> int:
    expires = None if args.expires_in is None else int(time.time()) + args.expires_in
    try:
        url = urlsigning.output_url(
            args.namespace,
            args.hash,
            args.token,
            config.url_signing_keys,
            base_url=args.base_url,
            expires=expires,
            size=config.url_signature_bytes,
        )
    except ImageServerError as exc:
        return bad_arguments("url", exc.message)
    print(url)
    return EXIT_OK
