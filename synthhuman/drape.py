"""Loose garments that hang: skirts and the body of shirts and hoodies, draped on the posed body.

Pure numpy/scipy. Shell garments (``synthhuman.garments``) follow the skin; loose cloth must not:
it hangs from a ring (a skirt's waistband, a shirt's chest below the armpits) under gravity and
rests on the hips, thighs, bust or belly of *this* body and pose (a stride opens a skirt, a belly
pushes a shirt out). The cloth is a tube of ``COLUMNS`` x ``rows`` particles cut as an A-line cone;
it starts on that cone, moved out to the convex hull of the body at each row's height, and gets
``STEPS`` steps of position-based dynamics (predict under gravity, project stretch, shear and
bending constraints, tethers and body collisions), as Blender's cloth solver and most game cloth
do, on a coarse grid that is Loop-subdivided for rendering.

This is a short settle, not a full drape: 24 steps cost 0.08-0.19 s per sample. WARDROBE_NOTES'
alternative, baking the drape once on the rest template and binding it to the ring per sample,
was built and measured on the skirt tests: it saves no time worth having (the bound drape still
needs the same settle on a posed body) and left 2.0% of the skin under skirts outside the cloth,
against 0.8% from the cone, because cloth that has fully fallen sags into the legs of a new pose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

COLUMNS = 48
ROW_SPACING_M = 0.03
THICKNESS_M = 0.006  # the render mesh keeps this far outside the skin
SIM_THICKNESS_M = 0.012  # the coarse particles keep more: the surface between them (and its Loop smoothing) sags in
GRAVITY = np.array([0.0, 0.0, -9.81])
STEPS = 24  # more lets long skirts sag into the legs of wide stances (90 steps: 1.7% of their skin outside, 24: 0.8%)
ITERATIONS = 3  # constraint projections per step
DT = 1.0 / 60.0
DAMPING = 0.9


@dataclass
class HangingGarment:
    """A loose garment's cloth grid, ring and colliders; ``fit`` drapes it on a posed body."""

    name: str
    ring_ids: np.ndarray  # (COLUMNS,) body vertices the top row is pinned to, in angular order
    ring_gap_m: float  # how far off the skin the top row is pinned
    rows: int
    flare: float  # radius growth per metre of drop (A-line)
    collider_ids: np.ndarray  # body vertices the cloth collides with
    clearance: np.ndarray  # (len(collider_ids),) how far off each of them the particles stay
    widen: np.ndarray  # (len(collider_ids),) bool: colliders the cloth must start outside of (not arms)
    ring_height_m: float = 1.0  # ring above the soles on the template: lengths scale with the body
    rest: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))  # texture space, per render vertex
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int32))  # of the subdivided render mesh
    grid_faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))  # of the particle grid
    # all False (per body vertex): loose cloth hangs free, so no skin point has to lie behind it as
    # under a shell; the poke-through check skips it and test_*_enclose_* measure it instead
    covered: np.ndarray | None = None

    def fit(self, body_vertices: np.ndarray, body_normals: np.ndarray) -> np.ndarray:
        """(V, 3) the render mesh's vertices of the garment draped on this posed body (world)."""
        x = drape(self, body_vertices, body_normals)
        vertices, _ = _loop_subdivide(x, self.grid_faces)
        collider, normals = body_vertices[self.collider_ids], body_normals[self.collider_ids]
        render_clearance = self.clearance - (SIM_THICKNESS_M - THICKNESS_M)
        return _collide(vertices, cKDTree(collider), collider, normals, render_clearance, rounds=3)


@dataclass(frozen=True)
class RingFrame:
    """The pinned top row on a body and each column's radial direction."""

    top: np.ndarray  # (COLUMNS, 3)
    centre: np.ndarray  # (3,)
    radius: np.ndarray  # (COLUMNS,) horizontal distance of each ring point from the centre
    radial: np.ndarray  # (COLUMNS, 3) horizontal unit vectors out from the centre
    size: float  # ring height above the soles / the template's: a child's skirt is a child's length
    ground: float


def ring_frame(g: HangingGarment, body: np.ndarray, normals: np.ndarray) -> RingFrame:
    top = body[g.ring_ids] + normals[g.ring_ids] * (g.ring_gap_m + 0.004)  # chords between ring points dip in
    centre = top.mean(axis=0)
    radial = top - centre
    radial[:, 2] = 0.0
    r0 = np.linalg.norm(radial, axis=1)
    unit = radial / np.maximum(r0, 1e-6)[:, None]
    ground = float(body[:, 2].min())
    size = (float(top[:, 2].mean()) - ground) / g.ring_height_m
    return RingFrame(top, centre, r0, unit, size, ground)


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


