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

from synthhuman.config_checks import (
    check_flag,
    check_int_pair,
    check_known,
    check_mapping,
    check_number,
    check_numbers,
    check_range,
)
from synthhuman.distributions import DIST_KINDS, Dist, parse_dist
from synthhuman.errors import UserError
from synthhuman.hair import HAIR_NORMALS, HairConfig, parse_hair_config
from synthhuman.outfit import OutfitConfig, parse_outfit_config
from synthhuman.pose_sampling import validate_pose_config
from synthhuman.resources import package_data_dir
from synthhuman.spec import FRAMINGS, TRANSPARENT_GT_MODES
from synthhuman.yaml_io import read_yaml_mapping

CONFIG_DIR = package_data_dir("configs")
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"
POSE_CONFIG = CONFIG_DIR / "pose.yaml"
HAIR_CONFIG = CONFIG_DIR / "hair.yaml"
OUTFIT_CONFIG = CONFIG_DIR / "outfit.yaml"
PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions", "cupsize", "firmness")
FREE_FORM_KEYS = ("pose", "hair", "outfit")  # validated by their own parsers (keys by group, style, ...)


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
class EnvironmentConfig:
    ground_probability: dict[str, float]  # framing -> chance of a shadow-catcher floor under the HDRI
    ground_albedo: tuple[float, float]


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
    hair: HairConfig
    hair_normals: str
    outfit: OutfitConfig
    environment: EnvironmentConfig
    raw: dict[str, Any]  # the merged YAML, stored in dataset.json

    def digest(self) -> str:
        """sha256 of the merged config: a resumed run must match the one that started DIR."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()


def load_config(path: Path | str | None = None, overrides: dict[str, Any] | None = None) -> SamplingConfig:
    """Default config, merged with a user YAML file, merged with CLI overrides; validated."""
    merged = read_yaml_mapping(DEFAULT_CONFIG)
    merged["pose"] = read_yaml_mapping(POSE_CONFIG) if POSE_CONFIG.exists() else {}
    merged["hair"] = read_yaml_mapping(HAIR_CONFIG)
    merged["outfit"] = read_yaml_mapping(OUTFIT_CONFIG)
    for layer in (read_yaml_mapping(Path(path)) if path else None, overrides):
        if layer:
            _check_keys(layer, merged, "")
            merged = _merge(merged, layer)
    return parse_config(merged)


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
    width, height = check_int_pair(render["resolution"], "render.resolution", 16, 16384)
    if render["transparent_gt"] not in TRANSPARENT_GT_MODES:
        raise UserError(f"config key render.transparent_gt must be one of {TRANSPARENT_GT_MODES}")
    if render["hair_normals"] not in HAIR_NORMALS:
        raise UserError(f"config key render.hair_normals must be one of {HAIR_NORMALS}, got {render['hair_normals']!r}")
    framing = {name: check_number(raw["framing"].get(name, 0.0), f"framing.{name}", 0.0, 1e6) for name in FRAMINGS}
    if sum(framing.values()) <= 0:
        raise UserError("config key framing: at least one framing weight must be > 0")
    _validate_pose(raw.get("pose", {}))
    return SamplingConfig(
        width_px=width,
        height_px=height,
        samples=int(check_number(render["samples"], "render.samples", 1, 1 << 16)),
        denoise=check_flag(render["denoise"], "render.denoise"),
        transparent_gt=render["transparent_gt"],
        framing_weights=framing,
        camera=_parse_camera(raw["camera"]),
        body=_parse_body(raw["body"]),
        lighting=_parse_lighting(raw["lighting"]),
        pose=raw.get("pose", {}),
        hair=parse_hair_config(raw["hair"]),
        hair_normals=render["hair_normals"],
        outfit=parse_outfit_config(raw["outfit"]),
        environment=_parse_environment(raw["environment"]),
        raw=raw,
    )


def _parse_environment(env: dict[str, Any]) -> EnvironmentConfig:
    ground = check_mapping(env["ground"], "environment.ground")
    prob = check_mapping(ground["probability"], "environment.ground.probability")
    check_known(prob, FRAMINGS, "environment.ground.probability")
    return EnvironmentConfig(
        ground_probability={f: check_number(prob.get(f, 0.0), f"environment.ground.probability.{f}", 0.0, 1.0)
                            for f in FRAMINGS},
        ground_albedo=check_range(ground["albedo"], "environment.ground.albedo", 0.0, 1.0),
    )


def _validate_pose(pose: dict[str, Any]) -> None:
    try:
        validate_pose_config(pose)
    except ValueError as exc:  # its message starts with the key path, e.g. pose.bones.head.x
        raise UserError(f"config key {exc}") from None


def _parse_camera(cam: dict[str, Any]) -> CameraConfig:
    per_framing = {}
    for key, lo, hi in (("focal_mm", 5.0, 1000.0), ("fill", 0.05, 1.0)):
        missing = set(FRAMINGS) - set(cam[key])
        if missing:
            raise UserError(f"config key camera.{key} lacks framing(s): {', '.join(sorted(missing))}")
        per_framing[key] = {f: check_range(cam[key][f], f"camera.{key}.{f}", lo, hi) for f in FRAMINGS}
    return CameraConfig(
        focal_mm=per_framing["focal_mm"],
        fill=per_framing["fill"],
        azimuth_deg=check_range(cam["azimuth_deg"], "camera.azimuth_deg", -180, 180),
        back_view_probability=check_number(cam["back_view_probability"], "camera.back_view_probability", 0, 1),
        elevation_deg=check_range(cam["elevation_deg"], "camera.elevation_deg", -80, 80),
        roll_deg=check_range(cam["roll_deg"], "camera.roll_deg", -90, 90),
        offset=check_range(cam["offset"], "camera.offset", -1, 1),
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
    colors = tuple(tuple(check_numbers(c, f"body.eye_colors[{i}]", 3, 0, 1)) for i, c in enumerate(body["eye_colors"]))
    if not colors:
        raise UserError("config key body.eye_colors must list at least one colour")
    skin_bounds = {"melanin": (0, 1), "hemoglobin": (0, 1), "roughness": (0, 1), "subsurface_scale_m": (0, 0.1)}
    return BodyConfig(
        phenotype=phenotype,
        ancestry_concentration=check_number(body["ancestry_concentration"], "body.ancestry_concentration", 1e-3, 1e3),
        local_change_count=check_int_pair(local["count"], "body.local_changes.count", 0, max(len(names), 0)),
        local_change_std=check_number(local["std"], "body.local_changes.std", 0, 1),
        local_change_names=names,
        skin={k: parse_dist(body["skin"][k], f"body.skin.{k}", b) for k, b in skin_bounds.items()},
        eye_colors=colors,  # type: ignore[arg-type]
        eye_color_jitter=check_number(body["eye_color_jitter"], "body.eye_color_jitter", 0, 1),
    )


def _parse_lighting(light: dict[str, Any]) -> LightingConfig:
    hdris = light["hdris"]
    if hdris != "all":
        if not isinstance(hdris, list) or not hdris or not all(isinstance(h, str) for h in hdris):
            raise UserError("config key lighting.hdris must be 'all' or a non-empty list of asset ids")
        hdris = tuple(hdris)
    return LightingConfig(
        hdris=hdris,
        rotation_deg=check_range(light["rotation_deg"], "lighting.rotation_deg", -720, 720),
        exposure_ev=check_range(light["exposure_ev"], "lighting.exposure_ev", -10, 10),
    )
