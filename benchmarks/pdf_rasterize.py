"""The rasterize job against pypdfium2 + pyvips called directly, same workers, in one run.

    python -m benchmarks.pdf_rasterize [--rounds 3] [--workers N] [--dpi 150]

The 19-page GeoBase PDF (test/images/, a copy from the shared corpus), every page at `--dpi` as
JPEG. Rounds interleave
(a) a rasterize job on a real server on loopback (SQLite jobs, local storage, `--pdf-workers N`):
the PDF is uploaded into a fresh namespace first (not timed), then the job is timed from
`POST /jobs` until its view says succeeded, so queueing, the page renders in the worker
processes, storing each page as an original (info.json, fsync) and the manifest all count; and
(b) the plain program: a pool of N processes, each opening the PDF with pypdfium2, drawing one
page at the same size, wrapping the pixels with `new_from_memory` and saving them with the
server's JPEG options to a file. Reports pages per second (median of the rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pypdfium2 as pdfium
import pyvips
from aiohttp import web

from imageserver.formats import OUTPUT_FORMATS
from imageserver.settings import Settings
from imageserver.web import SERVER_OPTIONS, create_app
from tests.corpus import IMAGES

PDF = IMAGES / "GeoBase_NHNC1_Data_Model_UML_EN.pdf"
PAGES = 19
JPEG = OUTPUT_FORMATS["jpg"]
POLL_S = 0.01


async def interleaved(storage: Path, out: Path, args: argparse.Namespace) -> dict[str, list]:
    """Pages per second of each round, both ways; one untimed job first starts the workers."""
    settings = Settings(
        storage=str(storage),
        jobs_url=f"sqlite:///{storage}/jobs.db",
        pdf_workers=args.workers,
        render_workers=args.workers,
    )
    runner = web.AppRunner(create_app(settings), access_log=None, **SERVER_OPTIONS)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    rounds: dict[str, list] = {"job": [], "direct": []}
    try:
        async with aiohttp.ClientSession() as session:
            await _job(session, url, "warmup", args.dpi)
            for i in range(args.rounds):  # interleaved: drift in the machine hits both alike
                rounds["direct"].append(plain(out, args.workers, args.dpi))
                rounds["job"].append(PAGES / await _job(session, url, f"round{i}", args.dpi))
    finally:
        await runner.cleanup()
    return rounds


async def _job(session: aiohttp.ClientSession, url: str, namespace: str, dpi: int) -> float:
    """Seconds from submitting the job to seeing it succeeded."""
    async with session.post(f"{url}/{namespace}", data=PDF.read_bytes()) as resp:
        pdf_hash = (await resp.json())["hash"]
    body = {"namespace": namespace, "hash": pdf_hash, "rasterize": {"dpi": dpi, "format": "jpg"}}
    started = time.perf_counter()
    async with session.post(f"{url}/jobs", json=body) as resp:
        job_id = (await resp.json())["job_id"]
    while (view := await _view(session, f"{url}/jobs/{job_id}"))["state"] != "succeeded":
        if view["state"] in ("failed", "cancelled"):
            raise RuntimeError(view)
        await asyncio.sleep(POLL_S)
    assert len(view["result"]["pages"]) == PAGES
    return time.perf_counter() - started


async def _view(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as resp:
        return await resp.json()


def plain(out: Path, workers: int, dpi: int) -> float:
    """Pages per second of N processes calling pypdfium2 and pyvips themselves."""
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_noop, range(workers)))  # started, as the server's workers are
        started = time.perf_counter()
        list(pool.map(_page, [(out, page, dpi) for page in range(PAGES)]))
        return PAGES / (time.perf_counter() - started)


def _noop(_: int) -> None:
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)


def _page(task: tuple[Path, int, int]) -> None:
    out, page, dpi = task
    pdf = pdfium.PdfDocument(PDF.read_bytes())
    bitmap = pdf[page].render(scale=dpi / 72, rev_byteorder=True)
    image = pyvips.Image.new_from_memory(bitmap.buffer, bitmap.width, bitmap.height, 3, "uchar")
    data = image.write_to_buffer(JPEG.saver_suffix, **JPEG.save_options(None))
    (out / f"page-{page + 1}.jpg").write_bytes(data)
    pdf.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dpi", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as storage, tempfile.TemporaryDirectory() as out:
        rounds = asyncio.run(interleaved(Path(storage), Path(out), args))
    rate = {name: statistics.median(values) for name, values in rounds.items()}
    summary = {
        "pages_per_s": rate,
        "ratio": rate["job"] / rate["direct"],
        "rounds_pages_per_s": rounds,
        "pages": PAGES,
        "dpi": args.dpi,
        "workers": args.workers,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
