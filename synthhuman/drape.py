"""Loose garments that hang: a skirt draped on the posed body by a small cloth simulation.

Pure numpy/scipy. Shell garments (``synthhuman.garments``) follow the skin; a skirt must not:
it hangs from the waistband under gravity and rests on the hips, thighs and buttocks of *this*
pose (a stride opens it, a seated pose spreads it). WARDROBE_NOTES drapes offline with
Blender's cloth and binds the result to the body; here the drape itself runs per sample on the
posed body (position-based dynamics, as Blender's cloth solver and most game cloth do: predict
under gravity, then project stretch, shear and bending constraints and body collisions), which
needs no binding approximation and costs well under a second on a coarse grid that is
Loop-subdivided for rendering.

The cloth is a tube of ``COLUMNS`` x ``rows`` particles: the top row is pinned to a ring of body
vertices at the waistband (bound to the skin like a shell garment's edge), the rest start on an
A-line cone below it and fall.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

COLUMNS = 48
ROW_SPACING_M = 0.03
THICKNESS_M = 0.006  # the render mesh keeps this far outside the skin
SIM_THICKNESS_M = 0.012  # the coarse particles keep more: the surface between them (and its Loop smoothing) sags in
GRAVITY = np.array([0.0, 0.0, -9.81])
STEPS = 90
ITERATIONS = 4  # constraint projections per step
DT = 1.0 / 60.0
DAMPING = 0.9


@dataclass
class DrapedSkirt:
    """A skirt's cloth grid, waist ring and rest cone; ``fit`` drapes it on a posed body."""

    name: str
    ring_ids: np.ndarray  # (COLUMNS,) body vertices the waistband is pinned to, in angular order
    ring_gap_m: float
    rows: int
    flare: float  # radius growth per metre of drop (A-line)
    collider_ids: np.ndarray  # body vertices the cloth collides with (hips, legs)
    ring_height_m: float = 1.0  # waistband above the soles on the template: lengths scale with the body
    rest: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))  # texture space, per render vertex
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int32))  # of the subdivided render mesh
    grid_faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))  # of the particle grid
    # all False (per body vertex): a skirt hangs free, so no skin point has to lie behind it as
    # under a shell; the poke-through check skips it and test_skirts_enclose_* measures it instead
    covered: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def fit(self, body_vertices: np.ndarray, body_normals: np.ndarray) -> np.ndarray:
        """(V, 3) the render mesh's vertices of the skirt draped on this posed body (world)."""
        x = drape(self, body_vertices, body_normals)
        vertices, _ = _loop_subdivide(x, self.grid_faces)
        collider, normals = body_vertices[self.collider_ids], body_normals[self.collider_ids]
        return _collide(vertices, cKDTree(collider), collider, normals, THICKNESS_M, rounds=3)


def _tube_index(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, COLUMNS) particle ids of the tube, and each one's neighbour around the ring."""
    idx = np.arange(rows * COLUMNS).reshape(rows, COLUMNS)
    return idx, np.roll(idx, -1, axis=1)


def tube_faces(rows: int) -> np.ndarray:
    """Two triangles per grid cell, outward-facing for a counter-clockwise ring (seen from above)."""
    idx, around = _tube_index(rows)
    a, b, cc, d = idx[:-1], around[:-1], around[1:], idx[1:]
    return np.stack([np.stack([a, d, cc], -1), np.stack([a, cc, b], -1)], 2).reshape(-1, 3).astype(np.int64)


def a_line(base: np.ndarray, directions: np.ndarray, flare: float, drop: np.ndarray) -> np.ndarray:
    """(len(drop) * COLUMNS, 3) rows of an A-line cone: row k is ``base`` lowered by ``drop[k]``
    and moved out along the horizontal unit ``directions`` by ``flare * drop[k]``."""
    return np.concatenate([base + directions * (flare * d) + np.array([0.0, 0.0, -d]) for d in drop])


