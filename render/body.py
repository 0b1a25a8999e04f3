"""The Anny body: model built once, one Blender mesh whose vertices are rewritten in place per sample.

Anny's default full-body topology (triangulated MakeHuman base mesh with eyeballs and
tongue, 13,718 vertices) is fixed, so the Blender mesh is created once and each sample
only ``foreach_set``s vertex positions: no object re-creation, no orphan meshes.

Pose convention (``PoseSpec.bone_euler_deg``): XYZ Euler degrees in each bone's frame in
Anny's ``local-ref`` parameterisation, whose axes are the *world* axes of the rest pose
(x = subject's left, y = backwards, z = up; the body faces -Y), carried along by the
parent bones. So for every bone, +x rotation pitches its child chain backwards (knee
flexion), the same rotation flexes a hanging elbow... see ``configs/pose.yaml`` for limits.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
import torch
from synthhuman.render.materials import EYE_ATTRIBUTE, HAIR_COVER_ATTRIBUTE, REST_ATTRIBUTE

from synthhuman import geometry
from synthhuman.spec import BodySpec, PoseSpec

ANNY_CACHE_ENV = "SYNTHHUMAN_ANNY_CACHE"
DEFAULT_ANNY_CACHE = Path.home() / ".cache" / "synthhuman" / "anny"
EYE_BONES = ("eye.L", "eye.R")
SKIN_SLOT, EYE_SLOT = 0, 1
# Vertices whose dominant bone is in these sets make the camera's framing regions.
FRAMING_BONES = {
    "face": ("head", "eye.L", "eye.R"),
    "upper": ("head", "eye.L", "eye.R", "neck01", "neck02", "neck03", "spine01", "spine02", "spine03",
              "spine04", "spine05", "clavicle.L", "clavicle.R", "shoulder01.L", "shoulder01.R", "root",
              "pelvis.L", "pelvis.R"),
}


def build_anny_model():
    """Anny full body with every phenotype, local change and face unit (cache shared across processes)."""
    os.environ.setdefault("ANNY_CACHE_DIR", os.environ.get(ANNY_CACHE_ENV, str(DEFAULT_ANNY_CACHE)))
    import anny

    return anny.Anny(local_changes="default", facial_actions="all", phenotypes="all")


@dataclass
class PosedBody:
    """One posed body in world coordinates (feet on z = 0)."""

    vertices: np.ndarray  # (N, 3) float64 world
    bone_heads: np.ndarray  # (B, 3) float64 world


class AnnyBody:
    """Owns the Anny model and the Blender mesh object; ``pose`` then ``update_mesh`` per sample."""

    def __init__(self, collection: bpy.types.Collection, materials: list[bpy.types.Material]):
        self.model = build_anny_model()
        self.bone_labels: list[str] = list(self.model.bone_labels)
        self.faces = self.model.faces.cpu().numpy().astype(np.int32)
        weights = self.model.vertex_bone_weights.cpu().numpy()
        indices = self.model.vertex_bone_indices.cpu().numpy()
        self.dominant_bone = indices[np.arange(len(indices)), weights.argmax(axis=1)]
        self.reference_rot = self.model.reference_bone_orientations.cpu().numpy().astype(np.float64)
        with torch.no_grad():
            rest = self.model.forward()
        rest_vertices = rest["vertices"][0].cpu().numpy().astype(np.float64)
        self.mesh = _build_mesh(rest_vertices, self.faces, self._eye_faces(), materials)
        _add_static_attributes(self.mesh, rest_vertices, self._eye_cosines(rest))
        self.object = bpy.data.objects.new("synthhuman_body", self.mesh)
        collection.objects.link(self.object)
        self._head_ids = np.flatnonzero(self.dominant_bone == self.bone_labels.index("head"))
        self._nose_id = int(self._head_ids[np.argmin(rest_vertices[self._head_ids, 1])])  # most forward
        self._rest_yaw, self._rest_pitch = _facing_angles(self._head_forward(rest_vertices))

    def _head_forward(self, vertices: np.ndarray) -> np.ndarray:
        return vertices[self._nose_id] - vertices[self._head_ids].mean(axis=0)

    def head_facing(self, posed: PosedBody) -> tuple[float, float]:
        """(yaw, pitch) in degrees of where the face points, relative to the rest pose's.

        Face framing measures the camera's azimuth and elevation from the face, not from
        the body: a sampled neck turn would otherwise often leave only hair or scalp in view.
        """
        yaw, pitch = _facing_angles(self._head_forward(posed.vertices))
        return yaw - self._rest_yaw, pitch - self._rest_pitch

    def _eye_faces(self) -> np.ndarray:
        eye_ids = [self.bone_labels.index(b) for b in EYE_BONES]
        return np.isin(self.dominant_bone[self.faces], eye_ids).all(axis=1)

    def _eye_cosines(self, rest: dict) -> np.ndarray:
        """Per vertex, cos(angle) between (vertex - eyeball centre) and the eye's forward axis (-Y)."""
        verts = rest["vertices"][0].cpu().numpy().astype(np.float64)
        cos = np.zeros(len(verts))
        for bone in EYE_BONES:
            sel = self.dominant_bone == self.bone_labels.index(bone)
            centre = verts[sel].mean(axis=0)
            d = geometry.normalize_or_zero(verts[sel] - centre)
            cos[sel] = -d[:, 1]
        return cos

    def pose(self, body: BodySpec, pose: PoseSpec, base_rotations: dict[str, np.ndarray]) -> PosedBody:
        """Anny forward pass for this identity, pose and expression; ground the feet at z = 0."""
        deltas = self._pose_deltas(pose, base_rotations)
        with torch.no_grad():
            out = self.model.forward(
                pose_parameters=deltas,
                phenotype_kwargs={k: float(v) for k, v in body.phenotype},
                local_changes_kwargs={k: float(v) for k, v in body.local_changes} or None,
                facial_actions={k: float(v) for k, v in pose.facial_actions} or None,
            )
        verts = out["vertices"][0].cpu().numpy().astype(np.float64)
        heads = out["bone_poses"][0, :, :3, 3].cpu().numpy().astype(np.float64)
        lift = np.array([0.0, 0.0, -verts[:, 2].min()])
        return PosedBody(verts + lift, heads + lift)

    def _pose_deltas(self, pose: PoseSpec, base_rotations: dict[str, np.ndarray]) -> torch.Tensor:
        """(1, B, 4, 4) local-ref deltas: sampled offset applied after the base pose rotation."""
        rots = np.tile(np.eye(3), (len(self.bone_labels), 1, 1))
        for bone, rot in base_rotations.items():
            rots[self.bone_labels.index(bone)] = rot
        for bone, euler in pose.bone_euler_deg:
            if bone not in self.bone_labels:
                raise KeyError(f"PoseSpec.bone_euler_deg: unknown Anny bone {bone!r}")
            i = self.bone_labels.index(bone)
            rots[i] = geometry.euler_xyz_to_matrix(np.asarray(euler)) @ rots[i]
        rots[0] = geometry.rotation_z(pose.root_yaw_deg) @ rots[0]
        deltas = np.tile(np.eye(4), (len(self.bone_labels), 1, 1))
        deltas[:, :3, :3] = rots
        return torch.as_tensor(deltas[None], dtype=self.model.template_vertices.dtype)

    def region_points(self, posed: PosedBody, framing: str) -> np.ndarray:
        """World points whose bounding box the camera frames (every 2nd vertex is plenty)."""
        if framing == "full":
            return posed.vertices[::2]
        ids = [self.bone_labels.index(b) for b in FRAMING_BONES[framing]]
        return posed.vertices[np.isin(self.dominant_bone, ids)]

    def update_mesh(self, vertices: np.ndarray) -> None:
        """Write positions in place; Blender recomputes the smooth vertex normals Cycles renders."""
        self.mesh.vertices.foreach_set("co", vertices.astype(np.float32).ravel())
        self.mesh.update()

    def set_hair_cover(self, cover: np.ndarray) -> None:
        """Per-vertex hair cover (0..1) the skin material tints by; zeros for a bald sample."""
        self.mesh.attributes[HAIR_COVER_ATTRIBUTE].data.foreach_set("value", np.asarray(cover, np.float32))

    def vertex_normals(self) -> np.ndarray:
        """The smooth vertex normals of the current mesh, as Blender computed them (world)."""
        out = np.empty(len(self.mesh.vertices) * 3, np.float32)
        self.mesh.vertex_normals.foreach_get("vector", out)
        return out.reshape(-1, 3)


