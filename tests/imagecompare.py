"""Perceptual comparison for tests and benchmarks: SSIM on luminance, built from libvips ops.

Compare renders by dimensions plus SSIM, never by exact bytes: encoders change between releases.
"""

from __future__ import annotations

import pyvips

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2
_SIGMA = 1.5


def luminance(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB luminance, alpha flattened onto white, as a float image."""
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    image = image.colourspace("b-w") if image.bands >= 3 else image
    return image.extract_band(0).cast("float")


def ssim(a: pyvips.Image, b: pyvips.Image) -> float:
    """Mean SSIM (Wang et al. 2004, Gaussian window sigma 1.5) of two same-sized images."""
    if (a.width, a.height) != (b.width, b.height):
        raise ValueError(f"sizes differ: {a.width}x{a.height} and {b.width}x{b.height}")
    x, y = luminance(a), luminance(b)

    def blur(image: pyvips.Image) -> pyvips.Image:
        return image.gaussblur(_SIGMA, precision="float")

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + _C1) * (2 * cov + _C2)
    denominator = (mu_x * mu_x + mu_y * mu_y + _C1) * (var_x + var_y + _C2)
    return float((numerator / denominator).avg())
