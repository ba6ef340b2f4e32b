"""The README's commands, run as written, and the docs' links, followed.

Every fenced sh/shell/console block of README.md is run by bash (`set -euo pipefail`, curl
failing on HTTP errors), or is the setup block (`make run`, `make test`: the suite itself and a
long-running server, checked to come first), or is listed in SKIPPED with its reason. Blocks that
name `127.0.0.1:7000` run against a real server this module starts on a free port (the port is
the one thing rewritten); the others are CLI examples, run from a fresh directory holding what a
clone has there (`.venv`, `test/images`). A json block right after a shell block is that block's
output, compared as JSON. Then every relative link of README.md, docs/ and benchmarks/ must name a
file that exists, and an anchor a heading of it; and docs/architecture.md must map every module.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
SHELLS = {"sh", "shell", "console"}
PORT_IN_README = re.compile(r"(127\.0\.0\.1|localhost):7000\b")
BLOCK_TIMEOUT_S = 60

# Blocks not run, by a line they contain, with the reason. Every other shell block runs.
SKIPPED: dict[str, str] = {
    "docker compose up": "no docker here: tests/scaleout/ checks docker-compose.yml and runs the "
    "server and worker commands it names",
}


@dataclasses.dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int  # of the opening fence, 1-based

    @property
    def name(self) -> str:
        lines = [line.strip() for line in self.text.splitlines()]
        first = next(line for line in lines if line and not line.startswith("#"))
        return f"line {self.line}: {first[:60]}"


def fenced_blocks(text: str) -> list[Block]:
    blocks, lang, start, body = [], None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```") and lang is None:
            lang, start, body = line[3:].strip(), number, []
        elif line.startswith("```"):
            blocks.append(Block(lang, "\n".join(body) + "\n", start))
            lang = None
        elif lang is not None:
            body.append(line)
    return blocks


ALL_BLOCKS = fenced_blocks(README.read_text())
SHELL_BLOCKS = [b for b in ALL_BLOCKS if b.lang in SHELLS]
SETUP = SHELL_BLOCKS[0]
API_BLOCKS = [b for b in SHELL_BLOCKS[1:] if PORT_IN_README.search(b.text)]
CLI_BLOCKS = [b for b in SHELL_BLOCKS[1:] if b not in API_BLOCKS and "imageserver" in b.text]


def _listed(block: Block, table: dict[str, str]) -> str | None:
    return next((reason for line, reason in table.items() if line in block.text), None)


def test_the_two_setup_commands_come_first() -> None:
    text = README.read_text()
    title, after = text.split("\n", 1)
    assert title == "# imageserver"
    assert after.lstrip("\n").startswith("```sh\n")
    commands = [line.split("#")[0].strip() for line in SETUP.text.splitlines()]
    assert commands == ["make run", "make test"]


def test_make_run_takes_the_port_and_storage_the_readme_names() -> None:
    """`make -n` prints the commands without running them: the server is long-running."""
    shown = re.search(r"`(make run PORT=(\S+) STORAGE=(\S+))`", README.read_text())
    assert shown is not None
    command, port, storage = shown.groups()
    dry = subprocess.run(
        [*command.replace("make", "make -n", 1).split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    serve = next(line for line in dry.splitlines() if "imageserver serve" in line)
    assert f"--port {port}" in serve, serve
    assert f"--storage {storage}" in serve, serve


def test_every_shell_block_is_run_or_skipped_with_a_reason() -> None:
    for block in SHELL_BLOCKS[1:]:
        run = block in API_BLOCKS or block in CLI_BLOCKS
        assert run != bool(_listed(block, SKIPPED)), block.name
    assert API_BLOCKS
    assert CLI_BLOCKS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reader_directory(path: Path) -> Path:
    """What a reader has in the repository's directory, for the README's relative paths."""
    path.mkdir()
    (path / ".venv").symlink_to(ROOT / ".venv")
    shutil.copytree(ROOT / "test" / "images", path / "test" / "images")
    return path


def _report_pdf() -> bytes:
    """The README's "any PDF of yours": three letter-sized blank pages."""
    pdf = pdfium.PdfDocument.new()
    for _ in range(3):
        pdf.new_page(612, 792)
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def _env() -> dict[str, str]:
    """The caller's environment without any IMAGESERVER_* setting that would change answers."""
    return {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}


