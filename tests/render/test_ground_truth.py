"""Depth and normals agree with an independent embree ray cast of the exported camera-space mesh."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import interior_mask, make_spec, normal_errors_deg, raycast_reference

pytestmark = pytest.mark.render


@pytest.mark.parametrize("framing", ["face", "upper", "full"])
def test_depth_matches_raycast(rendered, framing):
    sample = rendered[framing]
    depth, _, hit = raycast_reference(sample)
    mask = interior_mask(sample, hit)
    assert mask.sum() > 200, "too few interior pixels to judge"
    err = np.abs(sample.depth - depth)[mask]
    assert np.median(err) < 1e-3, f"median depth error {np.median(err):.2e} m"
    assert np.percentile(err, 95) < 5e-3


@pytest.mark.parametrize("framing", ["face", "upper", "full"])
def test_normals_match_raycast(rendered, framing):
    angle = normal_errors_deg(rendered[framing])
    assert angle.size > 200
    assert np.median(angle) < 2.0, f"median normal error {np.median(angle):.2f} deg"
    assert np.percentile(angle, 90) < 8.0


@pytest.mark.parametrize("defect", ["mirrored_x", "swapped_y_z"])
def test_normal_check_catches_a_wrong_camera_frame(renderer, monkeypatch, defect):
    """Plant the defect the check exists for: a wrong world -> camera rotation of normals.

    The rotation is shared by the normal pass and the exported mesh's vertex normals, so only
    a reference built from the triangles' geometry (not from those normals) can see it.
    """
    from synthhuman import geometry

    correct = geometry.world_to_camera_normals
    planted = {"mirrored_x": lambda n: n * np.array([-1.0, 1.0, 1.0]),
               "swapped_y_z": lambda n: n[..., [0, 2, 1]]}[defect]
    monkeypatch.setattr(geometry, "world_to_camera_normals", lambda n, m: planted(correct(n, m)))
    sample = renderer.render_sample(make_spec("upper"), export_mesh=True)
    angle = normal_errors_deg(sample)
    assert np.median(angle) > 10.0, f"a {defect} camera frame passed the normal check"


@pytest.mark.parametrize("framing", ["face", "upper", "full"])
def test_foreground_matches_raycast_silhouette(rendered, framing):
    """Alpha covers the ray-cast silhouette: a pixel-centre hit is never transparent and vice versa."""
    sample = rendered[framing]
    _, _, hit = raycast_reference(sample)
    assert not np.any(hit & (sample.alpha == 0))
    assert not np.any(~hit & (sample.alpha == 1))
    assert np.array_equal(sample.depth > 0, hit & (sample.alpha > 0))


def test_exported_mesh_is_rendered_geometry(rendered, renderer):
    """The export has the Blender mesh's topology; its normals are unit length."""
    mesh = rendered["upper"].mesh
    assert mesh.vertices.shape == (len(renderer.body.mesh.vertices), 3)
    assert mesh.faces.shape == (len(renderer.body.mesh.polygons), 3)
    np.testing.assert_allclose(np.linalg.norm(mesh.vertex_normals, axis=1), 1.0, atol=1e-4)
