"""Glasses on the posed head: rims, bridge and temples as tubes, lenses as curved solid discs.

Pure numpy (no bpy): ``render/glasses.py`` writes the meshes into Blender, the tests check the
same arrays. Everything is built in the head's local frame (``synthhuman.hair_strands``:
x = subject's left, y up, z forward, fitted to the posed head per sample) from landmarks of
*this* person's head: the eye centres, the frontmost skin of the nose bridge, the skin of the
temples and the tops of the ears. The lenses sit ``vertex_distance_m`` in front of the corneas
and are pushed further out if any brow, cheek or lash would touch them; the bridge rests on
the nose, the temples run along the side of the head clear of the skin and bend down behind
the ears (WARDROBE_NOTES "Glasses").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthhuman.geometry import normalize_or_zero

SKIN_CLEARANCE_M = 0.003  # lenses and temples keep this far off the skin
LENS_THICKNESS_M = 0.002
RIM_POINTS = 48
TUBE_SIDES = 8


@dataclass
class GlassesMesh:
    """World-frame triangle meshes of one pair of glasses."""

    frame_vertices: np.ndarray
    frame_faces: np.ndarray
    lens_vertices: np.ndarray
    lens_faces: np.ndarray
    lens_centres: np.ndarray  # (2, 3) world: [left, right]
    cornea: np.ndarray  # (2, 3) world: the cornea fronts behind them


def outline(shape: str, half_width: float, height_ratio: float, outer_sign: float, n: int = RIM_POINTS) -> np.ndarray:
    """(n, 2) closed lens outline (u across, v up) around the lens centre, counter-clockwise.

    Superellipses: round n=2, rectangular n=5, cat-eye n=3 with the upper outer corner swept
    up, aviator n=2.4 with a deeper inner-lower "teardrop"; ``outer_sign`` is +1 where +u is
    towards the temple.
    """
    a = half_width
    b = half_width * (1.0 if shape == "round" else height_ratio)
    power = {"round": 2.0, "rectangular": 5.0, "cat_eye": 3.0, "aviator": 2.4}[shape]
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    u = a * np.sign(c) * np.abs(c) ** (2 / power)
    v = b * np.sign(s) * np.abs(s) ** (2 / power)
    outer = np.clip(u * outer_sign / a, 0.0, 1.0)
    if shape == "cat_eye":
        v = v + np.where(v > 0, 0.35 * b * outer**2, 0.0)
    elif shape == "aviator":
        inner = 1.0 - outer
        v = np.where(v < 0, v * (1.0 + 0.35 * inner), v * 0.9)
    return np.stack([u, v], axis=1)


def tube(points: np.ndarray, radius: float, closed: bool, sides: int = TUBE_SIDES) -> tuple[np.ndarray, np.ndarray]:
    """Triangle tube of ``radius`` along a polyline (rotation-minimising frames); ends capped."""
    p = np.asarray(points, dtype=np.float64)
    n = len(p)
    nxt = np.roll(p, -1, axis=0) if closed else np.concatenate([p[1:], p[-1:] + (p[-1] - p[-2])])
    prv = np.roll(p, 1, axis=0) if closed else np.concatenate([p[:1] - (p[1] - p[0]), p[:-1]])
    tangent = normalize_or_zero(nxt - prv)
    ref = np.array([0.0, 1.0, 0.0]) if abs(tangent[0, 1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normal = [normalize_or_zero(np.cross(tangent[0], np.cross(ref, tangent[0])))]
    for i in range(1, n):  # parallel transport: no twisting of the tube
        m = normal[-1] - (normal[-1] @ tangent[i]) * tangent[i]
        normal.append(normalize_or_zero(m))
    normal = np.asarray(normal)
    binormal = np.cross(tangent, normal)
    angle = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
    ring = (np.cos(angle)[None, :, None] * normal[:, None, :] + np.sin(angle)[None, :, None] * binormal[:, None, :])
    vertices = (p[:, None, :] + radius * ring).reshape(-1, 3)
    faces = []
    segments = n if closed else n - 1
    for i in range(segments):
        j = (i + 1) % n
        for k in range(sides):
            k2 = (k + 1) % sides
            a, b, c, d = i * sides + k, i * sides + k2, j * sides + k2, j * sides + k
            faces += [[a, b, c], [a, c, d]]
    if not closed:
        vertices = np.concatenate([vertices, p[:1], p[-1:]])
        s0, s1 = len(vertices) - 2, len(vertices) - 1
        last = (n - 1) * sides
        for k in range(sides):
            k2 = (k + 1) % sides
            faces += [[s0, k2, k], [s1, last + k, last + k2]]
    return vertices, np.asarray(faces, dtype=np.int64)


def lens_solid(rim: np.ndarray, centre: np.ndarray, normal: np.ndarray, thickness: float,
               sag_radius: float) -> tuple[np.ndarray, np.ndarray]:
    """A lens: front and back curved surfaces inside ``rim`` (K, 3 on the front plane), a side wall."""
    k = len(rim)
    rings = []
    for scale in (1.0, 0.66, 0.33):
        ring = centre + (rim - centre) * scale
        r2 = ((ring - centre) ** 2).sum(axis=1) - (((ring - centre) @ normal) ** 2)
        rings.append(ring - normal * (r2 / (2 * sag_radius))[:, None])  # spherical front: edges fall back
    front = np.concatenate([*rings, centre[None]])
    back = front - normal * thickness
    vertices = np.concatenate([front, back])
    faces = []
    m = len(front)
    for layer, flip in ((0, False), (m, True)):
        for r in range(2):
            for i in range(k):
                j = (i + 1) % k
                a, b, c, d = layer + r * k + i, layer + r * k + j, layer + (r + 1) * k + j, layer + (r + 1) * k + i
                faces += [[a, c, b], [a, d, c]] if flip else [[a, b, c], [a, c, d]]
        centre_id = layer + 3 * k
        for i in range(k):
            j = (i + 1) % k
            a, b = layer + 2 * k + i, layer + 2 * k + j
            faces.append([a, centre_id, b] if flip else [a, b, centre_id])
    for i in range(k):  # side wall between the front and back outer rings
        j = (i + 1) % k
        faces += [[i, m + j, j], [i, m + i, m + j]]
    return vertices, np.asarray(faces, dtype=np.int64)


def build_glasses(spec, frame, local_skin: np.ndarray, corneas_local: np.ndarray, ears_local: np.ndarray,
                  lash_reach_m: float = 0.0) -> GlassesMesh:
    """The glasses of a ``synthhuman.outfit.GlassesSpec`` on a posed head.

    ``frame``: the posed head frame (``hair_strands.HeadFrame``); ``local_skin``: (K, 3) this
    head's skin vertices in its local frame; ``corneas_local``: (2, 3) the front of each eyeball [left, right];
    ``ears_local``: (E, 3) ear skin vertices; ``lash_reach_m``: how far lashes stand in front of
    the corneas (the lenses clear them too).
    """
    eye_y = float(corneas_local[:, 1].mean())
    cornea_z = float(corneas_local[:, 2].max())
    half = spec.lens_width_m / 2
    lens_x = spec.bridge_m / 2 + half
    z0 = cornea_z + max(spec.vertex_distance_m, lash_reach_m + SKIN_CLEARANCE_M)
    # Nothing of the face within a lens's footprint may come closer than the clearance to its back.
    footprint = np.zeros(len(local_skin), bool)
    height = half * (1.0 if spec.shape == "round" else spec.lens_height)
    for sign in (1.0, -1.0):
        du, dv = (local_skin[:, 0] - sign * lens_x) / half, (local_skin[:, 1] - eye_y) / height
        footprint |= du**2 + dv**2 < 1.0
    if footprint.any():
        z0 = max(z0, float(local_skin[footprint, 2].max()) + LENS_THICKNESS_M + SKIN_CLEARANCE_M + 0.003)
    tilt, wrap = np.radians(spec.tilt_deg), np.radians(spec.wrap_deg)
    rims, lens_parts, centres = [], [], []
    for sign in (1.0, -1.0):  # subject's left lens at +x, right at -x
        uv = outline(spec.shape, half, spec.lens_height, outer_sign=sign)
        # face-form wrap (outer edge back) and pantoscopic tilt (bottom towards the cheeks)
        z = z0 - np.clip(uv[:, 0] * sign, 0, None) * np.sin(wrap) - np.clip(-uv[:, 1], 0, None) * np.sin(tilt)
        rim = np.stack([sign * lens_x + uv[:, 0], eye_y + uv[:, 1], z], axis=1)
        centre = np.array([sign * lens_x, eye_y, z0])
        normal = normalize_or_zero(np.array([sign * np.sin(wrap), -np.sin(tilt), 1.0]))
        rims.append(rim)
        centres.append(centre)
        lens_parts.append(lens_solid(rim, centre, normal, LENS_THICKNESS_M, 0.12))
    # Bridge over the nose: from the inner top of one rim to the other, clear of the nose bridge.
    inner = [rim[np.argmin(np.abs(rim[:, 0]) - 0.3 * rim[:, 1])] for rim in rims]
    nose = local_skin[(np.abs(local_skin[:, 0]) < 0.008) & (np.abs(local_skin[:, 1] - eye_y) < 0.012)]
    bridge_z = max(float(nose[:, 2].max()) + SKIN_CLEARANCE_M + spec.rim_radius_m, min(p[2] for p in inner)) if len(nose) else z0
    mid = np.array([0.0, max(p[1] for p in inner) + 0.002, bridge_z])
    bridge = np.stack([inner[0], 0.5 * (inner[0] + mid) + [0, 0.0015, 0], mid, 0.5 * (inner[1] + mid) + [0, 0.0015, 0], inner[1]])
    parts = [tube(r, spec.rim_radius_m, closed=True) for r in rims]
    parts.append(tube(bridge, spec.rim_radius_m * 0.8, closed=False))
    for sign, rim in zip((1.0, -1.0), rims, strict=True):
        parts.append(tube(_temple_path(sign, rim, local_skin, ears_local, spec.rim_radius_m), spec.rim_radius_m * 0.8,
                          closed=False))
    fv, ff = _concat(parts)
    lv, lf = _concat(lens_parts)
    return GlassesMesh(frame.to_world(fv), ff, frame.to_world(lv), lf, frame.to_world(np.asarray(centres)),
                       frame.to_world(np.asarray(corneas_local)))


def _temple_path(sign: float, rim: np.ndarray, skin: np.ndarray, ears: np.ndarray, radius: float) -> np.ndarray:
    """Hinge (outer rim at mid height) back along the head, over the ear's root, down behind it."""
    outer = rim[np.argmax(rim[:, 0] * sign - 0.2 * np.abs(rim[:, 1] - rim[:, 1].mean()))]
    side = ears[ears[:, 0] * sign > 0]
    if not len(side):
        side = skin[skin[:, 0] * sign > 0.05]
    ear_top = side[np.argmax(side[:, 1])]
    ear_z = float(np.median(side[:, 2]))
    y_end = float(ear_top[1]) - 0.002
    steps = np.linspace(0.0, 1.0, 9)
    zs = outer[2] + (ear_z - outer[2]) * steps
    ys = outer[1] + (y_end - outer[1]) * steps
    path = []
    for y, z in zip(ys, zs, strict=True):
        near = skin[(np.abs(skin[:, 1] - y) < 0.012) & (np.abs(skin[:, 2] - z) < 0.012) & (skin[:, 0] * sign > 0)]
        reach = float(np.abs(near[:, 0]).max()) if len(near) else abs(outer[0])
        path.append([sign * max(reach + SKIN_CLEARANCE_M + radius, abs(outer[0]) * 0.0), y, z])
    path = np.asarray(path)
    path[0] = outer
    back = path[-1] + np.array([0.0, -0.025, -0.02])  # bends down behind the ear
    near = skin[(np.abs(skin[:, 1] - back[1]) < 0.015) & (np.abs(skin[:, 2] - back[2]) < 0.015) & (skin[:, 0] * sign > 0)]
    if len(near):
        back[0] = sign * (float(np.abs(near[:, 0]).max()) + SKIN_CLEARANCE_M + radius)
    return np.concatenate([path, [0.5 * (path[-1] + back) + [0, 0.004, -0.004], back]])


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces, offset = [], [], 0
    for v, f in parts:
        vertices.append(v)
        faces.append(f + offset)
        offset += len(v)
    return np.concatenate(vertices), np.concatenate(faces).astype(np.int32)
