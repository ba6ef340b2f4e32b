"""Encoder settings compared: bytes, SSIM against the unencoded resize, and encode time.

    python -m benchmarks.encoders [--width 720]

Feeds the "Encoder defaults" table of docs/tokens.md: for each candidate, the median over
corpus photos.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import pyvips

from benchmarks.images import references
from tests.imagecompare import ssim

PHOTOS = [
    "2569067123_aca715a2ee_o.jpg",
    "xmp_test.jpg",
    "Landscape_1.jpg",
    "4.webp",
    "blackbug.png",
]
CANDIDATES: list[tuple[str, dict[str, Any]]] = [
    (".jpg", {"Q": 80}),
    (".jpg", {"Q": 80, "optimize_coding": True}),
    (".jpg", {"Q": 80, "optimize_coding": True, "interlace": True}),
    (".webp", {"Q": 80, "effort": 2}),
    (".webp", {"Q": 80, "effort": 4}),
    (".webp", {"Q": 80, "effort": 6}),
    (".avif", {"Q": 50, "effort": 2}),
    (".avif", {"Q": 64, "effort": 0}),
    (".avif", {"Q": 64, "effort": 2}),
    (".avif", {"Q": 64, "effort": 4}),
    (".png", {"compression": 6}),
    (".png", {"compression": 9}),
    (".gif", {"effort": 1}),
    (".gif", {"effort": 7}),
]


def measure(image: pyvips.Image, suffix: str, options: dict[str, Any]) -> tuple[int, float, float]:
    started = time.perf_counter()
    data = image.write_to_buffer(suffix, keep="none", **options)
    elapsed_ms = (time.perf_counter() - started) * 1000
    decoded = pyvips.Image.new_from_buffer(data, "")
    return len(data), ssim(image, decoded), elapsed_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=720)
    args = parser.parse_args()
    images = references(PHOTOS, args.width)
    print(f"| format | options | median KB | median SSIM | median encode ms |  (w{args.width})")
    print("|---|---|---|---|---|")
    for suffix, options in CANDIDATES:
        rows = [measure(image, suffix, options) for image in images]
        size_kb = statistics.median(r[0] for r in rows) / 1024
        quality = statistics.median(r[1] for r in rows)
        ms = statistics.median(r[2] for r in rows)
        print(f"| {suffix[1:]} | {options} | {size_kb:.1f} | {quality:.4f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
