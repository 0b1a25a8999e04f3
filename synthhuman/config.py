"""The scene-distribution config: YAML at the edge, parsed and validated into dataclasses.

``configs/default.yaml`` (plus ``configs/pose.yaml`` under ``pose``) is the default; a user
file is merged over it key by key. Unknown keys, malformed ranges and bad distributions
fail at load time with a message naming the key, never later inside a worker.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from synthhuman.errors import UserError
from synthhuman.resources import package_data_dir
from synthhuman.spec import FRAMINGS, TRANSPARENT_GT_MODES

CONFIG_DIR = package_data_dir("configs")
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"
POSE_CONFIG = CONFIG_DIR / "pose.yaml"
PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions", "cupsize", "firmness")
FREE_FORM_KEYS = ("pose",)
DIST_KINDS = {"uniform", "normal", "mixture"}  # validated by their own module, not against the default's keys


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


@dataclass(frozen=True)
class CameraConfig:
    focal_mm: dict[str, tuple[float, float]]
    fill: dict[str, tuple[float, float]]
    azimuth_deg: tuple[float, float]
    back_view_probability: float
    elevation_deg: tuple[float, float]
    roll_deg: tuple[float, float]
    offset: tuple[float, float]


@dataclass(frozen=True)
class BodyConfig:
    phenotype: dict[str, Dist]
    ancestry_concentration: float
    local_change_count: tuple[int, int]
    local_change_std: float
    local_change_names: tuple[str, ...]
    skin: dict[str, Dist]
    eye_colors: tuple[tuple[float, float, float], ...]
    eye_color_jitter: float


@dataclass(frozen=True)
class LightingConfig:
    hdris: tuple[str, ...] | str  # "all" or explicit asset ids
    rotation_deg: tuple[float, float]
    exposure_ev: tuple[float, float]


@dataclass(frozen=True)
class SamplingConfig:
    width_px: int
    height_px: int
    samples: int
    denoise: bool
    transparent_gt: str
    framing_weights: dict[str, float]
    camera: CameraConfig
    body: BodyConfig
    lighting: LightingConfig
    pose: dict[str, Any]
    raw: dict[str, Any]  # the merged YAML, stored in dataset.json

    def digest(self) -> str:
        """sha256 of the merged config: a resumed run must match the one that started DIR."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()


def load_config(path: Path | str | None = None, overrides: dict[str, Any] | None = None) -> SamplingConfig:
    """Default config, merged with a user YAML file, merged with CLI overrides; validated."""
    merged = read_yaml_mapping(DEFAULT_CONFIG)
    merged["pose"] = read_yaml_mapping(POSE_CONFIG) if POSE_CONFIG.exists() else {}
    for layer in (read_yaml_mapping(Path(path)) if path else None, overrides):
        if layer:
            _check_keys(layer, merged, "")
            merged = _merge(merged, layer)
    return parse_config(merged)


