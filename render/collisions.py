"""Self-intersection check of a posed body: mesh edges piercing triangles of non-adjacent parts.

How we check (used by tests/render/test_pose_quality.py and benchmarks): every mesh edge
is cast as a ray segment against the body with embree; a hit on a triangle that shares no
vertex with the edge is an intersection. Each vertex belongs to a coarse body part (by its
dominant Anny bone); hits between the same or kinematically adjacent parts are skinning
folds at a joint (an elbow crease), not limbs passing through each other, and are ignored.
What remains (a hand inside the thigh, crossed shins) is what the pose ranges must keep rare.
Pure numpy + trimesh: no bpy.
"""

from __future__ import annotations

import numpy as np
import trimesh

# part -> bone name prefixes (".L"/".R" parts are generated for the limb parts)
_CENTRAL = {"head": ("head", "neck", "eye"), "torso": ("root", "spine", "clavicle", "shoulder", "pelvis")}
_LIMBS = {"upperarm": ("upperarm",), "forearm": ("lowerarm",), "hand": ("wrist", "finger", "metacarpal"),
          "thigh": ("upperleg",), "shin": ("lowerleg",), "foot": ("foot", "toe")}
_CHAINS = [("torso", "upperarm"), ("upperarm", "forearm"), ("forearm", "hand"), ("torso", "thigh"),
           ("thigh", "shin"), ("shin", "foot")]


def part_names() -> list[str]:
    return [*_CENTRAL, *(f"{limb}{side}" for limb in _LIMBS for side in (".L", ".R"))]


def adjacent_parts() -> set[frozenset[str]]:
    """Kinematic neighbours (their shared joint folds skin), plus the thighs, joined at the crotch."""
    pairs = {frozenset(("head", "torso")), frozenset(("thigh.L", "thigh.R"))}
    for side in (".L", ".R"):
        for a, b in _CHAINS:
            pairs.add(frozenset((a if a == "torso" else a + side, b + side)))
    return pairs


def bone_part(bone: str) -> str:
    """Coarse part of an Anny bone label."""
    for part, prefixes in _CENTRAL.items():
        if bone.startswith(prefixes):
            return part
    side = bone[-2:]
    for part, prefixes in _LIMBS.items():
        if bone.startswith(prefixes):
            return part + side
    raise KeyError(f"bone {bone!r} belongs to no part")


def intersecting_part_pairs(vertices: np.ndarray, faces: np.ndarray,
                            vertex_part: np.ndarray) -> dict[frozenset[str], int]:
    """Counts of edge/triangle intersections per pair of non-adjacent parts (empty = clean).

    ``vertex_part`` holds, per vertex, an index into ``part_names()``.
    """
    names = part_names()
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), faces, process=False)
    edges = mesh.edges_unique
    origins = mesh.vertices[edges[:, 0]]
    vec = mesh.vertices[edges[:, 1]] - origins
    length = np.linalg.norm(vec, axis=1)
    tri, ray, loc = mesh.ray.intersects_id(origins, vec / length[:, None], multiple_hits=True,
                                           return_locations=True)
    along = np.linalg.norm(loc - origins[ray], axis=1)
    inside = (along > 1e-7) & (along < length[ray] - 1e-7)
    tri, ray = tri[inside], ray[inside]
    shares = (faces[tri] == edges[ray, 0:1]).any(1) | (faces[tri] == edges[ray, 1:2]).any(1)
    tri, ray = tri[~shares], ray[~shares]
    edge_part = vertex_part[edges[ray, 0]]
    tri_part = vertex_part[faces[tri, 0]]
    adjacent = adjacent_parts()
    counts: dict[frozenset[str], int] = {}
    for a, b in zip(edge_part, tri_part):
        pair = frozenset((names[a], names[b]))
        if a != b and pair not in adjacent:
            counts[pair] = counts.get(pair, 0) + 1
    return counts
