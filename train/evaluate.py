"""Evaluate a model (live, checkpoint or release-contract ONNX) on a data source.

Metrics are the paper's (via `metrics.MetricAccumulator`): depth RMSE/AbsRel/delta1 after a
least-squares scale and shift, normals angular errors, alpha SAD/MSE/Grad/Conn; averaged
per image, over all images ("all") and per framing (face / upper / full). Images are seen
as the data module serves them in eval mode: replicate-padded to square and resized to
`image_size` (512, the release contract's size), so an ONNX release model gets its canonical
input. Depth and normals are scored on the GT foreground (padding excluded); alpha on the
whole square, whose padded part continues the image by replication.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from synthhuman.train.metrics import MetricAccumulator
from torch import Tensor, nn

PredictFn = Callable[[Tensor], dict[str, Tensor]]
TARGETS = {"depth": "depth", "normals": "normals", "alpha": "alpha"}
TABLE_METRICS = {
    "depth": ("rmse", "absrel", "delta1"),
    "normals": ("mean", "median", "within_11.25", "within_22.5", "within_30"),
    "alpha": ("sad", "mse", "grad", "conn"),
}
GROUP_ORDER = ("all", "face", "upper", "full", "unknown")


def evaluate(
    predict: PredictFn, loader: Iterable[dict[str, Any]], tasks: Iterable[str], max_batches: int | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """{task: {group: {metric: value, "images": n, "skipped": k}}} over the loader's batches."""
    acc = MetricAccumulator()
    tasks = tuple(tasks)
    for index, batch in enumerate(loader):
        if max_batches is not None and index >= max_batches:
            break
        pred = predict(batch["rgb"])
        for task in tasks:
            mask = None if task == "alpha" else batch["mask"]
            acc.add(task, pred[task].float().cpu(), batch[TARGETS[task]], mask, batch["framing"])
    return acc.summary()


def torch_predict_fn(model: nn.Module, device: torch.device | str) -> PredictFn:
    """Float32, no_grad forward on `device` (the model is expected in eval mode)."""

    def predict(rgb: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            return {k: v.float() for k, v in model(rgb.to(device)).items()}

    return predict


def onnx_predict_fn(backend: Any) -> PredictFn:
    """Wrap a `predict.OnnxBackend` (numpy, BGR inside) as a tensor -> tensor function."""

    def predict(rgb: Tensor) -> dict[str, Tensor]:
        return {k: torch.from_numpy(v) for k, v in backend(rgb.numpy().astype("float32")).items()}

    return predict


def evaluate_model(
    model: nn.Module,
    loader: Iterable[dict[str, Any]],
    device: torch.device | str,
    max_batches: int | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Evaluate a live model on all of its tasks (used by the training loop's EvalHook)."""
    return evaluate(torch_predict_fn(model, device), loader, model.tasks, max_batches)


def flatten(summary: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    """{"all/depth/rmse": ..., "all/depth/images": n} for CSV and TensorBoard; NaNs are dropped.

    Image counts stay: they show what an evaluation covered (e.g. the whole eval set under DDP).
    """
    return {
        f"{group}/{task}/{name}": value
        for task, groups in summary.items()
        for group, row in groups.items()
        for name, value in row.items()
        if name != "skipped" and not math.isnan(value)
    }


def format_table(summary: dict[str, dict[str, dict[str, float]]]) -> str:
    """One block per task: a row per group (all first), a column per metric."""
    lines = []
    for task in (t for t in TABLE_METRICS if t in summary):
        names = TABLE_METRICS[task]
        lines.append(f"{task:<8}" + "".join(f"{n:>13}" for n in names) + f"{'images':>8}")
        groups = sorted(summary[task], key=lambda g: GROUP_ORDER.index(g) if g in GROUP_ORDER else 99)
        for group in groups:
            row = summary[task][group]
            cells = "".join(f"{row.get(n, math.nan):>13.5g}" for n in names)
            lines.append(f"  {group:<6}{cells}{int(row.get('images', 0)):>8}")
    return "\n".join(lines)


def evaluate_source(
    data: str,
    checkpoint: str | None = None,
    onnx: str | None = None,
    task: str | None = None,
    image_size: int = 512,
    batch_size: int = 4,
    workers: int = 0,
    device: str = "cpu",
    max_batches: int | None = None,
) -> dict[str, Any]:
    """Evaluate a checkpoint or ONNX file on `data`; returns the JSON-ready report."""
    from synthhuman.train.data import DataConfig, make_loader
    from synthhuman.train.predict import OnnxBackend, TorchBackend, load_backend

    backend = load_backend(checkpoint, onnx, task, device)
    loader = make_loader(
        data, DataConfig(image_size=image_size, augment=False), batch_size, workers, train=False
    )
    if isinstance(backend, TorchBackend):
        predict = torch_predict_fn(backend.model, backend.device)
    else:
        assert isinstance(backend, OnnxBackend)
        predict = onnx_predict_fn(backend)
    summary = evaluate(predict, loader, backend.tasks, max_batches)
    return {
        "model": str(checkpoint or onnx),
        "data": data,
        "tasks": list(backend.tasks),
        "image_size": image_size,
        "metrics": summary,
    }


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, sort_keys=True, allow_nan=True))
    return path
