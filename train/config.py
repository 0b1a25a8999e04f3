"""TrainConfig: every knob of a training run, loaded from a YAML run file and CLI flags.

Defaults are the paper's schedule (section 4.1): 100 epochs, AdamW, lr 1e-5 with cosine
annealing, batch 24 per GPU. YAML is parsed into the dataclass at once and checked key by
key, so a typo fails before any data is read, with a message naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthhuman.errors import UserError
from synthhuman.yaml_io import read_yaml_mapping

TASK_CHOICES = ("depth", "normals", "alpha", "multi")
MODEL_CHOICES = ("base", "large", "small")
DEVICE_CHOICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    """One training run. Nested dicts are checked against their dataclasses in `validate`."""

    task: str = "depth"  # depth | normals | alpha | multi
    model: str = "base"  # registered model size: base | large | small
    model_overrides: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields, e.g. encoder_size
    data: str = ""  # training source: shard glob/brace/pipe:, dataset DIR, or SynthHuman folder
    eval_data: str | None = None  # evaluated after each `eval_every` epochs when set
    out: str = "runs/david"  # run directory: checkpoints/, train.csv, eval.csv, tb/, config.yaml
    batch_size: int = 24  # per process (per GPU), as in the paper
    epochs: int = 100
    steps_per_epoch: int | None = None  # None: an epoch is one pass over the stream
    lr: float = 1e-5
    min_lr: float = 0.0  # cosine annealing floor
    warmup_steps: int = 0  # linear warm-up before the cosine (0: none, as in the paper)
    weight_decay: float = 0.01  # AdamW default
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = None  # max global grad norm; None disables clipping
    loss_weights: dict[str, Any] = field(default_factory=dict)  # LossWeights fields
    data_config: dict[str, Any] = field(default_factory=dict)  # DataConfig fields (image size, augmentation)
    eval_every: int = 1  # epochs between evaluations
    log_every: int = 20  # steps between CSV/TensorBoard rows
    keep_checkpoints: int = 3  # per-epoch checkpoints kept besides last.pt
    workers: int = 4  # DataLoader workers per process
    device: str = "auto"  # auto: cuda when available
    amp: bool = True  # bf16 autocast, CUDA only
    seed: int = 0
    pretrained_encoder: str | None = None  # ViT weights (timm/DPT layout) to start from

    def validate(self) -> None:
        """Raise UserError naming the first bad key; also checks nested dataclass keys."""
        _choice("task", self.task, TASK_CHOICES)
        _choice("model", self.model, MODEL_CHOICES)
        _choice("device", self.device, DEVICE_CHOICES)
        for name in ("batch_size", "epochs", "eval_every", "log_every"):
            if getattr(self, name) < 1:
                raise UserError(f"config key '{name}' must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "workers", "keep_checkpoints"):
            if getattr(self, name) < 0:
                raise UserError(f"config key '{name}' must be >= 0, got {getattr(self, name)}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise UserError(f"config key 'steps_per_epoch' must be >= 1, got {self.steps_per_epoch}")
        if not self.lr > 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise UserError(
                f"config keys 'lr'/'min_lr' need 0 <= min_lr <= lr and lr > 0, got {self.lr}/{self.min_lr}"
            )
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise UserError(f"config key 'betas' needs two values in [0, 1), got {self.betas}")
        if not self.data:
            raise UserError("no training data: set 'data' in the run file or pass --data")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"config key '{key}': unknown value {value!r}; expected one of {', '.join(choices)}")


def from_mapping(mapping: dict[str, Any], where: str = "run file") -> TrainConfig:
    """Build a TrainConfig from plain data, checking names and types (no validation of ranges)."""
    if not isinstance(mapping, dict):
        raise UserError(f"{where}: expected a mapping of config keys, got {type(mapping).__name__}")
    hints = typing.get_type_hints(TrainConfig)
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    values: dict[str, Any] = {}
    for key, raw in mapping.items():
        if key not in hints:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UserError(f"{where}: unknown config key '{key}'{hint}")
        values[key] = coerce(key, raw, hints[key])
    return TrainConfig(**values)


def coerce(key: str, value: Any, hint: Any) -> Any:
    """Check `value` against a field's type hint; int -> float and list -> tuple are allowed."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(key, value, arg)
            except UserError:
                continue
        raise UserError(f"config key '{key}': expected {hint}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise UserError(f"config key '{key}': expected a list of {len(args)} values, got {value!r}")
        return tuple(coerce(key, v, a) for v, a in zip(value, args, strict=True))
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"config key '{key}': expected a mapping, got {value!r}")
        return dict(value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):  # YAML 1.1 reads `1e-5` (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if hint in (int, str, bool) and type(value) is hint:
        return value
    if hint is Any:
        return value
    raise UserError(f"config key '{key}': expected {getattr(hint, '__name__', hint)}, got {value!r}")


def load_run_file(path: str | Path) -> TrainConfig:
    """Parse a YAML run file into a TrainConfig (keys as in the dataclass)."""
    return from_mapping(read_yaml_mapping(Path(path), "run file"), where=str(path))


def with_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """Return a copy with every non-None override applied (CLI flags beat the run file)."""
    hints = typing.get_type_hints(TrainConfig)
    changes = {k: coerce(k, v, hints[k]) for k, v in overrides.items() if v is not None}
    return dataclasses.replace(config, **changes)


def build_dataclass(cls: type, mapping: dict[str, Any], key: str) -> Any:
    """`cls(**mapping)` with unknown keys reported as `key.name`; nested dataclasses recurse."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in mapping.items():
        if name not in fields:
            close = difflib.get_close_matches(str(name), list(fields), n=1)
            hint = f" (did you mean '{key}.{close[0]}'?)" if close else ""
            raise UserError(f"unknown config key '{key}.{name}'{hint}")
        sub = hints[name]
        if dataclasses.is_dataclass(sub) and isinstance(value, dict):
            kwargs[name] = build_dataclass(sub, value, f"{key}.{name}")
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"config key '{key}': {exc}") from None
