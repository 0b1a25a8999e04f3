"""DAViD model family: ViT encoder, Resizer, DPT-style decoder and task heads, by name."""

from .registry import (
    MODEL_NAMES,
    MODEL_TASKS,
    TASKS,
    DAViD,
    ModelConfig,
    build_model,
    build_model_from_config,
    model_config,
    register_model,
)
from .vit import VisionTransformer, load_pretrained_encoder

__all__ = [
    "MODEL_NAMES",
    "MODEL_TASKS",
    "TASKS",
    "DAViD",
    "ModelConfig",
    "VisionTransformer",
    "build_model",
    "build_model_from_config",
    "load_pretrained_encoder",
    "model_config",
    "register_model",
]
