"""Face framing follows the face: with azimuth 0 and elevation 0 the camera looks the subject
in the eyes even when neck and head are turned and pitched. Checked with the eyeballs'
positions (not the nose direction the framing uses): both eyes at nearly the same depth,
level in the image, in front of the head."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import make_spec

from synthhuman import geometry

pytestmark = pytest.mark.render

TURNED = (("neck01", (8.0, 0.0, 12.0)), ("neck02", (6.0, 0.0, 10.0)), ("head", (-15.0, 0.0, 20.0)))


def eye_centres_camera(renderer, spec) -> np.ndarray:
    _, cam_to_world, posed = renderer.update_scene(spec)
    centres = []
    for bone in ("eye.L", "eye.R"):
        sel = renderer.body.dominant_bone == renderer.body.bone_labels.index(bone)
        centres.append(posed.vertices[sel].mean(axis=0))
    return geometry.world_to_camera_points(np.array(centres), cam_to_world)


def turned_spec(framing: str):
    spec = make_spec(framing, azimuth_deg=0.0)
    pose = dataclasses.replace(spec.pose, bone_euler_deg=TURNED, root_yaw_deg=-25.0)
    camera = dataclasses.replace(spec.camera, elevation_deg=0.0, roll_deg=0.0, offset_x=0.0, offset_y=0.0)
    return dataclasses.replace(spec, pose=pose, camera=camera)


def test_face_framing_looks_the_turned_face_in_the_eyes(renderer):
    left, right = eye_centres_camera(renderer, turned_spec("face"))
    interocular = np.linalg.norm(left - right)
    assert 0.04 < interocular < 0.09
    assert abs(left[2] - right[2]) < 0.15 * interocular  # frontal: same depth (yaw follows the head)
    assert abs(left[1] - right[1]) < 0.15 * interocular  # level: no roll, head upright in the image
    assert left[0] > right[0]  # the subject's left eye is on the image's right: we see the face


def test_upper_framing_still_follows_the_body(renderer):
    """Control: with body-relative framing the same head turn shows as a depth difference."""
    left, right = eye_centres_camera(renderer, turned_spec("upper"))
    assert abs(left[2] - right[2]) > 0.25 * np.linalg.norm(left - right)


def test_sampled_close_views_are_not_blocked_by_the_person(renderer):
    """Face and upper-body crops of the real sampler: the lens is never inside or against the
    person and no shoulder or arm covers the framed region (seed 2 index 28 once put a sleeve
    1 cm from the lens over the whole frame; its view is turned towards the front now)."""
    from synthhuman.config import load_config
    from synthhuman.sampling import sample_scene
    from synthhuman.visibility import MAX_BLOCKED, MIN_CLEARANCE_M

    cfg = load_config(overrides={"render": {"resolution": [48, 64], "samples": 1}})
    views = []
    for index in range(32):
        spec = sample_scene(2, index, cfg, ["hdri/city"])
        if spec.camera.framing == "full":
            continue
        _, cam_to_world, posed = renderer.update_scene(spec)
        view = renderer.view
        views.append(view)
        assert view["clear"], f"index {index}: {view}"
        assert view["blocked"] <= MAX_BLOCKED and view["clearance_m"] >= MIN_CLEARANCE_M
        nearest = np.linalg.norm(posed.vertices - cam_to_world[:3, 3], axis=1).min()
        assert nearest >= MIN_CLEARANCE_M  # measured here, not taken from the check
    assert len(views) >= 12
