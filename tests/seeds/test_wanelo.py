"""wanelo image-server's README, replayed: every curl and GET as written (its host, source and
file swapped for loopback servers and a test image), each reply checked against the seed's shown
one; its S3 flags and CLI example through our real command line; its statsd names on a real UDP
socket; MD5 keys (--md5-namespaces), and a namespace that never mixes MD5 with xxh3."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shlex
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pyvips
from imageserver_cli.main import main
from yarl import URL

from imageserver import aliases
from imageserver.settings import Settings, load
from tests.cli.runner import environment, stored_files
from tests.conftest import IMAGES, Server, ServerFactory, image_bytes
from tests.jobs.conftest import Origin, finished
from tests.pdf.conftest import ENCRYPTED, PASSWORD, corpus_pdf
from tests.s3_fixtures import REGION, free_port, make_bucket, raw_client

# The seed README's host, source and file: swapped for the test's, nothing else. grid.jpg is an
# 800x600 JPEG, as the seed's wine.jpg is; its hash stands for the seed's in the GET paths.
SEED_API = "http://localhost:7000"
SEED_SOURCE = "http://example.com/image.jpg"
SEED_FILE = "./test/images/wine.jpg"
SEED_HASH_PATH = "6e0/072/682/e66287b662827da75b244a3"
IMAGE = "grid.jpg"

POST_SOURCE = "curl -X POST http://localhost:7000/p?source=http://example.com/image.jpg"
POST_BODY = 'curl --data-binary "@./test/images/wine.jpg" -X POST http://localhost:7000/p'
POST_OUTPUTS = (
    'curl --data-binary "@./test/images/wine.jpg" -X POST '
    "http://localhost:7000/p?outputs=x300.jpg,x300.webp"
)
GET_INFO = "curl http://localhost:7000/p/6e0/072/682/e66287b662827da75b244a3/info.json"
# each README GET and the size its output has from an 800x600 original
GET_OUTPUTS = {
    "GET http://localhost:7000/p/6e0/072/682/e66287b662827da75b244a3/w200.jpg": (200, 150),
    "GET http://localhost:7000/p/6e0/072/682/e66287b662827da75b244a3/x200.jpg": (200, 200),
    "GET http://localhost:7000/p/6e0/072/682/e66287b662827da75b244a3/300x200.jpg": (300, 200),
    "GET http://localhost:7000/p/6e0/072/682/e66287b662827da75b244a3/x200-q30.jpg": (200, 200),
}
SHOWN = {
    "hash": "6e0072682e66287b662827da75b244a3",
    "height": 600,
    "width": 800,
    "content_type": "image/jpeg",
}
CLI_EXAMPLE = (
    "image --remote_base_path public/images --outputs x300.webp,x300.jpg process $MANTA_INPUT_FILE"
)
S3_FLAGS = (
    "--aws_access_key_id $AWS_ACCESS_KEY_ID --aws_secret_key $AWS_SECRET_KEY "
    "--aws_bucket $AWS_BUCKET"
)
STATSD_NAMES = {
    "image_request",
    "image_request.jpg",
    "image_request_fail",
    "original_downloaded",
    "original_unavailable",
}


class Reply:
    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        self.status, self.body, self.content_type = status, body, content_type

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


async def replay(server: Server, line: str, swaps: dict[str, str]) -> Reply:
    """A README line as curl would send it: `-X` method, `--data-binary @file` body (with
    curl's form Content-Type), the URL as written (encoded=True keeps its unescaped `://`)."""
    for seed, ours in {SEED_API: server.url, **swaps}.items():
        line = line.replace(seed, ours)
    words = shlex.split(line)
    method, url = ("GET", words[1]) if words[0] == "GET" else ("GET", words[-1])
    body, headers = None, {}
    if "-X" in words:
        method = words[words.index("-X") + 1]
    if "--data-binary" in words:
        body = image_bytes(words[words.index("--data-binary") + 1].removeprefix("@"))
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = server.session.request(method, URL(url, encoded=True), data=body, headers=headers)
    async with request as resp:
        return Reply(resp.status, await resp.read(), resp.content_type)


def like_the_seed(answer: dict[str, Any], shown: dict[str, Any]) -> None:
    """The seed's keys with values of the same types (extra keys of ours are fine)."""
    for key, value in shown.items():
        assert type(answer[key]) is type(value), (key, answer)
    assert re.fullmatch(r"[0-9a-f]{32}", answer["hash"])


def hash_path(hash_: str) -> str:
    return f"{hash_[:3]}/{hash_[3:6]}/{hash_[6:9]}/{hash_[9:]}"


@pytest.mark.parametrize("md5", [False, True], ids=["xxh3", "md5"])
async def test_the_readme_replayed(start_server: ServerFactory, origin: Origin, md5: bool) -> None:
    server = await start_server(md5_namespaces=["p"] if md5 else [])
    data = image_bytes(IMAGE)
    swaps = {SEED_SOURCE: origin.image(IMAGE), SEED_FILE: IMAGE}

    from_source = (await replay(server, POST_SOURCE, swaps)).json()
    uploaded = (await replay(server, POST_BODY, swaps)).json()
    with_outputs = await replay(server, POST_OUTPUTS, swaps)
    assert with_outputs.status == 200
    like_the_seed(uploaded, SHOWN)
    assert {k: uploaded[k] for k in SHOWN if k != "hash"} == {"height": 600, "width": 800} | {
        "content_type": "image/jpeg"
    }
    # the same bytes, one key (only the outputs rendered differ)
    assert from_source == uploaded == {**with_outputs.json(), "urls": uploaded["urls"]}
    if md5:  # the seed's own hash: its URLs are recomputed from the bytes
        assert uploaded["hash"] == hashlib.md5(data).hexdigest()
    prefix = server.storage / "p" / hash_path(uploaded["hash"])
    assert {p.name for p in prefix.iterdir()} >= {"x300.jpg", "x300.webp"}  # made at upload

    swaps[SEED_HASH_PATH] = hash_path(uploaded["hash"])
    info = await replay(server, GET_INFO, swaps)
    assert info.json() == {k: v for k, v in uploaded.items() if k not in ("path", "urls")}
    sizes = {}
    for line, size in GET_OUTPUTS.items():
        reply = await replay(server, line, swaps)
        assert (reply.status, reply.content_type) == (200, "image/jpeg")
        image = pyvips.Image.new_from_buffer(reply.body, "")
        assert (image.width, image.height) == size
        sizes[line.rsplit("/", 1)[1]] = len(reply.body)
    assert sizes["x200-q30.jpg"] < sizes["x200.jpg"]  # -q30: more compressed


async def test_a_missing_source_is_not_found(server: Server, origin: Origin) -> None:
    """The seed's one documented error: the source image is not found, 404."""
    reply = await replay(server, POST_SOURCE, {SEED_SOURCE: origin.image("missing")})
    assert reply.status == 404
    assert reply.json()["error"] == "source_not_found"


# --- MD5 keys: one hash per namespace, kept by its marker -------------------------------------


async def test_md5_and_xxh3_never_mix_in_a_namespace(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    storage = tmp_path / "shared"
    data = image_bytes(IMAGE)
    before = await start_server(storage)  # everything stored before md5_namespaces: xxh3
    await before.upload(data, "legacy")
    md5 = await start_server(storage, md5_namespaces=["legacy", "wanelo"])
    assert (await md5.upload(data, "wanelo"))["hash"] == hashlib.md5(data).hexdigest()
    assert json.loads((storage / "wanelo" / "namespace.json").read_bytes()) == {
        "content_hash": "md5"
    }
    assert not (storage / "legacy" / "namespace.json").exists()  # xxh3 needs no marker
    xxh3 = await start_server(storage)
    refusals = [(md5, "legacy", "xxh3-keyed"), (xxh3, "wanelo", "md5-keyed")]
    for server, namespace, held in refusals:
        async with server.session.post(f"{server.url}/{namespace}", data=data) as resp:
            answer = await resp.json()
        assert (resp.status, answer["error"]) == (409, "hash_conflict")
        assert held in answer["message"]
    assert await xxh3.upload(data, "other")  # other namespaces go on as configured


async def test_the_marker_is_read_once_per_process(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """Later ingests take the first check's answer: the marker is not read again (changed
    behind the process's back, only a new process sees it)."""
    storage = tmp_path / "shared"
    server = await start_server(storage, md5_namespaces=["p"])
    await server.upload(image_bytes(IMAGE))
    (storage / "p" / "namespace.json").write_text('{"content_hash": "xxh3"}')
    assert await server.upload(image_bytes("grid.png"))
    later = await start_server(storage, md5_namespaces=["p"])
    async with later.session.post(f"{later.url}/p", data=image_bytes("small.png")) as resp:
        assert resp.status == 409


async def test_a_large_original_in_an_md5_namespace(start_server: ServerFactory) -> None:
    """Over a MiB its MD5 is taken in a thread (originals.MD5_ON_LOOP_BYTES): the same hash."""
    server = await start_server(md5_namespaces=["p"])
    data = image_bytes(IMAGE) + bytes(2 * 1024 * 1024)  # libvips stops at the JPEG's end
    assert (await server.upload(data))["hash"] == hashlib.md5(data).hexdigest()


async def test_an_encrypted_pdf_in_an_md5_namespace(start_server: ServerFactory) -> None:
    """As with xxh3, the password is hashed in after the bytes: the file alone does not tell
    where its pages are."""
    server = await start_server(md5_namespaces=["p"])
    data = corpus_pdf(ENCRYPTED)
    info = await server.upload(data, password=PASSWORD)
    assert info["hash"] == hashlib.md5(data + b"\0" + PASSWORD.encode()).hexdigest()


async def test_jobs_key_md5_namespaces_too(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    server = await start_jobs_server(md5_namespaces=["p"])
    params = {"source": origin.image(IMAGE), "callback": "http://127.0.0.1:9/hook"}
    async with server.session.post(f"{server.url}/p", params=params) as resp:
        answer = await resp.json()
    view = await finished(server, answer["job_id"])
    assert view["result"]["hash"] == hashlib.md5(image_bytes(IMAGE)).hexdigest()


# --- statsd ------------------------------------------------------------------------------------


class Statsd(asyncio.DatagramProtocol):
    """A real UDP socket on 127.0.0.1 that keeps the names of the packets it receives."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.arrived = asyncio.Event()
        self.port = 0

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.names.update(m.split(b":")[0].decode() for m in data.split(b"\n") if m)
        self.arrived.set()

    async def received(self, wanted: set[str], timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not wanted <= self.names:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def statsd() -> AsyncIterator[Statsd]:
    loop = asyncio.get_running_loop()
    transport, found = await loop.create_datagram_endpoint(Statsd, local_addr=("127.0.0.1", 0))
    found.port = transport.get_extra_info("sockname")[1]
    yield found
    transport.close()


async def seed_events(url: str, session: aiohttp.ClientSession, origin: Origin) -> None:
    """One of each seed event: a render (jpg), a failed request, a download, a missing source."""
    async with session.post(f"{url}/p", params={"source": origin.image(IMAGE)}) as resp:
        hash_ = (await resp.json())["hash"]
    async with session.get(f"{url}/p/{hash_path(hash_)}/w20.jpg") as resp:
        assert resp.status == 200
    async with session.get(f"{url}/p/{'0' * 3}/{'0' * 3}/{'0' * 3}/{'0' * 23}/w20.jpg") as resp:
        assert resp.status == 404
    async with session.post(f"{url}/p", params={"source": origin.image("missing")}) as resp:
        assert resp.status == 404


async def test_statsd_names_under_the_configured_prefix(
    start_server: ServerFactory, origin: Origin, statsd: Statsd
) -> None:
    server = await start_server(statsd=f"127.0.0.1:{statsd.port}", statsd_prefix="wanelo.images")
    await seed_events(server.url, server.session, origin)
    await statsd.received({f"wanelo.images.{name}" for name in STATSD_NAMES})


# --- the seed's command line ------------------------------------------------------------------


@pytest.fixture
def no_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our own and the seed's env names would change the runs: none is set."""
    for name in [*os.environ.keys() - environment().keys(), *SEED_ENV]:
        monkeypatch.delenv(name, raising=False)


SEED_ENV = ("IMG_OUTPUTS", "AWS_BUCKET", "IMG_REMOTE_BASE_PATH", "IMG_REMOTE_BASE_URL")


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    """`imageserver` in this process, as the console script runs it."""
    code = main(argv)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_the_cli_example(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_settings_env: None,
) -> None:
    """Without a bucket, --remote_base_path is a directory below the storage (./data)."""
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(CLI_EXAMPLE.replace("$MANTA_INPUT_FILE", str(IMAGES / IMAGE)))[1:]
    code, (line,), _ = run_main(argv, capsys)
    assert code == 0
    base = tmp_path / "data" / "public" / "images"
    prefix = base / "p" / hash_path(line["hash"])
    assert line["outputs"] == {
        t: f"p/{hash_path(line['hash'])}/{t}" for t in ("x300.webp", "x300.jpg")
    }
    assert {p.name for p in prefix.iterdir()} == {"original", "info.json", "x300.webp", "x300.jpg"}
    assert len(stored_files(tmp_path / "data")) == 4


def test_the_s3_flags(
    tmp_path: Path,
    moto_url: str,
    aws_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_settings_env: None,
) -> None:
    """The S3 flags, with the CLI example's, against moto: the credentials are the flags' (the
    environment has none), the keys are below the bucket's --remote_base_path."""
    bucket = make_bucket(moto_url)  # by the test's own client, with the env's credentials
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    flags = shlex.split(
        S3_FLAGS.replace("$AWS_ACCESS_KEY_ID", "AKIDWANELO")
        .replace("$AWS_SECRET_KEY", "wanelo-secret")
        .replace("$AWS_BUCKET", bucket)
    )
    bucket_flag = flags[4:]  # after the two credential flags
    example = shlex.split(CLI_EXAMPLE)[1:5]  # --remote_base_path public/images --outputs ...
    ours = ["--s3-endpoint-url", moto_url, "--s3-region", REGION]
    image = str(IMAGES / IMAGE)

    code, (line,), err = run_main([*flags, *example, "process", image, *ours], capsys)
    assert code == 0, err
    client = raw_client(moto_url)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    prefix = f"public/images/p/{hash_path(line['hash'])}"
    assert keys == {
        f"{prefix}/{name}" for name in ("original", "info.json", "x300.webp", "x300.jpg")
    }
    assert "wanelo-secret" not in err

    # MD5 keys in S3 too; the namespace's marker there refuses xxh3 afterwards
    wanelo = [*flags, *example, "--namespace", "wanelo", "process", image, *ours]
    code, (line,), _ = run_main([*wanelo, "--md5-namespaces", "wanelo"], capsys)
    assert (code, line["hash"]) == (0, hashlib.md5(image_bytes(IMAGE)).hexdigest())
    marker = client.get_object(Bucket=bucket, Key="public/images/wanelo/namespace.json")
    assert json.loads(marker["Body"].read()) == {"content_hash": "md5"}
    code, (line,), _ = run_main(wanelo, capsys)
    assert (code, line["error"]) == (1, "hash_conflict")

    # without the credential flags there are none anywhere: they were what S3 was called with
    code, (line,), _ = run_main([*bucket_flag, *example, "process", image, *ours], capsys)
    assert (code, line["error"]) == (1, "storage_unavailable")
    assert "NoCredentialsError" in line["message"]


async def test_the_server_command_and_its_flags(
    tmp_path: Path, origin: Origin, statsd: Statsd, no_settings_env: None
) -> None:
    """`images [global flags] server` as a deployment starts it: a real process, our console
    script's module, the seed's flags only; statsd names under the seed's prefix."""
    port = free_port()
    argv = (
        f"--listen 127.0.0.1 --port {port} --local_base_path {tmp_path / 'data'} "
        f"--outputs x50.jpg --http_timeout 3 --processor_concurrency 2 --statsd_host 127.0.0.1 "
        f"--statsd_port {statsd.port} --profile server --allow-private-sources"
    )
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "imageserver_cli.main", *shlex.split(argv)],
        env=environment(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await until_up(session, url, process)
            await seed_events(url, session, origin)
            await statsd.received({f"image_server.{name}" for name in STATSD_NAMES})
    finally:
        process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), 10)
    assert b"--profile (wanelo image-server) has no effect" in err
    (info,) = (tmp_path / "data" / "p").rglob("info.json")
    assert (info.parent / "x50.jpg").exists()  # --outputs: rendered on every upload


async def until_up(
    session: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process
) -> None:
    async with asyncio.timeout(15):
        while process.returncode is None:
            try:
                async with session.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise AssertionError(f"the server exited: {await process.stderr.read()!r}")


# --- the argv rewrite and the env names, as data ------------------------------------------------


def rewrite(line: str, env: dict[str, str] | None = None) -> aliases.Argv:
    return aliases.wanelo_argv(shlex.split(line), env or {}, Settings.storage)


@pytest.mark.parametrize(
    ("seed", "ours"),
    [
        ("server", "serve"),
        ("--listen 0.0.0.0 -port=8080 server", "serve --host=0.0.0.0 --port=8080"),
        ("--local_base_path /srv/img server", "serve --storage=/srv/img"),
        ("--aws_bucket b server", "serve --storage=s3://b"),
        ("--aws_bucket b --remote_base_path /pub/img/ server", "serve --storage=s3://b/pub/img"),
        ("--remote_base_path pub process f", "process --storage=./data/pub f"),
        ("--local_base_path /d --remote_base_path pub process f", "process --storage=/d/pub f"),
        (
            "--aws_access_key_id K --aws_secret_key S server",
            "serve --s3-access-key-id=K --s3-secret-access-key=S",
        ),
        ("--outputs x1.jpg,w2.webp process f", "process --upload-outputs=x1.jpg,w2.webp f"),
        ("--namespace avatars process f", "process --namespace=avatars f"),
        (
            "--http_timeout 3 --processor_concurrency 4 server",
            "serve --source-timeout-s=3 --render-workers=4",
        ),
        ("--maximum_width 2000 server", "serve --max-output-side=2000"),
        ("--statsd_host 10.0.0.1 server", "serve --statsd=10.0.0.1:8125"),
        (
            "--statsd_port 9125 --statsd_prefix x server",
            "serve --statsd-prefix=x --statsd=127.0.0.1:9125",
        ),
        ("--version", "--version"),
        ("serve --port 1", "serve --port 1"),  # ours: as it is
        ("process --outputs x1.jpg f", "process --outputs x1.jpg f"),
    ],
)
def test_argv_rewrite(seed: str, ours: str) -> None:
    assert rewrite(seed) == aliases.Argv(shlex.split(ours), [])


def test_remote_base_path_alone_is_below_the_storage_in_use() -> None:
    env = {"IMAGESERVER_STORAGE": "s3://ours/x"}
    assert rewrite("--remote_base_path p server", env).argv == ["serve", "--storage=s3://ours/x/p"]
    env = {"AWS_BUCKET": "b", "IMG_REMOTE_BASE_PATH": "env/path"}
    assert rewrite("--remote_base_path p server", env).argv == ["serve", "--storage=s3://b/p"]


@pytest.mark.parametrize(
    ("seed", "note"),
    [
        ("--extensions jpg,gif server", "--extensions (wanelo image-server) has no effect"),
        ("--default_quality 75 server", "--default_quality (wanelo image-server) has no effect"),
        ("--uploader_concurrency 9 server", "--uploader_concurrency (wanelo image-server)"),
        ("--remote_base_url http://cdn server", "--remote_base_url (wanelo image-server)"),
        ("--profile server", "--profile (wanelo image-server) has no effect"),
        ("--namespace p server", "--namespace has no effect on serve"),
        ("--aws_bucket b --local_base_path /d server", "--local_base_path has no effect"),
    ],
)
def test_flags_without_effect_are_noted(seed: str, note: str) -> None:
    (said,) = rewrite(seed).notes
    assert said.startswith(note)


@pytest.mark.parametrize(
    "flag", ["--manta_url u", "--manta_user u", "--manta_key_id k", "--sdc_identity i"]
)
def test_manta_flags_are_refused(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*shlex.split(flag), "server"]) == 2
    assert "Manta storage is not supported" in capsys.readouterr().err


def test_a_seed_flag_without_its_value_is_refused() -> None:
    with pytest.raises(aliases.SeedFlagError, match="--port: expected a value"):
        rewrite("--port")


@pytest.mark.parametrize(
    ("env", "settings"),
    [
        ({"IMG_OUTPUTS": "x300.jpg,full_size.webp"}, {}),
        ({"IMG_OUTPUTS": "x300.jpg,w2.webp"}, {"upload_outputs": ["x300.jpg", "w2.webp"]}),
        ({"AWS_BUCKET": "b", "IMG_REMOTE_BASE_PATH": "/pub/"}, {"storage": "s3://b/pub"}),
        ({"AWS_BUCKET": "b"}, {"storage": "s3://b"}),
        ({"IMG_REMOTE_BASE_PATH": "pub", "IMG_REMOTE_BASE_URL": "http://x"}, {"storage": "./data"}),
        (
            {"AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_KEY": "S"},
            {"s3_access_key_id": "K", "s3_secret_access_key": "S"},
        ),
        ({"AWS_BUCKET": "b", "IMAGESERVER_STORAGE": "/ours"}, {"storage": "/ours"}),
    ],
)
def test_seed_env_names(env: dict[str, str], settings: dict[str, Any]) -> None:
    if not settings:  # the seed's full_size is no output of ours: refused at start
        with pytest.raises(ValueError, match="upload_outputs: "):
            load(env=env)
        return
    loaded = load(env=env)
    assert {name: getattr(loaded, name) for name in settings} == settings
