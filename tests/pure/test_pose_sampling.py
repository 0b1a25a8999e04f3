"""Pose prior: deterministic per rng, within configured limits, config errors name the key."""

from __future__ import annotations

import copy
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
    (("bones", "knee.*", "p"), 1.5, "pose.bones.knee.*.p"),
    (("face", "weight"), [0.2, 1.5], "pose.face.weight"),
    (("fingers", "axis"), "w", "pose.fingers.axis"),
    (("walk_frames",), 0, "pose.walk_frames"),
])
def test_validation_names_the_key(cfg, path, value, fragment):
    bad = copy.deepcopy(cfg)
    node = bad
    for key in path[:-1]:
        node = node.setdefault(key, {"x": [0, 1]})
    node[path[-1]] = value
    with pytest.raises(ValueError, match=fragment.replace(".", r"\.").replace("*", r"\*")):
        validate_pose_config(bad)


def test_missing_section(cfg):
    bad = {k: v for k, v in cfg.items() if k != "face"}
    with pytest.raises(ValueError, match=r"pose\.face: missing"):
        validate_pose_config(bad)
