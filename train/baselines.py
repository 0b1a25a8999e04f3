"""Picture-blind baselines: what a model must beat to show it reads the image at all.

A model that has learnt nothing about the picture can still score well, because the data
has structure the image is not needed for: people are centred, so the training set's mean
map already knows roughly where a body is and which parts tend to be nearer. Two
predictors that ignore their input, scored through the same metric code as a model:

- `constant`: one value everywhere (depth 1: after the metric's least-squares alignment it
  predicts each image's mean depth; normals facing the camera; alpha the training mean).
- `pixel_mean`: the per-pixel mean of the training targets on the served grid (depth
  min-max normalised per image over its foreground, as the loss sees it; unit normals
  averaged and renormalised; alpha averaged).

Issue 18's lesson: a depth head that cannot beat `pixel_mean` on held-out images has not
learnt depth, however far its training loss fell.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from synthhuman.train.evaluate import PredictFn
from synthhuman.train.losses import depth_valid, normalise_depth
from torch import Tensor


def pixel_mean_maps(loader: Iterable[dict[str, Any]]) -> dict[str, Tensor]:
    """Per-pixel training means {"depth": (1,S,S), "normals": (3,S,S), "alpha": (1,S,S)}.

    Depth and normals are averaged over the images whose foreground covers the pixel; a pixel
    no image covers takes the mean over all covered pixels (depth) or faces the camera (normals).
    """
    sums: dict[str, Tensor] = {}
    counts: dict[str, Tensor] = {}
    for batch in loader:
        valid = depth_valid(batch["depth"], batch["mask"])
        depth = normalise_depth(batch["depth"], valid)
        normals_valid = batch["mask"].bool() & (batch["normals"].norm(dim=1, keepdim=True) > 0)
        parts = {
            "depth": (depth * valid, valid),
            "normals": (batch["normals"].float() * normals_valid, normals_valid),
            "alpha": (batch["alpha"].float(), torch.ones_like(batch["alpha"], dtype=torch.bool)),
        }
        for name, (values, covered) in parts.items():
            sums[name] = sums.get(name, 0) + values.sum(0)
            counts[name] = counts.get(name, 0) + covered.float().sum(0)
    if not sums:
        raise ValueError("pixel_mean_maps: the loader gave no batches")
    depth_covered = counts["depth"] > 0
    depth = sums["depth"] / counts["depth"].clamp_min(1)
    fill = sums["depth"].sum() / counts["depth"].sum().clamp_min(1)
    normals = F.normalize(sums["normals"], dim=0, eps=1e-12)
    facing = torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1).expand_as(normals)
    return {
        "depth": torch.where(depth_covered, depth, fill),
        "normals": torch.where(counts["normals"] > 0, normals, facing),
        "alpha": sums["alpha"] / counts["alpha"].clamp_min(1),
    }


def constant_maps(means: dict[str, Tensor]) -> dict[str, Tensor]:
    """Constant maps on the same grid: depth 1, normals (0, 0, 1), alpha the mean of `means`."""
    shape = means["alpha"].shape[-2:]
    return {
        "depth": torch.ones(1, *shape),
        "normals": torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1).expand(3, *shape).clone(),
        "alpha": torch.full((1, *shape), float(means["alpha"].mean())),
    }


def fixed_predictor(maps: dict[str, Tensor]) -> PredictFn:
    """A PredictFn that answers every image with the same maps (it never looks at `rgb`)."""

    def predict(rgb: Tensor) -> dict[str, Tensor]:
        n = rgb.shape[0]
        return {name: value.expand(n, *value.shape).clone() for name, value in maps.items()}

    return predict
