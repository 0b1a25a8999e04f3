"""ONNX export in the released DAViD contract, and a check of the graph against PyTorch.

The contract (PAPER_NOTES.md, "The public release"), as the release's runtime calls it: a
static input ``1 x 3 x 512 x 512`` (it reshapes to ``(1, *input_shape[1:])``, so C, H, W must be
integers), BGR float in [0, 1] with no mean/std, a portrait padded to square by replicating its
border and resized; outputs named per task and, for multi-task models, ordered depth, normal,
foreground: depth ``(1, H, W)`` (the runtime indexes it as a 2-D map), normal ``(1, 3, H, W)``,
foreground ``(1, 1, H, W)`` clipped to [0, 1]. ``dynamic=True`` instead declares N, H, W free
(any H, W that are multiples of 16), for callers that skip the resize.

Depth sign: our trained depth head is "larger = farther" (the loss fixes the sign). The
release's demo negates single-task depth and not multi-task depth before drawing near as
bright, so its single-task files are "larger = nearer" and its multi-task files "larger =
farther". We export the same way (``depth_sign``) and record the sign in the metadata, so our
own ONNX backend can undo it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from synthhuman import __version__
from synthhuman.errors import UserError

# model task -> ONNX output name, in the release's multi-task output order.
OUTPUT_NAMES: dict[str, str] = {"depth": "depth", "normals": "normal", "alpha": "foreground"}
INPUT_NAME = "image"
OPSET = 17


def depth_sign(tasks: tuple[str, ...]) -> float:
    """Factor from our depth (larger = farther) to the release's for a model with `tasks`."""
    return -1.0 if tasks == ("depth",) else 1.0


class ReleaseContract(nn.Module):
    """Wraps a DAViD model so it speaks the release contract: BGR in, a tuple of maps out.

    Flipping BGR to RGB inside the graph keeps our models RGB everywhere else (training,
    predict with a checkpoint) while the exported file drops into DAViD's OpenCV pipelines.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.tasks: tuple[str, ...] = tuple(t for t in OUTPUT_NAMES if t in model.tasks)
        self.depth_sign = depth_sign(self.tasks)

    def forward(self, bgr: Tensor) -> tuple[Tensor, ...]:
        rgb = bgr[:, [2, 1, 0]]  # a Gather in ONNX; exact, unlike a colour matrix
        out = self.model(rgb)
        maps = []
        for task in self.tasks:
            value = out[task].float()
            if task == "alpha":
                value = value.clamp(0.0, 1.0)
            elif task == "depth":
                value = self.depth_sign * value[:, 0]  # N x H x W, as the release's depth output
            maps.append(value)
        return tuple(maps)

    @property
    def output_names(self) -> list[str]:
        return [OUTPUT_NAMES[t] for t in self.tasks]


def export_onnx(model: nn.Module, path: str | Path, size: int = 512, opset: int = OPSET,
                dynamic: bool = False) -> Path:
    """Trace `model` at 1 x 3 x `size` x `size` and write an ONNX file in the release contract.

    Static shapes by default (what the release runtime needs); ``dynamic`` declares N, H, W
    free. Uses the TorchScript exporter (``dynamo=False``): it needs no onnxscript and traces
    the bilinear resizes from the input's runtime shape, so other sizes work when dynamic. The
    file's metadata records the tasks, depth sign and model config so `predict`/`evaluate`
    can read it back.
    """
    if size % 16:
        raise ValueError(f"export size must be a multiple of 16, got {size}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = ReleaseContract(model.float().eval().cpu())
    dummy = torch.rand(1, 3, size, size)
    axes = None
    if dynamic:
        axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
        for name in wrapper.output_names:
            axes[name] = {0: "batch", 1: "height", 2: "width"} if name == "depth" else {0: "batch", 2: "height", 3: "width"}
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


def _check_writable(path: Path) -> None:
    """One line, before the minutes of tracing, for an --onnx path that cannot be written."""
    if path.is_dir():
        raise UserError(f"--onnx {path} is a directory; give a file name such as {path / 'model.onnx'}")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):  # appends nothing: an existing file is untouched
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        raise UserError(f"cannot write --onnx {path}: {exc.strerror or exc}") from None


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
        "depth_sign": str(wrapper.depth_sign),  # release depth = sign * (larger = farther)
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
    dynamic: bool = False,
    check_sizes: tuple[tuple[int, int], ...] = ((512, 512), (384, 512)),
) -> dict:
    """Export a checkpoint and verify it; returns {"HxW": {output: max diff}}.

    A static file is checked at its own size; a dynamic one at each of `check_sizes`.
    """
    from synthhuman.train.checkpoint import model_from_checkpoint

    _check_writable(Path(onnx_path))
    model, _ = model_from_checkpoint(checkpoint)
    export_onnx(model, onnx_path, size, dynamic=dynamic)
    sizes = check_sizes if dynamic else ((size, size),)
    return {f"{h}x{w}": compare_with_torch(model, onnx_path, (h, w)) for h, w in sizes}
