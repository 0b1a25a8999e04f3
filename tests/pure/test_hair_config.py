"""Grooms without Blender: the hair config's errors, the sampler's distribution, determinism,
the strand PLY export, and the proxy-normal glue."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from synthhuman.config import load_config
from synthhuman.errors import UserError
from synthhuman.hair import FACIAL_STYLES, HEAD_STYLES, expected_style_counts, person_group
from synthhuman.sample import Strands
from synthhuman.sampling import sample_scene
from synthhuman.spec import SceneSpec
from synthhuman.strand_ply import decode_strands_ply, encode_strands_ply

HDRIS = ["hdri/city"]


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@pytest.fixture(scope="module")
def specs(cfg):
    return [sample_scene(3, i, cfg, HDRIS) for i in range(2000)]


# --------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(("override", "names"), [
    ({"head": {"styles": {"male": {"mohawk": 1.0}}}}, ["hair.head.styles.male.mohawk"]),
    ({"head": {"styles": {"male_teen": {"short": 1.0}}}}, ["hair.head.styles.male_teen", "male_young"]),
    ({"head": {"params": {"curly": {"curl_radius_m": [0.02, 0.01]}}}}, ["hair.head.params.curly.curl_radius_m"]),
    ({"head": {"params": {"wavy": {"length_m": [0.1, 9.0]}}}}, ["hair.head.params.wavy.length_m"]),
    ({"head": {"params": {"medium": {"lenght_m": [0.1, 0.2]}}}}, ["lenght_m", "length_m"]),
    ({"head": {"styles": {"female": dict.fromkeys(HEAD_STYLES, 0.0)}}}, ["hair.head.styles.female", "> 0"]),
    ({"color": {"families": {"black": {"weight": -1}}}}, ["hair.color.families.black.weight"]),
    ({"color": {"families": {"dyed": {"weight": 1, "melanin": [0, 1], "redness": [0, 1]}}}}, ["dyed", "reserved"]),
    ({"facial": {"styles": {"male": {"full_beard": 1.0}}}}, ["hair.facial.styles.male.full_beard", "beard"]),
    ({"eyelashes": {"upper_strands": [10]}}, ["hair.eyelashes.upper_strands"]),
    ({"proxy": {"voxel_m": 0.0}}, ["hair.proxy.voxel_m"]),
    ({"colour": {}}, ["hair.colour", "hair.color"]),
])
def test_bad_hair_config_fails_at_load_with_one_line_naming_the_key(override, names):
    with pytest.raises(UserError) as err:
        load_config(overrides={"hair": override})
    message = str(err.value)
    assert "\n" not in message
    for name in names:
        assert name in message, message


def test_bad_hair_normals_mode_is_refused():
    with pytest.raises(UserError, match="render.hair_normals"):
        load_config(overrides={"render": {"hair_normals": "smooth"}})


def test_render_cli_refuses_a_bad_hair_config_before_any_output(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hair:\n  head:\n    styles:\n      female: {afro: 1.0}\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "synthhuman.cli", "render", "--n", "1", "--out", str(out),
                           "--config", str(bad), "--workers", "0"], capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and "hair.head.styles.female.afro" in lines[0], proc.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- sampler


def test_probability_zero_turns_each_part_off(cfg):
    off = load_config(overrides={"hair": {"head": {"probability": 0.0}, "eyebrows": {"probability": 0.0},
                                          "eyelashes": {"probability": 0.0}, "facial": {"probability": 0.0}}})
    for i in range(50):
        spec = sample_scene(0, i, off, HDRIS)
        assert spec.hair.grooms() == {}, spec.hair
        assert spec.body == sample_scene(0, i, cfg, HDRIS).body  # hair draws from its own stream


def test_head_and_facial_styles_follow_the_config_by_sex_and_age(cfg, specs):
    """Over 2,000 specs every style's count is within 3.5 sigma of the config's expectation
    for the people drawn, and within each sex the facial styles do too (women: none)."""
    people = [(dict(s.body.phenotype)["gender"], dict(s.body.phenotype)["age"]) for s in specs]
    head_exp, facial_exp = expected_style_counts(cfg.hair, people)
    head_obs = Counter(s.hair.head.style for s in specs)
    facial_obs = Counter(s.hair.facial.style for s in specs)
    n = len(specs)
    for observed, expected in ((head_obs, head_exp), (facial_obs, facial_exp)):
        for style, exp in expected.items():
            sd = np.sqrt(max(exp * (1 - exp / n), 1.0))
            assert abs(observed.get(style, 0) - exp) < 3.5 * sd, (style, observed.get(style, 0), exp)
    for s, (gender, age) in zip(specs, people, strict=True):
        sex, band = person_group({"gender": gender, "age": age}, cfg.hair.age_bands)
        if sex == "female":
            assert s.hair.facial.style == "none"
        if band == "young":
            assert s.hair.color.family != "dyed" and s.hair.color.grey == 0.0
    assert set(head_obs) <= set(HEAD_STYLES) and set(facial_obs) <= set(FACIAL_STYLES)
    assert len(head_obs) >= len(HEAD_STYLES) - 1  # 2,000 draws show (nearly) every style


def _within(observed: Counter, expected: dict[str, float], n: int, sigmas: float) -> list[str]:
    """Names whose observed count is more than ``sigmas`` binomial sigma from the expectation."""
    bad = []
    for name, exp in expected.items():
        sd = np.sqrt(max(exp * (1 - exp / max(n, 1)), 1.0))
        if abs(observed.get(name, 0) - exp) > sigmas * sd:
            bad.append(f"{name}: {observed.get(name, 0)} vs {exp:.1f}")
    return bad


def test_styles_follow_the_config_within_each_sex_and_age_band(cfg, specs):
    """Per (sex, age band): head styles and facial-hair kinds within 3.5 sigma of the config's
    weights for that group (the group's table, or its sex's fallback). 3.5, not 3: these are
    ~130 comparisons, and at 3 sigma one of them strays by chance about a third of the time
    (seed 3 puts male_young long_straight at 3.3 sigma; seeds 4 and 5 at 8 vs 8.9)."""
    from synthhuman.hair import group_weights

    groups: dict[tuple[str, str], list] = {}
    for s in specs:
        groups.setdefault(person_group(dict(s.body.phenotype), cfg.hair.age_bands), []).append(s)
    assert len(groups) == 6
    for (sex, band), members in groups.items():
        n = len(members)
        for table, attr, keep, off in ((cfg.hair.head_styles, "head", cfg.hair.head_probability, "bald"),
                                       (cfg.hair.facial_styles, "facial", cfg.hair.facial_probability, "none")):
            weights = group_weights(table, sex, band)
            total = sum(weights.values())
            expected = {k: n * keep * w / total for k, w in weights.items()}
            expected[off] = expected.get(off, 0.0) + n * (1 - keep)
            observed = Counter(getattr(m.hair, attr).style for m in members)
            assert not _within(observed, expected, n, 3.5), (sex, band, attr, _within(observed, expected, n, 3.5))


def test_colour_families_follow_the_config_given_skin_tone(cfg, specs):
    """Families drawn by weight among those allowed for the skin (max_skin_melanin), dyes at the
    configured rate for adults and elders, never for the young."""
    expected: dict[str, float] = {}
    adults = 0
    for s in specs:
        band = person_group(dict(s.body.phenotype), cfg.hair.age_bands)[1]
        allowed = {k: f.weight for k, f in cfg.hair.families.items() if s.body.skin.melanin <= f.max_skin_melanin}
        total = sum(allowed.values())
        dyed = cfg.hair.dyed_probability if band != "young" else 0.0
        adults += band != "young"
        for k, w in allowed.items():
            expected[k] = expected.get(k, 0.0) + (1 - dyed) * w / total
        expected["dyed"] = expected.get("dyed", 0.0) + dyed
    observed = Counter(s.hair.color.family for s in specs)
    assert not _within(observed, expected, len(specs), 3.0), _within(observed, expected, len(specs), 3.0)
    for s in specs:
        fam = cfg.hair.families.get(s.hair.color.family)
        if fam is not None:
            assert s.body.skin.melanin <= fam.max_skin_melanin
            assert fam.melanin[0] <= s.hair.color.melanin <= fam.melanin[1]
    assert observed["dyed"] > 0 and adults > 1000


def test_expected_counts_catch_a_skewed_sampler(cfg, specs):
    """The distribution check above would fail if the sampler ignored sex (planted defect)."""
    people = [(1.0, 0.6)] * len(specs)  # pretend every person were an adult man
    head_exp, _ = expected_style_counts(cfg.hair, people)
    head_obs = Counter(s.hair.head.style for s in specs)
    n = len(specs)
    worst = max(abs(head_obs.get(k, 0) - e) / np.sqrt(max(e * (1 - e / n), 1.0)) for k, e in head_exp.items())
    assert worst > 3.5


def test_grooms_are_varied_and_within_their_ranges(cfg, specs):
    grooms = [s.hair.head for s in specs if s.hair.head.strands > 0]
    assert len({(g.style, g.length_m, g.curl_turns_per_m, g.parting) for g in grooms}) == len(grooms)
    for g in grooms:
        ranges = cfg.hair.head_params[g.style]
        for name, (lo, hi) in ranges.items():
            value = getattr(g, name)
            scale = cfg.hair.strand_scale if name == "strands" else 1.0
            assert lo * scale - 1 <= value <= hi * scale + 1, (g.style, name, value, lo, hi)
    lengths = {g.style: [] for g in grooms}
    for g in grooms:
        lengths[g.style].append(g.length_m)
    assert np.mean(lengths["long_straight"]) > 4 * np.mean(lengths["short"]) > 4 * np.mean(lengths["buzz"])


def test_greying_grows_with_age(cfg, specs):
    by_band: dict[str, list[float]] = {"young": [], "adult": [], "elder": []}
    for s in specs:
        ph = dict(s.body.phenotype)
        by_band[person_group(ph, cfg.hair.age_bands)[1]].append(s.hair.color.grey)
    assert max(by_band["young"]) == 0.0
    assert np.mean(by_band["elder"]) > np.mean(by_band["adult"]) + 0.3


def test_strand_scale_scales_every_count():
    full = sample_scene(5, 11, load_config(), HDRIS).hair
    tenth = sample_scene(5, 11, load_config(overrides={"hair": {"strand_scale": 0.1}}), HDRIS).hair
    for name, groom in full.grooms().items():
        small = getattr(tenth, name)
        floor = 0.25 if name.startswith("lashes") else 0.1  # lashes never thin below a quarter
        assert small.strands == pytest.approx(groom.strands * floor, rel=0.05, abs=4), name


def test_old_specs_without_hair_read_as_bald(cfg):
    data = json.loads(sample_scene(0, 1, cfg, HDRIS).to_json())
    del data["hair"]
    spec = SceneSpec.from_dict(data)
    assert spec.hair.grooms() == {}


def test_hair_spec_is_reproducible_across_processes(cfg):
    code = ("from synthhuman.config import load_config; from synthhuman.sampling import sample_scene; "
            "print(sample_scene(9, 77, load_config(), ['hdri/city']).to_json())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert SceneSpec.from_json(other).hair == sample_scene(9, 77, cfg, HDRIS).hair


# --------------------------------------------------------------------------- export


def test_strand_ply_round_trips_and_reads_as_polylines_in_trimesh():
    import io

    import trimesh

    rng = np.random.default_rng(1)
    strands = [Strands("head", rng.normal(size=(30, 6, 3)).astype(np.float32), rng.uniform(1e-5, 1e-4, (30, 6)).astype(np.float32)),
               Strands("eyebrows", rng.normal(size=(7, 4, 3)).astype(np.float32), np.full((7, 4), 3e-5, np.float32))]
    data = encode_strands_ply(strands)
    back = decode_strands_ply(data)
    assert [s.name for s in back] == ["head", "eyebrows"]
    for a, b in zip(strands, back, strict=True):
        np.testing.assert_array_equal(a.points, b.points)
        np.testing.assert_array_equal(a.radius, b.radius)
    path = trimesh.load(io.BytesIO(data), file_type="ply", process=False)
    assert isinstance(path, trimesh.path.Path3D)
    assert len(path.entities) == 37  # one polyline per strand
    assert sorted(len(e.points) for e in path.entities) == [4] * 7 + [6] * 30


def test_strand_ply_with_a_wrong_count_is_refused():
    data = encode_strands_ply([Strands("head", np.zeros((3, 4, 3), np.float32), np.ones((3, 4), np.float32))])
    bad = data.replace(b"comment strands head 3 4", b"comment strands head 2 4")
    with pytest.raises(ValueError, match="hair.ply"):
        decode_strands_ply(bad)


def test_strand_ply_reads_trimesh_s_view_of_the_same_vertices():
    """trimesh (a real PLY reader) sees the same vertices and radii as our decoder."""
    import io

    from trimesh.exchange.ply import load_ply

    rng = np.random.default_rng(2)
    strands = [Strands("facial", rng.normal(size=(9, 5, 3)).astype(np.float32), rng.random((9, 5)).astype(np.float32))]
    data = encode_strands_ply(strands)
    raw = load_ply(io.BytesIO(data))["metadata"]["_ply_raw"]["vertex"]["data"]
    ours = decode_strands_ply(data)[0]
    np.testing.assert_array_equal(np.asarray(raw["x"]).ravel(), ours.points[..., 0].ravel())
    np.testing.assert_array_equal(np.asarray(raw["radius"]).ravel(), ours.radius.ravel())
    with pytest.raises(ValueError, match="bytes"):
        decode_strands_ply(data[:-3])


def test_inspect_reports_grooms_against_the_dataset_config(cfg, specs, tmp_path):
    """inspect's groom table: observed counts next to the config's expectation for the people in
    the dataset; a sampler that never drew 'short' shows up as a large negative z."""
    from synthhuman.dataset_stats import DatasetStats
    from synthhuman.inspect import InspectResult
    from synthhuman.report import groom_rows

    def result_of(spec_dicts):
        stats = DatasetStats()
        for d in spec_dicts:
            stats._add_hair(d)
        return InspectResult(tmp_path, {"config": cfg.raw}, stats=stats)

    dicts = [s.to_dict() for s in specs[:600]]
    rows = {kind: float(z) for kind, _, _, z in groom_rows(result_of(dicts))}
    assert "head short" in rows and "facial beard" in rows
    assert max(abs(z) for z in rows.values()) < 3.5, rows
    skewed = [d for d in dicts if d["hair"]["head"]["style"] != "short"]
    assert {kind: float(z) for kind, _, _, z in groom_rows(result_of(skewed))}["head short"] < -5
    assert groom_rows(InspectResult(tmp_path, {"config": {}}, stats=DatasetStats())) == []
