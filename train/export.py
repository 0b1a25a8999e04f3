"""ONNX export in the released DAViD contract, and a check of the graph against PyTorch.

The contract (PAPER_NOTES.md, "The public release"): input ``N x 3 x H x W`` BGR float in
[0, 1] with no mean/std; outputs at the input size, named per task and, for multi-task
models, ordered depth, normal, foreground; foreground clipped to [0, 1]. The canonical input
is 512x512 (a portrait padded to square by replicating its border, then resized); our graph
also accepts any H, W that are multiples of 16, so a caller can skip the resize.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from synthhuman import __version__

# model task -> ONNX output name, in the release's multi-task output order.
OUTPUT_NAMES: dict[str, str] = {"depth": "depth", "normals": "normal", "alpha": "foreground"}
INPUT_NAME = "image"
OPSET = 17


class ReleaseContract(nn.Module):
    """Wraps a DAViD model so it speaks the release contract: BGR in, a tuple of maps out.

    Flipping BGR to RGB inside the graph keeps our models RGB everywhere else (training,
    predict with a checkpoint) while the exported file drops into DAViD's OpenCV pipelines.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.tasks: tuple[str, ...] = tuple(t for t in OUTPUT_NAMES if t in model.tasks)

    def forward(self, bgr: Tensor) -> tuple[Tensor, ...]:
        rgb = bgr[:, [2, 1, 0]]  # a Gather in ONNX; exact, unlike a colour matrix
        out = self.model(rgb)
        maps = []
        for task in self.tasks:
            value = out[task].float()
            maps.append(value.clamp(0.0, 1.0) if task == "alpha" else value)
        return tuple(maps)

    @property
    def output_names(self) -> list[str]:
        return [OUTPUT_NAMES[t] for t in self.tasks]


def export_onnx(model: nn.Module, path: str | Path, size: int = 512, opset: int = OPSET) -> Path:
    """Trace `model` at `size` x `size` and write an ONNX file with dynamic N, H, W.

    Uses the TorchScript exporter (``dynamo=False``): it needs no onnxscript and traces the
    bilinear resizes from the input's runtime shape, so other sizes work. The file's
    metadata records the tasks and model config so `predict`/`evaluate` can read it back.
    """
    if size % 16:
        raise ValueError(f"export size must be a multiple of 16, got {size}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = ReleaseContract(model.float().eval().cpu())
    dummy = torch.rand(1, 3, size, size)
    axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
    axes.update({name: {0: "batch", 2: "height", 3: "width"} for name in wrapper.output_names})
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # deprecation and tracer warnings about shape arithmetic
        torch.onnx.export(
            wrapper,
            (dummy,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=wrapper.output_names,
            dynamic_axes=axes,
        )
    _write_metadata(path, model, wrapper, size)
    return path


def _write_metadata(path: Path, model: nn.Module, wrapper: ReleaseContract, size: int) -> None:
    import dataclasses

    import onnx

    proto = onnx.load(str(path))
    config = getattr(model, "config", None)
    meta = {
        "synthhuman_version": __version__,
        "contract": "DAViD release: BGR float [0,1], no mean/std, NCHW, replicate-padded square",
        "canonical_size": str(size),
        "tasks": ",".join(wrapper.tasks),
        "model_config": json.dumps(dataclasses.asdict(config)) if dataclasses.is_dataclass(config) else "",
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def compare_with_torch(
    model: nn.Module, onnx_path: str | Path, shape: tuple[int, int], seed: int = 0
) -> dict[str, float]:
    """Max abs difference per output between onnxruntime and PyTorch on one random BGR image."""
    import onnxruntime as ort

    wrapper = ReleaseContract(model.float().eval().cpu())
    bgr = torch.rand(1, 3, *shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = [t.numpy() for t in wrapper(bgr)]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: bgr.numpy()})
    diffs = {}
    for name, ref, out in zip(wrapper.output_names, expected, got, strict=True):
        if ref.shape != out.shape:
            raise AssertionError(f"output {name}: onnx shape {out.shape} != torch shape {ref.shape}")
        diffs[name] = float(np.abs(ref - out).max())
    return diffs


def export_checkpoint(
    checkpoint: str | Path,
    onnx_path: str | Path,
    size: int = 512,
    check_sizes: tuple[tuple[int, int], ...] = ((512, 512), (384, 512)),
) -> dict:
    """Export a checkpoint and verify it at `check_sizes`; returns {"HxW": {output: max diff}}."""
    from synthhuman.train.checkpoint import model_from_checkpoint

    model, _ = model_from_checkpoint(checkpoint)
    export_onnx(model, onnx_path, size)
    return {f"{h}x{w}": compare_with_torch(model, onnx_path, (h, w)) for h, w in check_sizes}