def _facing_angles(forward: np.ndarray) -> tuple[float, float]:
    """Yaw (0 = facing -Y, counter-clockwise from above) and pitch (up +) of a direction, degrees."""
    yaw = np.degrees(np.arctan2(forward[0], -forward[1]))
    pitch = np.degrees(np.arctan2(forward[2], np.hypot(forward[0], forward[1])))
    return float(yaw), float(pitch)


def _build_mesh(vertices: np.ndarray, faces: np.ndarray, eye_faces: np.ndarray,
                materials: list[bpy.types.Material]) -> bpy.types.Mesh:
    """Triangle mesh with smooth shading and skin/eye material slots."""
    mesh = bpy.data.meshes.new("synthhuman_body")
    mesh.vertices.add(len(vertices))
    mesh.vertices.foreach_set("co", vertices.astype(np.float32).ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), bool))
    for mat in materials:
        mesh.materials.append(mat)
    mesh.polygons.foreach_set("material_index", np.where(eye_faces, EYE_SLOT, SKIN_SLOT).astype(np.int32))
    mesh.update(calc_edges=True)
    mesh.validate(verbose=False)
    return mesh


def _add_static_attributes(mesh: bpy.types.Mesh, rest_vertices: np.ndarray, eye_cos: np.ndarray) -> None:
    """Texture-space attributes that never change per sample (they follow the skin, not the pose)."""
    rest = mesh.attributes.new(REST_ATTRIBUTE, "FLOAT_VECTOR", "POINT")
    rest.data.foreach_set("vector", rest_vertices.astype(np.float32).ravel())
    eye = mesh.attributes.new(EYE_ATTRIBUTE, "FLOAT", "POINT")
    eye.data.foreach_set("value", eye_cos.astype(np.float32))
    mesh.attributes.new(HAIR_COVER_ATTRIBUTE, "FLOAT", "POINT")  # zeros: written per sample