def read_yaml_mapping(path: Path, what: str = "config file") -> dict[str, Any]:
    """A YAML file holding a mapping; a missing file, bad YAML or a non-mapping is one line."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a directory; give a YAML file")
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{what} {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} {path} must hold a mapping at the top level")
    return data


def _check_keys(layer: dict[str, Any], reference: dict[str, Any], prefix: str) -> None:
    for key, value in layer.items():
        path = f"{prefix}{key}"
        if key not in reference:
            hint = difflib.get_close_matches(str(key), [str(k) for k in reference], n=1)
            raise UserError(f"unknown config key {path!r}" + (f" (did you mean '{prefix}{hint[0]}'?)" if hint else ""))
        default = reference[key]
        if isinstance(default, dict) and not DIST_KINDS & set(default) and not isinstance(value, dict):
            # A section (not a distribution) replaced by a scalar would fail deep inside parsing.
            raise UserError(f"config key {path!r} must be a mapping of keys ({', '.join(map(str, list(default)[:4]))}"
                            f"{', ...' if len(default) > 4 else ''}), got {value!r}")
        if path in FREE_FORM_KEYS or path.startswith("body.phenotype"):
            continue
        if isinstance(value, dict) and isinstance(default, dict):
            _check_keys(value, default, f"{path}.")


def _merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in layer.items():
        # A distribution ({uniform: ..}, {normal: ..}) replaces the default one as a whole.
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not DIST_KINDS & set(out[key]):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_config(raw: dict[str, Any]) -> SamplingConfig:
    """Validate the merged tree and build the dataclasses (errors name the key)."""
    render = raw["render"]
    width, height = _int_pair(render["resolution"], "render.resolution", 16, 16384)
    if render["transparent_gt"] not in TRANSPARENT_GT_MODES:
        raise UserError(f"config key render.transparent_gt must be one of {TRANSPARENT_GT_MODES}")
    framing = {name: _number(raw["framing"].get(name, 0.0), f"framing.{name}", 0.0, 1e6) for name in FRAMINGS}
    if sum(framing.values()) <= 0:
        raise UserError("config key framing: at least one framing weight must be > 0")
    _validate_pose(raw.get("pose", {}))
    return SamplingConfig(
        width_px=width,
        height_px=height,
        samples=int(_number(render["samples"], "render.samples", 1, 1 << 16)),
        denoise=_flag(render["denoise"], "render.denoise"),
        transparent_gt=render["transparent_gt"],
        framing_weights=framing,
        camera=_parse_camera(raw["camera"]),
        body=_parse_body(raw["body"]),
        lighting=_parse_lighting(raw["lighting"]),
        pose=raw.get("pose", {}),
        raw=raw,
    )


def _validate_pose(pose: dict[str, Any]) -> None:
    from synthhuman.pose_sampling import validate_pose_config

    try:
        validate_pose_config(pose)
    except ValueError as exc:
        raise UserError(f"config key pose: {exc}") from None


def _parse_camera(cam: dict[str, Any]) -> CameraConfig:
    per_framing = {}
    for key, lo, hi in (("focal_mm", 5.0, 1000.0), ("fill", 0.05, 1.0)):
        missing = set(FRAMINGS) - set(cam[key])
        if missing:
            raise UserError(f"config key camera.{key} lacks framing(s): {', '.join(sorted(missing))}")
        per_framing[key] = {f: _range(cam[key][f], f"camera.{key}.{f}", lo, hi) for f in FRAMINGS}
    return CameraConfig(
        focal_mm=per_framing["focal_mm"],
        fill=per_framing["fill"],
        azimuth_deg=_range(cam["azimuth_deg"], "camera.azimuth_deg", -180, 180),
        back_view_probability=_number(cam["back_view_probability"], "camera.back_view_probability", 0, 1),
        elevation_deg=_range(cam["elevation_deg"], "camera.elevation_deg", -80, 80),
        roll_deg=_range(cam["roll_deg"], "camera.roll_deg", -90, 90),
        offset=_range(cam["offset"], "camera.offset", -1, 1),
    )


def _parse_body(body: dict[str, Any]) -> BodyConfig:
    phenotype = {}
    for name, spec in body["phenotype"].items():
        if name not in PHENOTYPES:
            hint = difflib.get_close_matches(name, PHENOTYPES, n=1)
            raise UserError(f"unknown config key 'body.phenotype.{name}'" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        phenotype[name] = parse_dist(spec, f"body.phenotype.{name}", (0.0, 1.0))
    local = body["local_changes"]
    names = tuple(str(n) for n in local["names"])
    if local["count"][0] > local["count"][1]:
        raise UserError(f"config key body.local_changes.count must be [low, high] with low <= high, got {local['count']}")
    colors = tuple(tuple(_range_any(c, f"body.eye_colors[{i}]", 3, 0, 1)) for i, c in enumerate(body["eye_colors"]))
    if not colors:
        raise UserError("config key body.eye_colors must list at least one colour")
    skin_bounds = {"melanin": (0, 1), "hemoglobin": (0, 1), "roughness": (0, 1), "subsurface_scale_m": (0, 0.1)}
    return BodyConfig(
        phenotype=phenotype,
        ancestry_concentration=_number(body["ancestry_concentration"], "body.ancestry_concentration", 1e-3, 1e3),
        local_change_count=_int_pair(local["count"], "body.local_changes.count", 0, max(len(names), 0)),
        local_change_std=_number(local["std"], "body.local_changes.std", 0, 1),
        local_change_names=names,
        skin={k: parse_dist(body["skin"][k], f"body.skin.{k}", b) for k, b in skin_bounds.items()},
        eye_colors=colors,  # type: ignore[arg-type]
        eye_color_jitter=_number(body["eye_color_jitter"], "body.eye_color_jitter", 0, 1),
    )


def _parse_lighting(light: dict[str, Any]) -> LightingConfig:
    hdris = light["hdris"]
    if hdris != "all":
        if not isinstance(hdris, list) or not hdris or not all(isinstance(h, str) for h in hdris):
            raise UserError("config key lighting.hdris must be 'all' or a non-empty list of asset ids")
        hdris = tuple(hdris)
    return LightingConfig(
        hdris=hdris,
        rotation_deg=_range(light["rotation_deg"], "lighting.rotation_deg", -720, 720),
        exposure_ev=_range(light["exposure_ev"], "lighting.exposure_ev", -10, 10),
    )


def parse_dist(spec: Any, key: str, bounds: tuple[float, float]) -> Dist:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise UserError(f"config key {key} must be one of {{uniform: [lo, hi]}}, {{normal: [mean, std]}}, {{mixture: ...}}")
    (kind, params), = spec.items()
    if kind == "uniform":
        return Dist("uniform", _range(params, key, *bounds), bounds)
    if kind == "normal":
        mean, std = _range_any(params, key, 2, -1e9, 1e9)
        if std <= 0:
            raise UserError(f"config key {key}: normal std must be > 0, got {std}")
        return Dist("normal", (mean, std), bounds)
    if kind == "mixture":
        try:
            components = tuple((float(w), _range(r, key, *bounds)) for w, r in params)
        except (TypeError, ValueError):
            raise UserError(f"config key {key}: mixture must be a list of [weight, [lo, hi]]") from None
        if not components or any(w < 0 for w, _ in components) or sum(w for w, _ in components) <= 0:
            raise UserError(f"config key {key}: mixture weights must be >= 0 and not all 0")
        return Dist("mixture", components, bounds)
    raise UserError(f"config key {key}: unknown distribution {kind!r} (uniform, normal or mixture)")


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"config key {key} must be true or false, got {value!r}")
    return value


def _number(value: Any, key: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise UserError(f"config key {key} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


def _range_any(value: Any, key: str, length: int, lo: float, hi: float) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise UserError(f"config key {key} must be a list of {length} numbers, got {value!r}")
    return tuple(_number(v, key, lo, hi) for v in value)


def _range(value: Any, key: str, lo: float, hi: float) -> tuple[float, float]:
    low, high = _range_any(value, key, 2, lo, hi)
    if low > high:
        raise UserError(f"config key {key} must be [low, high] with low <= high, got {list(value)}")
    return low, high


def _int_pair(value: Any, key: str, lo: int, hi: int) -> tuple[int, int]:
    pair = _range_any(value, key, 2, lo, hi)
    if any(int(v) != v for v in pair):
        raise UserError(f"config key {key} must hold whole numbers, got {value!r}")
    return int(pair[0]), int(pair[1])
