"""`synthhuman inspect` on fabricated shards: a sound dataset passes, each planted defect is caught."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthhuman.codecs import encode_exr, encode_png
from synthhuman.errors import UserError
from synthhuman.inspect import check_sample, check_storage, inspect_dataset
from synthhuman.report import contact_row
from synthhuman.sample import RenderedSample
from synthhuman.shards import ShardWriter, encode_sample, index_path, list_shards
from synthhuman.spec import (
    BodySpec,
    CameraSpec,
    LightingSpec,
    PoseSpec,
    RenderSpec,
    SceneSpec,
    SkinSpec,
    sample_key,
)

WIDTH, HEIGHT = 48, 64  # portrait 3:4, as the default 384 x 512
FRAMINGS = ("face", "upper", "full")


def make_spec(index: int) -> SceneSpec:
    framing = FRAMINGS[index % 3]
    return SceneSpec(
        seed=7, index=index,
        body=BodySpec(phenotype=(("age", 0.1 * (index % 10)), ("gender", 0.5), ("height", 0.3),
                                 ("weight", 0.6)),
                      local_changes=(), skin=SkinSpec(0.1 * (index % 10), 0.5, 0.4, 0.01, (0.2, 0.3, 0.4))),
        pose=PoseSpec("rest", (), 10.0 * index, ()),
        lighting=LightingSpec(f"hdri/{'city' if index % 2 else 'studio'}", 30.0, 1.0),
        camera=CameraSpec(framing, 50.0 + index, 0.0, 0.0, 0.0, 0.8, 0.0, 0.0),
        render=RenderSpec(WIDTH, HEIGHT, 16, index),
    )


def make_sample(index: int) -> RenderedSample:
    """A sphere seen head-on: exact depth and normals inside, a ring of fractional alpha around it
    whose sample-0 hit missed (depth 0, normal 0), background elsewhere."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    radius_px, dist_m, radius_m = 15.0, 3.0, 0.3
    dx, dy = (xx - WIDTH / 2) / radius_px, (yy - HEIGHT / 2) / radius_px
    r2 = dx**2 + dy**2
    inside = r2 < 1.0
    nz = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    normal = np.where(inside[..., None], np.stack([dx, -dy, nz], axis=-1), 0.0).astype(np.float32)
    depth = np.where(inside, dist_m - radius_m * nz, 0.0).astype(np.float32)
    ring = ~inside & (np.sqrt(r2) < 1.0 + 1.0 / radius_px)
    alpha = np.where(inside, 1.0, np.where(ring, 0.5, 0.0)).astype(np.float32)
    rgb = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    rgb[..., 0] = (xx * 5).astype(np.uint8)
    rgb[inside] = (200, 150, 120)
    spec = make_spec(index)
    fx = spec.camera.focal_mm / 36.0 * WIDTH
    angle = 0.1 * index
    cam_to_world = np.eye(4)
    cam_to_world[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    cam_to_world[:3, 3] = (0.0, -3.0, 1.0)
    meta = {"spec": spec.to_dict(), "K": [[fx, 0, WIDTH / 2], [0, fx, HEIGHT / 2], [0, 0, 1]],
            "cam_to_world": cam_to_world.tolist(), "timings": {"render": 0.5, "write": 0.01}}
    return RenderedSample(sample_key(index), {"rgb": rgb, "alpha": alpha, "depth": depth, "normal": normal}, meta)


def make_dataset(root: Path, n: int = 6, shard_size: int = 3,
                 mutate: Callable[[RenderedSample], None] | None = None, mutate_index: int = 4) -> Path:
    """n samples in shards of shard_size; ``mutate`` plants a defect in one sample before encoding."""
    for shard_id in range((n + shard_size - 1) // shard_size):
        writer = ShardWriter(root / "shards", shard_id)
        for index in range(shard_id * shard_size, min(n, (shard_id + 1) * shard_size)):
            sample = make_sample(index)
            if mutate is not None and index == mutate_index:
                mutate(sample)
            writer.add(encode_sample(sample))
        writer.commit([], {})
    manifest = {"seed": 7, "n": n, "shard_size": shard_size, "config": {}, "status": "done",
                "versions": {"synthhuman": "0.1.0"},
                "licences": {"CC0-1.0": {"count": 2, "attribution": ["X"]}}}
    (root / "dataset.json").write_text(json.dumps(manifest))
    return root


def test_good_dataset_passes_and_writes_report(tmp_path: Path) -> None:
    out = make_dataset(tmp_path, n=7, shard_size=3)
    result = inspect_dataset(out, contact_rows=5, progress=False, row_renderer=contact_row)
    assert result.problems == [], result.problems
    assert result.stats.samples == 7 and len(result.shards) == 3
    assert dict(result.stats.framing) == {"face": 3, "upper": 2, "full": 2}
    assert dict(result.stats.hdri) == {"hdri/studio": 4, "hdri/city": 3}
    assert result.stats.timing_means() == pytest.approx({"render": 0.5, "write": 0.01})
    assert len(result.contact_rows) == 5


def test_contact_sheet_shows_the_framings_in_equal_shares_grouped(tmp_path: Path) -> None:
    """7 samples (3 face, 2 upper, 2 full) and 6 rows: 2 of each framing, face first, not the
    first 6 samples (which hold 3 faces)."""
    out = make_dataset(tmp_path, n=7, shard_size=3)
    result = inspect_dataset(out, contact_rows=6, progress=False, row_renderer=contact_row)
    assert result.row_framings == ["face", "face", "upper", "upper", "full", "full"]
    assert all(label.endswith(f"({f})") for (label, _), f in zip(result.contact_rows, result.row_framings, strict=True))
    few = inspect_dataset(out, contact_rows=2, progress=False, row_renderer=contact_row)
    assert few.row_framings == ["face", "upper"]


def test_parallel_workers_give_the_same_result(tmp_path: Path) -> None:
    out = make_dataset(tmp_path, n=7, shard_size=2, mutate=_set("depth", _nan_depth))
    serial = inspect_dataset(out, contact_rows=3, progress=False, row_renderer=contact_row)
    parallel = inspect_dataset(out, contact_rows=3, progress=False, row_renderer=contact_row, workers=2)
    assert parallel.problems == serial.problems and len(serial.problems) == 1
    assert parallel.stats == serial.stats
    assert [label for label, _ in parallel.contact_rows] == [label for label, _ in serial.contact_rows]
    assert all((a[1] == b[1]).all() for a, b in zip(parallel.contact_rows, serial.contact_rows, strict=True))


def test_cli_inspect_writes_sheet_and_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = make_dataset(tmp_path / "ds", n=6)
    assert run_cli(["inspect", str(out), "--contact-rows", "4", "--quiet"], monkeypatch) == 0
    with Image.open(out / "report" / "contact_sheet.png") as sheet:
        assert sheet.size == (4 * WIDTH, 4 * HEIGHT)
        pixels = np.asarray(sheet)
    assert (pixels[HEIGHT // 2, WIDTH // 2] == (200, 150, 120)).all()  # rgb panel, sphere centre
    assert (pixels[0, 3 * WIDTH] == 0).all()  # normals panel, background is black
    page = (out / "report" / "index.html").read_text()
    assert "no integrity problems" in page and "data:image/png;base64," in page and "<svg" in page
    assert "6 samples in 2 shards: no problems" in capsys.readouterr().out


def _set(name: str, value: Callable[[RenderedSample], np.ndarray]) -> Callable[[RenderedSample], None]:
    return lambda s: setattr(s, name, value(s))


def _nan_depth(s: RenderedSample) -> np.ndarray:
    depth = s.depth.copy()
    depth[30, 20:23] = np.nan
    return depth


def _depth_off_foreground(s: RenderedSample) -> np.ndarray:
    depth = s.depth.copy()
    depth[:2, :7] = 2.0  # 14 px of background
    return depth


def _long_normals(s: RenderedSample) -> np.ndarray:
    return s.normal * np.float32(1.2)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set("depth", _nan_depth), "shard-000001 / 000000004: depth is NaN or inf at 3 px"),
        (_set("depth", _depth_off_foreground),
         "shard-000001 / 000000004: depth > 0 where alpha == 0 at 14 px"),
        (_set("normal", _long_normals), "shard-000001 / 000000004: normals not unit where depth > 0 at"),
        (lambda s: s.meta.pop("K"), "shard-000001 / 000000004: json lacks 'K'"),
        (lambda s: s.meta.update(cam_to_world=np.diag([1, 2, 1, 1]).tolist()), "rotation is not orthonormal"),
        (lambda s: s.meta["spec"].update(index=9), "json spec index 9 does not match key 000000004"),
        (lambda s: s.meta["spec"]["camera"].update(lens="x"), "json spec does not parse"),
    ],
)
def test_planted_defects_are_caught(tmp_path: Path, mutate: Callable[[RenderedSample], None],
                                    expected: str) -> None:
    result = inspect_dataset(make_dataset(tmp_path, mutate=mutate), progress=False)
    assert any(p.startswith(expected) or expected in p for p in result.problems), result.problems
    assert all("000000004" in p for p in result.problems)


def test_check_sample_catches_alpha_out_of_range() -> None:
    """Shards clip alpha to 16 bits, so out-of-range alpha can only come from a renderer."""
    sample = make_sample(0)
    assert check_sample(sample) == []
    sample.alpha[0, :5] = 1.5
    sample.alpha[1, :2] = -0.1
    assert "alpha outside [0, 1] at 7 px" in check_sample(sample)


def test_stored_formats_are_checked_on_the_bytes() -> None:
    """decode_sample casts everything to float32, so a half-precision depth would go unseen there."""
    record = encode_sample(make_sample(0))
    assert check_storage(record) == []
    record["depth.exr"] = encode_exr({"Y": make_sample(0).depth}, "float16")
    record["alpha.png"] = encode_png((make_sample(0).alpha * 255).astype(np.uint8))
    assert check_storage(record) == [
        "alpha.png is stored as PNG mode L, expected I;16",
        "depth.exr stores channels {'Y': 'float16'}, expected {'Y': 'float32'}"]


def test_fractional_alpha_with_zero_depth_is_accepted_but_not_full_alpha() -> None:
    sample = make_sample(0)
    ring = (sample.alpha > 0) & (sample.alpha < 1)
    assert ring.any() and (sample.depth[ring] == 0).all()  # the fixture exercises the rule
    sample.alpha[ring] = 1.0
    assert f"depth == 0 where alpha == 1 at {int(ring.sum())} px" in check_sample(sample)


def test_index_and_tar_key_mismatch_is_reported(tmp_path: Path) -> None:
    out = make_dataset(tmp_path)
    ipath = index_path(list_shards(out)[0])
    index = json.loads(ipath.read_text())
    index["keys"][1] = "000000099"
    index["failures"] = [{"index": 50, "key": "000000050", "error": "Cycles crashed", "attempts": 2}]
    ipath.write_text(json.dumps(index))
    result = inspect_dataset(out, progress=False)
    assert "shard-000000: index lists 1 key(s) the tar lacks: 000000099" in result.problems
    assert "shard-000000: tar holds 1 key(s) the index lacks: 000000001" in result.problems
    assert result.failures == ["shard-000000 / 000000050: Cycles crashed (after 2 attempts)"]


def test_incomplete_shards_are_listed_not_read(tmp_path: Path) -> None:
    out = make_dataset(tmp_path, n=6)
    index_path(list_shards(out)[1]).unlink()
    (out / "shards" / "shard-000002.tar.tmp").write_bytes(b"partial")
    result = inspect_dataset(out, progress=False)
    assert result.incomplete == ["shard-000002.tar.tmp", "shard-000001.tar"]
    assert result.stats.samples == 3
    assert result.problems == [
        "dataset.json: n = 6, but complete shards hold 3 sample(s) incl. failures "
        + "(2 incomplete shard file(s)) (re-run the same render command to finish it, or pass --allow-incomplete)"]


@pytest.mark.parametrize("status", ["running", "incomplete"])
def test_an_interrupted_dataset_fails_inspect_unless_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            status: str) -> None:
    out = make_dataset(tmp_path, n=6)
    index_path(list_shards(out)[1]).unlink()  # the run stopped before shard 1 was finished
    manifest = json.loads((out / "dataset.json").read_text())
    (out / "dataset.json").write_text(json.dumps({**manifest, "status": status}))
    assert run_cli(["inspect", str(out), "--quiet"], monkeypatch) == 1
    assert run_cli(["inspect", str(out), "--quiet", "--allow-incomplete"], monkeypatch) == 0
    result = inspect_dataset(out, progress=False, allow_incomplete=True)
    assert result.problems == [] and any("n = 6" in w for w in result.warnings)


