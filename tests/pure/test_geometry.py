"""Pure camera / GT maths: intrinsics, frames with known rotations, depth -> normals on analytic shapes."""

from __future__ import annotations

import numpy as np
import pytest

from synthhuman import geometry as g


def test_intrinsics_horizontal_fit_centre_principal_point():
    K = g.intrinsics_from_focal(36.0, 384, 512)
    np.testing.assert_allclose(K, [[384, 0, 192], [0, 384, 256], [0, 0, 1]])
    assert g.focal_mm_from_intrinsics(K, 384) == pytest.approx(36.0)


def test_look_at_frame_conventions():
    """Camera on -Y looking at the origin: x = world +X (right), y = +Z (up), z = -Y (towards the camera)."""
    m = g.look_at(np.array([0.0, -3.0, 0.0]), np.zeros(3))
    np.testing.assert_allclose(m[:3, :3], [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)
    p = g.world_to_camera_points(np.zeros(3), m)
    np.testing.assert_allclose(p, [0, 0, -3])
    n = g.world_to_camera_normals(np.array([0.0, -1.0, 0.0]), m)  # a wall facing the camera
    np.testing.assert_allclose(n, [0, 0, 1], atol=1e-12)


def test_roll_turns_camera_counter_clockwise():
    m = g.look_at(np.array([0.0, -3.0, 0.0]), np.zeros(3), roll_deg=90.0)
    # The camera's x axis now points world up: a point up in the world appears on the image's right.
    np.testing.assert_allclose(m[:3, 0], [0, 0, 1], atol=1e-12)
    K = g.intrinsics_from_focal(50, 100, 100)
    u, v = g.project(g.world_to_camera_points(np.array([0.0, 0.0, 1.0]), m), K)
    assert u > 50 and v == pytest.approx(50)


def test_project_and_rays_are_inverse():
    K = g.intrinsics_from_focal(40.0, 64, 48)
    rays = g.pixel_rays(K, 64, 48)
    pts = rays * 2.5
    uv = g.project(pts, K)
    vv, uu = np.mgrid[0:48, 0:64] + 0.5
    np.testing.assert_allclose(uv[..., 0], uu)
    np.testing.assert_allclose(uv[..., 1], vv)
    assert uv[0, 0, 1] < uv[-1, 0, 1], "row 0 is the top"


def test_euler_order_xyz():
    r = g.euler_xyz_to_matrix(np.array([90.0, 0.0, 90.0]))
    # x first: y -> z, then z about z leaves it: y maps to +z
    np.testing.assert_allclose(r @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_depth_normals_tilted_plane():
    """A plane z = -2 + 0.5 x (camera frame) has normal (-0.5, 0, 1)/|.| facing the camera."""
    K = g.intrinsics_from_focal(50, 40, 30)
    rays = g.pixel_rays(K, 40, 30)
    depth = 2.0 / (1.0 + 0.5 * rays[..., 0])  # solve -d = -2 + 0.5 * d * rx
    n = g.normals_from_depth(depth, K)
    expected = np.array([-0.5, 0.0, 1.0]) / np.linalg.norm([-0.5, 0.0, 1.0])
    np.testing.assert_allclose(n[1:-1, 1:-1], np.broadcast_to(expected, n[1:-1, 1:-1].shape), atol=1e-9)
    assert np.all(n[0] == 0)


def test_depth_normals_sphere():
    K = g.intrinsics_from_focal(50, 80, 80)
    rays = g.pixel_rays(K, 80, 80)
    c, r = np.array([0.0, 0.0, -3.0]), 0.5
    a = (rays**2).sum(-1)
    b = -2 * (rays @ c)
    disc = b**2 - 4 * a * ((c @ c) - r * r)
    t = np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), 0.0)
    depth = t  # rays have z = -1, so t is the camera-Z depth
    n = g.normals_from_depth(depth, K)
    p = rays * t[..., None]
    truth = (p - c) / r
    valid = np.abs(n).sum(-1) > 0
    err = np.degrees(np.arccos(np.clip((n * truth).sum(-1)[valid], -1, 1)))
    assert valid.sum() > 100 and np.median(err) < 1.0


def test_depth_from_z_pass_background_and_alpha():
    z = np.array([[1.5, g.BACKGROUND_DEPTH], [2.0, 3.0]], np.float32)
    alpha = np.array([[0.5, 0.3], [0.0, 1.0]], np.float32)
    np.testing.assert_array_equal(g.depth_from_z_pass(z, alpha), [[1.5, 0.0], [0.0, 3.0]])


def test_srgb_oetf_known_values():
    np.testing.assert_allclose(g.linear_to_srgb(np.array([0.0, 0.0031308, 0.18, 1.0, 2.0])),
                               [0.0, 0.04045, 0.4613561, 1.0, 1.0], atol=1e-5)
    assert g.linear_to_srgb8(np.array([0.5])).dtype == np.uint8
