"""Outfit config and sampling (issue 14): load-time errors name the key; draws follow the config."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import yaml

from synthhuman.config import OUTFIT_CONFIG, load_config
from synthhuman.errors import UserError
from synthhuman.outfit import (
    KINDS,
    NO_OUTFIT,
    SLOTS,
    expected_kind_counts,
    parse_outfit_config,
    sample_outfit,
)
from synthhuman.sampling import sample_scene
from synthhuman.spec import SceneSpec


def raw_config() -> dict:
    return yaml.safe_load(OUTFIT_CONFIG.read_text())


def test_default_config_parses_and_every_kind_is_reachable():
    cfg = parse_outfit_config(raw_config())
    for slot in SLOTS:
        reachable = {k for table in cfg.kinds[slot].values() for k, w in table.items() if w > 0}
        assert reachable == set(KINDS[slot]), slot


@pytest.mark.parametrize(("edit", "key"), [
    (lambda c: c["kinds"].update(tuxedo=c["kinds"]["shirt"]), "outfit.kinds.tuxedo"),
    (lambda c: c["slots"]["top"]["kinds"]["female"].update(tshirt=1.0), "outfit.slots.top.kinds.female.tshirt"),
    (lambda c: c["kinds"]["t_shirt"].update(sleeve=[0.6, 0.3]), "outfit.kinds.t_shirt.sleeve"),
    (lambda c: c["kinds"]["jeans"].update(leg=[1.9, 3.5]), "outfit.kinds.jeans.leg"),
    (lambda c: c["slots"]["bottom"]["kinds"].update(male={"jeans": 0.0}), "outfit.slots.bottom.kinds.male"),
    (lambda c: c["kinds"]["hoodie"].update(fabrics={"knit": 0.0}), "outfit.kinds.hoodie.fabrics"),
    (lambda c: c["fabrics"]["denim"].update(palette="rainbow"), "outfit.fabrics.denim.palette"),
    (lambda c: c["fabrics"].update(silk=c["fabrics"]["cotton"]), "outfit.fabrics.silk"),
    (lambda c: c["kinds"]["tank"].pop("gap_m"), "outfit.kinds.tank"),
    (lambda c: c["slots"]["shoes"]["probability"].update(full=1.5), "outfit.slots.shoes.probability.full"),
    (lambda c: c["kinds"]["boots"].update(smooth=[1.5, 3]), "outfit.kinds.boots.smooth"),
    (lambda c: c["glasses"]["shapes"]["male"].update(monocle=1.0), "outfit.glasses.shapes.male.monocle"),
    (lambda c: c["glasses"].update(lens_width_m=[0.06, 0.05]), "outfit.glasses.lens_width_m"),
    (lambda c: c["glasses"]["tints"].update(sunglasses=[]), "outfit.glasses.tints.sunglasses"),
    (lambda c: c["headwear"]["params"].update(crown={}), "outfit.headwear.params.crown"),
    (lambda c: c["headwear"]["params"]["cap"].update(brim_m=[0.08, 0.06]), "outfit.headwear.params.cap.brim_m"),
    (lambda c: c["glasses"].update(lenses={"clear": 0, "tinted": 0, "sunglasses": 0}), "outfit.glasses.lenses"),
])
def test_bad_config_fails_at_load_naming_the_key(edit, key):
    raw = raw_config()
    edit(raw)
    with pytest.raises(UserError) as err:
        parse_outfit_config(raw)
    assert key in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_user_override_fails_before_any_io(tmp_path):
    path = tmp_path / "user.yaml"
    path.write_text("outfit:\n  kinds:\n    jeans: {waist: [1.0, 0.5]}\n")
    with pytest.raises(UserError, match="outfit.kinds.jeans.waist"):
        load_config(path)


def test_probability_zero_switches_a_slot_off_without_moving_the_others():
    raw = raw_config()
    cfg = parse_outfit_config(raw)
    off = copy.deepcopy(raw)
    off["slots"]["bottom"]["probability"] = {"face": 0.0, "upper": 0.0, "full": 0.0}
    cfg_off = parse_outfit_config(off)
    for i in range(40):
        a = sample_outfit(np.random.default_rng(i), cfg, {"gender": 0.8, "age": 0.5}, "full")
        b = sample_outfit(np.random.default_rng(i), cfg_off, {"gender": 0.8, "age": 0.5}, "full")
        assert b.bottom.kind == "none"
        assert a.top == b.top and a.shoes == b.shoes


def test_every_slot_off_gives_the_bare_body():
    raw = raw_config()
    for slot in raw["slots"].values():
        slot["probability"] = {"face": 0.0, "upper": 0.0, "full": 0.0}
    cfg = parse_outfit_config(raw)
    outfit = sample_outfit(np.random.default_rng(0), cfg, {"gender": 0.2, "age": 0.3}, "full")
    assert outfit.worn() == {} and outfit.top == NO_OUTFIT.top


def test_spec_round_trips_and_old_specs_read_as_nude():
    cfg = load_config()
    spec = sample_scene(3, 11, cfg, ["hdri/city"])
    assert spec.outfit.worn(), "the default preset dresses people"
    assert SceneSpec.from_json(spec.to_json()) == spec
    old = spec.to_dict()
    del old["outfit"]
    assert SceneSpec.from_dict(old).outfit == NO_OUTFIT


def test_face_crops_carry_no_trousers_or_shoes():
    cfg = load_config()
    for i in range(60):
        spec = sample_scene(5, i, cfg, ["hdri/city"])
        if spec.camera.framing == "face":
            assert spec.outfit.bottom.kind == "none" and spec.outfit.shoes.kind == "none"
            assert spec.outfit.top.kind != "none"


def test_kind_counts_follow_the_config_per_sex_age_and_framing():
    """2,000 draws over mixed people and framings: every (slot, kind) within 3.5 sigma of the
    expectation computed from the config (what inspect reports as z)."""
    cfg = parse_outfit_config(raw_config())
    rng = np.random.default_rng(42)
    people, counts = [], {slot: {} for slot in (*SLOTS, "glasses", "headwear")}
    for i in range(2000):
        gender, age = float(rng.uniform()), float(rng.uniform())
        framing = ("face", "upper", "full")[i % 3]
        people.append((gender, age, framing))
        outfit = sample_outfit(np.random.default_rng(i), cfg, {"gender": gender, "age": age}, framing)
        for slot in SLOTS:
            kind = getattr(outfit, slot).kind
            counts[slot][kind] = counts[slot].get(kind, 0) + 1
        counts["glasses"][outfit.glasses.shape] = counts["glasses"].get(outfit.glasses.shape, 0) + 1
        counts["headwear"][outfit.headwear.kind] = counts["headwear"].get(outfit.headwear.kind, 0) + 1
    expected = expected_kind_counts(cfg, people)
    n = len(people)
    for slot, table in expected.items():
        for kind, exp in table.items():
            obs = counts[slot].get(kind, 0)
            sd = math.sqrt(max(exp * (1 - exp / n), 1e-9))
            assert abs(obs - exp) <= 3.5 * sd + 1e-6, (slot, kind, obs, exp)
    assert counts["bottom"].get("leggings", 0) > 0  # a female-only kind does occur
    assert counts["glasses"].get("cat_eye", 0) > 0 and counts["headwear"].get("headscarf", 0) > 0


def test_inspect_reports_outfits_against_the_dataset_config(tmp_path):
    """inspect's outfit table: observed kinds per slot (and glasses shapes) next to the config's
    expectation for each sample's person and framing; dropping every jeans sample shows."""
    from synthhuman.dataset_stats import DatasetStats
    from synthhuman.inspect import InspectResult
    from synthhuman.report import outfit_rows

    cfg = load_config()
    dicts = [sample_scene(9, i, cfg, ["hdri/city"]).to_dict() for i in range(600)]

    def rows_of(spec_dicts):
        stats = DatasetStats()
        for d in spec_dicts:
            stats._add_outfit(d)
        return {kind: float(z) for kind, _, _, z in outfit_rows(InspectResult(tmp_path, {"config": cfg.raw}, stats=stats))}

    rows = rows_of(dicts)
    assert {"top t_shirt", "bottom none", "shoes sneakers", "glasses aviator"} <= set(rows)
    assert max(abs(z) for z in rows.values()) < 3.5, rows
    assert rows_of([d for d in dicts if d["outfit"]["bottom"]["kind"] != "jeans"])["bottom jeans"] < -5
