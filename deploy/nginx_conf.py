"""deploy/'s nginx files with a local run's paths and ports, so tests and benchmarks run the real
files: nginx.conf (one app on local disk) and nginx-s3.conf (replicas on S3).

Running them unprivileged needs their logs, pid and temp files in a directory of the run's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

CONF = Path(__file__).parent / "nginx.conf"
UPSTREAM_CONF = Path(__file__).parent / "nginx-s3.conf"
UPSTREAM_SERVER = "server server:7000 resolve;"  # docker-compose.yml's server service, on its port


def render(directory: Path, storage: Path, app_port: int, port: int, conf: Path = CONF) -> str:
    """The file with these paths and ports, plus temp dirs in `directory`."""
    return _localize(
        conf,
        directory,
        port,
        {"/var/lib/imageserver": str(storage), "127.0.0.1:7000": f"127.0.0.1:{app_port}"},
    )


def render_upstream(
    directory: Path, app_ports: Iterable[int], port: int, conf: Path = UPSTREAM_CONF
) -> str:
    """The replicas' file with one upstream server per loopback port in place of the compose
    service; without its `user` line, which `command` decides."""
    servers = " ".join(f"server 127.0.0.1:{app_port};" for app_port in app_ports)
    return _localize(conf, directory, port, {UPSTREAM_SERVER: servers, "user nginx;": ""})


def _localize(conf: Path, directory: Path, port: int, replacements: dict[str, str]) -> str:
    text = conf.read_text()
    replacements = {
        **replacements,
        "listen 8080;": f"listen 127.0.0.1:{port};",
        "/var/log/nginx/": f"{directory}/",
        "/run/": f"{directory}/",
    }
    for old, new in replacements.items():
        if old not in text:
            raise ValueError(f"{conf} no longer has {old!r}")
        text = text.replace(old, new)
    return text.replace("http {\n", "http {\n" + temp_paths(directory), 1)


def temp_paths(directory: Path) -> str:
    """http-level directives that keep nginx's temp files out of system directories."""
    names = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    return "".join(f"    {name}_temp_path {directory}/{name};\n" for name in names)


def command(nginx: str, directory: Path, conf_path: Path) -> list[str]:
    """Foreground nginx; as root its workers would drop to nobody, who cannot read temp dirs."""
    globals_ = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    return [nginx, "-p", str(directory), "-c", str(conf_path), "-g", globals_]
