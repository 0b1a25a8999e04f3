"""Garment geometry on the posed body: shells cut from the skin, bound to it, fitted per sample.

Pure numpy and scipy (no bpy): ``render/garments.py`` only writes what this returns, and the
tests check the same arrays without Blender.

A garment here is a shell over part of Anny's skin (WARDROBE_NOTES "Garments"): a scalar field
per template vertex says where it is (negative inside: a top is "above the hem, below the
neckline, along the arm up to the sleeve's end"), the skin triangles are clipped exactly along
the field's zero line (smooth hems, not triangle staircases), subdivided for wrinkles, and every
garment vertex is *bound* to the body as a fixed linear combination of body vertices (a sparse
matrix). Per sample the binding gives anchor points and normals on the posed skin; the garment
sits ``offset`` metres out along them (gap + looseness + wrinkles, all evaluated on rest-pose
coordinates so folds stay on the cloth whatever the pose), is smoothed so it bridges the body's
concavities instead of painting them, and is pushed back out wherever smoothing brought it
closer than ``MIN_GAP_M`` to its own anchor: no skin pokes through what covers it. A thick hem
(a strip folded in towards the skin) gives the cut edge the thickness of cloth.

Fields are in metres, roughly the distance to the cut along the body: heights for hems and
necklines, arc length along the arm or leg chain for sleeves and trouser legs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from synthhuman.drape import SIM_THICKNESS_M, HangingGarment, build_skirt, hanging_garment
from synthhuman.geometry import normalize_or_zero

MIN_GAP_M = 0.0015  # a garment vertex never comes closer than this to its anchor on the skin
LAYER_GAP_M = 0.002  # an outer garment keeps this far outside an inner one where both cover the skin
HEM_BAND_M = 0.015  # the band along a cut edge that is rolled (thicker, stands off a little more)
HEM_ROLL_M = 0.0012
HEM_THICKNESS_M = 0.003  # how far the hem strip folds in towards the skin
NECK_SHARE = 0.35  # tops end where the neck bones hold this share of the skin weights

ARM_BONES = ("upperarm01", "upperarm02", "lowerarm01", "lowerarm02", "wrist", "finger", "metacarpal")
LEG_BONES = ("upperleg01", "upperleg02", "lowerleg01", "lowerleg02", "foot", "toe")
HEAD_BONES = ("neck01", "neck02", "neck03", "head", "eye.L", "eye.R")
SIDES = ("L", "R")


@dataclass(frozen=True)
class AtlasInputs:
    """What the garment atlas needs from the body model, as plain arrays (see ``render/garments``)."""

    template: np.ndarray  # (N, 3) rest vertices, Z up, facing -Y, root at the origin
    faces: np.ndarray  # (M, 3)
    bone_labels: tuple[str, ...]
    bone_weights: np.ndarray  # (N, K) skin weights
    bone_indices: np.ndarray  # (N, K) bone of each weight
    bone_heads: np.ndarray  # (B, 3) rest joint positions


@dataclass
class BodyAtlas:
    """Garment coordinates of every template vertex, computed once per model.

    ``arm_s``/``leg_s``: arc length (m) along the nearer side's shoulder-elbow-wrist-fingertip or
    hip-knee-ankle-toe chain, of the closest point on it; ``*_share``: summed skin weights of the
    arm, leg and head/neck bones; heights are rest-pose z of landmarks (root at z = 0).
    """

    template: np.ndarray
    faces: np.ndarray
    arm_share: np.ndarray
    leg_share: np.ndarray
    head_share: np.ndarray
    arm_s: np.ndarray
    leg_s: np.ndarray
    arm_joints_s: tuple[float, float, float]  # arc length of elbow, wrist, fingertips
    leg_joints_s: tuple[float, float, float]  # knee, ankle, toe tip
    neck_z: float  # base of the neck
    chest_z: float
    waist_z: float
    hip_z: float
    crotch_z: float
    axes: dict[str, np.ndarray] = field(default_factory=dict)  # limb segment -> (N,) share, used by wrinkles
    axis_dirs: dict[str, np.ndarray] = field(default_factory=dict)  # limb segment -> unit rest direction
    armpit_z: float = 0.0  # lowest template point where arm and torso skin weights mix
    _normals: np.ndarray | None = field(default=None, repr=False)

    @property
    def template_normals(self) -> np.ndarray:
        """(N, 3) unit vertex normals of the rest template (where loose garments get their texture space)."""
        if self._normals is None:
            self._normals = _vertex_normals(self.template, self.faces)
        return self._normals


def _bone_share(inputs: AtlasInputs, prefixes: tuple[str, ...], side: str | None = None) -> np.ndarray:
    ids = [i for i, name in enumerate(inputs.bone_labels)
           if name.startswith(prefixes) and (side is None or name.endswith("." + side))]
    return (inputs.bone_weights * np.isin(inputs.bone_indices, ids)).sum(axis=1)


def _chain_arc(points: np.ndarray, chain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc length of each point's closest point on a polyline, and its distance to the polyline."""
    seg_len = np.linalg.norm(np.diff(chain, axis=0), axis=1)
    starts = np.concatenate([[0.0], np.cumsum(seg_len)[:-1]])
    best_s = np.zeros(len(points))
    best_d = np.full(len(points), np.inf)
    for a, b, s0, length in zip(chain[:-1], chain[1:], starts, seg_len, strict=True):
        t = np.clip((points - a) @ (b - a) / length**2, 0.0, 1.0)
        d = np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1)
        better = d < best_d
        best_d[better], best_s[better] = d[better], s0 + t[better] * length
    return best_s, best_d


