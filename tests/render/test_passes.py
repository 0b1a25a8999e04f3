"""Properties of the GT passes: normals, alpha edges, the compositing rule, determinism, in-place updates."""

from __future__ import annotations

import dataclasses

import bpy
import numpy as np
import pytest
from conftest import make_spec, raycast_reference
from scipy.ndimage import binary_dilation, binary_erosion
from synthhuman.render.scene import opaque_film

from synthhuman import geometry

pytestmark = pytest.mark.render
FRAMINGS = ["face", "upper", "full"]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_normals_unit_on_foreground_zero_off(rendered, framing):
    s = rendered[framing]
    norm = np.linalg.norm(s.normal, axis=-1)
    fg = s.alpha > 0
    np.testing.assert_allclose(norm[fg], 1.0, atol=1e-5)
    assert np.all(s.normal[~fg] == 0) and np.all(s.depth[~fg] == 0)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_normals_face_the_camera(rendered, framing):
    """z points towards the viewer, so visible surfaces have n_z > 0 (silhouette grazing aside)."""
    s = rendered[framing]
    nz = s.normal[..., 2][s.alpha >= 1.0]
    assert np.mean(nz > 0) > 0.97
    assert np.median(nz) > 0.5


@pytest.mark.parametrize("framing", FRAMINGS)
def test_normals_agree_with_depth_derivatives(rendered, framing):
    """Finite differences of back-projected depth give the same surface orientation (loosely)."""
    s = rendered[framing]
    from_depth = geometry.normals_from_depth(s.depth, s.K)
    smooth = binary_erosion(s.alpha >= 1.0, np.ones((5, 5), bool)) & (np.abs(from_depth).sum(-1) > 0)
    assert smooth.sum() > 50
    angle = np.degrees(np.arccos(np.clip((s.normal * from_depth).sum(-1)[smooth], -1, 1)))
    assert np.median(angle) < 12.0, f"median {np.median(angle):.1f} deg"


@pytest.mark.parametrize("framing", FRAMINGS)
def test_alpha_fractional_only_near_silhouette(rendered, framing):
    s = rendered[framing]
    _, _, hit = raycast_reference(s)
    interior = binary_erosion(hit, np.ones((5, 5), bool))
    far = ~binary_dilation(hit, np.ones((5, 5), bool))
    assert np.all(s.alpha[interior] == 1.0)
    assert np.all(s.alpha[far] == 0.0)
    soft = (s.alpha > 0) & (s.alpha < 1)
    band = binary_dilation(hit, iterations=2) & ~binary_erosion(hit, iterations=2)
    assert soft.sum() > 0 and np.all(band[soft]), "fractional alpha away from the silhouette"


def test_rgb_is_combined_plus_environment(renderer):
    """The transparent-film sum reproduces an opaque render of the same spec (linear values)."""
    spec = make_spec("upper", width=48, height=64, samples=4)
    spec = dataclasses.replace(spec, render=dataclasses.replace(spec.render, denoise=False))  # raw sums
    renderer.update_scene(spec)
    transparent = renderer.render_layers()
    with opaque_film(renderer.scene):
        opaque = renderer.render_layers()
    assert renderer.scene.render.film_transparent
    summed = np.stack([transparent[f"Combined.{c}"] + transparent[f"Environment.{c}"] for c in "RGB"], -1)
    reference = np.stack([opaque[f"Combined.{c}"] for c in "RGB"], -1)
    assert np.abs(summed - reference).max() < 2e-3 * max(1.0, reference.max())
    wrong = np.stack([transparent[f"Combined.{c}"] + (1 - transparent["Combined.A"]) * transparent[
        f"Environment.{c}"] for c in "RGB"], -1)
    soft = (transparent["Combined.A"] > 0.05) & (transparent["Combined.A"] < 0.95)
    assert np.abs(wrong - reference)[soft].mean() > 10 * np.abs(summed - reference)[soft].mean()


