"""Sampled poses: measured joint axes hold on Anny, and limbs rarely pass through each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec
from synthhuman.render import collisions

from synthhuman.pose_sampling import load_pose_config, sample_pose
from synthhuman.spec import PoseSpec

pytestmark = pytest.mark.render
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "pose.yaml"


def _head(renderer, bones, bone):
    body = renderer.body
    posed = body.pose(make_spec().body, PoseSpec("rest", bones, 0.0, ()), {})
    return posed.bone_heads[body.bone_labels.index(bone)]


@pytest.mark.parametrize("joint, euler, end, direction", [
    ("lowerleg01.L", (45.0, 0, 0), "foot.L", +1),  # knee flexion: foot goes back (+Y)
    ("lowerleg01.R", (45.0, 0, 0), "foot.R", +1),
    ("lowerarm01.L", (-45.0, 0, 0), "wrist.L", -1),  # elbow flexion: hand comes forward (-Y)
    ("lowerarm01.R", (-45.0, 0, 0), "wrist.R", -1),
    ("upperleg01.L", (-30.0, 0, 0), "foot.L", -1),  # hip flexion: leg forward
])
def test_measured_axes(renderer, joint, euler, end, direction):
    rest = _head(renderer, (), end)
    moved = _head(renderer, ((joint, euler),), end)
    assert direction * (moved[1] - rest[1]) > 0.03


def test_sampled_poses_rarely_self_intersect(renderer):
    body, cfg = renderer.body, load_pose_config(CONFIG)
    names = collisions.part_names()
    part = np.array([names.index(collisions.bone_part(body.bone_labels[b])) for b in body.dominant_bone])
    bad = 0
    for seed in range(16):
        pose = sample_pose(np.random.default_rng(seed), cfg)
        posed = body.pose(make_spec().body, pose, renderer._base_rotations(pose.base_pose))
        bad += bool(collisions.intersecting_part_pairs(posed.vertices, body.faces, part))
    assert bad <= 1, f"{bad}/16 sampled poses have limbs through each other"


def test_collision_check_detects_crossed_legs(renderer):
    body = renderer.body
    names = collisions.part_names()
    part = np.array([names.index(collisions.bone_part(body.bone_labels[b])) for b in body.dominant_bone])
    posed = body.pose(make_spec().body, PoseSpec("rest", (("upperleg01.L", (0.0, 40.0, 0.0)),), 0.0, ()), {})
    pairs = collisions.intersecting_part_pairs(posed.vertices, body.faces, part)
    assert frozenset(("shin.L", "shin.R")) in pairs