def build_body_atlas(inputs: AtlasInputs) -> BodyAtlas:
    """Shares, chain coordinates and landmark heights on the rest template."""
    v = inputs.template
    head = inputs.bone_heads
    label = {name: i for i, name in enumerate(inputs.bone_labels)}

    def joint(name: str) -> np.ndarray:
        return head[label[name]]

    arm_s = np.zeros(len(v))
    leg_s = np.zeros(len(v))
    arm_d = np.full(len(v), np.inf)
    leg_d = np.full(len(v), np.inf)
    axes, axis_dirs = {}, {}
    arm_joints = leg_joints = (0.0, 0.0, 0.0)
    for side in SIDES:
        hand_tip = joint(f"finger3-3.{side}")
        arm = np.stack([joint(f"upperarm01.{side}"), joint(f"lowerarm01.{side}"), joint(f"wrist.{side}"),
                        hand_tip + 0.025 * normalize_or_zero(hand_tip - joint(f"wrist.{side}"))])
        toe = joint(f"toe3-1.{side}")
        leg = np.stack([joint(f"upperleg02.{side}"), joint(f"lowerleg01.{side}"), joint(f"foot.{side}"),
                        toe + np.array([0.0, -0.06, 0.0])])
        for chain, s_all, d_all, kind in ((arm, arm_s, arm_d, "arm"), (leg, leg_s, leg_d, "leg")):
            s, d = _chain_arc(v, chain)
            closer = d < d_all
            s_all[closer], d_all[closer] = s[closer], d[closer]
            lengths = np.cumsum(np.linalg.norm(np.diff(chain, axis=0), axis=1))
            if kind == "arm":
                arm_joints = tuple(float(x) for x in lengths)
            else:
                leg_joints = tuple(float(x) for x in lengths)
            for seg, (a, b) in enumerate(pairwise(chain[:3])):
                axis_dirs[f"{kind}{seg}.{side}"] = normalize_or_zero(b - a)
        axes[f"arm0.{side}"] = _bone_share(inputs, ("upperarm01", "upperarm02"), side)
        axes[f"arm1.{side}"] = _bone_share(inputs, ("lowerarm01", "lowerarm02", "wrist", "finger", "metacarpal"), side)
        axes[f"leg0.{side}"] = _bone_share(inputs, ("upperleg01", "upperleg02"), side)
        axes[f"leg1.{side}"] = _bone_share(inputs, ("lowerleg01", "lowerleg02", "foot", "toe"), side)
    # Below the knee the leg coordinate follows height, so trouser hems and shoe collars are level
    # rather than bent round the ankle's corner of the chain.
    knee_z, ankle_z = float(joint("lowerleg01.L")[2]), float(joint("foot.L")[2])
    knee_s, ankle_s = leg_joints[0], leg_joints[1]
    below = (v[:, 2] < knee_z) & (leg_s >= knee_s * 0.9)
    leg_s[below] = knee_s + (knee_z - v[below, 2]) / (knee_z - ankle_z) * (ankle_s - knee_s)
    neck_z = float(joint("neck01")[2]) - 0.025
    arm_share = _bone_share(inputs, ARM_BONES)
    crotch_z = float(v[(np.abs(v[:, 0]) < 0.02) & (np.abs(v[:, 1] - v[:, 1].mean()) < 0.08)
                       & (v[:, 2] < 0.05) & (v[:, 2] > -0.25), 2].min())
    return BodyAtlas(
        template=v, faces=np.asarray(inputs.faces, np.int64),
        arm_share=arm_share, leg_share=_bone_share(inputs, LEG_BONES),
        head_share=_bone_share(inputs, HEAD_BONES), arm_s=arm_s, leg_s=leg_s,
        arm_joints_s=arm_joints, leg_joints_s=leg_joints,  # type: ignore[arg-type]
        neck_z=neck_z, chest_z=float(joint("spine01")[2]) + 0.02, waist_z=float(joint("spine03")[2]),
        hip_z=float(joint("upperleg02.L")[2]), crotch_z=crotch_z, axes=axes, axis_dirs=axis_dirs,
        armpit_z=float(v[(arm_share > 0.2) & (arm_share < 0.8), 2].min()),
    )


