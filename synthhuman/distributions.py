"""Scalar sampling distributions of the scene config (uniform, truncated normal, mixture of ranges).

Kept apart from `config` (which reads and validates YAML) so that drawing a sample needs
only this module: `parse_dist` turns a config value into a `Dist`, `Dist.sample` draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from synthhuman.config_checks import check_numbers, check_range
from synthhuman.errors import UserError

DIST_KINDS = {"uniform", "normal", "mixture"}  # validated here, not against the default's keys


@dataclass(frozen=True)
class Dist:
    """A scalar distribution: ``uniform [lo, hi]``, ``normal [mean, std]`` truncated to
    ``bounds``, or a ``mixture`` of weighted uniform ranges."""

    kind: str
    params: tuple
    bounds: tuple[float, float]

    def sample(self, rng: np.random.Generator) -> float:
        lo, hi = self.bounds
        if self.kind == "uniform":
            return float(rng.uniform(*self.params))
        if self.kind == "normal":
            mean, std = self.params
            for _ in range(100):  # rejection sampling keeps the shape inside the bounds
                value = rng.normal(mean, std)
                if lo <= value <= hi:
                    return float(value)
            return float(np.clip(mean, lo, hi))
        weights = np.array([w for w, _ in self.params], dtype=float)
        component = rng.choice(len(self.params), p=weights / weights.sum())
        return float(rng.uniform(*self.params[component][1]))


def parse_dist(spec: Any, key: str, bounds: tuple[float, float]) -> Dist:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise UserError(f"config key {key} must be one of {{uniform: [lo, hi]}}, {{normal: [mean, std]}}, {{mixture: ...}}")
    (kind, params), = spec.items()
    if kind == "uniform":
        return Dist("uniform", check_range(params, key, *bounds), bounds)
    if kind == "normal":
        mean, std = check_numbers(params, key, 2, -1e9, 1e9)
        if std <= 0:
            raise UserError(f"config key {key}: normal std must be > 0, got {std}")
        return Dist("normal", (mean, std), bounds)
    if kind == "mixture":
        try:
            components = tuple((float(w), check_range(r, key, *bounds)) for w, r in params)
        except (TypeError, ValueError):
            raise UserError(f"config key {key}: mixture must be a list of [weight, [lo, hi]]") from None
        if not components or any(w < 0 for w, _ in components) or sum(w for w, _ in components) <= 0:
            raise UserError(f"config key {key}: mixture weights must be >= 0 and not all 0")
        return Dist("mixture", components, bounds)
    raise UserError(f"config key {key}: unknown distribution {kind!r} (uniform, normal or mixture)")
