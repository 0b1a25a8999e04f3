"""Model configs by name (timm-style registry), the assembled DAViD model and its builders."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .dpt import FusionBlock, Reassemble, interp
from .heads import Head
from .resizer import Resizer
from .vit import VisionTransformer

TASKS: tuple[str, ...] = ("depth", "normals", "alpha")
MODEL_TASKS: tuple[str, ...] = (*TASKS, "multi")
# Scale of each reassembled map relative to the patch grid (DPT: 1/4, 1/8, 1/16, 1/32 of the input).
REASSEMBLE_SCALES = (4.0, 2.0, 1.0, 0.5)


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; stored in checkpoints as `dataclasses.asdict`.

    Widths were tuned so base/large land on the paper's parameter and MAC counts at 512x512
    (see benchmarks/model_cost.py).
    """

    size: str
    task: str = "depth"
    encoder_size: int = 384
    patch: int = 16
    dim: int = 768
    depth: int = 12
    heads: int = 12
    layer_indices: tuple[int, ...] = (2, 5, 8, 11)
    reassemble_widths: tuple[int, ...] = (96, 192, 384, 768)
    features: int = 224
    resizer_widths: tuple[int, ...] = (32, 64, 128, 512)
    head_hidden: int = 32
    depth_plane: bool = False  # add a per-image plane to the depth head (heads.PlaneHead)
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        if self.task not in MODEL_TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {MODEL_TASKS}")
        for name in ("layer_indices", "reassemble_widths", "resizer_widths"):
            value = tuple(getattr(self, name))
            if len(value) != 4:
                raise ValueError(f"{name} needs 4 entries (one per decoder level), got {value}")
            setattr(self, name, value)
        self.mean, self.std = tuple(self.mean), tuple(self.std)
        if self.depth_plane and "depth" not in self.tasks:
            raise ValueError(f"depth_plane is a depth head option, but task {self.task!r} has no depth head")

    @property
    def tasks(self) -> tuple[str, ...]:
        return TASKS if self.task == "multi" else (self.task,)


class DAViD(nn.Module):
    """DPT with a fixed-size ViT encoder, a full-resolution Resizer and one head per task.

    forward: x (B,3,H,W) RGB in [0,1], H and W multiples of 16 ->
    {"depth": (B,1,H,W) relative, "normals": (B,3,H,W) unit, "alpha": (B,1,H,W) in [0,1]}
    (only the keys in `self.tasks`).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.tasks = c.tasks
        self.encoder = VisionTransformer(c.encoder_size, c.patch, c.dim, c.depth, c.heads)
        self.reassemble = nn.ModuleList(
            [Reassemble(c.dim, w, c.features, s) for w, s in zip(c.reassemble_widths, REASSEMBLE_SCALES)]
        )
        self.resizer = Resizer(c.resizer_widths)
        self.fusion = nn.ModuleList([FusionBlock(c.features, w) for w in c.resizer_widths])
        self.heads = nn.ModuleDict({t: Head(t, c.features, c.head_hidden, c.depth_plane and t == "depth")
                                    for t in self.tasks})
        self.register_buffer("mean", torch.tensor(c.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(c.std).view(1, 3, 1, 1), persistent=False)

    def decode(self, x: Tensor) -> Tensor:
        """x: (B,3,H,W) in [0,1] -> shared decoder features d^1 (B,F,H/2,W/2)."""
        x = (x - self.mean) / self.std
        size = self.config.encoder_size
        feats = self.encoder.forward_intermediates(interp(x, (size, size)), self.config.layer_indices,
                                                   return_prefix_tokens=True)
        enc = [block(grid, cls) for block, (grid, cls) in zip(self.reassemble, feats, strict=True)]
        res = self.resizer(x)
        d = None
        for level in reversed(range(4)):
            d = self.fusion[level](enc[level], res[level], d)
        return d

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        d = self.decode(x)
        size = (x.shape[-2], x.shape[-1])
        return {task: self.heads[task](d, size) for task in self.tasks}


_REGISTRY: dict[str, Callable[..., ModelConfig]] = {}


def register_model(fn: Callable[..., ModelConfig]) -> Callable[..., ModelConfig]:
    """Register `david_<size>` under `<size>`; the function returns that size's ModelConfig."""
    _REGISTRY[fn.__name__.removeprefix("david_")] = fn
    return fn


@register_model
def david_base(**overrides: Any) -> ModelConfig:
    """ViT-B/16-384 encoder; DPT-Base reassemble widths; decoder width 224 (not DPT's 256) and a
    wide last resizer level, which put params and MACs within 5% of the release (0.12B, 172 GMACs)."""
    return ModelConfig(size="base", **overrides)


@register_model
def david_large(**overrides: Any) -> ModelConfig:
    """ViT-L/16-384 encoder; DPT-Large reassemble widths and decoder width 256 (0.34B, 332 GMACs)."""
    kw: dict[str, Any] = {"dim": 1024, "depth": 24, "heads": 16, "layer_indices": (5, 11, 17, 23),
                          "reassemble_widths": (256, 512, 1024, 1024), "features": 256,
                          "resizer_widths": (32, 64, 128, 256)}
    return ModelConfig(size="large", **{**kw, **overrides})


@register_model
def david_small(**overrides: Any) -> ModelConfig:
    """Tiny config for tests: 64x64 encoder input, 4 blocks of width 64."""
    kw: dict[str, Any] = {"encoder_size": 64, "dim": 64, "depth": 4, "heads": 2,
                          "layer_indices": (0, 1, 2, 3), "reassemble_widths": (16, 32, 64, 64),
                          "features": 32, "resizer_widths": (8, 16, 16, 32), "head_hidden": 8}
    return ModelConfig(size="small", **{**kw, **overrides})


MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def model_config(size: str, task: str, **overrides: Any) -> ModelConfig:
    """The registered config for `size` with `task` and any field overridden."""
    if size not in _REGISTRY:
        raise ValueError(f"unknown model size {size!r}; expected one of {MODEL_NAMES}")
    return _REGISTRY[size](task=task, **overrides)


def build_model(size: str, task: str, **overrides: Any) -> DAViD:
    """A freshly initialised model, e.g. `build_model("large", "multi")`."""
    return DAViD(model_config(size, task, **overrides))


def build_model_from_config(config: Mapping[str, Any] | ModelConfig) -> DAViD:
    """Rebuild from `dataclasses.asdict(model.config)` (as stored in a checkpoint)."""
    if isinstance(config, ModelConfig):
        return DAViD(config)
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise ValueError(f"unknown ModelConfig fields {unknown}")
    return DAViD(ModelConfig(**dict(config)))
