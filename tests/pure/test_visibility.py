"""The view check (synthhuman.visibility) on geometry whose answer is known by construction."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import trimesh

from synthhuman.framing import resolve_camera
from synthhuman.spec import CameraSpec
from synthhuman.visibility import MIN_CLEARANCE_M, check_view, fallback_angles


def _camera(**kw) -> CameraSpec:
    base = {"framing": "face", "focal_mm": 50.0, "fill": 0.6, "azimuth_deg": 0.0, "elevation_deg": 0.0,
            "roll_deg": 0.0, "offset_x": 0.0, "offset_y": 0.0}
    return CameraSpec(**{**base, **kw})


def _scene(*meshes: trimesh.Trimesh) -> trimesh.Trimesh:
    return trimesh.util.concatenate(meshes)


HEAD = trimesh.creation.icosphere(3, radius=0.1)  # at the origin; the camera looks at it from -Y


def _view(*occluders: trimesh.Trimesh, **camera):
    K, cam_to_world = resolve_camera(_camera(**camera), HEAD.vertices, 96, 128)
    return check_view(cam_to_world, K, np.asarray(HEAD.vertices), _scene(HEAD, *occluders)), cam_to_world


def test_an_unobstructed_head_is_seen():
    view, cam = _view()
    assert view.ok and view.blocked == 0.0
    assert abs(view.clearance_m - (np.linalg.norm(cam[:3, 3]) - 0.1)) < 0.01  # the sphere's near side


def test_a_slab_between_lens_and_head_blocks_the_view():
    _, cam = _view()
    between = cam[:3, 3] * 0.5  # halfway from the head to the lens
    slab = trimesh.creation.box((0.6, 0.02, 0.6), trimesh.transformations.translation_matrix(between))
    view, _ = _view(slab)
    assert view.blocked > 0.95 and not view.ok


def test_something_just_in_front_of_the_face_does_not_count():
    """A hand 3 cm in front of the face (less than IN_FRONT_M) is part of the picture."""
    _, cam = _view()
    near = cam[:3, 3] / np.linalg.norm(cam[:3, 3]) * 0.13
    hand = trimesh.creation.box((0.06, 0.02, 0.08), trimesh.transformations.translation_matrix(near))
    assert _view(hand)[0].ok


def test_a_lens_inside_the_body_is_rejected():
    _, cam = _view()
    shell = trimesh.creation.icosphere(2, radius=0.05)
    shell.apply_translation(cam[:3, 3])  # the camera centre inside it
    view, _ = _view(shell)
    assert view.clearance_m < MIN_CLEARANCE_M and not view.ok


def test_fallback_views_turn_to_the_front_in_order():
    angles = fallback_angles(-80.0, 20.0)
    assert angles[0] == (-80.0, 20.0) and angles[-1] == (0.0, 0.0)
    assert all(abs(a) > abs(b) for (a, _), (b, _) in pairwise(angles))