@dataclasses.dataclass
class ReadmeServer:
    port: int
    directory: Path


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadmeServer]:
    """`make run`'s server on a free port. No job workers: the README's job fetches
    example.com, and tests never reach beyond loopback; its submit is what the README shows."""
    directory = _reader_directory(tmp_path_factory.mktemp("readme") / "repo")
    (directory / "report.pdf").write_bytes(_report_pdf())
    port = _free_port()
    command = [str(ROOT / ".venv" / "bin" / "imageserver"), "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--storage", str(directory / "data"), "--no-workers"]
    log = directory.parent / "server.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=directory, env=_env(), stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        _wait_until_up(port, process, log)
        yield ReadmeServer(port, directory)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


PREAMBLE = """set -euo pipefail
curl() { command curl --fail-with-body "$@"; }
"""


def _run(block: Block, cwd: Path, port: int | None = None) -> str:
    script = block.text if port is None else PORT_IN_README.sub(rf"\1:{port}", block.text)
    done = subprocess.run(
        ["bash", "-c", PREAMBLE + script],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
    )
    assert done.returncode == 0, f"{block.name}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    return done.stdout


def _shown_output(block: Block) -> Block | None:
    """The json block right after `block`, if any: what the README says it prints."""
    following = ALL_BLOCKS.index(block) + 1
    if following < len(ALL_BLOCKS) and ALL_BLOCKS[following].lang == "json":
        return ALL_BLOCKS[following]
    return None


@pytest.mark.parametrize("block", API_BLOCKS, ids=[b.name for b in API_BLOCKS])
def test_api_example(block: Block, readme_server: ReadmeServer) -> None:
    """In README order: later examples read what earlier ones stored."""
    out = _run(block, readme_server.directory, readme_server.port)
    shown = _shown_output(block)
    if shown is None:
        return
    expected = json.loads(PORT_IN_README.sub(rf"\1:{readme_server.port}", shown.text))
    assert json.loads(out) == expected


@pytest.mark.parametrize("block", CLI_BLOCKS, ids=[b.name for b in CLI_BLOCKS])
def test_cli_example(block: Block, tmp_path: Path) -> None:
    out = _run(block, _reader_directory(tmp_path / "repo"))
    for line in out.splitlines():
        if line.startswith("{"):
            assert "error" not in json.loads(line), line


# Links: [text](target) and ![alt](target), outside code.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`[^`]*`")


def _prose(text: str) -> Iterator[str]:
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            yield CODE_SPAN.sub("", line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    fenced = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            base = slug(line.lstrip("#"))
            anchor, n = base, 0
            while anchor in found:  # GitHub numbers repeated headings
                n += 1
                anchor = f"{base}-{n}"
            found.add(anchor)
    return found


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_relative_links_name_existing_files_and_headings(doc: Path) -> None:
    broken = []
    for line in _prose(doc.read_text()):
        for target in LINK.findall(line):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists():
                broken.append(f"{target}: no such file")
            elif anchor and (path.suffix != ".md" or anchor not in anchors(path)):
                broken.append(f"{target}: no such heading")
    assert not broken, broken


def _defines_code(path: Path) -> bool:
    """A package's __init__ that holds functions or classes of its own, not only a docstring."""
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.FunctionDef | ast.ClassDef) for node in tree.body)


def test_the_architecture_map_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    modules = [
        p
        for d in ("imageserver", "cli", "deploy")
        for p in (ROOT / d).rglob("*.py")
        if p.name != "__init__.py" or _defines_code(p)
    ]
    missing = [str(p.relative_to(ROOT)) for p in modules if f"`{p.relative_to(ROOT)}`" not in text]
    assert not missing, f"docs/architecture.md does not map: {missing}"
