"""`imageserver process` as a real subprocess: mixed fixtures, stdin, resume, the server, exits."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pyvips

from tests.cli.runner import (
    CLI,
    PHOTO,
    TIMEOUT_S,
    Run,
    distinct_copies,
    environment,
    interrupted_run,
    run_cli,
    stored_files,
)
from tests.conftest import IMAGES, ServerFactory, image_bytes
from tests.s3_fixtures import raw_client

OUTPUTS = "x300.jpg,x300.webp"
LIMITS = ("--max-upload-bytes", "100000", "--max-pixels", "1000000")
BAD = {
    "bad/not-an-image.txt": "unsupported_media_type",
    "bad/truncated.png": "undecodable",
    "bad/big.png": "too_large",  # 107 KB, over --max-upload-bytes
    "bad/wide.png": "over_limit",  # 2000x1000, over --max-pixels
}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good and bad inputs in nested folders, and one file twice under two names."""
    root = tmp_path / "in"
    files = {
        "grid.jpg": image_bytes("grid.jpg"),
        "sub/same-grid.jpg": image_bytes("grid.jpg"),
        "sub/deeper/alpha.png": image_bytes("alpha.png"),
        "anim.gif": image_bytes("anim.gif"),
        "bad/not-an-image.txt": image_bytes("not-an-image.txt"),
        "bad/truncated.png": image_bytes("truncated.png"),
        "bad/big.png": image_bytes("blackbug.png"),
        "bad/wide.png": pyvips.Image.black(2000, 1000).pngsave_buffer(),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def process(storage: Path, *args: str | Path, stdin: str | None = None) -> Run:
    return run_cli("process", "--storage", storage, "--outputs", OUTPUTS, *args, stdin=stdin)


def relative(run: Run, root: Path) -> dict[str, dict[str, Any]]:
    return {str(Path(path).relative_to(root)): line for path, line in run.by_path().items()}


def test_mixed_directory_stores_the_good_reports_the_bad_and_goes_on(
    mixed: Path, tmp_path: Path
) -> None:
    storage = tmp_path / "data"
    run = process(storage, *LIMITS, mixed)
    assert run.returncode == 1
    lines = relative(run, mixed)
    assert len(run.lines) == len(lines) == 8
    assert {name: lines[name].get("error") for name in BAD} == BAD
    good = [line for name, line in lines.items() if name not in BAD]
    assert sorted(line["skipped"] for line in good) == [False, False, False, True]
    assert lines["grid.jpg"]["hash"] == lines["sub/same-grid.jpg"]["hash"]
    for line in good:
        _assert_stored_as_upload(storage, line)
    assert len(stored_files(storage)) == 3 * 4  # three originals, each with info and two outputs
    assert run.stderr.splitlines() == [run.stderr.strip()]  # not a terminal: the summary only
    assert "8 files" in run.stderr
    assert "3 stored, 1 skipped, 4 failed" in run.stderr


def _assert_stored_as_upload(storage: Path, line: dict[str, Any]) -> None:
    h = line["hash"]
    directory = storage / "p" / h[:3] / h[3:6] / h[6:9] / h[9:]
    info = json.loads((directory / "info.json").read_text())
    assert info == {k: v for k, v in line.items() if k not in ("path", "outputs", "skipped")}
    assert (directory / "original").read_bytes() == Path(line["path"]).read_bytes()
    assert line["outputs"] == {
        t: f"p/{h[:3]}/{h[3:6]}/{h[6:9]}/{h[9:]}/{t}" for t in OUTPUTS.split(",")
    }
    for key in line["outputs"].values():
        assert 0 < pyvips.Image.new_from_file(str(storage / key)).width <= 300  # never enlarged


def test_rerun_skips_what_is_done_and_force_renders_again(mixed: Path, tmp_path: Path) -> None:
    storage = tmp_path / "data"
    process(storage, *LIMITS, mixed)
    before = {p: identity(p) for p in stored_files(storage)}
    again = process(storage, *LIMITS, mixed)
    assert again.returncode == 1  # the bad files are still bad
    assert all(line["skipped"] for line in again.lines if "error" not in line)
    assert {p: identity(p) for p in stored_files(storage)} == before  # nothing rewritten
    forced = process(storage, "--force", *LIMITS, mixed)
    assert not any(line.get("skipped") for line in forced.lines)
    for path, old in before.items():
        rewritten = path.name.startswith("x300")  # outputs render again; originals stay
        assert (identity(path) != old) == rewritten, path


def identity(path: Path) -> tuple[int, int]:
    """A rewritten file is a new file; its inode number alone may be the freed one, reused."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def test_paths_from_stdin(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(IMAGES / "grid.png", folder / "grid.png")
    listing = f"{IMAGES / 'grid.jpg'}\n\n{folder}\n{IMAGES / 'concert.jpg'}\n"
    run = process(tmp_path / "data", "-", stdin=listing)
    assert run.returncode == 0, run.stderr
    names = sorted(Path(line["path"]).name for line in run.lines)
    assert names == ["concert.jpg", "grid.jpg", "grid.png"]
    assert all(len(line["outputs"]) == 2 for line in run.lines)


COPIES = 12


def interrupted_batch(tmp_path: Path, presses: int) -> tuple[Run, Path]:
    """A batch of big photos, one render thread, Ctrl-C pressed once the first file is done."""
    distinct_copies(tmp_path / "in", PHOTO, COPIES)
    storage = tmp_path / "data"
    args = ["--storage", storage, "--outputs", OUTPUTS, "--jobs", "1", tmp_path / "in"]
    return interrupted_run("process", *args, presses=presses), storage


def test_one_ctrl_c_finishes_files_in_flight_and_a_rerun_resumes(tmp_path: Path) -> None:
    first, storage = interrupted_batch(tmp_path, presses=1)
    assert first.returncode == 130
    assert "interrupted" in first.stderr
    assert 1 <= len(first.lines) < COPIES
    _assert_no_partial_files(storage)
    resumed = process(storage, "--jobs", "1", tmp_path / "in")
    assert resumed.returncode == 0
    skipped = {line["path"] for line in resumed.lines if line["skipped"]}
    assert skipped == {line["path"] for line in first.lines}
    assert len(resumed.lines) == COPIES
    assert len(stored_files(storage)) == 4 * COPIES


def test_two_ctrl_c_abandon_files_in_flight_and_leave_no_partial_file(tmp_path: Path) -> None:
    run, storage = interrupted_batch(tmp_path, presses=2)
    assert run.returncode == 130
    assert not any(".tmp-" in p.name for p in stored_files(storage))
    for path in stored_files(storage):  # whatever was written is whole
        if path.name == "info.json":
            assert json.loads(path.read_text())["width"] == 2725
        else:
            assert pyvips.Image.new_from_file(str(path), fail_on="error").avg() > 0


def _assert_no_partial_files(storage: Path) -> None:
    """Every image stored is whole: info, original and both outputs, and no temporary file."""
    for info in storage.rglob("info.json"):
        names = sorted(p.name for p in info.parent.iterdir())
        assert names == ["info.json", "original", "x300.jpg", "x300.webp"]


async def test_the_server_serves_what_the_cli_stored(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    storage = tmp_path / "data"
    run = process(storage, IMAGES / "grid.jpg", IMAGES / "anim.gif")
    assert run.returncode == 0
    server = await start_server(storage=storage)
    for line in run.lines:
        stored = {k: v for k, v in line.items() if k not in ("path", "outputs", "skipped")}
        url = server.image_url(line["hash"])
        async with server.session.get(url + "/info.json") as resp:
            assert await resp.json() == stored
        for token, key in line["outputs"].items():
            async with server.session.get(f"{url}/{token}") as resp:
                assert resp.status == 200
                assert await resp.read() == (storage / key).read_bytes()
        answer = await server.upload(Path(line["path"]).read_bytes())  # same as a POST
        assert {k: v for k, v in answer.items() if k not in ("path", "urls")} == stored
    async with server.session.get(server.url + "/metrics") as resp:
        assert 'imageserver_output_lookups_total{result="render"}' not in await resp.text()


def test_process_stores_into_s3_through_the_same_settings(
    s3_settings: dict[str, Any], tmp_path: Path
) -> None:
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in s3_settings.items()]
    run = run_cli("process", *flags, "--outputs", "w100.jpg", IMAGES / "grid.jpg")
    assert run.returncode == 0, run.stderr
    bucket, prefix = s3_settings["storage"].removeprefix("s3://").split("/", 1)
    listed = raw_client(s3_settings["s3_endpoint_url"]).list_objects_v2(Bucket=bucket)
    keys = sorted(item["Key"] for item in listed["Contents"])
    expected = [f"{prefix}/{key}" for key in run.lines[0]["outputs"].values()]
    assert set(expected) < set(keys)
    assert len(keys) == 3


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--outputs", "w0.jpg"], "width: expected an integer 1-8192, got '0'"),
        (["--outputs", "w100.auto"], ".auto is chosen per request"),
        (["--namespace", "API"], "namespace"),
        (["--jobs", "0"], "--jobs: expected an integer >= 1"),
        (["--max-pixels", "lots"], "max_pixels"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_before_any_work(
    tmp_path: Path, args: list[str], complaint: str
) -> None:
    run = run_cli("process", "--storage", tmp_path / "data", *args, IMAGES / "grid.jpg")
    assert run.returncode == 2
    assert run.lines == []
    assert complaint in run.stderr
    assert not (tmp_path / "data" / "p").exists()


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """stderr on a pseudo-terminal: the bar is drawn, then cleared for the summary."""
    controller, terminal = pty.openpty()
    command = [*CLI, "process", "--storage", str(tmp_path / "data"), str(IMAGES)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=terminal, env=environment()):
        os.close(terminal)
        shown = _read_all(controller)
    assert "files/s" in shown
    assert "\r\x1b[K" in shown
    assert shown.rstrip().endswith("failed")  # the summary comes last, on its own line


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def test_process_starts_without_what_only_the_server_and_jobs_need(tmp_path: Path) -> None:
    """Start-up is paid once per batch: aiohttp, saq, PDFium, prometheus_client and statsd load only
    when used."""
    heavy = ("aiohttp", "saq", "pypdfium2", "prometheus_client", "statsd")
    script = (
        "import sys; from imageserver_cli.main import main; "
        f"main(['process', '--storage', sys.argv[1], '--outputs', 'w50.jpg', sys.argv[2]]); "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    photo = tmp_path / "in" / "grid.jpg"
    photo.parent.mkdir()
    photo.write_bytes(image_bytes("grid.jpg"))
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "data"), str(photo.parent)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=environment(),
        check=True,
    )
    assert done.stdout.splitlines()[-1] == ""
    assert '"hash"' in done.stdout  # the file was stored


# Every option of the token vocabulary (docs/tokens.md), in non-canonical spellings too:
# the spelling given -> the output's canonical token and size (None: not checked).
OPTION_TOKENS = {
    "x200-gne-sharpen.jpg": ("x200-gne-sharpen.jpg", (200, 200)),
    "400x300-pad-bg000000.png": ("400x300-pad-bg000000.png", (400, 300)),
    "300x200-force.webp": ("300x200-force.webp", (300, 200)),
    "w300-flip-r90-blur2.0-c0.25x0x0.5x1.jpg": (
        "w300-c0.25x0x0.5x1-r90-flip-blur2.jpg",
        (300, 200),
    ),
    "x150-b20000-q70-fp0.2x0.8.jpg": ("x150-fp0.2x0.8-q70-b20000.jpg", (150, 150)),
    "w200-trim-flop-keep-baseline.jpg": ("w200-trim-flop-baseline-keep.jpg", None),
    "w200-lossless.webp": ("w200-lossless.webp", (200, 150)),
    "w200-progressive.png": ("w200-interlace.png", (200, 150)),
    "placeholder.png": ("placeholder.png", None),
}


def test_process_takes_every_option_of_the_server_s_tokens(tmp_path: Path) -> None:
    """The CLI parses outputs as the server does: canonical tokens name the stored files."""
    storage = tmp_path / "data"
    run = run_cli(
        "process", "--storage", storage, "--outputs", ",".join(OPTION_TOKENS), IMAGES / "grid.jpg"
    )
    assert run.returncode == 0, run.stderr
    (line,) = run.lines
    assert set(line["outputs"]) == {token for token, _ in OPTION_TOKENS.values()}
    for token, size in OPTION_TOKENS.values():
        image = pyvips.Image.new_from_file(str(storage / line["outputs"][token]))
        assert size is None or (image.width, image.height) == size, token
    assert line["placeholder"]
