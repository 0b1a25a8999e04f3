"""Reading a user's image for `predict`: any bit depth or mode Pillow opens -> uint8 sRGB (H,W,3).

Pillow's ``convert("RGB")`` clips 16- and 32-bit greyscale ("I;16", "I") to 0..255 instead of
scaling them (a 16-bit PNG came out 99.6% white) and turns float ("F") images black, so those
modes are scaled here to the full range first. 16-bit colour PNGs Pillow already reduces to 8
bits per channel itself. Transparency (RGBA, LA, PA, a palette with a transparent entry) is
composited over white, as an image viewer shows it, instead of exposing whatever colour the
transparent pixels happen to hold. The model was trained on 8-bit renders, so 8 bits is all
the precision it uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from synthhuman.codecs import quantise_unit
from synthhuman.errors import UserError

# Modes whose samples are wider than 8 bits, and the value that means full white.
_GREY_FULL_SCALE = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535}
_BACKGROUND = 1.0  # white, in [0, 1]


def grey_to_unit(pixels: np.ndarray, mode: str) -> np.ndarray:
    """High-bit-depth greyscale samples -> float in [0, 1].

    "I" is Pillow's 32-bit integer mode: a 16-bit PNG may open as it, so values up to 65535
    are read as 16-bit; wider ones as 32-bit. "F" (float) is taken as already in [0, 1].
    """
    values = pixels.astype(np.float64)
    if mode in _GREY_FULL_SCALE:
        return values / _GREY_FULL_SCALE[mode]
    if mode == "I":
        return values / (65535.0 if values.max(initial=0) <= 65535 else 2.0**32 - 1)
    if mode == "F":
        if not np.isfinite(values).all():
            raise ValueError("the float image holds NaN or infinite values")
        return np.clip(values, 0.0, 1.0)
    raise ValueError(f"unexpected greyscale mode {mode}")


def image_to_rgb8(img: Image.Image) -> np.ndarray:
    """A Pillow image of any mode -> uint8 (H,W,3) sRGB (see the module doc for the rules)."""
    if img.mode in _GREY_FULL_SCALE or img.mode in ("I", "F"):
        grey = quantise_unit(grey_to_unit(np.asarray(img), img.mode), np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if not has_alpha:
        return np.asarray(img.convert("RGB"))
    rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0
    alpha = rgba[..., 3:]
    return quantise_unit(alpha * rgba[..., :3] + (1.0 - alpha) * _BACKGROUND, np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """uint8 (H,W,3) sRGB of an image file, EXIF orientation applied; one-line UserError if unreadable."""
    if Path(path).suffix.lower() == ".exr":
        raise UserError(f"cannot read image {path}: EXR (scene-linear) input is not supported; give PNG, JPEG or TIFF")
    try:
        with Image.open(path) as img:
            return image_to_rgb8(ImageOps.exif_transpose(img))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read image {path}: {exc}") from None
