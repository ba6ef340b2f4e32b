"""`python -m benchmarks.scaleout [--rounds N]`: one server node against two, behind nginx.

The deployment of docker-compose.yml on loopback, its server command and environment run as
tests/scaleout does (moto in place of MinIO, a redis-server for jobs, `serve --no-workers` nodes)
and two nginx fronts running deploy/nginx-s3.conf: one with one node in its upstream, one with
both. Each round measures both fronts, in alternating order: cold renders (outputs never rendered
before, each asked once) and hits of one stored output (wrk). Medians of the rounds, and the
ratio 2 nodes / 1 node per round, go to benchmarks/results/scaleout.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import boto3

from deploy import nginx_conf
from tests.scaleout import compose

from . import images, load
from .__main__ import machine
from .jobs import RedisServer
from .systems import Server, free_port

RESULTS = Path(__file__).resolve().parent / "results"
SIZED = {"IMAGESERVER_LOG_LEVEL": "warning"}  # the compose file's settings otherwise
WIDTHS = itertools.count(100)  # a new width per cold render: an output never rendered before
HIT_WIDTH = 99  # below WIDTHS: never a cold render's


@dataclass(frozen=True)
class Profile:
    rounds: int
    renders: int  # per cold run
    concurrency: int  # cold renders at a time
    hit_seconds: float
    hit_connections: int


class Front(Server):
    """nginx with deploy/nginx-s3.conf, its upstream the nodes on `app_ports`."""

    def __init__(self, binary: str, app_ports: list[int], directory: Path) -> None:
        self.name = f"{len(app_ports)} node" + ("s" if len(app_ports) > 1 else "")
        directory.mkdir()
        port = free_port()
        conf = directory / "nginx.conf"
        conf.write_text(nginx_conf.render_upstream(directory, app_ports, port))
        super().__init__(nginx_conf.command(binary, directory, conf), port)

    def url(self, file: str, width: int, fmt: str) -> str | None:
        return None  # the source is uploaded through the front (`upload`)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scaleout", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default: 5)")
    parser.add_argument("--renders", type=int, default=48, help="cold renders per run")
    parser.add_argument("--concurrency", type=int, default=8, help="cold renders at a time")
    parser.add_argument(
        "--hit-seconds", type=float, default=5.0, help="wrk run per front (0: no hits)"
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = Profile(
        args.rounds, args.renders, args.concurrency, args.hit_seconds, args.connections
    )
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    wrk = load.ensure_wrk() if profile.hit_seconds > 0 else None
    if nginx is None or shutil.which("redis-server") is None:
        print("needs nginx and redis-server (.ci/run installs them)", file=sys.stderr)
        return 1
    load_before = os.getloadavg()[0]
    with ExitStack() as stack:
        fronts = deploy(stack, nginx, Path(tempfile.mkdtemp(prefix="bench-scaleout-")))
        path = asyncio.run(upload(fronts[0].base, images.PHOTO.read_bytes()))
        warm = [f"{fronts[1].base}{path}/w{next(WIDTHS)}.jpg" for _ in range(8)]
        asyncio.run(load.get_each(warm, 4))  # both nodes' first renders, not measured
        rounds = [measure(fronts, path, profile, wrk is not None, i) for i in range(profile.rounds)]
    results = summarize(rounds, profile)
    results["command"] = "python -m benchmarks.scaleout " + " ".join(argv or sys.argv[1:])
    results["machine"] = machine()
    results["load_average_before"] = load_before
    write(results, args.out)
    print(json.dumps(results, indent=1))
    return 0


def deploy(stack: ExitStack, nginx: str, workdir: Path) -> list[Front]:
    """moto, redis-server, two nodes as the compose file runs them, a front for one and both."""
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)  # last, once all have stopped
    moto_port = free_port()
    moto = compose.start_moto(moto_port)
    stack.callback(moto.wait, 10)
    stack.callback(moto.kill)
    redis = RedisServer(workdir)
    redis.start()
    stack.callback(redis.stop)
    spec = compose.load()
    server = compose.service(spec, "server")
    addresses = {
        "minio:9000": f"127.0.0.1:{moto_port}",
        "redis:6379": urlsplit(redis.jobs_url).netloc,
        "localhost:8080": "127.0.0.1:8080",  # only in answered URLs, which are not followed
    }
    make_bucket(compose.localize(server, addresses).environment)
    ports = [free_port(), free_port()]
    for i, port in enumerate(ports):
        node = compose.start(f"node{i}", compose.localize(server, addresses, port), workdir, SIZED)
        stack.callback(node.stop)
        compose.wait_for_port(port, node.popen, node.name)
    fronts = [Front(nginx, ports[:1], workdir / "front1"), Front(nginx, ports, workdir / "front2")]
    for front in fronts:
        front.start()
        stack.callback(front.stop)
    return fronts


def make_bucket(environment: dict[str, str]) -> None:
    """What the compose file's `bucket` service does, with the servers' own credentials."""
    boto3.client(
        "s3",
        endpoint_url=environment["IMAGESERVER_S3_ENDPOINT_URL"],
        region_name=environment["IMAGESERVER_S3_REGION"],
        aws_access_key_id=environment["IMAGESERVER_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["IMAGESERVER_S3_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=urlsplit(environment["IMAGESERVER_STORAGE"]).netloc)


async def upload(base: str, data: bytes) -> str:
    async with aiohttp.ClientSession() as session, session.post(f"{base}/p", data=data) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["path"]


def measure(
    fronts: list[Front], path: str, profile: Profile, hits: bool, index: int
) -> dict[str, dict[str, Any]]:
    """One round: each front in turn, the order flipped every other round."""
    found: dict[str, dict[str, Any]] = {}
    for front in fronts if index % 2 == 0 else fronts[::-1]:
        urls = [f"{front.base}{path}/w{next(WIDTHS)}.jpg" for _ in range(profile.renders)]
        found[front.name] = {
            "cold": asyncio.run(load.get_each(urls, profile.concurrency)).summary()
        }
        if hits:
            found[front.name]["hits"] = cached_hits(front, path, profile)
    return found


def cached_hits(front: Front, path: str, profile: Profile) -> dict[str, Any]:
    url = f"{front.base}{path}/w{HIT_WIDTH}.jpg"
    asyncio.run(load.get_each([url] * 8, 2))  # rendered once, then in every node's memory
    return load.wrk(url, profile.hit_connections, profile.hit_seconds).summary()


def summarize(rounds: list[dict[str, dict[str, Any]]], profile: Profile) -> dict[str, Any]:
    one, two = "1 node", "2 nodes"
    cases = {}
    for case in ("cold", "hits"):
        if case not in rounds[0][one]:
            continue
        rates = {name: [r[name][case]["rate"] for r in rounds] for name in (one, two)}
        ratios = [b / a for a, b in zip(rates[one], rates[two], strict=True) if a]
        cases[case] = {
            "median": {name: statistics.median(values) for name, values in rates.items()},
            "ratio_median": statistics.median(ratios),
            "ratio_range": [min(ratios), max(ratios)],
            "errors": sum(r[name][case]["errors"] for r in rounds for name in (one, two)),
        }
    return {"profile": profile.__dict__, "cases": cases, "rounds": rounds}


LABELS = {
    "cold": "cold renders/s: a new w{{N}}.jpg of a 2725x2225 JPEG each, {concurrency} at a time",
    "hits": "hits/s: one stored output, wrk {hit_connections} connections, {hit_seconds:g} s",
}


def write(results: dict[str, Any], out: Path) -> None:
    lines = [
        "# Scale-out: one server node against two, behind nginx",
        "",
        f"`{results['command'].strip()}`, on {results['machine']}; load average (1 min) "
        f"{results['load_average_before']:.1f} before the run: other work shares the cores too.",
        "",
        "docker-compose.yml's server command and environment (S3 storage on moto's server mode, "
        "Redis jobs, `--no-workers`), two nodes on loopback; nginx with deploy/nginx-s3.conf, its "
        "upstream one node or both. Medians of interleaved rounds; the ratio is per round.",
        "",
        "| case | 1 node | 2 nodes | 2 nodes / 1 node (rounds' range) | errors |",
        "|---|---|---|---|---|",
    ]
    for case, found in results["cases"].items():
        label = LABELS[case].format(**results["profile"])
        one, two = found["median"]["1 node"], found["median"]["2 nodes"]
        low, high = found["ratio_range"]
        lines.append(
            f"| {label} | {one:.1f} | {two:.1f} | {found['ratio_median']:.2f}x "
            f"({low:.2f}-{high:.2f}) | {found['errors']} |"
        )
    lines += [
        "",
        "Both nodes, nginx, moto, Redis and the load generator share this machine's cores: a "
        "second node adds no CPU here, so the ratio shows what spreading over two nodes costs "
        "or gains on the same CPUs (a second event loop for the Python side of each request, "
        "against more processes contending), not what a second machine adds. On separate "
        "machines, cold renders scale with the nodes' cores as long as the bucket keeps up; "
        "hits are served from each node's memory.",
        "",
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaleout.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