def load_walk_clip(path: Path) -> dict[str, list[tuple[int, np.ndarray]]]:
    """FK rotation keys of Anny's bundled walk cycle: bone -> [(frame, XYZ Euler radians)].

    The clip's limb channels drive IK controllers (``*_ik`` bones) that Anny's rig lacks, so
    only the FK channels (root, spine, neck, head, clavicles, toes) are kept.
    """
    data = json.loads(Path(path).read_text())["animation_data"]
    clip: dict[str, list[tuple[int, np.ndarray]]] = {}
    for bone, keys in data.items():
        if bone.endswith("_ik"):
            continue
        frames = [(int(f), np.asarray(ch["rotation_euler"]["values"], float))
                  for f, ch in keys.items() if "rotation_euler" in ch]
        clip[bone] = sorted(frames, key=lambda fk: fk[0])
    return clip


def walk_cycle_length(clip: dict[str, list[tuple[int, np.ndarray]]]) -> int:
    """Number of distinct frames in the loop (its last key repeats the first)."""
    return max(f for keys in clip.values() for f, _ in keys)


def clip_rotations(clip: dict[str, list[tuple[int, np.ndarray]]], frame: float, bone_labels: list[str],
                   reference_rot: np.ndarray) -> dict[str, np.ndarray]:
    """Base-pose rotations at ``frame`` (keys interpolated linearly), as local-ref 3x3 deltas.

    Clip rotations are Blender bone-local (Anny's ``local-bone``, axes U_c); ``local-ref``
    expresses the same rotation in world-aligned axes: D_ref = U_c D_bone U_c^T.
    """
    frame = float(frame) % walk_cycle_length(clip)
    out = {}
    for bone, keys in clip.items():
        if bone not in bone_labels:
            continue
        frames = np.array([f for f, _ in keys], float)
        values = np.stack([v for _, v in keys])
        euler = np.array([np.interp(frame, frames, values[:, k]) for k in range(3)])
        u = reference_rot[bone_labels.index(bone)]
        out[bone] = u @ geometry.euler_xyz_to_matrix(np.rad2deg(euler)) @ u.T
    return out
