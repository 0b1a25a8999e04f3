"""Config validation and the seeded sampler: determinism, independence, ranges, errors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from synthhuman.config import load_config
from synthhuman.errors import UserError
from synthhuman.sampling import expand_mirrored, part_rngs, resolve_hdri_ids, sample_scene
from synthhuman.spec import FRAMINGS, SceneSpec

HDRIS = ["hdri/city", "hdri/forest", "hdri/studio"]


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def test_same_seed_and_index_give_the_same_spec_in_any_order(cfg):
    forward = [sample_scene(7, i, cfg, HDRIS) for i in range(20)]
    backward = [sample_scene(7, i, cfg, HDRIS) for i in reversed(range(20))][::-1]
    assert forward == backward
    assert len({s.to_json() for s in forward}) == 20  # every index differs
    assert sample_scene(8, 0, cfg, HDRIS) != forward[0]  # the seed matters


def test_spec_survives_json(cfg):
    spec = sample_scene(1, 123, cfg, HDRIS)
    assert SceneSpec.from_json(spec.to_json()) == spec
    assert spec.key == "000000123"


def test_part_streams_are_independent():
    a = part_rngs(3, 4)
    b = part_rngs(3, 4)
    assert a["camera"].random() == b["camera"].random()
    assert a["body"].random() != a["camera"].random()


def test_sampled_values_respect_config_ranges(cfg):
    specs = [sample_scene(0, i, cfg, HDRIS) for i in range(300)]
    framings = [s.camera.framing for s in specs]
    counts = {f: framings.count(f) for f in FRAMINGS}
    assert all(70 <= c <= 130 for c in counts.values()), counts  # equal thirds by default
    for s in specs:
        cam = s.camera
        assert cfg.camera.focal_mm[cam.framing][0] <= cam.focal_mm <= cfg.camera.focal_mm[cam.framing][1]
        assert cfg.camera.fill[cam.framing][0] <= cam.fill <= cfg.camera.fill[cam.framing][1]
        assert -180 <= cam.azimuth_deg <= 180
        phen = dict(s.body.phenotype)
        assert all(0.0 <= v <= 1.0 for v in phen.values())
        assert abs(phen["african"] + phen["asian"] + phen["caucasian"] - 1) < 1e-4
        assert all(-1 <= v <= 1 for _, v in s.body.local_changes)
        assert s.lighting.hdri_id in HDRIS
        assert 0.5 - 1e-6 <= s.lighting.strength <= 2.0 + 1e-6
        assert (s.render.width_px, s.render.height_px) == (384, 512)
    ages = np.array([dict(s.body.phenotype)["age"] for s in specs])
    assert (ages < 0.45).mean() > 0.05 and (ages > 0.8).mean() > 0.1  # children and elders occur


def test_mirrored_local_changes_share_one_value(cfg):
    for i in range(50):
        changes = dict(sample_scene(2, i, cfg, HDRIS).body.local_changes)
        for name, value in changes.items():
            if name.startswith("l-"):
                assert changes["r-" + name[2:]] == value
    assert expand_mirrored("lr-ear-scale-incr") == ("l-ear-scale-incr", "r-ear-scale-incr")
    assert expand_mirrored("nose-hump-incr") == ("nose-hump-incr",)


def test_overrides_change_render_settings():
    cfg = load_config(overrides={"render": {"resolution": [64, 48], "samples": 4}})
    spec = sample_scene(0, 0, cfg, HDRIS)
    assert (spec.render.width_px, spec.render.height_px, spec.render.samples) == (64, 48, 4)


def write(tmp_path, data) -> str:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"camra": {}}, "unknown config key 'camra' (did you mean 'camera'?)"),
        ({"camera": {"elevation_deg": [30, 10]}}, "camera.elevation_deg must be [low, high]"),
        ({"camera": {"roll_deg": [0, 500]}}, "camera.roll_deg must be a number in"),
        ({"body": {"phenotype": {"agee": {"uniform": [0, 1]}}}}, "body.phenotype.agee"),
        ({"body": {"phenotype": {"age": {"gauss": [0, 1]}}}}, "unknown distribution 'gauss'"),
        ({"framing": {"face": 0, "upper": 0, "full": 0}}, "at least one framing weight"),
        ({"render": {"transparent_gt": "opaque"}}, "render.transparent_gt"),
        ({"lighting": {"hdris": []}}, "lighting.hdris"),
        ({"render": {"sampels": 4}}, "unknown config key 'render.sampels' (did you mean 'render.samples'?)"),
        ({"render": 5}, "config key 'render' must be a mapping of keys"),
        ({"camera": "wide"}, "config key 'camera' must be a mapping of keys"),
        ({"pose": 3}, "config key 'pose' must be a mapping of keys"),
        ({"environment": {"ground": {"probability": {"full": 1.5}}}}, "environment.ground.probability.full"),
        ({"environment": {"ground": {"probability": {"side": 1.0}}}}, "unknown config key 'environment.ground.probability.side'"),
        ({"environment": {"ground": {"albedo": [0.5, 0.2]}}}, "environment.ground.albedo"),
        ({"environment": {"grund": {}}}, "did you mean 'environment.ground'"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_key(tmp_path, layer, message):
    with pytest.raises(UserError) as info:
        load_config(write(tmp_path, layer))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_invalid_config_files(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(UserError, match="is a directory; give a YAML file"):
        load_config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera: [unclosed")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)


def test_config_digest_tracks_content(tmp_path):
    assert load_config().digest() == load_config().digest()
    assert load_config(write(tmp_path, {"camera": {"roll_deg": [0, 1]}})).digest() != load_config().digest()


def test_hdri_choice_is_checked_against_the_manifest(cfg, tmp_path):
    assert resolve_hdri_ids(cfg.lighting, HDRIS) == HDRIS
    custom = load_config(write(tmp_path, {"lighting": {"hdris": ["hdri/moon"]}}))
    with pytest.raises(UserError, match="hdri/moon"):
        resolve_hdri_ids(custom.lighting, HDRIS)


def test_a_ground_probability_of_zero_turns_the_floor_off():
    specs = [sample_scene(0, i, load_config(), ["hdri/city"]) for i in range(30)]
    off = [sample_scene(0, i, load_config(overrides={"environment": {"ground": {"probability": {"full": 0}}}}),
                        ["hdri/city"]).environment for i in range(30)]
    assert all(s.environment.ground == (s.camera.framing == "full") for s in specs)  # the default: full bodies
    assert any(s.environment.ground for s in specs) and not any(e.ground for e in off)
    assert len({s.environment.ground_albedo for s in specs if s.environment.ground}) > 5  # drawn per sample
