"""Resolve a relative CameraSpec against the posed body into absolute K and cam_to_world.

Why here and not in the sampler: how far the camera must stand to frame a face or a full
body depends on the posed geometry, which only exists at render time. This module is pure
numpy so that it is tested without Blender.

Definitions (the camera looks at the framed region's bounding-box centre ``c``):

* direction: azimuth 0 is in front of the subject (``facing_yaw_deg`` rotates "front" with
  the body, or with the head for face framing; at yaw 0 the body faces -Y), positive azimuth
  turns the camera counter-clockwise seen from above; elevation raises the camera above
  ``c``, measured from ``facing_pitch_deg`` (the head's tilt for face framing, so "level"
  means level with the face); roll turns it about its axis.
* fill: the larger of (projected region height / image height) and (width / image width),
  so the region always fits the frame whatever its shape.
* offset_x / offset_y: the projected region's box centre lies at ``offset * half-size`` from
  the image centre, +x right, +y up; clamped to ``1 - fill`` per axis so the box stays inside.
"""

from __future__ import annotations

import numpy as np

from synthhuman.geometry import intrinsics_from_focal, look_at, project, world_to_camera_points
from synthhuman.spec import CameraSpec

_ITERATIONS = 12
MAX_ELEVATION_DEG = 85.0  # keeps look_at away from the degenerate straight-down view


def camera_direction(azimuth_deg: float, elevation_deg: float, facing_yaw_deg: float = 0.0) -> np.ndarray:
    """Unit vector from the framed region towards the camera, in world coordinates."""
    a = np.deg2rad(azimuth_deg + facing_yaw_deg)
    e = np.deg2rad(elevation_deg)
    return np.array([np.sin(a) * np.cos(e), -np.cos(a) * np.cos(e), np.sin(e)])


def region_box(points_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centre, size) of the pixel-space bounding box of projected points."""
    lo, hi = points_px.min(axis=0), points_px.max(axis=0)
    return (lo + hi) / 2.0, hi - lo


def _measure(points_world: np.ndarray, cam_to_world: np.ndarray, K: np.ndarray,
             size_px: np.ndarray) -> tuple[float, np.ndarray]:
    """Current fill and box centre (in units of half image size, +y up) of the region."""
    pc = world_to_camera_points(points_world, cam_to_world)
    if np.any(pc[:, 2] >= -1e-6):
        raise ValueError("framed region reaches behind the camera; increase the distance")
    centre, size = region_box(project(pc, K))
    fill = float(np.max(size / size_px))
    offset = (centre - size_px / 2.0) / (size_px / 2.0) * np.array([1.0, -1.0])
    return fill, offset


def resolve_camera(camera: CameraSpec, region_points_world: np.ndarray, width_px: int, height_px: int,
                   facing_yaw_deg: float = 0.0, facing_pitch_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(K 3x3, cam_to_world 4x4) placing the region at the requested fill and offset.

    Fixed-point iteration: the distance scales with the fill ratio, and a lateral shift in the
    camera plane (proportional to depth / focal) moves the box centre; perspective makes
    both slightly non-linear, so a few rounds are needed.
    """
    pts = np.asarray(region_points_world, np.float64).reshape(-1, 3)
    K = intrinsics_from_focal(camera.focal_mm, width_px, height_px)
    size_px = np.array([width_px, height_px], np.float64)
    fill_target = float(np.clip(camera.fill, 1e-3, 1.0))
    limit = 1.0 - fill_target
    target = np.clip(np.array([camera.offset_x, camera.offset_y]), -limit, limit)
    centre = (pts.min(axis=0) + pts.max(axis=0)) / 2.0
    elevation = float(np.clip(camera.elevation_deg + facing_pitch_deg, -MAX_ELEVATION_DEG, MAX_ELEVATION_DEG))
    d = camera_direction(camera.azimuth_deg, elevation, facing_yaw_deg)
    radius = max(float(np.linalg.norm(pts - centre, axis=1).max()), 1e-3)
    dist = radius * K[0, 0] / (fill_target * min(size_px)) + radius  # a first guess in front of the region
    base = look_at(centre + dist * d, centre, camera.roll_deg)
    rot = base[:3, :3]
    shift = np.zeros(2)
    for _ in range(_ITERATIONS):
        cam = _place(rot, centre, d, dist, shift)
        fill, offset = _measure(pts, cam, K, size_px)
        dist *= fill / fill_target
        cam = _place(rot, centre, d, dist, shift)
        fill, offset = _measure(pts, cam, K, size_px)
        # A point at depth `dist` moves by f/dist pixels per metre of opposite camera shift.
        shift -= (target - offset) * (size_px / 2.0) / K[0, 0] * dist
    return K, _place(rot, centre, d, dist, shift)


def _place(rot: np.ndarray, centre: np.ndarray, d: np.ndarray, dist: float, shift: np.ndarray) -> np.ndarray:
    """cam_to_world with orientation ``rot`` at ``centre + dist d`` moved by ``shift`` in its x/y plane."""
    m = np.eye(4)
    m[:3, :3] = rot
    m[:3, 3] = centre + dist * d + rot[:, 0] * shift[0] + rot[:, 1] * shift[1]
    return m
