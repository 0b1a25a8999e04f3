"""The public SynthHuman layout: round trips, unit conversions, framing map, and `synthhuman convert`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import OpenEXR
import pytest
from PIL import Image

from synthhuman.cli import main
from synthhuman.errors import UserError
from synthhuman.formats.synthhuman_layout import (
    BACKGROUND_CM,
    depth_cm_to_m,
    depth_m_to_cm,
    layout_framing,
    list_layout_indices,
    read_layout_sample,
    release_framing,
    resolve_source,
    write_layout_sample,
)
from synthhuman.sample import RenderedSample
from synthhuman.shards import ShardWriter, decode_sample, encode_sample, iter_samples


def analytic_person(index: int, height: int = 64, width: int = 48) -> RenderedSample:
    """Ellipse with a soft alpha edge, a sphere-cap depth (1.5-9.9 m) and the sphere's normals."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    a, b = width * 0.3, height * 0.35
    u, v = (xs - width / 2) / a, (ys - height / 2) / b
    rho = np.hypot(u, v)
    cap = np.sqrt(np.clip(1 - rho**2, 0, 1))
    inside = rho < 1
    normal = np.stack([u, -v, cap], -1)
    normal = np.where(inside[..., None], normal / np.linalg.norm(normal, axis=-1, keepdims=True), 0)
    rng = np.random.default_rng(index)
    sample = RenderedSample(
        key=f"{index:09d}",
        maps={
            "rgb": rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
            "alpha": np.clip((1 - rho) * a / 1.5 + 0.5, 0, 1).astype(np.float32),
            "depth": np.where(inside, 1.5 + 8.4 * rng.random() - 0.3 * cap, 0).astype(np.float32),
            "normal": normal.astype(np.float32),
        },
        meta={"K": [[55.5, 0, 24.25], [0, 55.5, 31.75], [0, 0, 1]], "framing": ("face", "upper", "full")[index % 3]},
    )
    return decode_sample(encode_sample(sample))  # quantised as our shards store it


