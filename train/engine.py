"""Assemble a training run from a TrainConfig: process group, model, data, optimizer, hooks.

Kept apart from `loop.py` so the loop knows nothing about configs, and from the command
module so tests can drive a whole run (with extra hooks) without argparse.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from synthhuman.train.checkpoint import load_checkpoint, unwrap
from synthhuman.train.config import TrainConfig, build_dataclass
from synthhuman.train.hooks import Checkpointer, CosineLR, EvalHook, MetricsLogger
from synthhuman.train.loop import DistInfo, HookBase, SimpleTrainer, init_distributed, resolve_device
from torch import nn

from synthhuman.errors import UserError


@dataclass
class RunResult:
    outcome: str  # "finished" | "interrupted"
    step: int
    epoch: int
    checkpoint: Path | None  # last.pt (rank 0), None on other ranks
    eval: dict[str, float] | None  # last evaluation, when an eval source was given


def build_run_model(cfg: TrainConfig) -> nn.Module:
    from synthhuman.train.models import build_model, load_pretrained_encoder

    try:
        model = build_model(cfg.model, cfg.task, **cfg.model_overrides)
    except (TypeError, ValueError) as exc:
        raise UserError(f"config key 'model_overrides': {exc}") from None
    if cfg.pretrained_encoder:
        if not Path(cfg.pretrained_encoder).is_file():
            raise UserError(f"pretrained encoder not found: {cfg.pretrained_encoder}")
        try:
            load_pretrained_encoder(model, cfg.pretrained_encoder)
        except (RuntimeError, KeyError, ValueError, OSError) as exc:  # shape/key mismatch, unreadable file
            raise UserError(
                f"cannot load pretrained encoder {cfg.pretrained_encoder}: {_first_line(exc)}"
            ) from None
    return model


def _first_line(exc: BaseException) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def data_config(cfg: TrainConfig) -> Any:
    """The data module's DataConfig from `cfg.data_config`; its seed defaults to the run seed."""
    from synthhuman.train.data import DataConfig

    return build_dataclass(DataConfig, {"seed": cfg.seed, **cfg.data_config}, "data_config")


def make_loss_fn(cfg: TrainConfig) -> Any:
    from synthhuman.train.losses import LossWeights, task_loss

    weights = build_dataclass(LossWeights, cfg.loss_weights, "loss_weights")
    return partial(task_loss, cfg.task, weights=weights)


def make_eval_fn(cfg: TrainConfig, device: torch.device) -> Any:
    """model -> flat {"overall/depth/rmse": ..., "face/normals/mean": ...} on `cfg.eval_data`."""
    from synthhuman.train.data import make_loader
    from synthhuman.train.evaluate import evaluate_model, flatten

    dcfg = dataclasses.replace(data_config(cfg), split_across_ranks=False)  # rank 0 evaluates the whole set
    loader = make_loader(cfg.eval_data, dcfg, cfg.batch_size, cfg.workers, train=False)  # type: ignore[arg-type]
    return lambda model: flatten(evaluate_model(model, loader, device))


def count_samples(source: str) -> int | None:
    """Samples in a local source (shard index files, or a layout folder's rgb files); None if unknown."""
    from synthhuman.formats.synthhuman_layout import list_layout_indices, resolve_source
    from synthhuman.shards import count_indexed_samples

    resolved = resolve_source(source)
    if resolved.kind == "layout":
        return len(list_layout_indices(resolved.paths[0]))
    return count_indexed_samples(list(resolved.paths))


def epoch_steps(cfg: TrainConfig, world_size: int) -> int | None:
    """`steps_per_epoch`, or under DDP one pass's worth of steps per rank.

    Ranks stream disjoint shards whose lengths can differ; with a fixed step count a rank that
    runs dry starts another pass instead of leaving the others waiting in an all-reduce.
    """
    if cfg.steps_per_epoch is not None or world_size == 1:
        return cfg.steps_per_epoch
    total = count_samples(cfg.data)
    if total is None:
        raise UserError("multi-process training of a remote or unindexed source needs --steps-per-epoch")
    return max(1, total // (world_size * cfg.batch_size))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_trainer(
    cfg: TrainConfig,
    dist: DistInfo,
    device: torch.device,
    progress: bool = True,
    extra_hooks: Sequence[HookBase] = (),
) -> SimpleTrainer:
    """Everything wired, nothing run. Only rank 0 evaluates, logs and checkpoints."""
    from synthhuman.train.data import make_loader

    seed_everything(cfg.seed + dist.rank)
    model: nn.Module = build_run_model(cfg).to(device)
    if dist.world_size > 1:
        ids = [device.index] if device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
    )
    loader = make_loader(cfg.data, data_config(cfg), cfg.batch_size, cfg.workers, train=True)
    trainer = SimpleTrainer(
        model,
        make_loss_fn(cfg),
        optimizer,
        loader,
        epochs=cfg.epochs,
        steps_per_epoch=epoch_steps(cfg, dist.world_size),
        device=device,
        amp=cfg.amp,
        grad_clip=cfg.grad_clip,
        world_size=dist.world_size,
    )
    hooks: list[HookBase] = [CosineLR(cfg.lr, cfg.min_lr, cfg.warmup_steps)]
    if dist.is_main:
        out = Path(cfg.out)
        hooks.append(MetricsLogger(out, cfg.log_every, progress))
        if cfg.eval_data:
            hooks.append(EvalHook(make_eval_fn(cfg, device), cfg.eval_every))
        hooks.append(Checkpointer(out / "checkpoints", cfg.keep_checkpoints, {"train_config": cfg.to_dict()}))
    trainer.register_hooks([*hooks, *extra_hooks])
    return trainer


def resume_path(cfg: TrainConfig, resume: str) -> Path:
    """`auto` means RUN/checkpoints/last.pt."""
    return Path(cfg.out) / "checkpoints" / "last.pt" if resume == "auto" else Path(resume)


def restore(trainer: SimpleTrainer, path: Path, cfg: TrainConfig) -> None:
    """Load a checkpoint into the trainer, refusing one made for another task or model size."""
    payload = load_checkpoint(path, map_location=trainer.device)
    saved = payload.get("model_config", {})
    current = unwrap(trainer.model).config
    if (saved.get("task"), saved.get("size")) != (current.task, current.size):
        raise UserError(
            f"checkpoint {path} is a {saved.get('size')}/{saved.get('task')} model, "
            f"this run is {current.size}/{current.task}"
        )
    trainer.load_state_dict(payload)
    if hasattr(trainer.loader, "set_epoch"):
        trainer.loader.set_epoch(trainer.passes)  # fresh augmentation draws, not a replay


def train_from_config(
    cfg: TrainConfig, resume: str | None = None, progress: bool = True, extra_hooks: Sequence[HookBase] = ()
) -> RunResult:
    """Validate, build, optionally resume, train; the process group is torn down at the end."""
    cfg.validate()
    if DistInfo().is_main:  # a file, read-only or empty --out: one line now, not a traceback later
        from synthhuman.outdir import prepare_output_dir

        prepare_output_dir(cfg.out)
    if cfg.eval_data is not None:
        from synthhuman.formats.synthhuman_layout import resolve_source

        resolve_source(cfg.eval_data)  # a bad eval source fails now, not after the first epoch
    device_kind = resolve_device(cfg.device, DistInfo()).type
    dist = init_distributed(device_kind)
    try:
        device = resolve_device(cfg.device, dist)
        trainer = build_trainer(cfg, dist, device, progress and dist.is_main, extra_hooks)
        if resume:
            restore(trainer, resume_path(cfg, resume), cfg)
        if dist.is_main:
            Path(cfg.out).mkdir(parents=True, exist_ok=True)
            (Path(cfg.out) / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        outcome = trainer.train()
    finally:
        if dist.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    evals = next((h.latest for h in trainer.hooks if isinstance(h, EvalHook)), None)
    checkpoint = Path(cfg.out) / "checkpoints" / "last.pt" if dist.is_main else None
    return RunResult(outcome, trainer.step, trainer.epoch, checkpoint, evals)
