"""`synthhuman render` with real Blender end to end: sampler -> Anny/Cycles -> shards -> inspect.

Runs the CLI in a subprocess: a BlenderRenderer resets Blender's factory settings, which
must not disturb the session renderer other render tests share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from synthhuman.shards import iter_samples, list_shards, read_index
from synthhuman.spec import SceneSpec

pytestmark = [pytest.mark.render, pytest.mark.slow]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "synthhuman.cli", *args], capture_output=True, text=True, env=env,
                          timeout=900)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("blender_dataset")
    result = cli("render", "--n", "3", "--out", str(out), "--seed", "11", "--resolution", "64x48",
                 "--samples", "4", "--shard-size", "2", "--workers", "0", "--export-mesh", "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_shards_hold_every_sample_with_valid_ground_truth(dataset):
    shards = list_shards(dataset)
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
    manifest = json.loads((dataset / "dataset.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["samples"] == 3
    assert manifest["versions"]["bpy"] == "5.0.1"
    assert set(manifest["licences"]) <= {"CC0-1.0", "Apache-2.0"}
    assert all(read_index(p).failures == [] for p in shards)


def test_inspect_passes_and_writes_the_report(dataset):
    result = cli("inspect", str(dataset), "--quiet")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (dataset / "report" / "contact_sheet.png").stat().st_size > 0
    assert (dataset / "report" / "index.html").exists()


def test_rerun_resumes_without_rendering(dataset):
    before = {p.name: p.read_bytes() for p in list_shards(dataset)}
    result = cli("render", "--n", "3", "--out", str(dataset), "--seed", "11", "--resolution", "64x48",
                 "--samples", "4", "--shard-size", "2", "--workers", "0", "--export-mesh", "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 shard(s) already complete; rendering 0 sample(s)" in result.stderr
    assert {p.name: p.read_bytes() for p in list_shards(dataset)} == before
