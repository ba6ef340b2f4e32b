"""Bytes at equal visual quality: our encoders against Pillow's JPEG at quality 80.

    python -m benchmarks.bytes_per_quality [--width 720]

Quality measure: SSIM on luminance (tests/imagecompare.py) against the unencoded resize.
For every corpus photo, Pillow's JPEG q80 sets the target SSIM; for each of our candidate
encoder settings we find, by bisection on Q, the smallest output that reaches that SSIM, and
report its size relative to Pillow's (median over photos; below 1.00 is smaller).
"""

from __future__ import annotations

import argparse
import functools
import io
import statistics
from collections.abc import Callable
from typing import Any

import pyvips
from PIL import Image

from benchmarks.images import references
from tests.imagecompare import ssim

PHOTOS = [
    "2569067123_aca715a2ee_o.jpg",
    "xmp_test.jpg",
    "Landscape_1.jpg",
    "Portrait_1.jpg",
    "dog_exif_extended_xmp_icc.jpg",
    "gain-map.jpg",
    "progressive3.jpg",
    "4.webp",
    "kodim23_yuv420_8bpc.avif",
]
CANDIDATES: list[tuple[str, str, dict[str, Any]]] = [
    ("jpg", ".jpg", {}),
    ("jpg", ".jpg", {"optimize_coding": True}),
    ("jpg", ".jpg", {"optimize_coding": True, "interlace": True}),
    ("jpg", ".jpg", {"optimize_coding": True, "subsample_mode": "off"}),
    ("jpg", ".jpg", {"optimize_coding": True, "interlace": True, "quant_table": 3}),
    ("jpg", ".jpg", {"optimize_coding": True, "interlace": True, "quant_table": 2}),
    ("webp", ".webp", {"effort": 4}),
    ("webp", ".webp", {"effort": 4, "smart_subsample": True}),
    ("webp", ".webp", {"effort": 6}),
    ("avif", ".avif", {"effort": 0}),
    ("avif", ".avif", {"effort": 2}),
    ("avif", ".avif", {"effort": 0, "subsample_mode": "off"}),
]


def pillow_jpeg(image: pyvips.Image, quality: int = 80) -> bytes:
    pil = Image.frombytes("RGB", (image.width, image.height), image.write_to_memory())
    out = io.BytesIO()
    pil.save(out, "JPEG", quality=quality)
    return out.getvalue()


def quality_of(reference: pyvips.Image, data: bytes) -> float:
    return ssim(reference, pyvips.Image.new_from_buffer(data, ""))


def smallest_reaching(
    target: float, encode: Callable[[int], bytes], reference: pyvips.Image
) -> tuple[bytes, int]:
    """Bisection on Q: SSIM grows with Q, so the first Q that reaches the target is the cheapest."""
    low, high = 1, 100
    best = (encode(high), high)
    while low <= high:
        q = (low + high) // 2
        data = encode(q)
        if quality_of(reference, data) >= target:
            best, high = (data, q), q - 1
        else:
            low = q + 1
    return best


def encode(image: pyvips.Image, suffix: str, options: dict[str, Any], q: int) -> bytes:
    return image.write_to_buffer(suffix, Q=q, keep="none", **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=720)
    args = parser.parse_args()
    photos = references(PHOTOS, args.width)
    baselines = [pillow_jpeg(r) for r in photos]
    targets = [quality_of(r, b) for r, b in zip(photos, baselines, strict=True)]
    size_kb = statistics.median(map(len, baselines)) / 1024
    target = statistics.median(targets)
    print(f"Pillow JPEG q80, w{args.width}: median {size_kb:.1f} KB, SSIM {target:.4f}")
    print("| format | options | bytes vs Pillow q80 at equal SSIM | Q that reaches it (median) |")
    print("|---|---|---|---|")
    for fmt, suffix, options in CANDIDATES:
        ratios, qs = [], []
        for reference, baseline, target in zip(photos, baselines, targets, strict=True):
            encoder = functools.partial(encode, reference, suffix, options)
            data, q = smallest_reaching(target, encoder, reference)
            ratios.append(len(data) / len(baseline))
            qs.append(q)
        print(f"| {fmt} | {options} | {statistics.median(ratios):.2f} | {statistics.median(qs)} |")


if __name__ == "__main__":
    main()
