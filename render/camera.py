"""The render camera: one object, per sample set from resolved (K, cam_to_world).

Blender's camera-object frame is ours (x right, y up, looking along -z), so
``cam_to_world`` is its ``matrix_world`` unchanged. Sensor fit is horizontal with a 36 mm
sensor, square pixels, no lens shift: the principal point is the image centre, which is
what ``geometry.intrinsics_from_focal`` assumes.
"""

from __future__ import annotations

import bpy
import mathutils
import numpy as np

from synthhuman import geometry


def build_camera(scene: bpy.types.Scene) -> bpy.types.Object:
    """Create the single perspective camera and make it the scene camera."""
    data = bpy.data.cameras.new("synthhuman_camera")
    data.type = "PERSP"
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = geometry.SENSOR_WIDTH_MM
    data.shift_x = data.shift_y = 0.0
    data.clip_start, data.clip_end = 0.01, 1000.0
    cam = bpy.data.objects.new("synthhuman_camera", data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    return cam


def set_camera(scene: bpy.types.Scene, cam: bpy.types.Object, K: np.ndarray, cam_to_world: np.ndarray) -> None:
    """Apply intrinsics and pose; refuses K that Blender's camera model cannot represent."""
    w, h = scene.render.resolution_x, scene.render.resolution_y
    expected = geometry.intrinsics_from_focal(geometry.focal_mm_from_intrinsics(K, w), w, h)
    if not np.allclose(K, expected, rtol=1e-9, atol=1e-9):
        raise ValueError("K must have square pixels and the principal point at the image centre")
    cam.data.lens = geometry.focal_mm_from_intrinsics(K, w)
    cam.matrix_world = mathutils.Matrix(np.asarray(cam_to_world, dtype=np.float64).tolist())
