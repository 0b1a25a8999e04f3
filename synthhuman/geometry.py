"""Camera and ground-truth maths in pure numpy: intrinsics, frames, depth, normals, sRGB.

Conventions are those of ``synthhuman.spec``: camera frame x right, y up, z towards the
viewer (Blender's camera-object frame, the camera looks along -z); depth is camera-space Z
in metres, positive in front; image row 0 is the top; pixel centres at ``(u + 0.5, v + 0.5)``.
"""

from __future__ import annotations

import numpy as np

SENSOR_WIDTH_MM = 36.0  # sensor fit is horizontal: the focal length refers to a 36 mm-wide sensor
BACKGROUND_DEPTH = 1e10  # what Cycles writes in the Z pass where a sample hit nothing


def intrinsics_from_focal(focal_mm: float, width_px: int, height_px: int,
                          sensor_width_mm: float = SENSOR_WIDTH_MM) -> np.ndarray:
    """K in pixels for square pixels, horizontal sensor fit, principal point at the image centre."""
    f_px = focal_mm / sensor_width_mm * width_px
    return np.array([[f_px, 0.0, width_px / 2.0], [0.0, f_px, height_px / 2.0], [0.0, 0.0, 1.0]])


def focal_mm_from_intrinsics(K: np.ndarray, width_px: int, sensor_width_mm: float = SENSOR_WIDTH_MM) -> float:
    """Inverse of ``intrinsics_from_focal`` for the focal length (Blender's ``camera.lens``)."""
    return float(K[0, 0]) * sensor_width_mm / width_px


def rotation_z(angle_deg: float) -> np.ndarray:
    """Right-handed rotation about +z (counter-clockwise seen from above)."""
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def euler_xyz_to_matrix(euler_deg: np.ndarray) -> np.ndarray:
    """XYZ Euler angles (degrees) -> rotation ``Rz @ Ry @ Rx`` (Blender's 'XYZ' order: x applied first)."""
    x, y, z = np.deg2rad(np.asarray(euler_deg, dtype=np.float64))
    cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def look_at(eye: np.ndarray, target: np.ndarray, roll_deg: float = 0.0,
            up: np.ndarray = np.array([0.0, 0.0, 1.0])) -> np.ndarray:
    """cam_to_world (4x4) of a camera at ``eye`` looking at ``target``, world ``up`` kept up, then rolled.

    Positive roll turns the camera counter-clockwise about its viewing direction, so the image
    content turns clockwise.
    """
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = eye - target
    z /= np.linalg.norm(z)
    x = np.cross(up, z)
    if np.linalg.norm(x) < 1e-8:  # looking straight up or down: any horizontal x will do
        x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.stack([x, y, z], axis=1)
    a = np.deg2rad(roll_deg)
    roll = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    m = np.eye(4)
    m[:3, :3] = rot @ roll
    m[:3, 3] = eye
    return m


def world_to_camera_points(points: np.ndarray, cam_to_world: np.ndarray) -> np.ndarray:
    """(..., 3) world points -> camera frame."""
    rot, t = cam_to_world[:3, :3], cam_to_world[:3, 3]
    return (np.asarray(points, np.float64) - t) @ rot


def world_to_camera_normals(normals: np.ndarray, cam_to_world: np.ndarray) -> np.ndarray:
    """(..., 3) world directions -> camera frame: ``n_cam = R.T @ n_world`` (rotation only)."""
    return np.asarray(normals, np.float64) @ cam_to_world[:3, :3]


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 3) camera-frame points in front of the camera -> (..., 2) pixel coords (u right, v down)."""
    depth = -points_cam[..., 2]
    u = K[0, 2] + K[0, 0] * points_cam[..., 0] / depth
    v = K[1, 2] - K[1, 1] * points_cam[..., 1] / depth
    return np.stack([u, v], axis=-1)


def pixel_rays(K: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    """(H, W, 3) camera-frame ray directions through pixel centres, scaled to depth 1 (z = -1)."""
    u = np.arange(width_px) + 0.5
    v = np.arange(height_px) + 0.5
    uu, vv = np.meshgrid(u, v)
    x = (uu - K[0, 2]) / K[0, 0]
    y = -(vv - K[1, 2]) / K[1, 1]
    return np.stack([x, y, -np.ones_like(x)], axis=-1)


def backproject_depth(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(H, W) camera-Z depth -> (H, W, 3) camera-frame points (0 depth gives the origin)."""
    h, w = depth.shape
    return pixel_rays(K, w, h) * depth[..., None]


def normals_from_depth(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame normals from central differences of back-projected depth, facing the camera.

    Only for checks: differences straddle edges, so a pixel whose 4-neighbourhood is not all
    foreground (depth > 0) gets a zero normal.
    """
    p = backproject_depth(depth, K)
    du = np.zeros_like(p)
    dv = np.zeros_like(p)
    du[:, 1:-1] = p[:, 2:] - p[:, :-2]
    dv[1:-1] = p[2:] - p[:-2]
    n = np.cross(dv, du)  # (down) x (right) points out of the image, towards the viewer
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    fg = depth > 0
    ok = np.zeros_like(fg)
    ok[1:-1, 1:-1] = fg[1:-1, 1:-1] & fg[:-2, 1:-1] & fg[2:, 1:-1] & fg[1:-1, :-2] & fg[1:-1, 2:]
    return np.where(ok[..., None], n, 0.0)


def normalize_or_zero(v: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Unit vectors along the last axis; vectors shorter than ``eps`` become 0."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(norm > eps, v / np.maximum(norm, eps), 0.0)


def depth_from_z_pass(z: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Cycles Z pass -> our depth: 0 off the foreground (alpha 0) and where no sample-0 hit (1e10)."""
    fg = (alpha > 0) & (z < BACKGROUND_DEPTH * 0.5)
    return np.where(fg, z, 0.0).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """sRGB OETF (IEC 61966-2-1) on linear values clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


def linear_to_srgb8(x: np.ndarray) -> np.ndarray:
    """Linear RGB -> 8-bit sRGB, rounded to nearest."""
    return np.round(linear_to_srgb(x) * 255.0).astype(np.uint8)
