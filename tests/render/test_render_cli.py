"""`synthhuman render` with real Blender end to end: sampler -> Anny/Cycles -> shards -> inspect.

Runs the CLI in a subprocess: a BlenderRenderer resets Blender's factory settings, which
must not disturb the session renderer other render tests share.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from synthhuman.shards import iter_samples, list_shards, read_index
from synthhuman.spec import SceneSpec
from tests.conftest import BLENDER_DATASET_ARGS, run_cli

pytestmark = [pytest.mark.render, pytest.mark.slow]


def test_shards_hold_every_sample_with_valid_ground_truth(blender_dataset):
    shards = list_shards(blender_dataset)
    assert [p.name for p in shards] == ["shard-000000.tar", "shard-000001.tar"]
    samples = [s for p in shards for s in iter_samples(p)]
    assert [s.key for s in samples] == ["000000000", "000000001", "000000002"]
    for s in samples:
        assert s.rgb.shape == (48, 64, 3) and s.depth.shape == (48, 64)
        spec = SceneSpec.from_dict(s.meta["spec"])
        assert (spec.seed, spec.index) == (11, int(s.key))
        inside = s.alpha == 1.0
        assert inside.sum() > 20, "the body must be in frame"
        assert (s.depth[inside] > 0).all() and (s.depth[s.alpha == 0] == 0).all()
        norms = np.linalg.norm(s.normal[s.depth > 0], axis=-1)
        assert np.abs(norms - 1).max() < 1e-2
        assert s.mesh is not None and len(s.mesh.faces) > 1000
        timings = s.meta["timings"]
        assert timings["scene_update_s"] < timings["render_s"]
    manifest = json.loads((blender_dataset / "dataset.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["samples"] == 3
    assert manifest["versions"]["bpy"] == "5.0.1"
    assert set(manifest["licences"]) <= {"CC0-1.0", "Apache-2.0", "MIT"}
    assert any("procedural garments" in a for a in manifest["licences"]["MIT"]["attribution"])  # dressed people
    assert all(read_index(p).failures == [] for p in shards)


def test_inspect_passes_and_writes_the_report(blender_dataset):
    result = run_cli("inspect", str(blender_dataset), "--quiet")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (blender_dataset / "report" / "contact_sheet.png").stat().st_size > 0
    assert (blender_dataset / "report" / "index.html").exists()


def test_rerun_resumes_without_rendering(blender_dataset):
    before = {p.name: p.read_bytes() for p in list_shards(blender_dataset)}
    result = run_cli("render", "--out", str(blender_dataset), *BLENDER_DATASET_ARGS)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 shard(s) already complete; rendering 0 sample(s)" in result.stderr
    assert {p.name: p.read_bytes() for p in list_shards(blender_dataset)} == before


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA GPU")
def test_cuda_without_a_gpu_stops_with_one_line_instead_of_rendering_on_the_cpu(tmp_path):
    result = run_cli("render", "--n", "1", "--out", str(tmp_path), "--device", "cuda", "--workers", "0",
                     "--resolution", "32x24", "--samples", "1", "--quiet")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("synthhuman: error: --device cuda: Blender finds no CUDA device")
    assert not list((tmp_path / "shards").glob("*.tar"))  # nothing rendered silently on the CPU


def test_same_seed_renders_identical_samples_in_another_process_and_shard_layout(blender_dataset, tmp_path):
    """(seed, index) fixes a sample whatever the process, shard grouping or order it renders in."""
    args = list(BLENDER_DATASET_ARGS)
    args[args.index("--shard-size") + 1] = "3"  # one shard instead of two: other grouping
    args.remove("--export-mesh")
    result = run_cli("render", "--out", str(tmp_path), *args)
    assert result.returncode == 0, result.stderr[-2000:]
    again = {s.key: s for p in list_shards(tmp_path) for s in iter_samples(p)}
    first = {s.key: s for p in list_shards(blender_dataset) for s in iter_samples(p)}
    assert sorted(again) == sorted(first)
    for key, sample in first.items():
        for name in ("rgb", "alpha", "depth", "normal"):
            assert np.array_equal(getattr(sample, name), getattr(again[key], name)), (key, name)
        assert sample.meta["spec"] == again[key].meta["spec"] and sample.meta["K"] == again[key].meta["K"]


def test_ctrl_c_stops_an_in_process_blender_render(tmp_path):
    """Issue 12 item 7: with --workers 0, a SIGINT landing inside Cycles' render callback was
    printed and ignored by Blender (the run went on and exited 0). Now it stops the run after
    the current sample: exit 130, finished shards kept, no half shard, and the re-run completes.
    Samples are large enough that the signal almost surely lands inside a render."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    args = ["render", "--out", str(out), "--n", "6", "--resolution", "192x144", "--samples", "16", "--hair-detail", "preview",
            "--shard-size", "1", "--workers", "0", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "synthhuman.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 300
    while not list((out / "shards").glob("*.index.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.5)  # into the next sample's render
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "stopping after the current sample" in err
    finished = list_shards(out)
    assert 1 <= len(finished) < 6 and all(read_index(p) is not None for p in finished)
    assert not list(out.rglob("*.tmp"))
    resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [s.key for p in list_shards(out) for s in iter_samples(p)] == [f"{i:09d}" for i in range(6)]


def test_quiet_render_prints_nothing_of_blender_or_warp(tmp_path):
    """Unclear message (issue 12): Blender's `Fra:` lines and Warp's CUDA probe reached the
    terminal despite --quiet. They go to DIR/logs/ instead; only our own lines are printed."""
    out = tmp_path / "out"
    result = run_cli("render", "--out", str(out), "--n", "1", "--resolution", "64x48", "--samples", "1",
                     "--workers", "0", "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == ""
    assert all(line.startswith(("0 shard(s)", "rendered ", "dataset: ")) for line in result.stderr.splitlines()), result.stderr
    (log,) = (out / "logs").glob("render-*.log")
    assert "Warp " in log.read_text(errors="replace")  # the libraries' own lines, kept for debugging
