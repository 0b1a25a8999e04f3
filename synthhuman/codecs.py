"""Lossless image codecs for sample bytes: 8/16-bit PNG (Pillow) and float EXR (OpenEXR).

webdataset's default encoders quantise floats and know no EXR, so each modality is encoded
here, explicitly, with its own dtype.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import OpenEXR
from PIL import Image

from synthhuman.native_output import fds_redirected

EXR_DTYPES = {"float32": np.float32, "float16": np.float16}


def quantise_unit(values: np.ndarray, dtype: type = np.uint16) -> np.ndarray:
    """[0, 1] floats (clipped) -> the full range of an unsigned integer type, rounded to nearest."""
    return np.round(np.clip(values, 0.0, 1.0) * np.iinfo(dtype).max).astype(dtype)


def dequantise_unit(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quantise_unit`: unsigned integers -> float32 in [0, 1]."""
    return values.astype(np.float32) / np.float32(np.iinfo(values.dtype).max)


def encode_png(image: np.ndarray) -> bytes:
    """Encode (H, W) or (H, W, 3) uint8, or (H, W) uint16 (16-bit grey), as PNG."""
    if image.dtype == np.uint16:
        if image.ndim != 2:
            raise ValueError("16-bit PNG encoding supports single-channel images only")
        pil = Image.fromarray(image)  # Pillow maps uint16 to mode "I;16"
    elif image.dtype == np.uint8:
        pil = Image.fromarray(image)
    else:
        raise ValueError(f"PNG encoding needs uint8 or uint16, got {image.dtype}")
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """Decode PNG bytes to uint8 (H, W[, C]) or uint16 (H, W) for 16-bit grey."""
    with Image.open(io.BytesIO(data)) as pil:
        if pil.mode.startswith("I"):
            return np.asarray(pil).astype(np.uint16)
        return np.asarray(pil)


def encode_exr(channels: dict[str, np.ndarray], dtype: str = "float32") -> bytes:
    """Encode named (H, W) channels as a single-part, ZIP-compressed scanline EXR."""
    np_dtype = EXR_DTYPES[dtype]
    arrays = {name: np.ascontiguousarray(values, dtype=np_dtype) for name, values in channels.items()}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    buffer = io.BytesIO()
    with OpenEXR.File(header, arrays) as exr:
        exr.write(buffer)
    return buffer.getvalue()


def decode_exr(data: bytes) -> dict[str, np.ndarray]:
    """Decode an EXR's first part into a dict of (H, W) channel arrays (dtype as stored).

    OpenEXR prints its own lines on file descriptors 1 and 2 when data is corrupt; they are
    captured and put into the raised error instead, so a user sees one line, not a C log.
    """
    with _c_output_captured() as captured:
        try:
            with OpenEXR.File(io.BytesIO(data), separate_channels=True) as exr:
                return {name: np.array(channel.pixels) for name, channel in exr.channels().items()}
        except Exception as exc:
            detail = captured()
            raise ValueError(f"{exc}{f' ({detail})' if detail else ''}") from None


_SINK: list[Any] = []  # one temp file per process receives OpenEXR's C-level lines


@contextlib.contextmanager
def _c_output_captured() -> Iterator[Callable[[], str]]:
    """Within: fds 1 and 2 go to a temp file; yields a function giving the most telling line."""
    if not _SINK:
        _SINK.append(tempfile.TemporaryFile())
    sink = _SINK[0]
    sink.seek(0)
    sink.truncate()

    def telling_line() -> str:
        sink.seek(0)
        lines = sink.read(4096).decode(errors="replace").strip().splitlines()
        errors = [line for line in lines if "EXR_ERR" in line] or lines
        return errors[0].split(": ", 1)[-1] if errors else ""

    with fds_redirected(sink):
        yield telling_line


def read_exr_file(path: str) -> dict[str, np.ndarray]:
    """Read every part of an EXR file from disk: ``{channel name: (H, W) array}``."""
    with OpenEXR.File(str(path), separate_channels=True) as exr:
        out: dict[str, np.ndarray] = {}
        for part in exr.parts:
            for name, channel in part.channels.items():
                out[name] = np.array(channel.pixels)
        return out


# OpenCV is how most users open EXRs, and `cv2.imread` returns an EXR's colour channels in
# B, G, R order, reads a lone X/Y/Z-named channel set as one grey channel and a lone Z as
# zeros. So a 3-vector is stored as B = x, G = y, R = z (cv2 gives x, y, z in channels 0..2,
# as the DAViD release's viewer expects) and a scalar map as channel Y (cv2's grey).
VECTOR_CHANNELS = ("B", "G", "R")  # hold x, y, z
SCALAR_CHANNEL = "Y"
_LEGACY_VECTOR_CHANNELS = ("X", "Y", "Z")  # shards written by earlier versions (cv2 cannot read them)
_LEGACY_SCALAR_CHANNEL = "Z"


def vector_exr_channels(xyz: np.ndarray) -> dict[str, np.ndarray]:
    """(H, W, 3) x, y, z -> the named channels :func:`encode_exr` takes (B = x, G = y, R = z)."""
    return {name: xyz[..., i] for i, name in enumerate(VECTOR_CHANNELS)}


def vector_from_exr_channels(channels: dict[str, np.ndarray]) -> np.ndarray:
    """Named channels -> (H, W, 3) float32 x, y, z; reads B/G/R files and the older X/Y/Z ones."""
    for names in (VECTOR_CHANNELS, _LEGACY_VECTOR_CHANNELS):
        if all(name in channels for name in names):
            return np.stack([channels[name] for name in names], axis=-1).astype(np.float32)
    raise ValueError(f"expected channels B, G, R (x, y, z), found {', '.join(sorted(channels)) or 'none'}")


def scalar_from_exr_channels(channels: dict[str, np.ndarray]) -> np.ndarray:
    """Named channels -> the (H, W) float32 scalar map in Y (or Z, in shards of earlier versions)."""
    for name in (SCALAR_CHANNEL, _LEGACY_SCALAR_CHANNEL):
        if name in channels:
            return channels[name].astype(np.float32)
    raise ValueError(f"expected channel {SCALAR_CHANNEL}, found {', '.join(sorted(channels)) or 'none'}")