def test_recorded_failures_fail_inspect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = make_dataset(tmp_path, n=6)
    assert run_cli(["inspect", str(out), "--quiet"], monkeypatch) == 0  # sound as made
    tar = list_shards(out)[1]
    ipath = index_path(tar)
    index = json.loads(ipath.read_text())
    # Turn the shard's last sample into a recorded failure: drop it from the tar and the index.
    import tarfile
    keep = index["keys"][:-1]
    with tarfile.open(tar) as src:
        members = [(m, src.extractfile(m).read()) for m in src.getmembers() if m.name.split(".")[0] in keep]
    with tarfile.open(tar, "w") as dst:
        for member, data in members:
            import io
            dst.addfile(member, io.BytesIO(data))
    index.update(keys=keep, tar_bytes=tar.stat().st_size,
                 failures=[{"index": 5, "key": "000000005", "error": "Cycles crashed", "attempts": 2}])
    ipath.write_text(json.dumps(index))
    capsys.readouterr()
    assert run_cli(["inspect", str(out), "--quiet"], monkeypatch) == 1
    assert "1 sample(s) recorded as failed" in capsys.readouterr().out


@pytest.mark.parametrize("patch_index", [False, True])
def test_truncated_tar_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str], patch_index: bool) -> None:
    out = make_dataset(tmp_path)
    tar = list_shards(out)[1]
    with tarfile.open(tar) as t:  # cut inside a member's data (a cut on a header boundary reads as a shorter tar)
        member = t.getmembers()[len(t.getmembers()) // 2]
    tar.write_bytes(tar.read_bytes()[: member.offset_data + member.size // 2])
    if patch_index:  # an index that agrees with the truncated size: tarfile itself must fail
        ipath = index_path(tar)
        ipath.write_text(json.dumps({**json.loads(ipath.read_text()), "tar_bytes": tar.stat().st_size}))
    with pytest.raises(UserError, match="corrupt shard .*shard-000001.tar"):
        inspect_dataset(out, progress=False)
    assert run_cli(["inspect", str(out), "--quiet"], monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("synthhuman: error: corrupt shard")


def test_cli_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    out = make_dataset(tmp_path / "bad", mutate=_set("depth", _depth_off_foreground))
    assert run_cli(["inspect", str(out), "--quiet"], monkeypatch) == 1
    printed = capsys.readouterr().out
    assert "shard-000001 / 000000004: depth > 0 where alpha == 0 at 14 px" in printed.splitlines()
    # The planted depth also lacks unit normals: both rules fire, one line each.
    assert (out / "report" / "problems.txt").read_text().splitlines() == [
        "shard-000001 / 000000004: depth > 0 where alpha == 0 at 14 px",
        "shard-000001 / 000000004: normals not unit where depth > 0 at 14 px"]
    (tmp_path / "empty").mkdir()
    assert run_cli(["inspect", str(tmp_path / "empty")], monkeypatch) == 2
    assert "not a synthhuman dataset" in capsys.readouterr().err


def test_missing_manifest_is_a_warning(tmp_path: Path) -> None:
    out = make_dataset(tmp_path)
    (out / "dataset.json").unlink()
    result = inspect_dataset(out, progress=False)
    assert result.problems == [] and result.manifest is None
    assert any("no dataset.json" in w for w in result.warnings)


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """The real ``synthhuman`` entry point, as a user calls it."""
    from synthhuman import cli

    return cli.main(argv)


@pytest.mark.parametrize("garbage", ["{not json", '{"keys": 3}'])
def test_a_garbage_index_is_blamed_on_the_index(tmp_path: Path, garbage: str) -> None:
    """Unclear message (issue 12): an unreadable index was reported as a truncated tar."""
    out = make_dataset(tmp_path)
    ipath = index_path(list_shards(out)[0])
    ipath.write_text(garbage)
    with pytest.raises(UserError, match=f"corrupt index {ipath}: not a shard index"):
        inspect_dataset(out, progress=False)


def test_turned_and_blocked_close_views_are_counted() -> None:
    """The view each close crop used (render/scene.py `view` meta) is tallied, so a dataset whose
    cameras the person blocked says so rather than passing silently."""
    from synthhuman.dataset_stats import DatasetStats

    stats = DatasetStats()
    for view in ({"clear": True, "turned": False}, {"clear": True, "turned": True}, {"clear": False, "turned": True},
                 {"turned": False}, None):
        sample = make_sample(0)
        if view is not None:
            sample.meta["view"] = view
        stats.add(sample)
    assert stats.view == {"as sampled": 1, "turned": 1, "blocked": 1}
    assert stats.environment == {"none": 5}  # make_spec's specs have no floor
