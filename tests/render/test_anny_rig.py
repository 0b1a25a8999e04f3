"""The shipped rig names (synthhuman.anny_rig) are the installed Anny's, so config checks stay true."""

from __future__ import annotations

from synthhuman.anny_rig import BONES, FACE_UNITS
from synthhuman.config import load_config
from synthhuman.pose_sampling import expand_bones


def test_bone_and_face_unit_names_match_the_installed_anny(renderer):
    assert tuple(renderer.body.bone_labels) == BONES
    assert tuple(renderer.body.model.facial_action_labels) == FACE_UNITS


def test_every_bone_the_default_pose_config_names_exists_in_anny(renderer):
    pose = load_config().pose
    named = set(expand_bones(pose["bones"]))
    named |= {f"{finger}-{i}{side}" for finger in ["finger1", *pose["fingers"]["bones"]]
              for i in (1, 2, 3) for side in (".L", ".R")}
    assert named <= set(renderer.body.bone_labels)
    assert set(pose["face"]["units"]) <= set(renderer.body.model.facial_action_labels)
