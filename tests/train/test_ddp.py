"""Multi-process training as a user launches it: torchrun, two CPU processes, gloo."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from _david_data import make_dataset
from synthhuman.train.checkpoint import load_checkpoint

pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_torchrun_two_processes_train_evaluate_and_checkpoint(tmp_path: Path):
    data = make_dataset(tmp_path / "data", count=8, per_shard=2, height=32, width=24)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "synthhuman.cli", "train", "--task", "depth", "--model", "small",
           "--data", f"{data}/shards/*.tar", "--eval-data", f"{data}/shards/*.tar", "--out", str(run),
           "--epochs", "2", "--batch-size", "2", "--image-size", "32", "--lr", "1e-3",
           "--workers", "0", "--device", "cpu", "--no-progress"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = load_checkpoint(run / "checkpoints" / "last.pt")
    # 8 samples over 2 ranks, batch 2: one pass is 2 steps per rank, so 4 steps in 2 epochs.
    assert checkpoint["step"] == 4 and checkpoint["epoch"] == 2
    assert not any(key.startswith("module.") for key in checkpoint["model"])  # saved unwrapped
    with open(run / "train.csv") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert steps == sorted(set(steps)) and steps[-1] == 4  # one writer (rank 0): no duplicate rows
    with open(run / "eval.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    assert float(rows[-1]["all/depth/images"]) == 8  # rank 0 evaluated the whole eval set, not its half
