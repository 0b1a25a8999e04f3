"""Tiny analytic datasets for the training tests: a soft-edged ellipse "person" in shards.

Each sample: alpha a soft-edged ellipse (about 1.5 px ramp), depth a spherical cap over the
ellipse, camera-frame normals of that cap (x right, y up, z towards the camera), and an RGB
that shades the cap with three coloured lights over a colour-gradient background, so the
image carries the information every task needs. Framing cycles face / upper / full.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from synthhuman.sample import RenderedSample
from synthhuman.shards import ShardWriter, encode_sample

FRAMINGS = ("face", "upper", "full")


def analytic_sample(index: int, height: int = 64, width: int = 48, seed: int = 0) -> RenderedSample:
    rng = np.random.default_rng([seed, index])
    cx, cy = width / 2 + rng.uniform(-5, 5), height / 2 + rng.uniform(-6, 6)
    ax, ay = rng.uniform(10, 16), rng.uniform(16, 24)
    v, u = np.mgrid[0:height, 0:width] + 0.5
    ex, ey = (u - cx) / ax, (v - cy) / ay
    r = np.sqrt(ex**2 + ey**2)
    alpha = np.clip((1 - r) * min(ax, ay) / 1.5 + 0.5, 0, 1).astype(np.float32)
    inside = r < 1
    cap = np.sqrt(np.clip(1 - r**2, 0, 1))
    normal = np.stack([ex, -ey, cap], axis=-1)
    normal = normal / np.linalg.norm(normal, axis=-1, keepdims=True)
    normal[~inside] = 0
    depth = np.where(inside, rng.uniform(1.5, 3.0) - 0.15 * cap, 0).astype(np.float32)
    # Three coloured lights along +x (red), +y (green) and +z (blue): each channel is a
    # half-Lambert of one normal component, so the image determines the normals pixel by pixel.
    albedo = rng.uniform(0.6, 0.9)
    fg = albedo * (0.1 + 0.9 * (normal + 1) / 2)
    bg = rng.uniform(0, 1, 3) * (0.5 + 0.5 * v[..., None] / height)
    rgb = (alpha[..., None] * fg + (1 - alpha[..., None]) * bg) * 255
    focal = 60.0
    meta = {
        "framing": FRAMINGS[index % 3],
        "K": [[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]],
        "cam_to_world": np.eye(4).tolist(),
    }
    maps = {"rgb": np.round(rgb).astype(np.uint8), "alpha": alpha, "depth": depth, "normal": normal.astype(np.float32)}
    return RenderedSample(key=f"{index:06d}", maps=maps, meta=meta)


def tilted_card_sample(index: int, height: int = 64, width: int = 48, seed: int = 0) -> RenderedSample:
    """An elliptical card tilted towards a random direction: the silhouette says nothing about
    which side is nearer (the per-pixel mean over many cards is flat), the shading does.

    Depth is a plane through the card's centre, 0.25 to 0.5 m nearer on one side than the
    other; normals are that plane's; RGB shades them with the three coloured lights of
    `analytic_sample`, so the colour tells the tilt. Issue 18's regression set.
    """
    rng = np.random.default_rng([seed, index, 18])
    cx, cy = width / 2 + rng.uniform(-3, 3), height / 2 + rng.uniform(-3, 3)
    ax, ay = rng.uniform(0.3, 0.42) * width, rng.uniform(0.3, 0.42) * height
    v, u = np.mgrid[0:height, 0:width] + 0.5
    r = np.sqrt(((u - cx) / ax) ** 2 + ((v - cy) / ay) ** 2)
    alpha = np.clip((1 - r) * min(ax, ay) / 1.5 + 0.5, 0, 1).astype(np.float32)
    inside = r < 1
    angle, spread = rng.uniform(0, 2 * np.pi), rng.uniform(0.25, 0.5)  # metres across the card
    focal, distance = 60.0, rng.uniform(1.5, 2.5)
    # Slope of depth per pixel along x (right) and y (down): dz/du, dz/dv.
    du, dv = spread * np.cos(angle) / (2 * ax), spread * np.sin(angle) / (2 * ay)
    depth = np.where(inside, distance + du * (u - cx) + dv * (v - cy), 0).astype(np.float32)
    # Camera frame x right, y up, z towards the camera: the plane z_cam = -depth has normal
    # (dz/dx, dz/dy, 1) with dz/dx = du * focal / distance, dz/dy = -dv * focal / distance.
    n = np.array([du * focal / distance, -dv * focal / distance, 1.0])
    normal = np.where(inside[..., None], n / np.linalg.norm(n), 0).astype(np.float32)
    albedo = rng.uniform(0.6, 0.9)
    fg = albedo * (0.1 + 0.9 * (normal + 1) / 2)
    bg = rng.uniform(0, 1, 3) * (0.5 + 0.5 * v[..., None] / height)
    rgb = (alpha[..., None] * fg + (1 - alpha[..., None]) * bg) * 255
    meta = {"framing": FRAMINGS[index % 3], "K": [[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]],
            "cam_to_world": np.eye(4).tolist()}
    maps = {"rgb": np.round(rgb).astype(np.uint8), "alpha": alpha, "depth": depth, "normal": normal}
    return RenderedSample(key=f"{index:06d}", maps=maps, meta=meta)


def make_dataset(
    root: Path, count: int = 8, per_shard: int = 4, height: int = 64, width: int = 48, seed: int = 0,
    sample: Callable[..., RenderedSample] = analytic_sample,
) -> Path:
    """Write `count` samples into `root/shards/shard-*.tar` (+ index files); returns `root`."""
    for shard_id, start in enumerate(range(0, count, per_shard)):
        writer = ShardWriter(Path(root) / "shards", shard_id)
        for index in range(start, min(start + per_shard, count)):
            writer.add(encode_sample(sample(index, height, width, seed)))
        writer.commit([], {})
    return Path(root)
