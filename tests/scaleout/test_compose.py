"""docker-compose.yml and the Dockerfile agree with themselves, with deploy/nginx-s3.conf and with
the CLI: docker is not available here, so what it would catch at `up` is checked by reading."""

from __future__ import annotations

import dataclasses
import re
import shlex
from typing import Any

import pytest
from imageserver_cli.arguments import settings_flags
from imageserver_cli.main import build_parser

from deploy import nginx_conf
from imageserver import settings
from tests.conftest import ROOT
from tests.scaleout import compose

SPEC = compose.load()
IMAGESERVER = ("server", "worker")


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


@pytest.mark.parametrize("name", IMAGESERVER)
def test_the_commands_and_environments_are_valid_settings(name: str) -> None:
    found = compose.service(SPEC, name)
    args = build_parser().parse_args(found.command)
    known = {settings.env_name(f.name) for f in dataclasses.fields(settings.Settings)}
    assert set(found.environment) <= known
    loaded = settings.load(settings_flags(args), found.environment)
    assert loaded.storage.startswith("s3://")
    assert loaded.jobs_url.startswith("redis://")


@pytest.mark.parametrize("name", IMAGESERVER)
def test_every_host_the_environment_names_is_a_service(name: str) -> None:
    for address in compose.named_hosts(compose.service(SPEC, name).environment):
        host, port = address.split(":")
        if host == "localhost":  # the public URL: nginx's published port
            assert f"{port}:8080" in SPEC["services"]["nginx"]["ports"]
        else:
            assert host in SPEC["services"], address


def test_the_servers_run_without_workers_and_the_workers_run() -> None:
    assert "--no-workers" in compose.service(SPEC, "server").command
    assert compose.service(SPEC, "worker").command[0] == "worker"
    for name in IMAGESERVER:
        assert SPEC["services"][name]["deploy"]["replicas"] >= 2


def test_nginx_runs_the_deploy_file_with_the_server_service_upstream() -> None:
    nginx = SPEC["services"]["nginx"]
    assert f"./deploy/{nginx_conf.UPSTREAM_CONF.name}:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    port = _option(compose.service(SPEC, "server").command, "--port")
    assert f"server server:{port} resolve;" == nginx_conf.UPSTREAM_SERVER
    assert nginx_conf.UPSTREAM_SERVER in nginx_conf.UPSTREAM_CONF.read_text()
    assert "listen 8080;" in nginx_conf.UPSTREAM_CONF.read_text()


def test_the_store_is_made_as_the_servers_read_it() -> None:
    """MinIO's root credentials are the servers', and `bucket` makes the storage's bucket."""
    env = compose.service(SPEC, "server").environment
    minio = SPEC["services"]["minio"]["environment"]
    assert env["IMAGESERVER_S3_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["IMAGESERVER_S3_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    script = shlex.split(SPEC["services"]["bucket"]["entrypoint"][-1])
    alias = script[script.index("alias") + 2 : script.index("alias") + 6]
    assert alias == [
        "store",
        "http://minio:9000",
        minio["MINIO_ROOT_USER"],
        minio["MINIO_ROOT_PASSWORD"],
    ]
    bucket = env["IMAGESERVER_STORAGE"].removeprefix("s3://").split("/")[0]
    assert script[-1] == f"store/{bucket}"


def _dockerfile() -> dict[str, Any]:
    text = (ROOT / "Dockerfile").read_text()
    return {m[1]: m[2] for m in re.finditer(r"^([A-Z]+) (.*)$", text, re.MULTILINE)}


def test_the_image_is_the_cli_on_the_servers_port_and_not_root() -> None:
    found = _dockerfile()
    assert found["FROM"] == "python:3.11-slim"
    assert found["ENTRYPOINT"] == '["imageserver"]'
    assert found["EXPOSE"] == _option(compose.service(SPEC, "server").command, "--port")
    assert found["USER"] not in ("root", "0")
    for name in IMAGESERVER:
        assert SPEC["services"][name]["build"] == "."