def _drop(frame: RingFrame, rows: int) -> np.ndarray:
    return ROW_SPACING_M * frame.size * np.arange(rows)


def simulate(g: HangingGarment, frame: RingFrame, x: np.ndarray, body: np.ndarray, normals: np.ndarray,
             clearance: np.ndarray) -> np.ndarray:
    """(rows * COLUMNS, 3) particles after ``STEPS`` steps of position-based dynamics from ``x``,
    the top row pinned to ``frame.top``, each particle kept ``clearance`` off its nearest collider."""
    c, rows = COLUMNS, len(x) // COLUMNS
    drop = _drop(frame, rows)
    # rest lengths from the A-line cone: the cloth is cut to this shape
    cone = a_line(frame.radial * frame.radius[:, None], frame.radial, g.flare, drop)
    idx, around = _tube_index(rows)
    pairs = [np.stack([idx.ravel(), around.ravel()], 1),  # around
             np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1),  # down
             np.stack([idx[:-1].ravel(), around[1:].ravel()], 1),  # shear
             np.stack([idx[:-2].ravel(), idx[2:].ravel()], 1)]  # bending (skip one)
    edges = np.concatenate(pairs)
    rest = np.linalg.norm(cone[edges[:, 0]] - cone[edges[:, 1]], axis=1)
    collider, collider_n = body[g.collider_ids], normals[g.collider_ids]
    tree = cKDTree(collider)
    # tethers (long-range attachments, as game cloth uses): no particle gets further from its
    # column's ring point than the cloth between them is long, so the garment cannot stretch
    tethers = np.tile(np.arange(c), rows)
    reach = np.repeat(drop, c) * math.sqrt(1.0 + g.flare**2) * 1.02
    counts = np.maximum(np.bincount(edges.ravel(), minlength=len(x)).astype(float), 1.0)[:, None]
    x = x.copy()
    x[:c] = frame.top
    v = np.zeros_like(x)
    for _ in range(STEPS):
        p = x + v * DT + GRAVITY * DT**2
        p[:c] = frame.top
        for _ in range(ITERATIONS):
            d = p[edges[:, 1]] - p[edges[:, 0]]
            length = np.linalg.norm(d, axis=1)
            corr = (d * ((length - rest) / np.maximum(length, 1e-9))[:, None]) * 0.5
            delta = _scatter(edges[:, 0], corr, len(p)) - _scatter(edges[:, 1], corr, len(p))
            p += delta / counts * 1.6  # averaged Jacobi with over-relaxation
            p[:c] = frame.top
            p = _tether(p, tethers, reach)
            p[:, 2] = np.maximum(p[:, 2], frame.ground + SIM_THICKNESS_M)  # the floor
            p = _collide(p, tree, collider, collider_n, clearance)
        v = (p - x) / DT * DAMPING
        x = p
    return _collide(x, tree, collider, collider_n, clearance, rounds=3)


