"""Issue 6's end-to-end check: a dataset rendered by the real pipeline (Anny + Cycles) is
trained on for a few steps, evaluated, used for prediction and exported to ONNX."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from synthhuman.shards import iter_samples, list_shards
from tests.conftest import run_cli

pytestmark = [pytest.mark.train, pytest.mark.render, pytest.mark.slow]


def test_render_train_evaluate_predict_export(blender_dataset, tmp_path):
    run_dir = tmp_path / "run"
    shards = f"{blender_dataset}/shards/*.tar"
    trained = run_cli("train", "--task", "multi", "--model", "small", "--data", shards, "--out", str(run_dir),
                      "--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "2", "--image-size", "64",
                      "--lr", "1e-3", "--workers", "0", "--no-progress")
    assert trained.returncode == 0, trained.stderr[-3000:]
    checkpoint = run_dir / "checkpoints" / "last.pt"
    assert checkpoint.exists()

    report_path = tmp_path / "eval.json"
    evaluated = run_cli("evaluate", "--checkpoint", str(checkpoint), "--data", shards, "--image-size", "64",
                        "--workers", "0", "--out", str(report_path))
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads(report_path.read_text())
    text = json.dumps(report)
    for metric in ("rmse", "absrel", "delta1", "mean", "median", "sad", "mse", "grad", "conn"):
        assert f'"{metric}' in text.lower(), metric
    assert all(np.isfinite(v) for v in _numbers(report))

    images = []
    for sample in (s for p in list_shards(blender_dataset) for s in iter_samples(p)):
        path = tmp_path / f"{sample.key}.png"
        Image.fromarray(sample.rgb).save(path)
        images.append(str(path))
    predicted = run_cli("predict", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "pred"),
                        "--background", "green", *images[:2])
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    produced = {p.name for p in (tmp_path / "pred").iterdir()}
    stem = images[0].rsplit("/", 1)[1][:-4]
    for suffix in ("_depth.exr", "_normal.exr", "_alpha.png", "_relit.png", "_composite.png", "_points.ply"):
        assert stem + suffix in produced, (suffix, sorted(produced))
    with Image.open(tmp_path / "pred" / f"{stem}_alpha.png") as alpha:
        assert alpha.size == (64, 48)  # predictions come back at the input image's size

    onnx_path = tmp_path / "model.onnx"
    exported = run_cli("export", "--checkpoint", str(checkpoint), "--onnx", str(onnx_path))
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert onnx_path.stat().st_size > 0 and "max abs diff" in exported.stdout


def _numbers(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _numbers(value)
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield float(tree)
