"""Training hooks: cosine LR schedule, checkpoints, periodic evaluation, CSV/TensorBoard/tqdm logs.

Each hook owns one concern and only touches the trainer through its public fields
(`step`, `epoch`, `result`, `state_dict()`), so the loop itself stays a few lines long.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthhuman.train.checkpoint import save_checkpoint, unwrap
from synthhuman.train.loop import HookBase
from torch import nn


class CosineLR(HookBase):
    """Sets every param group's lr before each step: optional linear warm-up, then cosine to `min_lr`.

    Progress is step / (epochs * epoch_length). For a stream whose length is unknown until
    the first pass ends, the first epoch uses epoch-level progress (lr stays at its start
    value, as cosine is flat there), and steps thereafter once the length is known.
    """

    def __init__(self, base_lr: float, min_lr: float = 0.0, warmup_steps: int = 0) -> None:
        self.base_lr, self.min_lr, self.warmup_steps = base_lr, min_lr, warmup_steps
        self.last_lr = base_lr

    def lr_at(self, step: int, epoch: int, epochs: int, epoch_length: int | None) -> float:
        if self.warmup_steps and step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        if epoch_length:
            total = max(1, epochs * epoch_length - self.warmup_steps)
            progress = (step - self.warmup_steps) / total
        else:
            progress = epoch / epochs
        progress = min(max(progress, 0.0), 1.0)
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress))

    def before_step(self) -> None:
        t = self.trainer
        self.last_lr = self.lr_at(t.step, t.epoch, t.epochs, t.epoch_length)
        for group in t.optimizer.param_groups:
            group["lr"] = self.last_lr

    def state_dict(self) -> dict[str, Any]:
        return {
            "base_lr": self.base_lr,
            "min_lr": self.min_lr,
            "warmup_steps": self.warmup_steps,
            "last_lr": self.last_lr,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_lr = float(state.get("last_lr", self.base_lr))


class Checkpointer(HookBase):
    """Saves `epoch-NNNN.pt` + `last.pt` after every epoch, and `last.pt` on an interrupt.

    `last.pt` is a hard link to the newest epoch file where the filesystem allows it (no
    second write of a large file); older epoch files beyond `keep` are deleted.
    """

    def __init__(self, directory: str | Path, keep: int = 3, extra: dict[str, Any] | None = None) -> None:
        self.directory = Path(directory)
        self.keep = keep
        self.extra = extra or {}  # e.g. the TrainConfig, stored for evaluate/export provenance
        self.saved: list[Path] = []
        # A run killed while writing leaves `*.pt.tmp` / `last.pt.link`: never valid, remove them.
        for leftover in [*self.directory.glob("*.pt.tmp"), self.directory / "last.pt.link"]:
            leftover.unlink(missing_ok=True)

    @property
    def last(self) -> Path:
        return self.directory / "last.pt"

    def save(self, path: Path) -> Path:
        return save_checkpoint(path, self.trainer.model, **self.trainer.state_dict(), **self.extra)

    def after_epoch(self) -> None:
        path = self.save(self.directory / f"epoch-{self.trainer.epoch:04d}.pt")
        tmp = self.last.with_name("last.pt.link")
        try:
            tmp.unlink(missing_ok=True)
            os.link(path, tmp)
            os.replace(tmp, self.last)
        except OSError:
            self.save(self.last)
        self.saved.append(path)
        for old in self._epoch_files()[: -self.keep] if self.keep else self._epoch_files():
            old.unlink(missing_ok=True)

    def _epoch_files(self) -> list[Path]:
        return sorted(self.directory.glob("epoch-*.pt"))

    def on_interrupt(self) -> None:
        self.save(self.last)


class EvalHook(HookBase):
    """Every `every` epochs (and after the last), run `evaluate(model) -> {name: value}`.

    Evaluates the bare model (not the DDP wrapper, whose forward may broadcast buffers)
    and puts it back in train mode; the result waits in `latest` for the logger.
    """

    def __init__(self, evaluate: Callable[[nn.Module], dict[str, float]], every: int = 1) -> None:
        self.evaluate, self.every = evaluate, every
        self.latest: dict[str, float] | None = None

    def after_epoch(self) -> None:
        t = self.trainer
        if t.epoch % self.every and t.epoch != t.epochs:
            return
        model = unwrap(t.model)
        model.eval()
        try:
            self.latest = self.evaluate(model)
        finally:
            model.train()
        for hook in t.hooks:
            if isinstance(hook, MetricsLogger):
                hook.log_eval(self.latest)


class MetricsLogger(HookBase):
    """`train.csv` / `eval.csv` rows, TensorBoard scalars under `tb/`, and a tqdm bar.

    Losses are averaged over the `log_every` steps since the last row; samples/s counts
    every process (batch x world size) over the time spent in `run_step` (waiting for data
    included; evaluation and checkpoint writes excluded, so it measures training throughput).
    """

    def __init__(self, out_dir: str | Path, log_every: int = 20, progress: bool = True) -> None:
        self.out_dir, self.log_every, self.progress = Path(out_dir), log_every, progress
        self._sums: dict[str, float] = {}
        self._count = 0
        self._samples = 0
        self._seconds = 0.0
        self.writer: Any = None
        self.bar: Any = None

    def before_train(self) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from tqdm import tqdm

        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(str(self.out_dir / "tb"))
        t = self.trainer
        total = t.epochs * t.epoch_length if t.epoch_length else None
        self.bar = tqdm(
            total=total, initial=t.step, unit="step", dynamic_ncols=True, disable=not self.progress
        )

    def after_step(self) -> None:
        t, r = self.trainer, self.trainer.result
        for name, value in {"loss": r.loss, **r.terms}.items():
            self._sums[name] = self._sums.get(name, 0.0) + value
        self._count += 1
        self._samples += r.batch_size * t.world_size
        self._seconds += r.seconds
        self.bar.update(1)
        if t.step % self.log_every == 0:
            self.flush()

    def flush(self) -> None:
        if not self._count:
            return
        t = self.trainer
        rate = self._samples / max(self._seconds, 1e-9)
        row = {
            "step": t.step,
            "epoch": t.epoch,
            "lr": t.optimizer.param_groups[0]["lr"],
            **{k: v / self._count for k, v in self._sums.items()},
            "samples_per_s": rate,
        }
        _append_csv(self.out_dir / "train.csv", row)
        for key, value in row.items():
            if key not in ("step", "epoch"):
                self.writer.add_scalar(f"train/{key}", value, t.step)
        self.bar.set_postfix(loss=f"{row['loss']:.4g}", samples_s=f"{rate:.1f}", epoch=t.epoch)
        self._sums, self._count, self._samples, self._seconds = {}, 0, 0, 0.0

    def log_eval(self, metrics: dict[str, float]) -> None:
        t = self.trainer
        _append_csv(self.out_dir / "eval.csv", {"step": t.step, "epoch": t.epoch, **metrics})
        for key, value in metrics.items():
            self.writer.add_scalar(f"eval/{key}", value, t.step)

    def after_epoch(self) -> None:
        self.flush()

    def after_train(self) -> None:
        if self.writer is not None:
            self.flush()
            self.writer.close()
        if self.bar is not None:
            self.bar.close()


def _append_csv(path: Path, row: dict[str, Any]) -> None:
    """Append one row; the header is the first row's keys (later unknown keys are dropped)."""
    exists = path.exists() and path.stat().st_size > 0
    if exists:
        with open(path, newline="") as f:
            fields = next(csv.reader(f))
    else:
        fields = list(row)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if not exists:
            writer.writeheader()
        writer.writerow(row)
