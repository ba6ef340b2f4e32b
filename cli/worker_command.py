"""`imageserver worker`: job workers alone, without HTTP. Any number of them may share one queue
(--jobs-url) with any number of servers, which then may run with --no-workers."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from imageserver import eventloop, settings
from imageserver.services import build_services
from imageserver.settings import Settings

from .output import EXIT_OK, quiet_libvips
from .setting_groups import COMMAND_SETTINGS


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "worker",
        help="run job workers (no HTTP)",
        description="Run the job workers of --jobs-url until SIGINT or SIGTERM; jobs still "
        "running then go back to their queue. The settings below, and any other from "
        "IMAGESERVER_* env or --config, apply as for serve, whose storage and limits the jobs "
        "use; those of HTTP serving alone are not flags here.",
    )
    settings.add_arguments(parser, COMMAND_SETTINGS["worker"])
    parser.set_defaults(run=run)


def run(config: Settings, _args: argparse.Namespace) -> int:
    quiet_libvips()
    eventloop.run(_work(config))
    return EXIT_OK


async def _work(config: Settings) -> None:
    from imageserver.jobs import Jobs, Workers  # saq and aiohttp: only this command needs them
    from imageserver.jobs.instances import Heartbeat
    from imageserver.jobs.uploads import RecentUploads

    services = build_services(config)
    jobs = Jobs(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await services.open()
    await jobs.open()
    RecentUploads(jobs.backend).attach(services.originals)  # for the dashboard's Images
    workers = Workers(jobs, services)
    interval_s = config.instance_heartbeat_s
    heartbeat = Heartbeat(jobs.backend, "worker", interval_s, None, workers.running)
    try:
        await workers.start()
        await heartbeat.start()
        await stop.wait()
    finally:
        await heartbeat.stop()
        await workers.stop()
        await jobs.close()
        await services.close()