# --------------------------------------------------------------------------- cutting


def clip_by_field(faces: np.ndarray, values: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """The part of a triangle mesh where ``values < 0``, cut exactly along the zero line.

    Returns ``(binding, faces)``: garment vertex positions are ``binding @ body_positions`` (each
    row a body vertex, or two on an edge crossed by the cut), and the clipped triangles.
    """
    n = len(values)
    inside = values < 0
    keep = inside[faces].any(axis=1)
    faces = faces[keep]
    rows: list[tuple[int, int, float]] = []  # (i, j, w): w * v_i + (1 - w) * v_j
    index: dict[tuple[int, int], int] = {}

    def vertex(i: int, j: int) -> int:
        key = (i, j) if i <= j else (j, i)
        if key not in index:
            a, b = key
            w = 1.0 if a == b else values[b] / (values[b] - values[a])  # zero crossing on edge a-b
            index[key] = len(rows)
            rows.append((a, b, float(w)))
        return index[key]

    full = inside[faces].all(axis=1)
    kept = np.unique(faces[full])
    for i in kept:
        vertex(int(i), int(i))
    local = np.full(n, -1)
    local[kept] = np.arange(len(kept))
    out = local[faces[full]].tolist()
    for tri in faces[~full]:
        ins = inside[tri]
        k = int(ins.sum())
        # rotate so the odd one out is first: (lone, p, q) in winding order
        lone = int(np.flatnonzero(ins if k == 1 else ~ins)[0])
        a, b, c = tri[lone], tri[(lone + 1) % 3], tri[(lone + 2) % 3]
        if k == 1:
            out.append([vertex(a, a), vertex(a, b), vertex(a, c)])
        else:
            ab, ac = vertex(a, b), vertex(a, c)
            out.append([ab, vertex(b, b), vertex(c, c)])
            out.append([ab, vertex(c, c), ac])
    ij = np.array([(r[0], r[1]) for r in rows], dtype=np.int64).reshape(-1, 2)
    w = np.array([r[2] for r in rows])
    g = len(rows)
    binding = sp.csr_matrix((np.concatenate([w, 1.0 - w]), (np.tile(np.arange(g), 2), ij.T.ravel())), shape=(g, n))
    binding.sum_duplicates()
    return binding, np.asarray(out, dtype=np.int64).reshape(-1, 3)


def subdivide(binding: sp.csr_matrix, faces: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Midpoint subdivision (each triangle into four) carried through the binding."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, inverse = np.unique(edges, axis=0, return_inverse=True)
    inverse = inverse.reshape(3, -1).T + binding.shape[0]  # per face: mid of edges 01, 12, 20
    mids = 0.5 * (binding[unique[:, 0]] + binding[unique[:, 1]])
    a, b, c = faces.T
    ab, bc, ca = inverse.T
    new_faces = np.concatenate([np.stack([a, ab, ca], 1), np.stack([ab, b, bc], 1), np.stack([ca, bc, c], 1),
                                np.stack([ab, bc, ca], 1)])
    return sp.vstack([binding, mids]).tocsr(), new_faces


def boundary_loops_edges(faces: np.ndarray) -> np.ndarray:
    """Directed boundary edges (each used by one face only), in the faces' winding."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return directed[counts[inverse.ravel()] == 1]


def smoothing_operator(faces: np.ndarray, count: int) -> sp.csr_matrix:
    """Row-normalised vertex adjacency (the umbrella operator's averaging part)."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    adj = sp.csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(count, count))
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(axis=1)).ravel()
    return sp.diags(1.0 / np.maximum(deg, 1.0)) @ adj


# --------------------------------------------------------------------------- fitting


@dataclass
class GarmentMesh:
    """The topology and binding of one garment (fixed for its spec) and its per-vertex offsets."""

    name: str
    faces: np.ndarray  # (F, 3) int32
    binding: sp.csr_matrix  # (G, N): garment vertex anchor = binding @ body vertices
    offset: np.ndarray  # (G,) metres out along the anchor normal before smoothing
    min_offset: np.ndarray  # (G,) never closer than this after smoothing (hem strip: less)
    rest: np.ndarray  # (G, 3) float32 anchor on the rest template: the texture space of the fabric
    smooth_iterations: int = 2
    smoothing: sp.csr_matrix | None = None
    covered: np.ndarray | None = None  # (N,) bool: body vertices this garment covers (away from its cuts)
    smooth_rate: np.ndarray | None = None  # (G,) 0..1: where smoothing may move the cloth (not in creases)
    edge: np.ndarray | None = None  # (K, 3) hem strip rows: (outer copy, inner vertex, shell vertex)

    def fit(self, body_vertices: np.ndarray, body_normals: np.ndarray) -> np.ndarray:
        """(G, 3) garment vertices on the posed body (world), see the module docstring."""
        anchor = self.binding @ body_vertices
        normal = normalize_or_zero(self.binding @ body_normals)
        x = anchor + normal * self.offset[:, None]
        if self.smoothing is not None:
            rate = 0.5 * self.smooth_rate[:, None]
            for _ in range(self.smooth_iterations):
                x = x + rate * (self.smoothing @ x - x)
        out = ((x - anchor) * normal).sum(axis=1)
        x += normal * np.maximum(self.min_offset - out, 0.0)[:, None]
        if self.covered is not None and self.smoothing is not None:
            x = push_out(x, normal, body_vertices[self.covered], self.smoothing)
        if self.edge is not None and len(self.edge):
            outer, inner, shell = self.edge.T
            x[outer] = x[shell]
            stand = ((x[shell] - anchor[shell]) * normal[shell]).sum(axis=1)
            x[inner] = x[shell] - normal[shell] * np.clip(stand - 0.0005, 0.0, HEM_THICKNESS_M)[:, None]
        return x


def push_out(x: np.ndarray, normal: np.ndarray, skin: np.ndarray, smoothing: sp.csr_matrix,
             rounds: int = 4) -> np.ndarray:
    """Move garment vertices out along their normals until no covered skin point is outside them.

    The guard in ``GarmentMesh.fit`` keeps each vertex off its own anchor; this clears the skin
    of *neighbouring* anchors that smoothing bridged (between toes, in the small of the back): for
    each skin point, the nearest garment vertex must have it at least MIN_GAP_M behind it.
    """
    from scipy.spatial import cKDTree

    for _ in range(rounds):
        _, nearest = cKDTree(x).query(skin)
        need = ((skin - x[nearest]) * normal[nearest]).sum(axis=1) + MIN_GAP_M
        bad = need > 0
        if not bad.any():
            break
        push = np.zeros(len(x))
        np.maximum.at(push, nearest[bad], need[bad])
        push = np.maximum(push, smoothing @ push)  # spread to the neighbours: a bump, not a spike
        x = x + normal * push[:, None]
    return x


def wrinkle_field(rest: np.ndarray, shares: dict[str, np.ndarray], atlas: BodyAtlas, seed: int,
                  wavelength_m: float, waves: int = 10) -> np.ndarray:
    """Fold heights in [-1, 1]-ish at rest points: plane waves whose crests run around each limb
    (wave vectors mostly along the limb's axis) and across the torso, blended by skin shares."""
    rng = np.random.default_rng(seed)
    total = np.zeros(len(rest))
    weight_sum = np.zeros(len(rest))
    groups = {"torso": (np.array([0.0, 0.0, 1.0]), None)}
    groups.update({name: (atlas.axis_dirs[name], name) for name in sorted(atlas.axis_dirs)})
    for name, (axis, share_key) in groups.items():
        share = shares[share_key] if share_key else np.ones(len(rest))
        if name == "torso":
            share = np.clip(1.0 - sum(shares[k] for k in atlas.axis_dirs), 0.0, 1.0)
        if not share.any():
            rng.random(waves * 6)  # keep the stream position whether or not this group is present
            continue
        signal = np.zeros(len(rest))
        for _ in range(waves):
            perp = normalize_or_zero(np.cross(axis, rng.normal(size=3)))
            tilt = rng.uniform(0.0, 0.6)
            direction = normalize_or_zero(axis * (1.0 - tilt) + perp * tilt)
            lam = wavelength_m * rng.uniform(0.5, 1.6)
            signal += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi / lam * (rest @ direction) + rng.uniform(0, 2 * np.pi))
        total += share * signal / np.sqrt(waves)
        weight_sum += share
    return total / np.maximum(weight_sum, 1e-6)


def add_hem_strip(binding: sp.csr_matrix, faces: np.ndarray, offset: np.ndarray, min_offset: np.ndarray,
                  thickness_m: float) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A strip along every cut edge folding ``thickness_m`` in towards the skin: the cloth's edge.

    The strip has its own copy of the edge vertices, so the shell's smooth normals stay the
    shell's (shared vertices would average in the strip's and darken the edge into a line).
    Returns the grown arrays and ``edge`` (K, 3): (outer copy, inner vertex, shell vertex) rows,
    which ``GarmentMesh.fit`` keeps on the shell's edge after smoothing.
    """
    edges = boundary_loops_edges(faces)
    if not len(edges):
        return binding, faces, offset, min_offset, np.zeros((0, 3), np.int64)
    ids = np.unique(edges)
    count = binding.shape[0]
    outer = np.full(count, -1)
    inner = np.full(count, -1)
    outer[ids] = count + np.arange(len(ids))
    inner[ids] = count + len(ids) + np.arange(len(ids))
    a, b = edges[:, 0], edges[:, 1]
    strip = np.concatenate([np.stack([outer[b], outer[a], inner[a]], 1), np.stack([outer[b], inner[a], inner[b]], 1)])
    depth = np.maximum(offset[ids] - thickness_m, 0.0005)
    return (sp.vstack([binding, binding[ids], binding[ids]]).tocsr(), np.concatenate([faces, strip]),
            np.concatenate([offset, offset[ids], depth]),
            np.concatenate([min_offset, min_offset[ids], np.minimum(depth, min_offset[ids])]),
            np.stack([outer[ids], inner[ids], ids], axis=1))


# --------------------------------------------------------------------------- garments by kind


@dataclass(frozen=True)
class GarmentField:
    """Where a garment is on the template (``values < 0``) and how far out it may sit, per body vertex."""

    values: np.ndarray  # (N,) metres-ish: negative inside, zero on the cut
    offset: np.ndarray  # (N,) gap + looseness profile, metres (wrinkles and hem roll excluded)
    outer_bound: np.ndarray  # (N,) the most it can stand off the skin: what an outer layer clears


def _interp_limb(u: float, joints: tuple[float, float, float]) -> float:
    """Limb coordinate (0 root joint, 1 middle joint, 2 end joint, 3 tip) -> arc length (m)."""
    return float(np.interp(u, [0.0, 1.0, 2.0, 3.0], [0.0, *joints]))


def _height(atlas: BodyAtlas, u: float) -> float:
    """Torso height coordinate (0 crotch, 1 waist, 2 chest) -> rest z (m)."""
    return float(np.interp(u, [-1.0, 0.0, 1.0, 2.0],
                           [2 * atlas.crotch_z - atlas.waist_z, atlas.crotch_z, atlas.waist_z, atlas.chest_z]))


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    n = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    out = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(out, faces[:, k], n)
    return normalize_or_zero(out)


def garment_field(spec, atlas: BodyAtlas, slot: str) -> GarmentField:
    """The field and offsets of a garment spec (``synthhuman.outfit.GarmentSpec``) on the template."""
    v = atlas.template
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    arm, leg, head = atlas.arm_share > 0.5, atlas.leg_share > 0.5, atlas.head_share > 0.5
    outside = np.full(len(v), 0.1)
    loose = spec.looseness_m
    if slot == "top":
        hem_z = _height(atlas, spec.hem)
        # The neckline follows the base of the neck (where the neck bones' skin weights take over),
        # dipping at the front by neck_depth_m; far from the front centre the dip term never cuts.
        ring = np.abs(z - atlas.neck_z) < 0.02
        front = np.clip((v[ring, 1].mean() - y) / 0.03, 0.0, 1.0)
        shape = front * {"crew": np.exp(-(x / 0.06) ** 2), "v": np.clip(1.0 - np.abs(x) / 0.07, 0.0, 1.0),
                         "scoop": np.exp(-(x / 0.09) ** 4)}[spec.neckline]
        dip = z - (atlas.neck_z + 0.1 * (1.0 - shape) - spec.neck_depth_m * shape)
        neck = np.maximum((atlas.head_share - NECK_SHARE) * 0.1, dip)
        torso = np.maximum(hem_z - z, neck)
        if spec.sleeve <= 0.05:
            values = np.maximum(torso, (atlas.arm_share - 0.5) * 0.1)
        else:
            values = np.where(arm, atlas.arm_s - _interp_limb(spec.sleeve, atlas.arm_joints_s), torso)
        values = np.where(head, outside, values)
        chest = atlas.chest_z
        profile = np.where(arm, 0.4 + 0.6 * np.clip(atlas.arm_s / max(_interp_limb(spec.sleeve, atlas.arm_joints_s), 1e-3), 0, 1),
                           0.3 + 0.7 * np.clip((chest - z) / max(chest - hem_z, 1e-3), 0.0, 1.0))
        profile *= np.clip(-neck / 0.05, 0.0, 1.0)  # the neckline hugs the neck: no gap to see into
    elif slot == "bottom":
        waist_z = _height(atlas, spec.waist)
        torso = z - waist_z
        legs = np.maximum(torso, atlas.leg_s - _interp_limb(spec.leg, atlas.leg_joints_s))
        values = np.where(arm | head, outside, np.where(leg, legs, torso))
        knee, ankle = atlas.leg_joints_s[:2]
        band = np.clip((waist_z - z) / 0.05, 0.0, 1.0)  # the waistband sits close
        straight = np.clip((atlas.leg_s - 0.3 * knee) / (ankle - 0.3 * knee), 0.0, 1.0)
        profile = band * np.where(leg, 0.4 + 0.6 * straight, 0.4)
    elif slot == "shoes":
        values = np.where(leg, _interp_limb(spec.collar, atlas.leg_joints_s) - atlas.leg_s, outside)
        down = np.clip((-_vertex_normals(v, atlas.faces)[:, 2] - 0.4) / 0.4, 0.0, 1.0)
        profile = np.ones(len(v))
        sole = spec.sole_m * down
        offset = spec.gap_m + loose * profile + sole
        return GarmentField(values, offset, offset + spec.wrinkle_m + HEM_ROLL_M)
    else:
        raise ValueError(f"unknown garment slot {slot!r}")
    offset = spec.gap_m + loose * profile
    return GarmentField(values, offset, offset + spec.wrinkle_m + HEM_ROLL_M)


def build_garment(name: str, spec, gf: GarmentField, atlas: BodyAtlas, subdivisions: int = 1,
                  under: tuple[GarmentField, ...] = ()) -> GarmentMesh | None:
    """The garment of a spec (``synthhuman.outfit.GarmentSpec``) in slot ``name`` with its field,
    clear of the garments ``under`` it; None when its cut leaves no cloth."""
    region = (gf.values < 0)[atlas.faces].any(axis=1)
    if not region.any():
        return None
    binding, faces = clip_by_field(atlas.faces[region], gf.values)
    for _ in range(subdivisions):
        binding, faces = subdivide(binding, faces)
    rest = binding @ atlas.template
    field_g = binding @ gf.values
    shares = {k: binding @ s for k, s in atlas.axes.items()}
    folds = wrinkle_field(rest, shares, atlas, spec.seed, spec.wrinkle_wavelength_m)
    offset = binding @ gf.offset + spec.wrinkle_m * 0.5 * (1.0 + np.clip(folds, -1.0, 1.0))
    offset += np.where(field_g > -HEM_BAND_M, HEM_ROLL_M, 0.0)
    min_offset = np.full(len(offset), MIN_GAP_M)
    for inner in under:
        covers = binding @ (inner.values < 0).astype(float) > 0.5
        floor = binding @ inner.outer_bound + LAYER_GAP_M
        offset = np.where(covers, np.maximum(offset, floor), offset)
        min_offset = np.where(covers, np.maximum(min_offset, floor), min_offset)
    binding, faces, offset, min_offset, edge = add_hem_strip(binding, faces, offset, min_offset, HEM_THICKNESS_M)
    rest = binding @ atlas.template
    rate = binding @ crease_freedom(atlas)
    rate[edge[:, :2].ravel()] = 0.0
    return GarmentMesh(name=name, faces=faces.astype(np.int32), binding=binding, offset=offset, min_offset=min_offset,
                       rest=rest.astype(np.float32), smooth_iterations=int(spec.smooth),
                       smoothing=smoothing_operator(faces, binding.shape[0]),
                       covered=gf.values < -HEM_BAND_M, smooth_rate=rate, edge=edge)


def crease_freedom(atlas: BodyAtlas) -> np.ndarray:
    """(N,) 1 where smoothing may move cloth, 0 in the crotch and armpits: there the skin of two
    limbs meets, and a smoothed sheet folds through the skin it should cover."""
    mixed = np.maximum(np.minimum(atlas.leg_share, 1 - atlas.leg_share), np.minimum(atlas.arm_share, 1 - atlas.arm_share))
    return np.clip(1.0 - mixed / 0.15, 0.0, 1.0)


THICKNESS_ALLOWANCE_M = 0.006  # what a top over a skirt's waistband clears beyond the band's gap
LAYER_ORDER = ("shoes", "bottom", "top")  # innermost first: trouser legs over shoes, tops over waistbands
# Tops whose body hangs loose from the chest (a shell above, a draped tube below); the rest are shells.
# Over a skirt they are worn tucked in (a shell): the tube does not collide with the skirt's cloth.
HANGING_TOPS = ("shirt", "hoodie")
RING_BELOW_ARMPIT_M = 0.03  # a loose top's ring: below the armpits, so it circles the torso alone
YOKE_OVERLAP_M = 0.03  # the shell part reaches this far under the hanging part: no seam gap


@dataclass
class LayeredGarment:
    """One garment made of parts fitted alike (a loose top's shell yoke and its hanging body)."""

    name: str
    parts: tuple[GarmentMesh | HangingGarment, ...]
    faces: np.ndarray
    rest: np.ndarray
    covered: np.ndarray | None

    def fit(self, body_vertices: np.ndarray, body_normals: np.ndarray) -> np.ndarray:
        return np.concatenate([p.fit(body_vertices, body_normals) for p in self.parts])


def _clearance(ids: np.ndarray, fields: list[GarmentField]) -> np.ndarray:
    """How far loose cloth keeps off each body vertex of ``ids``: the collision thickness, or more
    where a garment under it stands further out."""
    out = np.full(len(ids), SIM_THICKNESS_M)
    for inner in fields:
        covers = inner.values[ids] < 0
        out[covers] = np.maximum(out[covers], inner.outer_bound[ids][covers] + LAYER_GAP_M)
    return out


def build_loose_top(spec, atlas: BodyAtlas, subdivisions: int, under: list[GarmentField]) -> LayeredGarment | None:
    """A shirt or hoodie: a shell over the shoulders, chest and sleeves down to just under the
    armpits, and below that cloth that hangs from a ring round the chest to the hem, over the
    bust, belly and any waistband, instead of following the waist in."""
    ring_z = atlas.armpit_z - RING_BELOW_ARMPIT_M
    hem_z = _height(atlas, spec.hem)
    if hem_z > ring_z - 0.1:  # a cropped cut: nothing to hang
        gf = garment_field(spec, atlas, "top")
        return build_garment("top", spec, gf, atlas, subdivisions, tuple(under))
    yoke_hem = float(np.interp(ring_z - YOKE_OVERLAP_M, [_height(atlas, u) for u in (0.0, 1.0, 2.0)], [0.0, 1.0, 2.0]))
    yoke_spec = dataclasses.replace(spec, hem=yoke_hem)
    yoke_field = garment_field(yoke_spec, atlas, "top")
    yoke = build_garment("top", yoke_spec, yoke_field, atlas, subdivisions, tuple(under))
    v = atlas.template
    colliders = np.flatnonzero((v[:, 2] < ring_z + 0.02) & (v[:, 2] > hem_z - 0.1) & (atlas.head_share < 0.5))
    clearance = _clearance(colliders, [*under, yoke_field])
    torso_ring = np.abs(v[:, 2] - ring_z) < 0.02
    gap = float(np.max(yoke_field.outer_bound[torso_ring & (atlas.arm_share < 0.5)])) + LAYER_GAP_M
    body = hanging_garment("top", atlas, ring_z, ring_z - hem_z, spec.flare, gap, colliders, clearance,
                           atlas.arm_share[colliders] < 0.5)
    parts = (yoke, body) if yoke is not None else (body,)
    offsets = np.cumsum([0, *(len(p.rest) for p in parts)])
    faces = np.concatenate([p.faces + o for p, o in zip(parts, offsets, strict=False)]).astype(np.int32)
    rest = np.concatenate([p.rest for p in parts]).astype(np.float32)
    return LayeredGarment("top", parts, faces, rest, yoke.covered if yoke is not None else None)


def build_outfit(outfit, atlas: BodyAtlas) -> dict[str, GarmentMesh | HangingGarment | LayeredGarment]:
    """Every worn garment of an ``synthhuman.outfit.OutfitSpec``, each clear of those under it."""
    worn = outfit.worn()
    fields: list[GarmentField] = []
    meshes = {}
    for name in LAYER_ORDER:
        if name not in worn:
            continue
        spec = worn[name]
        if spec.kind == "skirt":  # hangs: draped, not a shell (synthhuman.drape)
            waist_z = _height(atlas, spec.waist)
            hem_z = atlas.hip_z - _interp_limb(spec.leg, atlas.leg_joints_s)
            meshes[name] = build_skirt(spec, atlas, waist_z, max(waist_z - hem_z, 0.1))
            z = atlas.template[:, 2]
            band = np.where((z < waist_z) & (z > waist_z - 0.08) & (atlas.arm_share < 0.5), z - waist_z, 0.1)
            bound = np.full(len(z), spec.gap_m + THICKNESS_ALLOWANCE_M)
            fields.append(GarmentField(band, bound, bound))
            continue
        over_skirt = "bottom" in worn and worn["bottom"].kind == "skirt"
        if name == "top" and spec.kind in HANGING_TOPS and not over_skirt:
            mesh = build_loose_top(spec, atlas, outfit.subdivisions, fields)
        else:
            gf = garment_field(spec, atlas, name)
            mesh = build_garment(name, spec, gf, atlas, outfit.subdivisions, tuple(fields))
            fields.append(gf)
        if mesh is not None:
            meshes[name] = mesh
    return meshes
