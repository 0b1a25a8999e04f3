"""Proxy normals of hair: the normals of a smooth surface wrapped around the strands (DAViD A.1).

Why: a strand is ~0.1 mm thick, far below a pixel, so its own surface normal (or any normal
perpendicular to its tangent) flips from strand to strand and is noise at pixel scale; a
network cannot learn it and a user does not want it. As in the DAViD paper (appendix A.1),
hair pixels instead take the normal of a proxy surface around the groom:

1. voxelise the strand points into a binary occupancy grid (``voxel_m``), padded so the blur
   and the iso-surface stay inside it;
2. blur it with ``scipy.ndimage.gaussian_filter`` (sigma ``blur_voxels``);
3. extract the iso-surface with ``skimage.measure.marching_cubes``. Its normals are the
   negative gradient of the field, i.e. they point towards lower density, out of the hair
   (checked numerically on skimage 0.26; ``gradient_direction`` only changes the faces'
   winding there, not the normals), so they are used as they come, never flipped;
4. drop the inner shell: the side of a hair layer facing the skin is hidden under it, and its
   normals point into the body (a proxy vertex is inner when its normal is against the outward
   normal of the nearest body point);
5. give every voxel of the grid its nearest outer proxy vertex with
   ``scipy.ndimage.distance_transform_edt(..., return_indices=True)``, so a strand point's
   normal is one array lookup (a KD-tree query is 5.6 s at ~1M points, this 0.65 s at 3 mm).

Iso level (``ProxySettings.iso``): a fraction of the peak that a fully occupied sheet *one
voxel thick* reaches after the blur (the 1D kernel's centre weight, ~0.40 at sigma 1). So any
layer at least one voxel thick, the thinnest a layer can be on the grid (2-4 mm brows and
lash fans at 2-3 mm voxels), gets a closed surface at ``iso < 1``, and a thick layer (head hair,
several cm) one around its outside: at ``iso = 0.5`` (level ~0.2) the surface sits ~0.84 sigma
+ half a voxel outside a thick layer's edge (4 mm at 3 mm voxels), a smooth envelope rather
than a tight fit. Why not the peak of a lone voxel (~0.064), which would wrap every stray
point too: at that low level the field is a union of per-voxel balls and the surface shows
their bumps (p95 vertex-normal error 18 degrees on a 3 mm sphere shell, against 11 here); a lone
strand (a filament peaks at ~0.16) leaves no surface of its own and takes the nearest layer's
normal instead.

Cost (2 CPU cores, 40,000 strands x 16 points on a 0.10-0.12 m shell, 20,000 body points):
build 0.21-0.23 s + lookup 0.04-0.05 s at 3 mm (93^3 grid, 52K vertices), 0.47-0.56 s + 0.05 s
at 2 mm (133^3, 117K vertices). The grid stages scale with the groom's padded bounding box, not
with its point count: a long groom's box is several times larger. Memory: ~30 bytes per voxel
at the peak of the build (float32 fields, the distance transform's int32 indices), 4 bytes per
voxel kept (the Proxy's int32 lookup grid). With the defaults the normals'
p95 error on that shell is ~12 degrees at 3 mm and ~21 at 2 mm (the surface's own voxel-scale
roughness; 1.5 voxels of blur bring them to 8 and 12): the blur is the smoothness knob.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage import measure

from synthhuman.geometry import normalize_or_zero as _unit

TRUNCATE = 4.0  # gaussian_filter's kernel radius, in sigmas (scipy's default, stated once here)


@dataclass(frozen=True)
class ProxySettings:
    """How the proxy surface is built; the same settings give the same normals bit for bit."""

    voxel_m: float = 0.003  # edge of one voxel, metres (HAIR_NOTES: 2-4 mm; normals move 7-21 deg)
    blur_voxels: float = 1.5  # Gaussian sigma in voxels; 0 keeps the blocky occupancy
    iso: float = 0.5  # level as a fraction of a full one-voxel-thick sheet's blurred peak, in (0, 1)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.voxel_m) and self.voxel_m > 0):
            raise ValueError(f"voxel_m must be a finite length > 0 m, got {self.voxel_m!r}")
        if not (math.isfinite(self.blur_voxels) and self.blur_voxels >= 0):
            raise ValueError(f"blur_voxels must be finite and >= 0, got {self.blur_voxels!r}")
        if not (0.0 < self.iso < 1.0):
            raise ValueError(f"iso must lie in (0, 1) so a one-voxel sheet stays closed, got {self.iso!r}")


@dataclass
class Proxy:
    """The proxy surface of one groom and the voxel lookup that maps points onto it."""

    vertices: np.ndarray  # (V, 3) float64, world metres
    normals: np.ndarray  # (V, 3) float64 unit, pointing out of the hair volume
    faces: np.ndarray  # (F, 3) int32 indices into vertices
    outer: np.ndarray  # (V,) bool: True on the outer shell (the side away from the skin)
    grid_origin: np.ndarray  # (3,) float64, world position of voxel (0, 0, 0)'s centre
    voxel_m: float  # voxel edge, metres
    nearest_vertex: np.ndarray  # (X, Y, Z) int32: per voxel, the index of its nearest outer vertex


def build_proxy(points: np.ndarray, settings: ProxySettings, body_points: np.ndarray | None = None,
                body_normals: np.ndarray | None = None) -> Proxy | None:
    """The proxy surface around ``points`` (strand points, world metres); None when there are no
    points or they are too sparse to form a layer at this voxel size and blur.

    ``body_points`` / ``body_normals`` (outward, any length) mark which side faces the skin;
    without them every vertex counts as outer (a groom floating free, e.g. in tests).
    """
    points = _as_points(points, "points")
    if (body_points is None) != (body_normals is None):
        raise ValueError("body_points and body_normals must be given together")
    if len(points) == 0:
        return None
    field, origin = _blurred_occupancy(points, settings)
    level = settings.iso * _sheet_peak(settings.blur_voxels)
    if field.max() <= level:
        return None  # points too sparse to make a layer (a few stray strands): no surface to take normals from
    verts_idx, faces, normals, _ = measure.marching_cubes(field, level=level)
    vertices = origin + verts_idx.astype(np.float64) * settings.voxel_m
    normals = _unit(normals.astype(np.float64))
    outer = _outer_mask(vertices, normals, body_points, body_normals)
    if not outer.any():
        raise ValueError("no outer proxy vertex: every proxy normal points against body_normals "
                         "(are body_normals pointing into the body?)")
    nearest = _nearest_outer_grid(verts_idx, outer, field.shape)
    return Proxy(vertices=vertices, normals=normals, faces=faces.astype(np.int32), outer=outer,
                 grid_origin=origin, voxel_m=settings.voxel_m, nearest_vertex=nearest)


def proxy_normals(points: np.ndarray, proxy: Proxy) -> np.ndarray:
    """(N, 3) float32 unit normals: each point takes its nearest outer proxy vertex's normal.

    "Nearest" is resolved per voxel (the point's voxel, then that voxel's nearest outer vertex),
    which is exact to within a voxel and a single gather. Points outside the grid clamp to its
    border voxel, so stray points still get the normal of the closest part of the surface side.
    """
    points = _as_points(points, "points")
    index = _voxel_index(points, proxy.grid_origin, proxy.voxel_m)
    index = np.clip(index, 0, np.array(proxy.nearest_vertex.shape) - 1)
    vertex = proxy.nearest_vertex[index[:, 0], index[:, 1], index[:, 2]]
    return _unit(proxy.normals[vertex].astype(np.float32))


# --------------------------------------------------------------------------- stages


def _blurred_occupancy(points: np.ndarray, settings: ProxySettings) -> tuple[np.ndarray, np.ndarray]:
    """Binary occupancy of the points, blurred; and the world position of voxel (0, 0, 0).

    Binary, not counts: strand density varies by orders of magnitude over a groom (roots,
    clumps, lashes), and a count grid would tie the surface's place to it; occupancy ties it to
    geometry only, which is what makes ``iso`` mean the same thing for brows and head hair.
    The padding holds the whole blur kernel plus one empty voxel, so the surface closes.
    """
    pad = math.ceil(TRUNCATE * settings.blur_voxels) + 2
    origin = points.min(axis=0) - pad * settings.voxel_m
    index = _voxel_index(points, origin, settings.voxel_m)
    shape = tuple(int(n) for n in index.max(axis=0) + pad + 1)
    occupancy = np.zeros(shape, dtype=np.float32)
    occupancy[index[:, 0], index[:, 1], index[:, 2]] = 1.0
    if settings.blur_voxels == 0:
        return occupancy, origin
    field = ndimage.gaussian_filter(occupancy, sigma=settings.blur_voxels, mode="constant", truncate=TRUNCATE)
    return field, origin


def _sheet_peak(blur_voxels: float) -> float:
    """The blurred value in the middle of a fully occupied sheet one voxel thick: ``iso``'s unit.

    A sheet infinite in two axes blurs to the 1D kernel's centre weight (~0.399 at sigma 1);
    it is computed by blurring such a sheet with the very filter the field gets, so the level
    matches the field exactly.
    """
    radius = math.ceil(TRUNCATE * blur_voxels)
    sheet = np.zeros((2 * radius + 1, 1, 1))
    sheet[radius] = 1.0
    blurred = ndimage.gaussian_filter(sheet, sigma=blur_voxels, mode="nearest", truncate=TRUNCATE)
    return float(blurred[radius, 0, 0])


def _outer_mask(vertices: np.ndarray, normals: np.ndarray, body_points: np.ndarray | None,
                body_normals: np.ndarray | None) -> np.ndarray:
    """True where a proxy vertex faces away from the skin (dot with the nearest body normal >= 0).

    The inner shell lies between hair and skin, inside or under the body, so it is never seen;
    were it kept, strand points near the scalp would take its inward normals.
    """
    if body_points is None and body_normals is None:
        return np.ones(len(vertices), dtype=bool)
    if body_points is None or body_normals is None:
        raise ValueError("body_points and body_normals must be given together")
    body_points = _as_points(body_points, "body_points")
    body_normals = _as_points(body_normals, "body_normals")
    if len(body_points) != len(body_normals) or len(body_points) == 0:
        raise ValueError(f"body_points ({len(body_points)}) and body_normals ({len(body_normals)}) "
                         "must be non-empty and of equal length")
    _, nearest = cKDTree(body_points).query(vertices)
    return np.einsum("ij,ij->i", normals, body_normals[nearest]) >= 0


def _nearest_outer_grid(verts_idx: np.ndarray, outer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Per voxel, the index of the nearest outer proxy vertex (to within a voxel).

    Voxels holding outer vertices are the seeds; each seed voxel keeps the outer vertex closest
    to its centre (ties to the lowest index, so the result is deterministic), and the exact
    Euclidean distance transform hands every other voxel the index of its nearest seed voxel.
    """
    outer_ids = np.flatnonzero(outer)
    cell = np.rint(verts_idx[outer_ids]).astype(np.int64)
    flat = np.ravel_multi_index(cell.T, shape)
    offset = np.linalg.norm(verts_idx[outer_ids] - cell, axis=1)
    order = np.lexsort((outer_ids, offset, flat))
    seed_flat, first = np.unique(flat[order], return_index=True)
    seed_vertex = np.full(int(np.prod(shape)), -1, dtype=np.int32)
    seed_vertex[seed_flat] = outer_ids[order[first]]
    seed_vertex = seed_vertex.reshape(shape)
    nearest_seed = ndimage.distance_transform_edt(seed_vertex < 0, return_distances=False, return_indices=True)
    return seed_vertex[tuple(nearest_seed)]


# --------------------------------------------------------------------------- helpers


def _voxel_index(points: np.ndarray, origin: np.ndarray, voxel_m: float) -> np.ndarray:
    """(N, 3) int64 index of the voxel whose centre is nearest each point."""
    return np.rint((points - origin) / voxel_m).astype(np.int64)


def _as_points(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` as finite (N, 3) float64, or a ValueError naming the argument."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds non-finite values")
    return array