def make_dataset(root: Path, n: int = 6, shard_size: int = 4) -> list[RenderedSample]:
    samples = [analytic_person(i) for i in range(n)]
    for shard_id in range(0, n, shard_size):
        writer = ShardWriter(root / "shards", shard_id // shard_size)
        for sample in samples[shard_id : shard_id + shard_size]:
            writer.add(encode_sample(sample))
        writer.commit([], {})
    return samples


def test_depth_units_and_background_code():
    depth_m = np.array([[0.0, 1.0, 2.345, 10.0]], dtype=np.float32)
    cm = depth_m_to_cm(depth_m, np.float32)
    np.testing.assert_allclose(cm, [[BACKGROUND_CM, 100.0, 234.5, 1000.0]], rtol=1e-6)
    back = depth_cm_to_m(np.array([[65504.0, 100.0, np.inf, -3.0, 250.0]], dtype=np.float16))
    np.testing.assert_array_equal(back, np.array([[0.0, 1.0, 0.0, 0.0, 2.5]], dtype=np.float32))


def test_half_precision_error_at_ten_metres_is_within_the_documented_bound():
    depth = np.linspace(9.5, 10.24, 10001, dtype=np.float32)
    error = np.abs(depth_cm_to_m(depth_m_to_cm(depth)) - depth)
    assert error.max() <= 0.0025 + 1e-6  # half spacing 0.5 cm in [512, 1024) cm
    assert error.max() > 0.002  # and the bound is tight, so the docs do not overstate the loss


@pytest.mark.parametrize("lossless", [False, True])
def test_write_read_round_trip(tmp_path: Path, lossless: bool):
    sample = analytic_person(7)
    write_layout_sample(tmp_path, 7, sample, lossless=lossless)
    back = read_layout_sample(tmp_path, 7, framing="upper")
    np.testing.assert_array_equal(back.rgb, sample.rgb)
    np.testing.assert_array_equal(back.normal, sample.normal)  # shard normals are half: exact either way
    np.testing.assert_array_equal(back.K, sample.K)
    assert back.key == sample.key and back.meta["framing"] == "upper"
    np.testing.assert_array_equal(back.depth > 0, sample.depth > 0)
    if lossless:
        np.testing.assert_array_equal(back.alpha, sample.alpha)
        np.testing.assert_array_equal(back.depth, sample.depth)
    else:
        assert np.abs(back.alpha - sample.alpha).max() <= 0.5 / 255 + 1e-6
        assert np.abs(back.depth - sample.depth).max() <= 0.0025 + 1e-6


def test_files_follow_the_release_conventions(tmp_path: Path):
    sample = analytic_person(3)
    write_layout_sample(tmp_path, 3, sample)
    assert Image.open(tmp_path / "alpha_0000003.png").mode == "L"  # 8-bit grey
    with OpenEXR.File(str(tmp_path / "depth_0000003.exr"), separate_channels=True) as exr:
        channels = exr.channels()
        assert list(channels) == ["Y"]
        depth_cm = np.array(channels["Y"].pixels)
    assert depth_cm.dtype == np.float16
    assert np.all(depth_cm[sample.depth == 0] == 65504)  # background code
    fg = sample.depth > 0
    np.testing.assert_allclose(depth_cm[fg], sample.depth[fg] * 100, atol=0.5)  # centimetres
    with OpenEXR.File(str(tmp_path / "normal_0000003.exr"), separate_channels=True) as exr:
        assert sorted(exr.channels()) == ["B", "G", "R"]
    np.testing.assert_allclose(np.loadtxt(tmp_path / "cam_0000003.txt"), sample.K)


def test_release_framing_boundaries():
    assert [release_framing(i) for i in (0, 98_039, 98_040, 198_015, 198_016, 298_007)] == [
        "face", "face", "full", "full", "upper", "upper"]
    with pytest.raises(ValueError):
        release_framing(298_008)


def test_layout_framing_uses_release_map_only_for_the_full_release(tmp_path: Path):
    assert layout_framing(tmp_path, [0, 100_000]) == {0: "unknown", 100_000: "unknown"}
    assert layout_framing(tmp_path, list(range(298_008)))[200_000] == "upper"


def test_convert_both_directions_lossless_is_exact(tmp_path: Path):
    samples = make_dataset(tmp_path / "ds")
    assert main(["convert", "--to", "synthhuman-layout", "--lossless", str(tmp_path / "ds"), str(tmp_path / "lay")]) == 0
    assert list_layout_indices(tmp_path / "lay") == list(range(6))
    assert main(["convert", "--to", "shards", "--shard-size", "4", str(tmp_path / "lay"), str(tmp_path / "back")]) == 0
    back = [s for p in sorted((tmp_path / "back" / "shards").glob("*.tar")) for s in iter_samples(p)]
    assert [s.key for s in back] == [s.key for s in samples]
    for ours, theirs in zip(samples, back, strict=True):
        for name in ("rgb", "alpha", "depth", "normal"):
            np.testing.assert_array_equal(getattr(theirs, name), getattr(ours, name), err_msg=name)
        assert theirs.meta["framing"] == ours.meta["framing"] and theirs.meta["spec"] is None
        assert "no SceneSpec" in theirs.meta["note"]
    manifest = json.loads((tmp_path / "back" / "dataset.json").read_text())
    assert manifest["shard_size"] == 4 and manifest["n"] == 6 and "no SceneSpec" in manifest["config"]["note"]


def test_default_layout_survives_shards_and_back_exactly(tmp_path: Path):
    make_dataset(tmp_path / "ds", n=3)
    assert main(["convert", "--to", "synthhuman-layout", f"{tmp_path}/ds/shards/shard-{{000000..000000}}.tar",
                 str(tmp_path / "a")]) == 0
    assert main(["convert", "--to", "shards", str(tmp_path / "a"), str(tmp_path / "ds2")]) == 0
    assert main(["convert", "--to", "synthhuman-layout", str(tmp_path / "ds2"), str(tmp_path / "b")]) == 0
    for name in ("rgb_0000002.png", "alpha_0000002.png", "cam_0000002.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for index in range(3):
        first, second = read_layout_sample(tmp_path / "a", index), read_layout_sample(tmp_path / "b", index)
        np.testing.assert_array_equal(first.depth, second.depth)
        np.testing.assert_array_equal(first.alpha, second.alpha)


def test_convert_bad_paths_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["convert", "--to", "shards", str(tmp_path / "missing"), str(tmp_path / "out")]) == 2
    assert main(["convert", "--to", "synthhuman-layout", str(tmp_path / "none-*.tar"), str(tmp_path / "out")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("synthhuman: error: ") for line in errors)


def test_resolve_source_kinds(tmp_path: Path):
    make_dataset(tmp_path / "ds")
    write_layout_sample(tmp_path / "lay", 0, analytic_person(0))
    assert resolve_source(str(tmp_path / "ds")).paths == tuple(
        str(p) for p in sorted((tmp_path / "ds" / "shards").glob("*.tar")))
    assert resolve_source(str(tmp_path / "lay")).kind == "layout"
    assert len(resolve_source(f"{tmp_path}/ds/shards/shard-{{000000..000001}}.tar").paths) == 2
    assert resolve_source("pipe:cat x.tar").paths == ("pipe:cat x.tar",)
    with pytest.raises(UserError, match="no shards match"):
        resolve_source(f"{tmp_path}/ds/shards/shard-{{000005..000006}}.tar")


def test_reader_accepts_xyz_channel_names_and_8bit_rgba(tmp_path: Path):
    from synthhuman.codecs import encode_exr

    sample = analytic_person(2)
    write_layout_sample(tmp_path, 2, sample)
    n = sample.normal
    (tmp_path / "normal_0000002.exr").write_bytes(encode_exr({"X": n[..., 0], "Y": n[..., 1], "Z": n[..., 2]}, "float16"))
    Image.fromarray(np.dstack([sample.rgb, np.full(sample.rgb.shape[:2], 255, np.uint8)])).save(tmp_path / "rgb_0000002.png")
    back = read_layout_sample(tmp_path, 2)
    np.testing.assert_array_equal(back.normal, sample.normal)
    np.testing.assert_array_equal(back.rgb, sample.rgb)
    assert back.meta["framing"] == "unknown"


def test_converted_folder_inspects_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """What a SynthHuman folder cannot hold (SceneSpec, camera pose, timings) is marked, not missing."""
    make_dataset(tmp_path / "ds")
    assert main(["convert", "--to", "synthhuman-layout", str(tmp_path / "ds"), str(tmp_path / "lay")]) == 0
    assert main(["convert", "--to", "shards", str(tmp_path / "lay"), str(tmp_path / "back")]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "back")]) == 0, capsys.readouterr().out[-2000:]


def test_unknown_fields_marker_cannot_hide_intrinsics_or_a_bad_spec():
    from synthhuman.inspect import check_meta

    meta = {"K": [[50, 0, 24], [0, 50, 32], [0, 0, 1]], "unknown_fields": ["spec", "cam_to_world", "timings"]}
    assert check_meta(meta, "000000001", 64, 48) == []
    assert check_meta({**meta, "unknown_fields": ["K", "spec"]}, "000000001", 64, 48)[0].startswith(
        "json 'unknown_fields' must list")
    no_marker = {"K": meta["K"]}
    assert check_meta(no_marker, "000000001", 64, 48) == [
        "json lacks 'spec'", "json lacks 'cam_to_world'", "json lacks 'timings'"]
    assert any("spec does not parse" in p for p in check_meta({**meta, "spec": {"bad": 1}}, "000000001", 64, 48))
