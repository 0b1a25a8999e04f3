"""The HDRI seen along each pixel ray: what a floor that shows the HDRI's own ground looks like.

A shadow-catcher floor (render/environment.py) blocks the HDRI in the Environment pass where
it is hit; its colour is the HDRI looked up along the same camera ray, as if the floor were
the photographed ground itself, times the Shadow Catcher pass. This module does the lookup
the way Cycles' Environment Texture does (equirectangular, linear interpolation, the world
Mapping node's rotation about Z, the Background strength), so on pixels without a floor it
reproduces the Environment pass (tests/render/test_environment.py compares the two).
Pure numpy.
"""

from __future__ import annotations

import numpy as np

from synthhuman.geometry import pixel_rays


def camera_ray_directions(K: np.ndarray, cam_to_world: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    """(H, W, 3) unit world directions of the rays through the pixel centres."""
    d = pixel_rays(K, width_px, height_px) @ cam_to_world[:3, :3].T
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def equirect_lookup(pixels: np.ndarray, directions: np.ndarray, rotation_deg: float = 0.0,
                    strength: float = 1.0) -> np.ndarray:
    """(..., 3) radiance of an equirectangular HDRI (``pixels`` (H, W, 3), row 0 at the top)
    along world ``directions`` (..., 3), rotated about +Z by ``rotation_deg`` as the Mapping
    node does, bilinearly interpolated (wrapping around in longitude), times ``strength``."""
    a = np.deg2rad(rotation_deg)
    x, y, z = directions[..., 0], directions[..., 1], directions[..., 2]
    xr, yr = np.cos(a) * x - np.sin(a) * y, np.sin(a) * x + np.cos(a) * y
    u = (np.pi - np.arctan2(yr, xr)) / (2.0 * np.pi)  # Cycles: u = (atan2(y, x) - pi) / -2pi
    v = 0.5 + np.arcsin(np.clip(z, -1.0, 1.0)) / np.pi  # 0 straight down, 1 straight up
    h, w = pixels.shape[:2]
    fx, fy = u * w - 0.5, (1.0 - v) * h - 0.5  # pixel centres at (i + 0.5) / size; rows from the top
    x0, y0 = np.floor(fx).astype(int), np.floor(fy).astype(int)
    tx, ty = (fx - x0)[..., None], (fy - y0)[..., None]
    xa, xb = x0 % w, (x0 + 1) % w
    ya, yb = np.clip(y0, 0, h - 1), np.clip(y0 + 1, 0, h - 1)
    top = pixels[ya, xa] * (1 - tx) + pixels[ya, xb] * tx
    bottom = pixels[yb, xa] * (1 - tx) + pixels[yb, xb] * tx
    return ((top * (1 - ty) + bottom * ty) * strength).astype(np.float32)
