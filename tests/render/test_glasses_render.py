"""Glasses (issue 14): they sit on the posed head, and `transparent_gt` decides what lens pixels
hold: the eye region behind the lens (`see-through`, paper A.2) or the lens (`surface`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import trimesh
from conftest import make_spec
from scipy.ndimage import binary_erosion
from scipy.spatial import cKDTree

from synthhuman.geometry import pixel_rays
from synthhuman.outfit import GLASSES_SHAPES, GlassesSpec, OutfitSpec

GLASSES = GlassesSpec(shape="rectangular", lens="clear", frame_material="acetate", rim_radius_m=0.0018,
                      lens_width_m=0.05, lens_height=0.75, vertex_distance_m=0.014)


def glasses_spec(mode: str, glasses: GlassesSpec = GLASSES):
    spec = make_spec("face", width=72, height=96, azimuth_deg=10.0)
    return dataclasses.replace(spec, outfit=OutfitSpec(glasses=glasses),
                               render=dataclasses.replace(spec.render, transparent_gt=mode))


@pytest.fixture(scope="module")
def modes(renderer):
    """The same face with glasses in both GT modes, and without glasses."""
    out = {mode: renderer.render_sample(glasses_spec(mode), export_mesh=True) for mode in ("see-through", "surface")}
    bare = make_spec("face", width=72, height=96, azimuth_deg=10.0)
    out["bare"] = renderer.render_sample(bare, export_mesh=False)
    return out


def lens_pixels(sample, erode: bool = True) -> np.ndarray:
    """Pixels whose camera ray meets a lens before anything else (ray cast of the export through
    the pixel centre), eroded by one pixel unless ``erode`` is False."""
    meshes = [(sample.mesh.vertices, sample.mesh.faces, False)]
    meshes += [(w.vertices, w.faces, w.name == "glasses_lenses") for w in sample.mesh.worn]
    offsets = np.cumsum([0] + [len(v) for v, _, _ in meshes])
    faces = np.concatenate([f + o for (_, f, _), o in zip(meshes, offsets, strict=False)])
    is_lens = np.concatenate([np.full(len(f), lens) for _, f, lens in meshes])
    mesh = trimesh.Trimesh(np.concatenate([v for v, _, _ in meshes]), faces, process=False)
    h, w = sample.alpha.shape
    dirs = pixel_rays(sample.K, w, h).reshape(-1, 3)
    tri, ray = mesh.ray.intersects_id(np.zeros_like(dirs), dirs, multiple_hits=False)
    out = np.zeros(h * w, bool)
    out[ray[is_lens[tri]]] = True
    out = out.reshape(h, w)
    return binary_erosion(out, np.ones((3, 3), bool)) if erode else out


def test_see_through_shows_the_eyes_and_surface_the_lens(modes):
    see, surf, bare = modes["see-through"], modes["surface"], modes["bare"]
    lens = lens_pixels(see) & (bare.alpha >= 1.0)  # the person behind the lens (not the lens over the background)
    assert lens.sum() > 40, "both lenses must be in view"
    gap = (see.depth - surf.depth)[lens]
    assert gap.min() > 0.004 and np.median(gap) > 0.01  # the lens is in front of the eye region by its distance
    # behind the lens is the face as rendered without glasses
    assert np.median(np.abs(see.depth[lens] - bare.depth[lens])) < 0.001
    cos = (see.normal[lens] * bare.normal[lens]).sum(-1)
    assert np.median(np.degrees(np.arccos(np.clip(cos, -1, 1)))) < 2.0
    # surface normals are the lens's: they face the camera, unlike the eye region's spread
    assert np.median(surf.normal[lens][:, 2]) > 0.9
    # alpha covers the lenses in both modes (over the background too), RGB is the same refracting render
    every_lens = lens_pixels(see)
    assert (see.alpha[every_lens] > 0.99).all() and (surf.alpha[every_lens] > 0.99).all()
    np.testing.assert_array_equal(see.rgb, surf.rgb)


def test_off_the_lenses_the_two_modes_are_bit_identical(modes):
    see, surf = modes["see-through"], modes["surface"]
    differs = (see.depth != surf.depth) | (see.normal != surf.normal).any(-1) | (see.alpha != surf.alpha)
    off_lens = binary_erosion(~lens_pixels(see, erode=False), np.ones((5, 5), bool), border_value=1)  # 2 px margin
    assert differs.any()
    assert not (differs & off_lens).any()


@pytest.mark.parametrize("shape", GLASSES_SHAPES)
def test_glasses_sit_on_the_head_clear_of_the_skin(renderer, shape):
    """Lenses in front of the corneas by about the vertex distance, no skin through the frame or
    lenses, the bridge resting near the nose and the temples reaching back over the ears."""
    spec = glasses_spec("see-through", dataclasses.replace(GLASSES, shape=shape))
    renderer.update_scene(spec)
    g = renderer.glasses_mesh
    skin = renderer.body.mesh
    verts = np.empty(len(skin.vertices) * 3, np.float32)
    skin.vertices.foreach_get("co", verts)
    verts = verts.reshape(-1, 3).astype(np.float64)
    distance = np.linalg.norm(g.lens_centres - g.cornea, axis=1)
    assert ((distance > 0.010) & (distance < 0.030)).all(), distance
    tree = cKDTree(verts[renderer.atlas.fit_ids])
    frame_d, _ = tree.query(g.frame_vertices)
    lens_d, _ = tree.query(g.lens_vertices)
    assert frame_d.min() > 0.0008 and lens_d.min() > 0.002
    body = trimesh.Trimesh(verts, renderer.body.faces, process=False)
    inside = body.contains(g.frame_vertices[::3]) if body.is_watertight else np.zeros(1, bool)
    assert not inside.any()
    assert np.linalg.norm(g.frame_vertices - g.lens_centres.mean(axis=0), axis=1).max() > 0.08  # temples reach back
    ears = verts[np.unique(renderer.atlas.faces[renderer.atlas.ear_faces])]
    near_ear, _ = cKDTree(ears).query(g.frame_vertices)
    assert np.sort(near_ear)[20] < 0.012  # some frame rests at the ears