def _scatter(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """(n, 3) sums of ``values`` rows by ``index`` (np.add.at, an order of magnitude faster)."""
    return np.stack([np.bincount(index, values[:, k], minlength=n) for k in range(3)], axis=1)


def drape(g: HangingGarment, body: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(rows * COLUMNS, 3) particles of the garment draped on this body from its cut's cone."""
    frame = ring_frame(g, body, normals)
    start = a_line(frame.top, frame.radial, g.flare, _drop(frame, g.rows))
    start = _start_outside(start, frame.centre, body[g.collider_ids[g.widen]], g.rows)
    return simulate(g, frame, start, body, normals, g.clearance)


def _tether(p: np.ndarray, anchors: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Pull each particle back to within ``reach`` of its anchor particle (the pinned top row)."""
    d = p - p[anchors]
    length = np.linalg.norm(d, axis=1)
    over = length > reach
    p = p.copy()
    p[over] = p[anchors[over]] + d[over] * (reach[over] / length[over])[:, None]
    return p


def _start_outside(x: np.ndarray, centre: np.ndarray, collider: np.ndarray, rows: int, margin: float = 0.02) -> np.ndarray:
    """Widen the starting cloth until it clears the body (a leg stepping forward or sideways):
    cloth that starts inside a leg would be pushed to the wrong side of it. Gravity and the
    cloth's own lengths then bring it back in onto the body.

    Each row is moved out to the convex hull of itself and the body at its height (``margin``
    beyond the body), as cloth pulled taut round two legs spans between them; and every row above
    one that clears a knee keeps outside the straight line from the ring to it, or its lengths
    would pull the cloth back into the leg."""
    from scipy.spatial import ConvexHull, QhullError

    grid = x.reshape(rows, COLUMNS, 3)
    rel = grid[..., :2] - centre[:2]
    cell_r = np.linalg.norm(rel, axis=-1)
    direction = rel / np.maximum(cell_r, 1e-9)[..., None]
    need = cell_r.copy()
    for k in range(1, rows):
        band = collider[np.abs(collider[:, 2] - grid[k, :, 2].mean()) < ROW_SPACING_M, :2] - centre[:2]
        if not len(band):
            continue
        band = band + margin * band / np.maximum(np.linalg.norm(band, axis=1), 1e-9)[:, None]
        try:
            hull = ConvexHull(np.concatenate([rel[k], band]))
        except QhullError:
            continue
        normal, offset = hull.equations[:, :2], -hull.equations[:, 2]  # normal . p <= offset inside
        facing = direction[k] @ normal.T  # (COLUMNS, F)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(facing > 1e-9, offset / facing, np.inf)
        need[k] = np.maximum(need[k], t.min(axis=1))
    r0 = need[0]
    k = np.arange(rows, dtype=float)[:, None, None]
    big_k = np.arange(rows, dtype=float)[None, :, None]
    line = r0 + (need[None] - r0) * k / np.maximum(big_k, 1.0)  # [k, K, column]
    need = np.where(big_k >= k, line, 0.0).max(axis=1)
    need[0] = cell_r[0]  # the top row stays pinned where it is
    out = grid.copy()
    out[..., :2] = centre[:2] + direction * np.maximum(need, cell_r)[..., None]
    return out.reshape(-1, 3)


def _collide(p: np.ndarray, tree: cKDTree, collider: np.ndarray, normals: np.ndarray, thickness: np.ndarray,
             rounds: int = 1) -> np.ndarray:
    """Push points out along the normal of the nearest body vertex to that vertex's ``thickness``
    off the skin."""
    for _ in range(rounds):
        _, nearest = tree.query(p)
        need = thickness[nearest] - ((p - collider[nearest]) * normals[nearest]).sum(axis=1)
        inside = need > 0
        p = p.copy()
        p[inside] += normals[nearest[inside]] * need[inside][:, None]
    return p


def _loop_subdivide(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    v, f = trimesh.remesh.subdivide_loop(vertices, faces, iterations=1)
    return np.asarray(v), np.asarray(f)


def hanging_garment(name: str, atlas, ring_z: float, drop_m: float, flare: float, ring_gap_m: float,
                    collider_ids: np.ndarray, clearance: np.ndarray, widen: np.ndarray) -> HangingGarment:
    """A loose garment pinned at ``ring_z`` round the torso of the template (a
    ``garments.BodyAtlas``), hanging ``drop_m`` with A-line ``flare``."""
    torso = (atlas.arm_share < 0.5) & (atlas.head_share < 0.5) & (atlas.leg_share < 0.5)
    ring = waist_ring(atlas.template, np.flatnonzero(torso), ring_z)
    rows = max(3, round(drop_m / ROW_SPACING_M) + 1)
    g = HangingGarment(name=name, ring_ids=ring, ring_gap_m=ring_gap_m, rows=rows, flare=flare,
                       collider_ids=collider_ids, clearance=clearance, widen=widen,
                       ring_height_m=ring_z - float(atlas.template[:, 2].min()), grid_faces=tube_faces(rows))
    # the fabric's texture space: the cut's cone round the template's ring, where shells have theirs
    frame = ring_frame(g, atlas.template, atlas.template_normals)
    rest, faces = _loop_subdivide(a_line(frame.top, frame.radial, flare, _drop(frame, rows)), g.grid_faces)
    g.rest, g.faces = rest.astype(np.float32), faces.astype(np.int32)
    g.covered = np.zeros(len(atlas.template), bool)
    return g


def build_skirt(spec, atlas, waist_z: float, hem_drop_m: float) -> HangingGarment:
    """A ``synthhuman.outfit.GarmentSpec`` of kind skirt on a ``garments.BodyAtlas``: it hangs from
    the waistband and collides with the hips and legs below it."""
    legs = np.flatnonzero((atlas.template[:, 2] < waist_z + 0.02) & (atlas.arm_share < 0.5))
    return hanging_garment("bottom", atlas, waist_z, hem_drop_m, spec.flare, spec.gap_m, legs,
                           np.full(len(legs), SIM_THICKNESS_M), np.ones(len(legs), bool))
