"""AnalyticRenderer: a sphere rendered in closed form, with exact ground truth, no Blender.

It exists to test everything around the renderer (driver, retries, shards, resume,
inspection, training data) in seconds, the way Kubric tests its core with a mock view,
and to let users check a pipeline on machines without bpy (``--renderer analytic``).
The sphere's size and place follow the spec's camera framing; colours follow the skin
and lighting specs, so different specs give different images.
"""

from __future__ import annotations

import time

import numpy as np

from synthhuman.geometry import intrinsics_from_focal, linear_to_srgb8, pixel_rays
from synthhuman.sample import CameraMesh, RenderedSample
from synthhuman.spec import SceneSpec

SUPERSAMPLES = 4  # per axis: alpha is the exact-ish coverage of a 4x4 grid per pixel


class AnalyticRenderer:
    """Renders a unit-albedo sphere in front of a gradient background."""

    def render_sample(self, spec: SceneSpec, export_mesh: bool = False) -> RenderedSample:
        started = time.perf_counter()
        w, h = spec.render.width_px, spec.render.height_px
        K = intrinsics_from_focal(spec.camera.focal_mm, w, h)
        radius = 0.25
        distance = 2 * radius * K[0, 0] / (spec.camera.fill * h)  # sphere spans `fill` of the height
        centre = np.array([spec.camera.offset_x * 0.3 * radius, spec.camera.offset_y * 0.3 * radius, -distance])
        depth, normal = _ray_cast_sphere(K, w, h, centre, radius, 1)
        coverage = _ray_cast_sphere(K, w, h, centre, radius, SUPERSAMPLES)[0] > 0
        alpha = coverage.reshape(h, SUPERSAMPLES, w, SUPERSAMPLES).mean(axis=(1, 3)).astype(np.float32)
        depth[alpha == 0] = 0.0
        normal[depth == 0] = 0.0
        rgb = _shade(spec, normal, alpha, h, w)
        meta = {
            "spec": spec.to_dict(),
            "K": K.tolist(),
            "cam_to_world": np.eye(4).tolist(),
            "asset_ids": [spec.lighting.hdri_id],
            "renderer": "analytic",
            "timings": {"scene_update_s": 0.0, "render_s": time.perf_counter() - started, "readback_s": 0.0},
        }
        mesh = _sphere_mesh(centre, radius) if export_mesh else None
        return RenderedSample(spec.key, {"rgb": rgb, "alpha": alpha, "depth": depth.astype(np.float32),
                                          "normal": normal.astype(np.float32)}, meta, mesh)

    def close(self) -> None:
        """Nothing to release; present for the Renderer protocol."""


def _ray_cast_sphere(K: np.ndarray, w: int, h: int, centre: np.ndarray, radius: float, ss: int):
    """Camera-Z depth and camera-frame normals of the sphere on an (h*ss, w*ss) ray grid."""
    d = pixel_rays(np.diag([ss, ss, 1.0]) @ K, w * ss, h * ss)  # K of the ss-times finer pixel grid
    b = d @ centre
    a = (d * d).sum(-1)
    disc = b * b - a * (centre @ centre - radius * radius)
    hit = disc >= 0
    t = np.where(hit, (b - np.sqrt(np.where(hit, disc, 0))) / a, 0.0)  # nearest root, z = -t
    points = d * t[..., None]
    normal = np.where(hit[..., None], (points - centre) / radius, 0.0)
    return np.where(hit, t, 0.0), normal


def _shade(spec: SceneSpec, normal: np.ndarray, alpha: np.ndarray, h: int, w: int) -> np.ndarray:
    light = np.array([0.4, 0.6, 0.7]) / np.linalg.norm([0.4, 0.6, 0.7])
    base = np.array([0.8, 0.6, 0.5]) * (1.0 - 0.7 * spec.body.skin.melanin)
    lambert = np.clip(normal @ light, 0, 1)[..., None] * base * spec.lighting.strength + 0.1 * base
    rows = np.linspace(0.2, 0.8, h)[:, None, None]
    hue = (spec.lighting.rotation_deg % 360) / 360
    background = np.broadcast_to(rows * np.array([hue, 0.5, 1 - hue]), (h, w, 3))
    linear = alpha[..., None] * lambert + (1 - alpha[..., None]) * background
    return linear_to_srgb8(linear)


def _sphere_mesh(centre: np.ndarray, radius: float) -> CameraMesh:
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    return CameraMesh(
        vertices=(sphere.vertices + centre).astype(np.float32),
        faces=sphere.faces.astype(np.int32),
        vertex_normals=sphere.vertex_normals.astype(np.float32),
    )
