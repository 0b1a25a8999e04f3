"""The output table: every per-pixel map a sample carries, in one place.

Each row names a map (``rgb``, ``alpha``, ...) and says how it is stored in a shard (codec and
member name), its in-memory shape and dtype, units and frame, its value off the foreground,
how the training loader resamples it, and whether it is a camera-frame direction (moved by
flips and rotations). The shard codec, ``inspect``, the training loader and the README's
sample table all read this table, so a new output (a ``foreground`` alpha, a hair mask) is
one row plus the renderer's post-processing step that produces it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from synthhuman.codecs import (
    SCALAR_CHANNEL,
    decode_exr,
    decode_png,
    dequantise_unit,
    encode_exr,
    encode_png,
    quantise_unit,
    scalar_from_exr_channels,
    vector_exr_channels,
    vector_from_exr_channels,
)


@dataclass(frozen=True)
class Codec:
    """How one kind of map becomes member bytes and back (exact inverse up to the stated precision)."""

    extension: str
    storage: str  # README wording: container, bit depth and channel layout
    dtype: str  # in-memory dtype after decoding
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes], np.ndarray]


CODECS: dict[str, Codec] = {
    # 8-bit sRGB colour (H, W, 3)
    "png_srgb8": Codec("png", "uint8 PNG", "uint8", encode_png, decode_png),
    # [0, 1] coverage as 16-bit grey: step 1.5e-5
    "png_unit16": Codec("png", "uint16 PNG (value / 65535)", "float32",
                        lambda a: encode_png(quantise_unit(a, np.uint16)),
                        lambda b: dequantise_unit(decode_png(b))),
    # a float32 scalar map in EXR channel Y (cv2 reads it as one grey channel)
    "exr_scalar32": Codec("exr", f"float32 EXR, channel `{SCALAR_CHANNEL}`", "float32",
                          lambda a: encode_exr({SCALAR_CHANNEL: a}, "float32"),
                          lambda b: scalar_from_exr_channels(decode_exr(b))),
    # a float16 3-vector map, x, y, z in EXR channels B, G, R (cv2 gives x, y, z in 0..2)
    "exr_vector16": Codec("exr", "float16 EXR, x, y, z in channels `B`, `G`, `R`", "float32",
                          lambda a: encode_exr(vector_exr_channels(a), "float16"),
                          lambda b: vector_from_exr_channels(decode_exr(b))),
}

RESAMPLING = ("bilinear", "nearest")


@dataclass(frozen=True)
class Output:
    """One per-pixel map of a sample."""

    key: str  # RenderedSample map name; the shard member is f"{key}.{codec extension}"
    content: str
    codec: str  # a CODECS key
    channels: int  # 1: (H, W); 3: (H, W, 3)
    units: str  # units and frame, as the README states them
    off_foreground: str  # value where no person is
    tensor: str  # the training loader's name for it
    # "bilinear": coverage-weighted quantities, averaged over a pixel (colour, alpha);
    # "nearest": sample-0 or per-surface values that must not be blended across a silhouette
    resample: str
    vector: bool = False  # a camera-frame direction: image flips and rotations move it
    required: bool = True  # every sample has it (optional maps are stored when present)

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"output {self.key}: unknown codec {self.codec!r}")
        if self.resample not in RESAMPLING:
            raise ValueError(f"output {self.key}: resample must be one of {RESAMPLING}")
        if self.vector and self.channels != 3:
            raise ValueError(f"output {self.key}: a vector output has 3 channels")

    @property
    def member(self) -> str:
        return f"{self.key}.{CODECS[self.codec].extension}"

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(CODECS[self.codec].dtype)

    def shape(self, height: int, width: int) -> tuple[int, ...]:
        return (height, width) if self.channels == 1 else (height, width, self.channels)

    def encode(self, array: np.ndarray) -> bytes:
        return CODECS[self.codec].encode(array)

    def decode(self, data: bytes) -> np.ndarray:
        return CODECS[self.codec].decode(data)

    def shape_problem(self, array: np.ndarray, height: int, width: int) -> str | None:
        """A one-line description of what is wrong with `array` for an H x W sample, or None."""
        expected = self.shape(height, width)
        if array.shape != expected:
            return f"{self.key} is {array.shape}, expected {expected}"
        if self.dtype == np.uint8 and array.dtype != np.uint8:
            return f"{self.key} has dtype {array.dtype}, expected uint8"
        if self.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
            return f"{self.key} has dtype {array.dtype}, expected floating point"
        return None


OUTPUTS: tuple[Output, ...] = (
    Output("rgb", "sRGB render with the HDRI background", "png_srgb8", 3, "", "background",
           tensor="rgb", resample="bilinear"),
    Output("alpha", "soft foreground coverage", "png_unit16", 1, "[0, 1]", "0",
           tensor="alpha", resample="bilinear"),
    Output("depth", "camera-space Z along the optical axis", "exr_scalar32", 1, "metres, > 0", "0",
           tensor="depth", resample="nearest"),
    Output("normal", "unit surface normals", "exr_vector16", 3,
           "camera frame: x right, y up, z towards the camera", "0",
           tensor="normals", resample="nearest", vector=True),
)
BY_KEY: dict[str, Output] = {o.key: o for o in OUTPUTS}
OUTPUT_KEYS: tuple[str, ...] = tuple(BY_KEY)
REQUIRED: tuple[Output, ...] = tuple(o for o in OUTPUTS if o.required)


def output(key: str) -> Output:
    """The row of `key`; an unknown key names the known ones."""
    if key not in BY_KEY:
        raise KeyError(f"unknown output {key!r}; known: {', '.join(OUTPUT_KEYS)}")
    return BY_KEY[key]


def present(keys: Iterable[str]) -> tuple[Output, ...]:
    """Rows of the outputs among `keys`, in table order."""
    keys = set(keys)
    return tuple(o for o in OUTPUTS if o.key in keys)


def markdown_rows(rows_of: Iterable[Output] | None = None) -> list[str]:
    """The README's sample-table rows (member | content | storage, shape | units | off), of the
    whole table unless `rows_of` is given."""
    rows = []
    for o in OUTPUTS if rows_of is None else rows_of:
        codec = CODECS[o.codec]
        shape = "H x W" if o.channels == 1 else f"H x W x {o.channels}"
        note = "" if o.required else " (optional)"
        rows.append(f"| `{o.member}` | {o.content}{note} | {codec.storage}, {shape} | {o.units} | {o.off_foreground} |")
    return rows
