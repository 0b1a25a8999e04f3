"""Checkpoint files: atomic save, safe load, and rebuilding a model from what they store.

A checkpoint holds the model config next to the weights, so `evaluate`, `predict` and
`export` need nothing but the file. Loading uses ``torch.load(weights_only=True)``: RNG
states are stored as tensors and plain Python values so no pickled objects are needed.
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from synthhuman import __version__
from synthhuman.errors import UserError

FORMAT = "synthhuman-checkpoint"
FORMAT_VERSION = 1


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model under DistributedDataParallel (its state_dict has no `module.` prefix)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch generator states, as tensors and plain values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_as_tuple(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_checkpoint(path: str | Path, model: nn.Module, **state: Any) -> Path:
    """Write `{model, model_config, **state}` to `path` via a temp file, fsync and rename.

    A kill during the write leaves the previous checkpoint intact, never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bare = unwrap(model)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "synthhuman_version": __version__,
        "model": bare.state_dict(),
        "model_config": model_config_dict(bare),
        **state,
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk or an interrupt: no half-written file stays behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def model_config_dict(model: nn.Module) -> dict[str, Any]:
    config = getattr(model, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        raise TypeError("model has no dataclass `config`; build it with synthhuman.train.models.build_model")
    return dataclasses.asdict(config)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`; bad paths and files become UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # torch's own message advises turning weights_only off: not for a stranger's file
        raise UserError(f"{path} is not a synthhuman checkpoint (it does not load as safe PyTorch "
                        "weights)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a synthhuman checkpoint")
    return payload


def model_from_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict]:
    """(model in eval mode with the checkpoint's weights, the whole checkpoint dict)."""
    from synthhuman.train.models import build_model_from_config

    payload = load_checkpoint(path, map_location)
    model = build_model_from_config(payload["model_config"])
    model.load_state_dict(payload["model"])
    return model.eval(), payload
