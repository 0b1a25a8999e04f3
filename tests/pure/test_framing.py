"""resolve_camera: the framed region lands in the image at the requested fill and offset."""

from __future__ import annotations

import numpy as np
import pytest

from synthhuman import geometry as g
from synthhuman.framing import resolve_camera
from synthhuman.spec import CameraSpec


def _region(rng):
    """A random box-ish cloud standing somewhere near the origin (a stand-in for a body part)."""
    size = rng.uniform([0.1, 0.1, 0.2], [0.6, 0.4, 1.8])
    return rng.uniform(-0.5, 0.5, (400, 3)) * size + rng.uniform(-0.3, 0.3, 3) + [0, 0, 1.0]


@pytest.mark.parametrize("seed", range(12))
def test_region_fill_and_offset(seed):
    rng = np.random.default_rng(seed)
    cam = CameraSpec(framing="upper", focal_mm=float(rng.uniform(24, 85)), azimuth_deg=float(rng.uniform(-180, 180)),
                     elevation_deg=float(rng.uniform(-20, 30)), roll_deg=float(rng.uniform(-15, 15)),
                     fill=float(rng.uniform(0.4, 0.9)), offset_x=float(rng.uniform(-0.2, 0.2)),
                     offset_y=float(rng.uniform(-0.2, 0.2)))
    pts = _region(rng)
    w, h = 384, 512
    K, c2w = resolve_camera(cam, pts, w, h, facing_yaw_deg=float(rng.uniform(-180, 180)))
    np.testing.assert_allclose(K, g.intrinsics_from_focal(cam.focal_mm, w, h))
    np.testing.assert_allclose(c2w[:3, :3] @ c2w[:3, :3].T, np.eye(3), atol=1e-9)
    uv = g.project(g.world_to_camera_points(pts, c2w), K)
    lo, hi = uv.min(0), uv.max(0)
    assert np.all(lo >= 0) and np.all(hi <= [w, h]), "region leaves the image"
    fill = max((hi - lo)[0] / w, (hi - lo)[1] / h)
    assert fill == pytest.approx(cam.fill, abs=0.01)
    centre = (lo + hi) / 2
    np.testing.assert_allclose((centre - [w / 2, h / 2]) / [w / 2, -h / 2], [cam.offset_x, cam.offset_y], atol=0.01)


def test_azimuth_zero_is_in_front_of_the_subject():
    pts = np.random.default_rng(0).uniform(-0.1, 0.1, (50, 3)) + [0, 0, 1.6]
    cam = CameraSpec("face", 50.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0)
    _, c2w = resolve_camera(cam, pts, 64, 64)
    assert c2w[1, 3] < -0.5, "body faces -Y, so the front camera stands at negative Y"
    _, turned = resolve_camera(cam, pts, 64, 64, facing_yaw_deg=90.0)
    assert turned[0, 3] > 0.5, "a body turned +90 deg about Z faces +X"


def test_offsets_clamped_to_keep_region_inside():
    pts = np.random.default_rng(1).uniform(-0.2, 0.2, (100, 3))
    cam = CameraSpec("full", 50.0, 0.0, 0.0, 0.0, 0.8, 0.9, -0.9)
    K, c2w = resolve_camera(cam, pts, 100, 100)
    uv = g.project(g.world_to_camera_points(pts, c2w), K)
    assert uv.min() >= -1e-6 and uv.max() <= 100 + 1e-6
