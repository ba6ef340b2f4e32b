"""What the multi-node test sends and what it must find afterwards: distinct noise images of a
known size, a PDF of known page sizes, and a ledger of everything the cluster acknowledged."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pypdfium2 as pdfium
import pyvips
from prometheus_client.parser import text_string_to_metric_families

SIZE = (320, 240)
# Every output the test asks for, and its size from a SIZE original.
OUTPUTS = {"w100.jpg": (100, 75), "w160.webp": (160, 120)}
SAME_ON_BOTH = {"w120.png": (120, 90), "w200.jpg": (200, 150), "w80.webp": (80, 60)}
EXPECTED = OUTPUTS | SAME_ON_BOTH
PAGES = ((200, 100), (100, 200), (150, 150))  # in points: pixels at 72 dpi
RASTERIZE = {"dpi": 72, "format": "png"}


def noise_jpeg() -> bytes:
    """A SIZE JPEG of random noise: every call a new original with its own hash."""
    noise = pyvips.Image.gaussnoise(*SIZE, mean=128, sigma=40).cast("uchar")
    return noise.bandjoin([noise.rot180().fliphor(), noise.flipver()]).jpegsave_buffer(Q=80)


def pdf_of_pages() -> bytes:
    document = pdfium.PdfDocument.new()
    for width, height in PAGES:
        document.new_page(width, height)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def decoded_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image decoded to its last pixel: a truncated one raises."""
    image = pyvips.Image.new_from_buffer(data, "", fail_on="truncated")
    image.avg()
    return image.width, image.height


def path_of(hash_: str, namespace: str = "p") -> str:
    return f"/{namespace}/{hash_[:3]}/{hash_[3:6]}/{hash_[6:9]}/{hash_[9:]}"


@dataclass
class Ledger:
    """What the cluster acknowledged: uploads answered 200, jobs answered 202."""

    uploads: dict[str, bytes] = field(default_factory=dict)  # hash: original bytes
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)  # hash: info.json
    ingests: dict[str, bytes] = field(default_factory=dict)  # job id: source bytes
    rasterizes: list[str] = field(default_factory=list)  # job ids
    unacknowledged: int = 0  # requests that failed in flight (the killed server's)
    served: list[tuple[str, bytes]] = field(default_factory=list)  # (token, bytes) answered 200
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def add_upload(self, data: bytes, info: dict[str, Any]) -> None:
        async with self.changed:
            self.uploads[info["hash"]], self.infos[info["hash"]] = data, info
            self.changed.notify_all()

    async def uploaded(self, count: int) -> None:
        """Returns once `count` uploads are acknowledged."""
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.uploads) >= count)


class Client:
    """Requests to one base URL (nginx, or one server), recording what was acknowledged."""

    def __init__(self, session: aiohttp.ClientSession, base: str, ledger: Ledger) -> None:
        self.session, self.base, self.ledger = session, base, ledger

    async def _acknowledged(self, path: str, status: int, **body: Any) -> dict[str, Any] | None:
        """The answer to a POST when it came with `status`; else None, counted as not
        acknowledged (refused, or the node was killed while answering)."""
        try:
            async with self.session.post(f"{self.base}{path}", **body) as resp:
                answer = await resp.json() if resp.status == status else None
        except aiohttp.ClientError:
            answer = None
        if answer is None:
            self.ledger.unacknowledged += 1
        return answer

    async def upload_and_render(self, data: bytes) -> None:
        answer = await self._acknowledged("/p", 200, data=data)
        if answer is None:
            return
        info = {k: v for k, v in answer.items() if k not in ("path", "urls")}
        await self.ledger.add_upload(data, info)
        for token in OUTPUTS:
            await self.get_output(answer["hash"], token)

    async def get_output(self, hash_: str, token: str) -> bytes | None:
        try:
            async with self.session.get(f"{self.base}{path_of(hash_)}/{token}") as resp:
                assert resp.status == 200, (token, resp.status, await resp.text())
                body = await resp.read()
        except aiohttp.ClientError:  # the server was killed while answering
            self.ledger.unacknowledged += 1
            return None
        self.ledger.served.append((token, body))
        return body

    async def submit(self, body: dict[str, Any]) -> str | None:
        answer = await self._acknowledged("/jobs", 202, json=body)
        return None if answer is None else answer["job_id"]

    async def job(self, job_id: str) -> dict[str, Any]:
        async with self.session.get(f"{self.base}/jobs/{job_id}") as resp:
            assert resp.status == 200, job_id
            return await resp.json()

    async def get(self, path: str) -> bytes:
        async with self.session.get(self.base + path) as resp:
            assert resp.status == 200, (path, resp.status)
            return await resp.read()

    async def metric(self, name: str, **labels: str) -> float:
        """The sum of the server's /metrics samples named `name` that have these labels."""
        text = (await self.get("/metrics")).decode()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )
