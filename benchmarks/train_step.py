"""Training step time: forward, backward and AdamW step of each model size; prints JSON.

Runs `SimpleTrainer.run_step` itself (with the paper's loss for the task) on synthetic
512x512 batches held in memory, so the figure is model + loss + optimizer cost, without data
loading (see benchmarks/loader.py for that). Reports the median over timed steps after one
warm-up step, the per-phase split of one extra step, and samples consumed per second.
Run by hand: ``python benchmarks/train_step.py [--models small base] [--batches 1 2]
[--size 512] [--steps 3] [--task depth] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from synthhuman.train.loop import SimpleTrainer
from synthhuman.train.losses import LossWeights, task_loss
from synthhuman.train.models import build_model


def synthetic_batch(batch: int, size: int, device: torch.device) -> dict[str, Any]:
    """A centred disc "person": depth in metres inside, unit normals, soft alpha."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    r = (xx**2 + yy**2).sqrt()
    inside = (r < 0.8)[None, None].expand(batch, 1, size, size)
    cap = (1 - (r / 0.8).clamp(max=1) ** 2).sqrt()
    normals = F.normalize(torch.stack([xx, -yy, cap + 1e-3])[None], dim=1).expand(batch, 3, size, size)
    out = {
        "rgb": torch.rand(batch, 3, size, size),
        "alpha": ((0.8 - r) * 20 + 0.5).clamp(0, 1)[None, None].expand(batch, 1, size, size),
        "depth": torch.where(inside, 2.0 - 0.2 * cap, torch.zeros(())),
        "normals": normals * inside,
        "mask": inside,
    }
    return {k: v.contiguous().to(device) for k, v in out.items()}


def phase_split(trainer: SimpleTrainer, batch: dict[str, Any]) -> dict[str, float]:
    """Seconds of forward (+loss), backward and optimizer step for one step, synchronised."""
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    with torch.autocast(trainer.device.type, dtype=torch.bfloat16, enabled=trainer.amp):
        pred = trainer.model(batch["rgb"])
    loss, _ = trainer.loss_fn(pred, batch)
    sync()
    t1 = time.perf_counter()
    trainer.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    sync()
    t2 = time.perf_counter()
    trainer.optimizer.step()
    sync()
    return {"forward_s": t1 - t0, "backward_s": t2 - t1, "optimizer_s": time.perf_counter() - t2}


def measure(
    size_name: str, task: str, batch: int, image: int, steps: int, device: torch.device
) -> dict[str, Any]:
    torch.manual_seed(0)
    model = build_model(size_name, task).to(device)
    data = synthetic_batch(batch, image, device)
    trainer = SimpleTrainer(
        model,
        partial(task_loss, task, weights=LossWeights()),
        torch.optim.AdamW(model.parameters(), lr=1e-5),
        [data],
        epochs=1,
        steps_per_epoch=1,
        device=device,
    )
    times = []
    for i in range(steps + 1):  # the first step (allocations, oneDNN/cuDNN plans) is not timed
        trainer._iter = iter([data])
        trainer.run_step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(trainer.result.seconds)
    step = statistics.median(times)
    return {
        "model": size_name,
        "task": task,
        "batch": batch,
        "size": image,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "step_s": round(step, 4),
        "step_s_all": [round(t, 4) for t in times],
        "samples_per_s": round(batch / step, 3),
        **{k: round(v, 4) for k, v in phase_split(trainer, data).items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["small", "base"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per configuration")
    parser.add_argument("--task", default="depth", choices=("depth", "normals", "alpha", "multi"))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    device = torch.device(args.device)
    results = [
        measure(m, args.task, b, args.size, args.steps, device) for m in args.models for b in args.batches
    ]
    env = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "amp_bf16": device.type == "cuda",
    }
    print(json.dumps({"benchmark": "train_step", "env": env, "results": results}, indent=1))


if __name__ == "__main__":
    main()
