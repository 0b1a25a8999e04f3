"""What a dataset's samples vary over (framing, HDRI, phenotype, camera, timings), folded one sample at a time.

`inspect` accumulates it per shard (in worker processes, then merged) and `report` draws it;
it lives apart from both so neither imports the other for it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthhuman.sample import RenderedSample


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def matrix(value: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """``value`` as a finite float matrix of ``shape``, or None."""
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return m if m.shape == shape and np.isfinite(m).all() else None



@dataclass
class DatasetStats:
    """What the samples vary over, accumulated one sample at a time (lists of scalars)."""

    samples: int = 0
    framing: Counter = field(default_factory=Counter)
    hdri: Counter = field(default_factory=Counter)
    phenotype: dict[str, list[float]] = field(default_factory=dict)  # name -> values in [0, 1]
    melanin: list[float] = field(default_factory=list)
    focal_mm: list[float] = field(default_factory=list)
    focal_px: list[float] = field(default_factory=list)
    coverage: list[float] = field(default_factory=list)  # mean alpha: fraction of the image covered
    timing_sums: dict[str, float] = field(default_factory=dict)
    timing_counts: dict[str, int] = field(default_factory=dict)
    sizes: Counter = field(default_factory=Counter)  # "WxH" -> count
    hair_people: list[tuple[float, float]] = field(default_factory=list)  # (gender, age) of each groomed spec
    head_style: Counter = field(default_factory=Counter)
    facial_style: Counter = field(default_factory=Counter)
    hair_color: Counter = field(default_factory=Counter)
    hair_length_m: list[float] = field(default_factory=list)  # head hair with strands only
    outfit_people: list[tuple[float, float, str]] = field(default_factory=list)  # (gender, age, framing) per spec with an outfit
    outfit_kind: Counter = field(default_factory=Counter)  # "slot kind" -> count ("top none": slot empty)
    fabric: Counter = field(default_factory=Counter)  # material of every worn garment
    # close crops whose camera the person blocked ("turned": moved towards the front until
    # clear; "blocked": no clear view found) next to those "as sampled" (synthhuman.visibility)
    view: Counter = field(default_factory=Counter)
    environment: Counter = field(default_factory=Counter)  # "ground" (a floor under the HDRI) or "none"

    def add(self, sample: RenderedSample) -> None:
        """Fold one sample in; fields a broken json lacks are skipped (the checks report them)."""
        self.samples += 1
        self.sizes[f"{sample.width}x{sample.height}"] += 1
        self.coverage.append(float(np.nanmean(sample.alpha)))
        meta = sample.meta
        spec = meta.get("spec") if isinstance(meta.get("spec"), dict) else {}
        self.framing[_get(spec, "camera", "framing") or "?"] += 1
        self.hdri[_get(spec, "lighting", "hdri_id") or "?"] += 1
        _append(self.focal_mm, _get(spec, "camera", "focal_mm"))
        _append(self.melanin, _get(spec, "body", "skin", "melanin"))
        for pair in _get(spec, "body", "phenotype") or []:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                _append(self.phenotype.setdefault(str(pair[0]), []), pair[1])
        self._add_hair(spec)
        self._add_outfit(spec)
        env = spec.get("environment")
        self.environment["ground" if isinstance(env, dict) and env.get("ground") else "none"] += 1
        view = meta.get("view")
        if isinstance(view, dict) and "clear" in view:  # full-body crops are not checked
            self.view["blocked" if not view["clear"] else "turned" if view.get("turned") else "as sampled"] += 1
        K = matrix(meta.get("K"), (3, 3))
        if K is not None:
            self.focal_px.append(float(K[0, 0]))
        timings = meta.get("timings")
        for stage, seconds in (timings.items() if isinstance(timings, dict) else []):
            if is_number(seconds):
                self.timing_sums[stage] = self.timing_sums.get(stage, 0.0) + float(seconds)
                self.timing_counts[stage] = self.timing_counts.get(stage, 0) + 1

    def _add_hair(self, spec: dict[str, Any]) -> None:
        hair = spec.get("hair")
        if not isinstance(hair, dict):
            return  # a spec from before hair existed: bald, and not part of the groom statistics
        person = _gender_age(spec)
        if person is not None:
            self.hair_people.append(person)
        self.head_style[str(_get(hair, "head", "style") or "?")] += 1
        self.facial_style[str(_get(hair, "facial", "style") or "?")] += 1
        self.hair_color[str(_get(hair, "color", "family") or "?")] += 1
        if (_get(hair, "head", "strands") or 0) > 0:
            _append(self.hair_length_m, _get(hair, "head", "length_m"))

    def _add_outfit(self, spec: dict[str, Any]) -> None:
        outfit = spec.get("outfit")
        if not isinstance(outfit, dict):
            return  # a spec from before clothing existed: nude, and not part of the outfit statistics
        person = _gender_age(spec)
        if person is not None:
            self.outfit_people.append((*person, str(_get(spec, "camera", "framing") or "?")))
        for slot in ("top", "bottom", "shoes"):
            kind = str(_get(outfit, slot, "kind") or "none")
            self.outfit_kind[f"{slot} {kind}"] += 1
            if kind != "none":
                self.fabric[str(_get(outfit, slot, "fabric", "material") or "?")] += 1
        self.outfit_kind[f"glasses {_get(outfit, 'glasses', 'shape') or 'none'}"] += 1
        self.outfit_kind[f"headwear {_get(outfit, 'headwear', 'kind') or 'none'}"] += 1

    def merge(self, other: DatasetStats) -> None:
        """Fold in another accumulator (one shard's, from a worker process)."""
        self.samples += other.samples
        for name in ("framing", "hdri", "sizes", "head_style", "facial_style", "hair_color", "outfit_kind", "fabric",
                     "view", "environment"):
            getattr(self, name).update(getattr(other, name))
        for name in ("melanin", "focal_mm", "focal_px", "coverage", "hair_people", "hair_length_m", "outfit_people"):
            getattr(self, name).extend(getattr(other, name))
        for name, values in other.phenotype.items():
            self.phenotype.setdefault(name, []).extend(values)
        for stage, total in other.timing_sums.items():
            self.timing_sums[stage] = self.timing_sums.get(stage, 0.0) + total
            self.timing_counts[stage] = self.timing_counts.get(stage, 0) + other.timing_counts[stage]

    def timing_means(self) -> dict[str, float]:
        return {stage: total / self.timing_counts[stage] for stage, total in sorted(self.timing_sums.items())}


def _get(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def _gender_age(spec: dict[str, Any]) -> tuple[float, float] | None:
    """(gender, age) of a spec's Anny phenotype (0.5 where absent); None if they are not numbers."""
    phenotype = dict(p for p in (_get(spec, "body", "phenotype") or []) if isinstance(p, (list, tuple)) and len(p) == 2)
    gender, age = phenotype.get("gender", 0.5), phenotype.get("age", 0.5)
    return (float(gender), float(age)) if is_number(gender) and is_number(age) else None


def _append(values: list[float], value: Any) -> None:
    if is_number(value):
        values.append(float(value))
