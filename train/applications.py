"""The paper's applications (supplement C) on predicted maps: relighting, background
replacement and a 2.5D point cloud; plus the PNG visualisations `predict` writes.

Pure numpy (no torch), so they work on the outputs of an ONNX model as well. Frames: the
camera frame of the training data, x right, y up, z towards the camera (DESIGN.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor

from synthhuman.codecs import quantise_unit
from synthhuman.errors import UserError


def parse_vector(text: str, name: str = "--light-dir") -> np.ndarray:
    """'x,y,z' -> unit (3,) float; a zero vector or wrong arity is a UserError."""
    try:
        values = np.array([float(v) for v in text.split(",")], dtype=np.float64)
    except ValueError:
        raise UserError(f"{name} expects three numbers 'x,y,z', got {text!r}") from None
    if values.shape != (3,) or not np.linalg.norm(values) > 0:
        raise UserError(f"{name} expects a non-zero vector 'x,y,z', got {text!r}")
    return values / np.linalg.norm(values)


def relight(
    rgb: np.ndarray,
    normals: np.ndarray,
    light_dir: np.ndarray,
    ambient: float = 0.25,
    alpha: np.ndarray | None = None,
) -> np.ndarray:
    """Lambert + ambient shading from predicted normals, applied to the image as albedo.

    shading = ambient + (1 - ambient) * max(0, n . l); relit = clip(rgb * shading, 0, 1).
    With no intrinsic decomposition the input colour stands in for albedo (as the paper's
    "simple relighting" does). Where `alpha` is given only the person is relit:
    out = alpha * relit + (1 - alpha) * rgb.

    rgb (H,W,3) float in [0,1]; normals (H,W,3) unit, camera frame; light_dir (3,) towards the light.
    """
    light = np.asarray(light_dir, dtype=np.float64)
    light = light / np.linalg.norm(light)
    lambert = np.clip(np.tensordot(normals.astype(np.float64), light, axes=([-1], [0])), 0.0, None)
    shading = ambient + (1.0 - ambient) * lambert
    relit = np.clip(rgb * shading[..., None], 0.0, 1.0)
    if alpha is not None:
        relit = alpha[..., None] * relit + (1.0 - alpha[..., None]) * rgb
    return relit.astype(np.float32)


def load_background(spec: str, height: int, width: int) -> np.ndarray:
    """An image path (resized to fit exactly) or a colour ('#00ff00', 'green', '0,255,0') -> (H,W,3) [0,1]."""
    path = Path(spec)
    if path.is_file():
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB").resize((width, height), Image.BILINEAR))
        return pixels.astype(np.float32) / 255.0
    try:
        colour = [int(v) for v in spec.split(",")] if "," in spec else list(ImageColor.getrgb(spec))[:3]
    except ValueError:
        raise UserError(f"--background: {spec!r} is neither an image file nor a colour") from None
    if len(colour) != 3 or not all(0 <= c <= 255 for c in colour):
        raise UserError(f"--background colour needs three values in 0..255, got {spec!r}")
    return np.broadcast_to(np.array(colour, np.float32) / 255.0, (height, width, 3)).copy()


def replace_background(rgb: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Composite alpha * foreground + (1 - alpha) * background, all (H,W[,3]) in [0,1].

    The observed colour stands in for the foreground colour: near soft hair edges a little
    of the old background stays, since estimating pure foreground colour is not attempted.
    """
    a = np.clip(alpha, 0.0, 1.0)[..., None]
    return (a * rgb + (1.0 - a) * background).astype(np.float32)


def intrinsics_from_fov(height: int, width: int, fov_deg: float) -> np.ndarray:
    """3x3 K for a pinhole with horizontal field of view `fov_deg`, square pixels, centred."""
    if not 0 < fov_deg < 180:
        raise UserError(f"--fov-deg must be in (0, 180), got {fov_deg}")
    f = 0.5 * width / math.tan(math.radians(fov_deg) / 2)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=np.float64)


def depth_to_metric(
    relative: np.ndarray, mask: np.ndarray, near_m: float, range_m: float, invert: bool = False
) -> np.ndarray:
    """Relative depth -> metres, by a guessed range: Z = near_m + range_m * (d - min) / (max - min).

    The model predicts depth only up to an unknown scale and shift (it is trained against
    min-max normalised depth), so metric depth needs a guess: `near_m` is the distance of
    the closest foreground point and `range_m` the depth extent of the subject (roughly
    0.25 m for a face, 0.5 m for a full body seen from the front). `invert` is for models
    whose output grows towards the camera (DAViD's single-task release, for one).
    """
    d = -relative if invert else relative
    values = d[mask]
    if values.size == 0:
        return np.zeros_like(relative, dtype=np.float32)
    lo, hi = float(values.min()), float(values.max())
    normalised = (d - lo) / (hi - lo) if hi > lo else np.zeros_like(d)
    return (near_m + range_m * normalised).astype(np.float32)


def point_cloud(
    depth_m: np.ndarray, mask: np.ndarray, K: np.ndarray, rgb: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Back-project masked pixels: (N,3) camera-frame points (x right, y up, z towards the camera,
    so points in front have z < 0) and their (N,3) uint8 colours. Pixel centres at +0.5."""
    v, u = np.nonzero(mask)
    z = depth_m[v, u].astype(np.float64)
    x = (u + 0.5 - K[0, 2]) / K[0, 0] * z
    y = (v + 0.5 - K[1, 2]) / K[1, 1] * z
    points = np.stack([x, -y, -z], axis=-1).astype(np.float32)
    colours = None if rgb is None else (np.clip(rgb[v, u], 0, 1) * 255).round().astype(np.uint8)
    return points, colours


def write_ply(path: str | Path, points: np.ndarray, colours: np.ndarray | None) -> None:
    """Binary PLY via trimesh (vertex colours when given)."""
    import trimesh

    cloud = trimesh.PointCloud(points, colors=colours)
    Path(path).write_bytes(cloud.export(file_type="ply", encoding="binary"))


# ---------------------------------------------------------------------- visualisations


def depth_png(relative: np.ndarray, mask: np.ndarray | None = None, invert: bool = False) -> np.ndarray:
    """8-bit grey, near = bright, normalised over the foreground (or the whole map); 0 off it."""
    d = -relative if invert else relative
    m = np.ones(d.shape, bool) if mask is None or not mask.any() else mask
    lo, hi = float(d[m].min()), float(d[m].max())
    near_bright = 1.0 - (d - lo) / (hi - lo) if hi > lo else np.ones_like(d)
    out = np.where(m, 0.1 + 0.9 * np.clip(near_bright, 0, 1), 0.0)
    return (out * 255).round().astype(np.uint8)


def normals_png(normals: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(n + 1) / 2 as 8-bit RGB; 0 (black) off the mask when one is given."""
    out = (np.clip(normals, -1, 1) + 1.0) / 2.0
    if mask is not None:
        out = out * mask[..., None]
    return (out * 255).round().astype(np.uint8)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return quantise_unit(image, np.uint8)