def _column(xy: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Which of the COLUMNS angular sectors around ``centre`` each point (..., >=2) falls in."""
    angle = np.arctan2(xy[..., 1] - centre[1], xy[..., 0] - centre[0])
    return np.floor((angle + np.pi) / (2 * np.pi) * COLUMNS).astype(int) % COLUMNS


def waist_ring(template: np.ndarray, candidates: np.ndarray, waist_z: float, count: int = COLUMNS) -> np.ndarray:
    """``count`` body vertex ids around the torso at ``waist_z``, counter-clockwise from above:
    in each angular sector the outermost candidate within 2 cm of the height."""
    ids = candidates[np.abs(template[candidates, 2] - waist_z) < 0.02]
    centre = template[ids, :2].mean(axis=0)
    d = template[ids, :2] - centre
    angle = np.arctan2(d[:, 1], d[:, 0])
    radius = np.linalg.norm(d, axis=1)
    ring = []
    for k in range(count):
        target = -np.pi + 2 * np.pi * (k + 0.5) / count
        off = np.abs(np.angle(np.exp(1j * (angle - target))))
        sector = off < np.pi / count * 1.5
        pool = np.flatnonzero(sector) if sector.any() else np.argsort(off)[:3]
        ring.append(ids[pool[np.argmax(radius[pool])]])
    return np.asarray(ring)


def drape(skirt: DrapedSkirt, body: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(rows * COLUMNS, 3) cloth particle positions after ``STEPS`` steps of position-based dynamics."""
    c, rows = COLUMNS, skirt.rows
    top = body[skirt.ring_ids] + normals[skirt.ring_ids] * (skirt.ring_gap_m + 0.004)  # chords between ring points dip in
    centre = top.mean(axis=0)
    radial = top - centre
    radial[:, 2] = 0.0
    r0 = np.linalg.norm(radial, axis=1)
    unit = radial / np.maximum(r0, 1e-6)[:, None]
    ground = float(body[:, 2].min())
    size = (float(top[:, 2].mean()) - ground) / skirt.ring_height_m  # a child's skirt is a child's length
    drop = ROW_SPACING_M * size * np.arange(rows)
    x = _start_outside(a_line(top, unit, skirt.flare, drop), centre, body[skirt.collider_ids], rows)
    # rest lengths from the A-line cone: the cloth is cut to this shape
    cone = a_line(unit * r0[:, None], unit, skirt.flare, drop)
    idx, around = _tube_index(rows)
    pairs = [np.stack([idx.ravel(), around.ravel()], 1),  # around
             np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1),  # down
             np.stack([idx[:-1].ravel(), around[1:].ravel()], 1),  # shear
             np.stack([idx[:-2].ravel(), idx[2:].ravel()], 1)]  # bending (skip one)
    edges = np.concatenate(pairs)
    rest = np.linalg.norm(cone[edges[:, 0]] - cone[edges[:, 1]], axis=1)
    pinned = np.zeros(rows * c, bool)
    pinned[:c] = True
    collider = body[skirt.collider_ids]
    collider_n = normals[skirt.collider_ids]
    tree = cKDTree(collider)
    # tethers (long-range attachments, as game cloth uses): no particle gets further from its
    # column's waistband point than the cloth between them is long, so the skirt cannot stretch
    tethers = np.tile(np.arange(c), rows)
    reach = np.repeat(drop, c) * np.sqrt(1.0 + skirt.flare**2) * 1.02
    v = np.zeros_like(x)
    counts = np.bincount(edges.ravel(), minlength=len(x)).astype(float)[:, None]
    for _ in range(STEPS):
        p = x + v * DT + GRAVITY * DT**2
        p[pinned] = x[pinned]
        for _ in range(ITERATIONS):
            d = p[edges[:, 1]] - p[edges[:, 0]]
            length = np.linalg.norm(d, axis=1)
            corr = (d * ((length - rest) / np.maximum(length, 1e-9))[:, None]) * 0.5
            delta = np.zeros_like(p)
            np.add.at(delta, edges[:, 0], corr)
            np.add.at(delta, edges[:, 1], -corr)
            p += delta / np.maximum(counts, 1.0) * 1.6  # averaged Jacobi with over-relaxation
            p[pinned] = x[pinned]
            p = _tether(p, tethers, reach)
            p[:, 2] = np.maximum(p[:, 2], ground + SIM_THICKNESS_M)  # the floor
            p = _collide(p, tree, collider, collider_n, SIM_THICKNESS_M)
        v = (p - x) / DT * DAMPING
        x = p
    return _collide(x, tree, collider, collider_n, SIM_THICKNESS_M, rounds=3)


