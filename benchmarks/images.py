"""The benchmark's inputs, made once into a work directory from the shared corpus."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pyvips

from tests.corpus import IMAGES, TESTDATA  # test/images/ has copies of PHOTO and blackbug.png

PHOTO = IMAGES / "2569067123_aca715a2ee_o.jpg"


@dataclass(frozen=True)
class BenchImage:
    file: str  # name in the work directory (and in every server's source directory)
    label: str


PHOTO_2725 = BenchImage("photo.jpg", "2725x2225 JPEG")
PHOTO_24MP = BenchImage("photo24mp.jpg", "6000x4000 JPEG (24 MP)")
RGBA_PNG = BenchImage("rgba.png", "2048x1536 RGBA PNG")
ALL = (PHOTO_2725, PHOTO_24MP, RGBA_PNG)


def prepare(directory: Path) -> Path:
    """Copies the photo and the RGBA PNG, and makes the 24 MP JPEG from the photo."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PHOTO, directory / PHOTO_2725.file)
    shutil.copyfile(IMAGES / "blackbug.png", directory / RGBA_PNG.file)
    big = directory / PHOTO_24MP.file
    if not big.exists():
        image = pyvips.Image.thumbnail(str(PHOTO), 6000, height=4000, crop="centre", size="force")
        image.write_to_file(str(big), Q=90)
    return directory


def references(names: list[str], width: int) -> list[pyvips.Image]:
    """Corpus photos resized to `width` in 8-bit sRGB, alpha on white: what encoders are fed."""
    pyvips.cache_set_max(0)
    found = []
    for name in names:
        image = pyvips.Image.thumbnail(str(TESTDATA / name), width, output_profile="srgb")
        if image.hasalpha():
            image = image.flatten(background=[255, 255, 255])
        found.append(image.colourspace("srgb").copy_memory())
    return found
