"""Pose prior: deterministic per rng, within configured limits, config errors name the key."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest

from synthhuman.pose_sampling import expand_bones, load_pose_config, sample_pose, validate_pose_config

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "pose.yaml"


@pytest.fixture(scope="module")
def cfg():
    return load_pose_config(CONFIG)


def test_deterministic_from_seed(cfg):
    a = sample_pose(np.random.default_rng(5), cfg)
    b = sample_pose(np.random.default_rng(5), cfg)
    c = sample_pose(np.random.default_rng(6), cfg)
    assert a == b and a != c


def test_within_limits(cfg):
    limits = expand_bones(cfg["bones"])
    seen_walk = seen_rest = 0
    for seed in range(200):
        pose = sample_pose(np.random.default_rng(seed), cfg)
        for bone, euler in pose.bone_euler_deg:
            if bone.startswith("finger"):
                lo, hi = cfg["fingers"]["curl_deg"]
                assert max(abs(v) for v in euler) <= hi
                continue
            for axis, value in zip("xyz", euler):
                lo, hi = limits[bone].get(axis, (0.0, 0.0))
                assert lo <= value <= hi, (bone, axis, value)
        assert -180 <= pose.root_yaw_deg <= 180
        assert all(0.0 <= w <= 1.0 for _, w in pose.facial_actions)
        seen_walk += pose.base_pose.startswith("walk:")
        seen_rest += pose.base_pose == "rest"
    assert seen_walk > 40 and seen_rest > 40


def test_right_side_mirrors_left(cfg):
    bones = expand_bones({"upperarm01.*": {"x": [-10, 20], "y": [-30, 5], "z": [-1, 2]}})
    assert bones["upperarm01.L"]["y"] == [-30, 5]
    assert bones["upperarm01.R"] == {"x": [-10, 20], "y": [-5, 30], "z": [-2, 1]}


def test_knees_only_flex_and_elbows_only_flex(cfg):
    """Measured axes: +x flexes knees (foot back), -x flexes elbows (hand forward)."""
    for seed in range(100):
        pose = dict(sample_pose(np.random.default_rng(seed), cfg).bone_euler_deg)
        for side in (".L", ".R"):
            if f"lowerleg01{side}" in pose:
                assert pose[f"lowerleg01{side}"][0] >= 0
            if f"lowerarm01{side}" in pose:
                assert pose[f"lowerarm01{side}"][0] <= 0


@pytest.mark.parametrize("path, value, fragment", [
    (("base_pose",), {"rest": 0.5, "walk": 0.6}, "pose.base_pose"),
    (("bones", "head", "x"), [10, -10], "pose.bones.head.x"),
    (("bones", "head"), {"q": [0, 1]}, "pose.bones.head"),
    (("bones", "lowerleg01.*", "p"), 1.5, "pose.bones.lowerleg01.*.p"),
    (("face", "weight"), [0.2, 1.5], "pose.face.weight"),
    (("fingers", "axis"), "w", "pose.fingers.axis"),
    (("walk_frames",), 0, "pose.walk_frames"),
    (("nonsense_key",), 3, "pose.nonsense_key: unknown key"),
    (("bones", "upperarm1.*"), {"x": [0, 10]}, "pose.bones.upperarm1.*: unknown Anny bone (did you mean 'upperarm01.*'?)"),
    (("bones", "head", "w"), [0, 1], "pose.bones.head"),
    (("fingers", "bones"), ["finger2", "finger6"], "pose.fingers.bones: unknown Anny finger 'finger6'"),
    (("fingers", "curl"), [0, 1], "pose.fingers.curl: unknown key (did you mean 'curl_deg'?)"),
    (("face", "units"), ["jawOpen", "smile"], "pose.face.units: unknown Anny face unit 'smile'"),
    (("face", "blink"), 0.1, "pose.face.blink: unknown key"),
])
def test_validation_names_the_key(cfg, path, value, fragment):
    bad = copy.deepcopy(cfg)
    node = bad
    for key in path[:-1]:
        node = node.setdefault(key, {"x": [0, 1]})
    node[path[-1]] = value
    with pytest.raises(ValueError, match=re.escape(fragment)):
        validate_pose_config(bad)


def test_missing_section(cfg):
    bad = {k: v for k, v in cfg.items() if k != "face"}
    with pytest.raises(ValueError, match=r"pose\.face: missing"):
        validate_pose_config(bad)


def test_a_typo_in_a_pose_override_fails_at_load_in_one_line():
    from synthhuman.config import load_config
    from synthhuman.errors import UserError

    with pytest.raises(UserError) as err:
        load_config(overrides={"pose": {"bones": {"uperarm01.*": {"x": [0, 10]}}}})
    assert str(err.value) == "config key pose.bones.uperarm01.*: unknown Anny bone (did you mean 'upperarm01.*'?)"
    with pytest.raises(UserError, match=r"^config key pose\.nonsense_key: unknown key$"):
        load_config(overrides={"pose": {"nonsense_key": 3}})