def test_same_spec_is_bit_identical(renderer, rendered):
    again = renderer.render_sample(make_spec("upper"))
    first = rendered["upper"]
    for key in ("rgb", "alpha", "depth", "normal"):
        assert np.array_equal(getattr(first, key), getattr(again, key)), key
    assert again.meta["K"] == first.meta["K"] and again.meta["cam_to_world"] == first.meta["cam_to_world"]


def test_denoiser_touches_rgb_only(renderer):
    """OpenImageDenoise cleans the RGB; alpha, depth and normals are bit-identical without it."""
    spec = make_spec("upper", width=64, height=80, samples=4)
    noisy = renderer.render_sample(dataclasses.replace(spec, render=dataclasses.replace(spec.render, denoise=False)))
    clean = renderer.render_sample(dataclasses.replace(spec, render=dataclasses.replace(spec.render, denoise=True)))
    for key in ("alpha", "depth", "normal"):
        assert np.array_equal(getattr(noisy, key), getattr(clean, key)), key
    body = clean.alpha == 1
    assert not np.array_equal(noisy.rgb, clean.rgb)
    # Denoised skin is smoother: less pixel-to-pixel variation inside the body.
    def roughness(rgb: np.ndarray) -> float:
        grey = rgb.astype(float).mean(-1)
        return float(np.abs(np.diff(grey, axis=1))[body[:, 1:] & body[:, :-1]].mean())
    assert roughness(clean.rgb) < 0.8 * roughness(noisy.rgb)


def test_body_updates_in_place(renderer):
    obj, mesh = renderer.body.object, renderer.body.mesh
    n_vertices, n_meshes, n_objects = len(mesh.vertices), len(bpy.data.meshes), len(bpy.data.objects)
    a = renderer.render_sample(make_spec("full", width=32, height=48, samples=1, index=1))
    b = renderer.render_sample(make_spec("full", width=32, height=48, samples=1, index=2, base_pose="walk:10"))
    assert renderer.body.object is obj and renderer.body.mesh is mesh and obj.data is mesh
    assert len(mesh.vertices) == n_vertices
    assert (len(bpy.data.meshes), len(bpy.data.objects)) == (n_meshes, n_objects)
    assert not np.array_equal(a.alpha, b.alpha), "the walk pose must change the silhouette"


def test_meta_contract(rendered):
    meta = rendered["face"].meta
    for key in ("spec", "K", "cam_to_world", "asset_ids", "timings", "blender_version", "anny_version"):
        assert key in meta
    assert set(meta["timings"]) == {"scene_update_s", "render_s", "readback_s"}
    assert np.asarray(meta["K"]).shape == (3, 3) and np.asarray(meta["cam_to_world"]).shape == (4, 4)
    assert meta["asset_ids"] == ["hdri/city"]


def test_unknown_hdri_is_a_one_line_error_with_a_hint(renderer):
    from synthhuman.errors import UserError

    with pytest.raises(UserError, match=r"unknown asset id 'hdri/citty'; did you mean hdri/city"):
        renderer.update_scene(make_spec("upper", hdri_id="hdri/citty"))
    assert renderer.asset_path("motion/walk").name.endswith(".json")  # the walk clip comes from the manifest


def test_postprocessing_makes_every_output_of_the_table(rendered):
    """The renderer's post-processing table and the output table name the same maps, and a
    rendered sample carries exactly the required ones with their row's shapes."""
    from synthhuman.render import passes

    from synthhuman import outputs

    assert set(passes.POSTPROCESS) <= set(outputs.OUTPUT_KEYS)
    assert {o.key for o in outputs.REQUIRED} <= set(passes.POSTPROCESS)
    s = rendered["upper"]
    assert set(s.maps) == set(passes.POSTPROCESS)
    assert all(o.shape_problem(s.maps[o.key], s.height, s.width) is None for o in outputs.present(s.maps))
