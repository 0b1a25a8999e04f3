"""The small model, the paper's losses and the loop can fit data: each task's loss on 8
fabricated samples drops at least 10x (64x64 inputs, no augmentation, lr 1e-3)."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from _david_data import make_dataset
from synthhuman.train.data import DataConfig, make_loader
from synthhuman.train.loop import HookBase, SimpleTrainer
from synthhuman.train.losses import LossWeights, task_loss
from synthhuman.train.models import build_model

pytestmark = [pytest.mark.train, pytest.mark.slow]

MAX_STEPS = 400
TIME_BUDGET_S = 60.0


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """All 8 samples as one batch, decoded once through the real data pipeline."""
    root = make_dataset(tmp_path_factory.mktemp("overfit") / "data", count=8, per_shard=8)
    loader = make_loader(
        str(Path(root) / "shards" / "*.tar"), DataConfig(image_size=64, augment=False), 8, 0, True
    )
    (only,) = list(loader)
    assert only["rgb"].shape == (8, 3, 64, 64) and only["mask"].any()
    return only


class StopWhenBelow(HookBase):
    """End training once the step loss is well under the target (or the time budget is spent)."""

    def __init__(self, target: float, budget_s: float) -> None:
        self.target, self.deadline = target, time.perf_counter() + budget_s

    def after_epoch(self) -> None:
        if self.trainer.result.loss < self.target or time.perf_counter() > self.deadline:
            self.trainer.epochs = self.trainer.epoch


def full_loss(model: torch.nn.Module, loss_fn: Any, batch: dict[str, Any]) -> float:
    with torch.no_grad():
        return float(loss_fn(model(batch["rgb"]), batch)[0])


@pytest.fixture
def one_thread() -> Any:
    """One intra-op thread: for this tiny model it is as fast as two, and it does not collapse
    when the machine is shared (spinning OpenMP threads on busy cores can cost 10x)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("task", ["depth", "normals", "alpha"])
def test_small_model_overfits_eight_samples(task: str, batch: dict[str, Any], one_thread: None) -> None:
    torch.manual_seed(0)
    model = build_model("small", task)
    loss_fn = partial(task_loss, task, weights=LossWeights())
    initial = full_loss(model, loss_fn, batch)
    # One batch per epoch: `epochs` counts optimizer steps; constant lr (no schedule hook).
    trainer = SimpleTrainer(
        model, loss_fn, torch.optim.AdamW(model.parameters(), lr=1e-3), [batch], epochs=MAX_STEPS
    )
    trainer.register_hooks([StopWhenBelow(initial / 20, TIME_BUDGET_S)])
    assert trainer.train() == "finished"
    final = full_loss(model, loss_fn, batch)
    assert final <= initial / 10, f"{task}: loss {initial:.4g} -> {final:.4g} after {trainer.step} steps"
