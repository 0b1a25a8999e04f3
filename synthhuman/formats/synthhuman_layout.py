"""The public SynthHuman file layout (microsoft/DAViD release): read, write, and find sources.

One flat folder; per sample, with a 7-digit index ``i``:

==========================  ==============================================================
``rgb_{i}.png``             8-bit sRGB
``alpha_{i}.png``           soft foreground alpha, 8-bit grey (16-bit with ``lossless``)
``depth_{i}.exr``           camera Z in CENTIMETRES, channel ``Y``, float16; 65504 (the
                            float16 maximum) off the foreground. ``lossless`` stores ``Y``
                            as float32 and adds channel ``Z`` = metres (float32), because
                            m -> cm -> m is not exactly invertible in float32 (1 ulp, ~15%
                            of values); the reader prefers ``Z`` when present.
``normal_{i}.exr``          x, y, z in channels B, G, R (``cv2.imread`` returns them as
                            channels 0, 1, 2, as the release's viewer reads them); float16
                            (float32 with ``lossless``)
``cam_{i}.txt``             3x3 intrinsics K in pixels (``np.loadtxt``); no extrinsics
==========================  ==============================================================

What each direction loses (our shards -> layout -> our shards):

- default: alpha 16 -> 8 bit (error <= 0.5/255); depth float32 m -> float16 cm (spacing
  0.5 cm between 512 and 1024 cm: max error 0.25 cm = 2.5 mm at 10 m, 5 mm at 10.24-20.48 m;
  depths >= 655.04 m collide with the background code); the sample json (SceneSpec,
  cam_to_world, assets) is dropped: the layout holds K only. RGB and normals are exact
  (our shards already store normals as float16).
- ``lossless``: RGB, alpha, depth, normals and K round-trip bit-exactly; the json still drops.

Normals: the release does not document its frame or signs. We write and read our camera
frame (x right, y up, z towards the camera) unchanged; check signs before mixing folders.
Framing: the files do not record it. For the full public release it follows from the index
(:func:`release_framing`); folders written by ``synthhuman convert`` carry ``framing.json``.
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthhuman.codecs import (
    decode_exr,
    decode_png,
    dequantise_unit,
    encode_exr,
    encode_png,
    quantise_unit,
    vector_exr_channels,
    vector_from_exr_channels,
)
from synthhuman.errors import UserError
from synthhuman.sample import RenderedSample
from synthhuman.spec import sample_key

BACKGROUND_CM = 65504.0  # float16 max: the release's "no foreground" depth
CM_PER_M = 100.0
RELEASE_SIZE = 298_008
RELEASE_FACE_END = 98_040  # indices [0, 98040) are face crops
RELEASE_FULL_END = RELEASE_FACE_END + 99_976  # [98040, 198016) full body; the rest (99,992) upper body
FRAMING_FILE = "framing.json"  # written by `synthhuman convert`: {"index": framing}
_RGB_NAME = re.compile(r"rgb_(\d{7,})\.png$")


def release_framing(index: int) -> str:
    """Framing of sample ``index`` of the full 298,008-sample public release."""
    if not 0 <= index < RELEASE_SIZE:
        raise ValueError(f"index {index} is outside the public release (0..{RELEASE_SIZE - 1})")
    if index < RELEASE_FACE_END:
        return "face"
    return "full" if index < RELEASE_FULL_END else "upper"


def layout_paths(folder: Path | str, index: int) -> dict[str, Path]:
    folder = Path(folder)
    return {name: folder / f"{name}_{index:07d}.{ext}" for name, ext in
            (("rgb", "png"), ("alpha", "png"), ("depth", "exr"), ("normal", "exr"), ("cam", "txt"))}


def depth_m_to_cm(depth_m: np.ndarray, dtype: type = np.float16) -> np.ndarray:
    """Metres (0 = no foreground) -> centimetres with the 65504 background code."""
    depth_cm = np.where(depth_m > 0, depth_m.astype(np.float64) * CM_PER_M, BACKGROUND_CM)
    return np.minimum(depth_cm, BACKGROUND_CM).astype(dtype)


def depth_cm_to_m(depth_cm: np.ndarray) -> np.ndarray:
    """Centimetres -> metres; the background code, non-finite and non-positive values -> 0."""
    depth_cm = depth_cm.astype(np.float64)
    valid = np.isfinite(depth_cm) & (depth_cm > 0) & (depth_cm < BACKGROUND_CM)
    return np.where(valid, depth_cm / CM_PER_M, 0.0).astype(np.float32)


def write_layout_sample(folder: Path | str, index: int, sample: RenderedSample, lossless: bool = False) -> None:
    """Write one sample's five files (see the module doc for what ``lossless`` changes)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    paths = layout_paths(folder, index)
    alpha_png = quantise_unit(sample.alpha, np.uint16 if lossless else np.uint8)
    float_type = "float32" if lossless else "float16"
    depth_channels = {"Y": depth_m_to_cm(sample.depth, np.float32 if lossless else np.float16)}
    if lossless:
        depth_channels["Z"] = sample.depth.astype(np.float32)
    normal = sample.normal
    paths["rgb"].write_bytes(encode_png(sample.rgb))
    paths["alpha"].write_bytes(encode_png(alpha_png))
    paths["depth"].write_bytes(encode_exr(depth_channels, float_type))
    paths["normal"].write_bytes(encode_exr(vector_exr_channels(normal), float_type))
    np.savetxt(paths["cam"], np.asarray(sample.meta.get("K", np.eye(3)), dtype=np.float64), fmt="%.17g")


