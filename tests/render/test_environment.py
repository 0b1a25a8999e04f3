"""The floor under the person (issue 15): a shadow catcher that leaves the person's ground truth
untouched, shows the HDRI's own ground with a contact shadow, and that the person stands on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec

from synthhuman import geometry
from synthhuman.backplate import camera_ray_directions, equirect_lookup
from synthhuman.spec import EnvironmentSpec

pytestmark = pytest.mark.render

FLOOR = EnvironmentSpec(ground=True, ground_albedo=0.25)


def _spec(ground: bool, **kw):
    spec = make_spec("full", width=96, height=128, samples=8, **kw)
    spec = dataclasses.replace(spec, render=dataclasses.replace(spec.render, denoise=False))
    return dataclasses.replace(spec, environment=FLOOR if ground else EnvironmentSpec())


@pytest.fixture(scope="module")
def pair(renderer):
    """The same full-body spec without and with a floor; "layers": the raw passes of the latter."""
    from synthhuman.render import passes

    out = {ground: renderer.render_sample(_spec(ground), export_mesh=True) for ground in (False, True)}
    out["layers"] = passes.read_exr(Path(renderer.scene.render.filepath))
    return out


def test_the_backplate_lookup_is_blenders_environment_pass(renderer):
    """Where no sample meets the person, the Environment pass is the HDRI along the ray: our
    lookup (rotation, strength, equirect convention) must reproduce it. Pixel filter and 4 spp
    noise leave ~3%; a mirrored rotation gives 80%."""
    from synthhuman.render import passes

    spec = _spec(False, azimuth_deg=100.0)
    spec = dataclasses.replace(spec, lighting=dataclasses.replace(spec.lighting, rotation_deg=70.0, strength=1.3))
    sample = renderer.render_sample(spec)
    layers = passes.read_exr(Path(renderer.scene.render.filepath))
    env = np.stack([layers[f"Environment.{c}"] for c in "RGB"], axis=-1)
    sky = layers["Combined.A"] < 1e-4
    pixels = next(iter(renderer._hdri_pixels.values())) if renderer._hdri_pixels else None
    if pixels is None:
        from synthhuman.render.environment import hdri_pixels

        pixels = hdri_pixels(next(iter(renderer._hdri_cache.values())))
    dirs = camera_ray_directions(np.array(sample.meta["K"]), np.array(sample.meta["cam_to_world"]), 96, 128)
    diff = lambda rot: float(np.abs(equirect_lookup(pixels, dirs, rot, 1.3)[sky] - env[sky]).mean() / env[sky].mean())  # noqa: E731
    assert diff(70.0) < 0.06
    assert diff(-70.0) > 0.3  # the check tells a wrong rotation apart


def test_a_floor_leaves_the_persons_ground_truth_unchanged(pair):
    """Alpha, depth and normals are the person's alone: the floor changes the RGB only."""
    bare, floor = pair[False], pair[True]
    assert np.array_equal(bare.alpha, floor.alpha)
    assert np.array_equal(bare.depth, floor.depth)
    assert np.abs(bare.normal - floor.normal).max() < 1e-5
    assert floor.alpha.sum() > 300  # a person is there


def test_the_floor_shows_the_hdri_ground_with_a_contact_shadow(pair, renderer):
    """Off the person the floor is the HDRI seen along the ray, darker near the feet (their
    shadow) than far from them."""
    floor = pair[True]
    K, cam = np.array(floor.meta["K"]), np.array(floor.meta["cam_to_world"])
    h, w = floor.alpha.shape
    dirs = camera_ray_directions(K, cam, w, h)
    pixels = next(iter(renderer._hdri_pixels.values()))
    spec = _spec(True)
    plate = geometry.linear_to_srgb8(equirect_lookup(pixels, dirs, spec.lighting.rotation_deg, spec.lighting.strength))
    # floor pixels: rays going down that hit z = 0, away from the person
    t = -cam[2, 3] / np.minimum(dirs[..., 2], -1e-9)
    hit = cam[:3, 3] + dirs * t[..., None]
    on_floor = (dirs[..., 2] < -0.05) & (floor.alpha == 0)
    feet = floor.mesh.vertices[np.argsort(floor.mesh.vertices[:, 1])[:20]]  # lowest in camera y: the soles
    feet_world = feet.astype(np.float64) @ cam[:3, :3].T + cam[:3, 3]
    dist = np.linalg.norm(hit[..., :2][..., None, :] - feet_world[None, None, :, :2], axis=-1).min(axis=-1)
    lum = lambda img: img.astype(np.float64).mean(axis=-1)  # noqa: E731
    ratio = lum(floor.rgb) / np.maximum(lum(plate), 1.0)
    shadow = pair["layers"]["Shadow Catcher.G"]  # Cycles' own ratio of light with / without the person
    near, far = on_floor & (dist < 0.1), on_floor & (dist > 1.0)
    assert near.sum() > 10 and far.sum() > 50
    assert np.median(ratio[far]) == pytest.approx(1.0, abs=0.1)  # the HDRI's ground, unshadowed
    assert shadow[near].min() < 0.85 and np.median(shadow[far]) > 0.95  # a contact shadow exists
    # and the picture carries it: where Cycles says shadow, the floor is darker
    assert np.corrcoef(ratio[on_floor], shadow[on_floor])[0, 1] > 0.5


def test_sampled_people_stand_on_the_floor_and_the_camera_stays_above_it(renderer):
    """Full-body specs of the default config: the lowest point of the feet (or shoes) is on the
    floor within 1 cm, and no camera is under it."""
    from synthhuman.config import load_config
    from synthhuman.render.scene import MIN_CAMERA_HEIGHT_M
    from synthhuman.sampling import sample_scene

    cfg = load_config(overrides={"render": {"resolution": [48, 64], "samples": 1}})
    checked = 0
    for index in range(40):
        spec = sample_scene(5, index, cfg, ["hdri/city"])
        if spec.camera.framing != "full":
            continue
        assert spec.environment.ground
        _, cam, posed = renderer.update_scene(spec)
        feet = np.isin(renderer.body.dominant_bone, [i for i, b in enumerate(renderer.body.bone_labels)
                                                     if b.startswith(("foot", "toe"))])
        lowest = min([posed.vertices[feet, 2].min(), *(v[:, 2].min() for n, v in renderer.worn.items() if n == "shoes")])
        assert abs(lowest) < 0.01
        assert posed.vertices[:, 2].min() > -0.01  # nothing else under the floor
        assert cam[2, 3] >= MIN_CAMERA_HEIGHT_M - 1e-9
        checked += 1
    assert checked >= 8
