"""The groom of one sample on its posed body: strands, their GT normals and grey strands.

Pure numpy (no bpy): the Blender side (``render/hair.py``) only writes what this returns,
and tests check the same arrays without Blender. Each strand family gets its own proxy
surface (paper A.1: head hair, brows, lashes and beard each wrapped on their own), so a
beard's normals never bend towards the scalp's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from synthhuman.geometry import normalize_or_zero
from synthhuman.hair import HairSpec
from synthhuman.hair_proxy import ProxySettings, build_proxy, proxy_normals
from synthhuman.hair_strands import HeadAtlas, grow_grooms, head_frame
from synthhuman.sample import Strands

# Each strand point looks its proxy normal up this many voxels out along its root's skin normal.
# Without it, points low in a thin layer (beard, brows) fall nearest to a cap or clump edge of
# the outer shell (the shell under them faces the skin and is dropped): measured on a beard,
# 29% of points took normals facing into the skin and consecutive points along a strand
# differed by 34 deg; 2 voxels (6 mm at 3 mm voxels) bring that to 0.8% and 11 deg, brows from
# 7% and 26 deg to 0% and 9 deg, head hair 2.7% -> 1.2%.
LOOKUP_OFFSET_VOXELS = 2.0
GREY_STREAM = 7  # child of SeedSequence(strand_seed) that picks white strands (grow_grooms uses 0..4)
BODY_NEAR_M = 0.05  # body vertices within this of a family's strands decide its proxy's inner side


@dataclass
class Groom:
    strands: dict[str, Strands]  # family -> strands (world frame)
    normals: dict[str, np.ndarray]  # family -> (S, P, 3) float32 GT normal per point (world)
    grey: dict[str, np.ndarray]  # family -> (S,) float32, 1 for an unpigmented strand
    head_centre: np.ndarray = field(default_factory=lambda: np.zeros(3))  # posed head frame's origin (world)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(s.count for s in self.strands.values())

    def points(self) -> np.ndarray:
        """Every strand point of every family, (K, 3) world."""
        parts = [s.points.reshape(-1, 3) for s in self.strands.values()]
        return np.concatenate(parts) if parts else np.zeros((0, 3), np.float32)


NO_GROOM = Groom({}, {}, {})


def make_groom(spec: HairSpec, atlas: HeadAtlas, vertices: np.ndarray, vertex_normals: np.ndarray,
               proxy: bool = True) -> Groom:
    """Grow every family of ``spec`` on the posed body; ``proxy=False`` skips the proxy surfaces
    (``--hair-normals strand``: the renderer then uses the curves' own normals)."""
    if not spec.grooms():
        return NO_GROOM
    t0 = time.perf_counter()
    frame = head_frame(atlas, vertices)
    families = grow_grooms(spec, atlas, vertices, vertex_normals, frame)
    t1 = time.perf_counter()
    settings = ProxySettings(voxel_m=spec.proxy_voxel_m, blur_voxels=spec.proxy_blur_voxels)
    normals = {}
    for name, strands in families.items():
        flat = strands.points.reshape(-1, 3).astype(np.float64)
        if proxy:
            near = _near_body(flat, vertices)
            surface = build_proxy(flat, settings, vertices[near], vertex_normals[near])
            if surface is None:
                n = _skin_normals(flat, vertices[near], vertex_normals[near])
            else:
                out = _skin_normals(strands.points[:, 0].astype(np.float64), vertices[near], vertex_normals[near])
                lookup = strands.points + (LOOKUP_OFFSET_VOXELS * settings.voxel_m) * out[:, None, :]
                n = proxy_normals(lookup.reshape(-1, 3).astype(np.float64), surface)
        else:
            n = np.zeros_like(flat, np.float32)
        normals[name] = n.reshape(strands.points.shape).astype(np.float32)
    t2 = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence(spec.strand_seed).spawn(GREY_STREAM + 1)[GREY_STREAM])
    grey = {name: (rng.random(s.count) < spec.color.grey).astype(np.float32) for name, s in families.items()}
    return Groom(families, normals, grey, frame.origin, {"grow_s": t1 - t0, "proxy_s": t2 - t1})


def _skin_normals(points: np.ndarray, vertices: np.ndarray, vertex_normals: np.ndarray) -> np.ndarray:
    """Fallback for a family too sparse for a proxy (a few stray strands): the skin's normal below."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(vertices).query(points)
    return normalize_or_zero(vertex_normals[idx]).astype(np.float32)


def _near_body(points: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Body vertices inside the strands' bounding box grown by BODY_NEAR_M."""
    lo, hi = points.min(axis=0) - BODY_NEAR_M, points.max(axis=0) + BODY_NEAR_M
    return np.all((vertices >= lo) & (vertices <= hi), axis=1)