def _tether(p: np.ndarray, anchors: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Pull each particle back to within ``reach`` of its anchor particle (the pinned top row)."""
    d = p - p[anchors]
    length = np.linalg.norm(d, axis=1)
    over = length > reach
    p = p.copy()
    p[over] = p[anchors[over]] + d[over] * (reach[over] / length[over])[:, None]
    return p


def _start_outside(x: np.ndarray, centre: np.ndarray, collider: np.ndarray, rows: int, margin: float = 0.02) -> np.ndarray:
    """Widen the starting cone wherever the body reaches further out (a leg stepping forward or
    sideways): cloth that starts inside a leg would be pushed to the wrong side of it. Gravity and
    the cloth's own lengths then bring it back in onto the body."""
    c = COLUMNS
    grid = x.reshape(rows, c, 3)
    radius = np.hypot(collider[:, 0] - centre[0], collider[:, 1] - centre[1])
    column = _column(collider, centre)
    reach = np.zeros((rows, c))
    row_z = grid[:, :, 2].mean(axis=1)
    for k in range(rows):
        band = np.abs(collider[:, 2] - row_z[k]) < ROW_SPACING_M
        for shift in (-1, 0, 1):  # a sector and its neighbours
            np.maximum.at(reach[k], (column[band] + shift) % c, radius[band])
    cell_col = _column(grid, centre)
    cell_r = np.hypot(grid[..., 0] - centre[0], grid[..., 1] - centre[1])
    need = reach[np.arange(rows)[:, None], cell_col] + margin
    scale = np.where(need > cell_r, need / np.maximum(cell_r, 1e-6), 1.0)
    scale[0] = 1.0  # the waistband stays pinned where it is
    out = grid.copy()
    out[..., 0] = centre[0] + (grid[..., 0] - centre[0]) * scale
    out[..., 1] = centre[1] + (grid[..., 1] - centre[1]) * scale
    return out.reshape(-1, 3)


def _collide(p: np.ndarray, tree: cKDTree, collider: np.ndarray, normals: np.ndarray, thickness: float,
             rounds: int = 1) -> np.ndarray:
    """Push points out along the normal of the nearest body vertex to ``thickness`` off the skin."""
    for _ in range(rounds):
        _, nearest = tree.query(p)
        depth = ((p - collider[nearest]) * normals[nearest]).sum(axis=1)
        inside = depth < thickness
        p = p.copy()
        p[inside] += normals[nearest[inside]] * (thickness - depth[inside])[:, None]
    return p


def _loop_subdivide(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    v, f = trimesh.remesh.subdivide_loop(vertices, faces, iterations=1)
    return np.asarray(v), np.asarray(f)


def build_skirt(spec, atlas, waist_z: float, hem_drop_m: float) -> DrapedSkirt:
    """A ``synthhuman.outfit.GarmentSpec`` of kind skirt on a ``garments.BodyAtlas``."""
    torso = (atlas.arm_share < 0.5) & (atlas.head_share < 0.5) & (atlas.leg_share < 0.5)
    ring = waist_ring(atlas.template, np.flatnonzero(torso), waist_z)
    rows = max(3, round(hem_drop_m / ROW_SPACING_M) + 1)
    legs = np.flatnonzero((atlas.template[:, 2] < waist_z + 0.02) & (atlas.arm_share < 0.5))
    skirt = DrapedSkirt(name="bottom", ring_ids=ring, ring_gap_m=spec.gap_m, rows=rows, flare=spec.flare,
                        collider_ids=legs, ring_height_m=waist_z - float(atlas.template[:, 2].min()),
                        grid_faces=tube_faces(rows))
    angle = 2 * np.pi * np.arange(COLUMNS) / COLUMNS
    around = np.stack([np.cos(angle), np.sin(angle), np.zeros(COLUMNS)], 1)
    rest, faces = _loop_subdivide(a_line(around * 0.15, around, spec.flare, ROW_SPACING_M * np.arange(rows)),
                                  skirt.grid_faces)
    skirt.rest, skirt.faces = rest.astype(np.float32), faces.astype(np.int32)
    skirt.covered = np.zeros(len(atlas.template), bool)
    return skirt