def _read_depth(path: Path) -> np.ndarray:
    channels = decode_exr(path.read_bytes())
    if "Z" in channels:  # our lossless metres channel
        return channels["Z"].astype(np.float32)
    if "Y" not in channels and len(channels) != 1:
        raise ValueError(f"{path.name}: expected channel Y, found {sorted(channels)}")
    return depth_cm_to_m(channels.get("Y", next(iter(channels.values()))))


def read_layout_sample(folder: Path | str, index: int, framing: str = "unknown") -> RenderedSample:
    """Read one sample into our conventions: depth in metres (0 off the foreground), alpha in [0,1].

    Normals are taken as stored (assumed our camera frame), zeroed where they are
    non-finite or where depth is invalid, matching RenderedSample's "0 off the foreground".
    """
    paths = layout_paths(folder, index)
    try:
        rgb = decode_png(paths["rgb"].read_bytes())
        alpha_raw = decode_png(paths["alpha"].read_bytes())
        depth = _read_depth(paths["depth"])
        normal = vector_from_exr_channels(decode_exr(paths["normal"].read_bytes()))
        K = np.loadtxt(paths["cam"], dtype=np.float64).reshape(3, 3)
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(f"cannot read SynthHuman sample {index:07d} in {folder}: {exc}") from None
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=-1)
    alpha = dequantise_unit(alpha_raw)
    if alpha.ndim == 3:
        alpha = alpha[..., 0]
    normal = np.where(np.isfinite(normal) & (depth > 0)[..., None], normal, 0.0).astype(np.float32)
    # The layout holds no SceneSpec, camera pose or timings: marked unknown, so inspect accepts it.
    meta = {"K": K.tolist(), "framing": framing, "layout_index": index, "spec": None,
            "unknown_fields": ["spec", "cam_to_world", "timings"]}
    return RenderedSample(key=sample_key(index), maps={"rgb": rgb[..., :3], "alpha": alpha, "depth": depth,
                                                          "normal": normal}, meta=meta)


def list_layout_indices(folder: Path | str) -> list[int]:
    """Sorted indices of the samples in ``folder`` (one ``rgb_*.png`` per sample)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    return sorted(int(m.group(1)) for name in (p.name for p in folder.iterdir()) if (m := _RGB_NAME.match(name)))


def is_layout_folder(path: Path | str) -> bool:
    """A folder holding at least one ``rgb_NNNNNNN.png`` (checked lazily: the release has 1.5M files)."""
    path = Path(path)
    return path.is_dir() and next(iter(glob.iglob(str(path / "rgb_[0-9]*.png"))), None) is not None


def layout_framing(folder: Path | str, indices: list[int]) -> dict[int, str]:
    """Framing of each index: from ``framing.json`` if present, else the release map, else unknown.

    The release map applies only when the folder holds exactly the 298,008 release indices:
    our own folders use global sample indices, whose framing the index does not tell.
    """
    marker = Path(folder) / FRAMING_FILE
    if marker.exists():
        stored = {int(k): str(v) for k, v in json.loads(marker.read_text()).items()}
        return {i: stored.get(i, "unknown") for i in indices}
    if len(indices) == RELEASE_SIZE and indices[0] == 0 and indices[-1] == RELEASE_SIZE - 1:
        return {i: release_framing(i) for i in indices}
    return {i: "unknown" for i in indices}


@dataclass(frozen=True)
class ResolvedSource:
    """What a user's ``source`` string names: shard URLs, or one SynthHuman layout folder."""

    kind: str  # "shards" or "layout"
    paths: tuple[str, ...]


def _expand_braces(pattern: str) -> list[str]:
    import braceexpand  # a webdataset dependency; imported here so the module stays light

    return list(braceexpand.braceexpand(pattern))


def resolve_source(source: str) -> ResolvedSource:
    """Shard glob / brace pattern / dataset DIR / layout folder / URL -> what to read.

    ``pipe:`` and ``http(s)://`` URLs pass through untouched (webdataset opens them and
    expands their braces); local patterns are brace-expanded and globbed here, since
    webdataset does not glob. Raises UserError when nothing matches.
    """
    if source.startswith(("pipe:", "http://", "https://", "gs://", "s3://")):
        return ResolvedSource("shards", (source,))
    path = Path(source)
    if path.is_dir():
        if is_layout_folder(path):
            return ResolvedSource("layout", (str(path),))
        tars = sorted(glob.glob(str(path / "shards" / "*.tar"))) or sorted(glob.glob(str(path / "*.tar")))
        if not tars:
            raise UserError(f"{source} holds no shards (shards/*.tar) and no SynthHuman files (rgb_*.png)")
        return ResolvedSource("shards", tuple(tars))
    matches: list[str] = []
    for pattern in _expand_braces(source):
        found = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else ([pattern] if Path(pattern).is_file() else [])
        matches.extend(found)
    if not matches:
        raise UserError(f"no shards match {source}")
    return ResolvedSource("shards", tuple(dict.fromkeys(matches)))
