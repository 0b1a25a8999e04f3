"""Pose prior: (rng, pose config) -> PoseSpec, within per-joint limits; config validation.

Anny has no pose prior and no joint limits, so ``configs/pose.yaml`` states them per bone in
Anny's ``local-ref`` axes (measured, see that file's header). Sampling is uniform within
each range (a bone is perturbed with probability ``p``), fingers curl coherently, and the
face gets a few random ARKit units plus common expressions (blink, jaw open, smile).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from synthhuman.anny_rig import BONES, FACE_UNITS
from synthhuman.spec import PoseSpec
from synthhuman.yaml_io import read_yaml_mapping

SIDES = (".L", ".R")
_AXES = ("x", "y", "z")
_PHALANGES = ("-1", "-2", "-3")
POSE_KEYS = ("base_pose", "walk_frames", "root_yaw_deg", "bones", "fingers", "face")
FINGER_KEYS = ("bones", "axis", "curl_deg", "thumb_curl_deg", "p")
FACE_KEYS = ("units", "n_active", "weight", "blink_p", "blink_weight", "jaw_open_p", "jaw_open_weight",
             "smile_p", "smile_weight")
# What a `bones:` key may name: an Anny bone, or `stem.*` for a bone that has .L and .R sides.
_BONE_KEYS = (*BONES, *sorted({b[:-2] + ".*" for b in BONES if b.endswith(SIDES)}))
_FINGERS = tuple(sorted({b.split("-")[0] for b in BONES if b.startswith("finger")}))


def load_pose_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a pose YAML (the file's top level is the pose section)."""
    cfg = read_yaml_mapping(Path(path), "pose config")
    validate_pose_config(cfg)
    return cfg


def _range(cfg: dict, key: str, where: str, lo: float = -180.0, hi: float = 180.0) -> None:
    value = cfg.get(key)
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) for v in value)):
        raise ValueError(f"{where}.{key}: expected [low, high] numbers, got {value!r}")
    if not lo <= value[0] <= value[1] <= hi:
        raise ValueError(f"{where}.{key}: need {lo} <= low <= high <= {hi}, got {value!r}")


def _probability(cfg: dict, key: str, where: str, default: float | None = None) -> None:
    value = cfg.get(key, default)
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}.{key}: expected a probability in [0, 1], got {value!r}")


def _known(keys: Iterable[Any], known: tuple[str, ...], where: str, what: str = "unknown key") -> None:
    """Raise ValueError for the first of `keys` not in `known`, with a did-you-mean hint.

    Mapping keys are named as a path (``pose.bones.knee.*``); list items (a list given
    as `keys`) as a value of the list's path (``pose.face.units: ... 'smile'``).
    """
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            if isinstance(keys, list):
                raise ValueError(f"{where}: {what} {key!r}{hint}")
            raise ValueError(f"{where}.{key}: {what}{hint}")


def validate_pose_config(cfg: dict[str, Any], where: str = "pose") -> None:
    """Raise ValueError naming the offending key path; pure (Anny's names come from anny_rig)."""
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(cfg).__name__}")
    _known(cfg, POSE_KEYS, where)
    for key in ("base_pose", "walk_frames", "root_yaw_deg", "bones", "fingers", "face"):
        if key not in cfg:
            raise ValueError(f"{where}.{key}: missing")
    base = cfg["base_pose"]
    if not isinstance(base, dict) or set(base) - {"rest", "walk"} or not base:
        raise ValueError(f"{where}.base_pose: expected probabilities for 'rest'/'walk', got {base!r}")
    for name in base:
        _probability(base, name, f"{where}.base_pose")
    if abs(sum(base.values()) - 1.0) > 1e-6:
        raise ValueError(f"{where}.base_pose: probabilities sum to {sum(base.values())}, not 1")
    if not isinstance(cfg["walk_frames"], int) or cfg["walk_frames"] < 1:
        raise ValueError(f"{where}.walk_frames: expected a positive integer, got {cfg['walk_frames']!r}")
    _range(cfg, "root_yaw_deg", where)
    if not isinstance(cfg["bones"], dict):
        raise ValueError(f"{where}.bones: expected a mapping bone -> {{x, y, z, p}}")
    _known(cfg["bones"], _BONE_KEYS, f"{where}.bones", "unknown Anny bone")
    for bone, limits in cfg["bones"].items():
        _validate_bone(limits, f"{where}.bones.{bone}")
    _validate_fingers(cfg["fingers"], f"{where}.fingers")
    _validate_face(cfg["face"], f"{where}.face")


def _validate_bone(limits: Any, where: str) -> None:
    if not isinstance(limits, dict) or set(limits) - {"x", "y", "z", "p"}:
        raise ValueError(f"{where}: expected keys among x, y, z, p, got {limits!r}")
    for axis in _AXES:
        if axis in limits:
            _range(limits, axis, where)
    _probability(limits, "p", where, default=1.0)


def _validate_fingers(cfg: Any, where: str) -> None:
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: expected a mapping")
    _known(cfg, FINGER_KEYS, where)
    if not isinstance(cfg.get("bones"), list) or not cfg["bones"]:
        raise ValueError(f"{where}.bones: expected a list of finger names")
    _known(cfg["bones"], _FINGERS, f"{where}.bones", "unknown Anny finger")
    if cfg.get("axis") not in _AXES:
        raise ValueError(f"{where}.axis: expected one of x, y, z, got {cfg.get('axis')!r}")
    _range(cfg, "curl_deg", where)
    _range(cfg, "thumb_curl_deg", where)
    _probability(cfg, "p", where)


def _validate_face(cfg: Any, where: str) -> None:
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: expected a mapping")
    _known(cfg, FACE_KEYS, where)
    if not isinstance(cfg.get("units"), list) or not all(isinstance(u, str) for u in cfg["units"]):
        raise ValueError(f"{where}.units: expected a list of face unit names")
    _known(cfg["units"], FACE_UNITS, f"{where}.units", "unknown Anny face unit")
    _range(cfg, "n_active", where, 0, len(cfg["units"]))
    for key in ("weight", "blink_weight", "jaw_open_weight", "smile_weight"):
        _range(cfg, key, where, 0.0, 1.0)
    for key in ("blink_p", "jaw_open_p", "smile_p"):
        _probability(cfg, key, where)


def expand_bones(bones: dict[str, dict]) -> dict[str, dict]:
    """``name.*`` -> ``name.L`` (as written) and ``name.R`` (mirrored: y and z ranges negated)."""
    out: dict[str, dict] = {}
    for name, limits in bones.items():
        if not name.endswith(".*"):
            out[name] = limits
            continue
        stem = name[:-2]
        out[stem + ".L"] = limits
        mirrored = dict(limits)
        for axis in ("y", "z"):
            if axis in limits:
                mirrored[axis] = [-limits[axis][1], -limits[axis][0]]
        out[stem + ".R"] = mirrored
    return out


def _uniform(rng: np.random.Generator, pair: list[float]) -> float:
    return float(rng.uniform(pair[0], pair[1]))


def sample_pose(rng: np.random.Generator, cfg: dict[str, Any]) -> PoseSpec:
    """Draw one PoseSpec. Draw order is fixed, so (rng state, cfg) -> the same pose."""
    names = sorted(cfg["base_pose"])
    probs = np.array([cfg["base_pose"][n] for n in names], float)
    base = names[int(rng.choice(len(names), p=probs / probs.sum()))]
    base_pose = f"walk:{int(rng.integers(cfg['walk_frames']))}" if base == "walk" else "rest"
    bones: list[tuple[str, tuple[float, float, float]]] = []
    for bone, limits in expand_bones(cfg["bones"]).items():
        if rng.random() >= limits.get("p", 1.0):
            continue
        euler = tuple(_uniform(rng, limits[a]) if a in limits else 0.0 for a in _AXES)
        bones.append((bone, euler))
    bones.extend(_sample_fingers(rng, cfg["fingers"]))
    return PoseSpec(
        base_pose=base_pose,
        bone_euler_deg=tuple(bones),
        root_yaw_deg=_uniform(rng, cfg["root_yaw_deg"]),
        facial_actions=_sample_face(rng, cfg["face"]),
    )


def _sample_fingers(rng: np.random.Generator, cfg: dict) -> list[tuple[str, tuple[float, float, float]]]:
    """Per hand and finger one curl angle on all phalanges; the right hand's axis is mirrored."""
    axis = _AXES.index(cfg["axis"])
    out = []
    for side in SIDES:
        if rng.random() >= cfg["p"]:
            continue
        sign = 1.0 if side == ".L" or axis == 0 else -1.0
        for finger in ["finger1", *cfg["bones"]]:
            thumb = finger == "finger1"
            curl = _uniform(rng, cfg["thumb_curl_deg"] if thumb else cfg["curl_deg"])
            euler = [0.0, 0.0, 0.0]
            euler[axis] = sign * curl
            # The thumb's first bone is its carpometacarpal joint: only its two distal ones curl.
            out.extend((f"{finger}{p}{side}", tuple(euler)) for p in (_PHALANGES[1:] if thumb else _PHALANGES))
    return out


def _sample_face(rng: np.random.Generator, cfg: dict) -> tuple[tuple[str, float], ...]:
    """A few random units at random weights, then blink / jaw open / smile with their probabilities."""
    units = list(cfg["units"])
    n = int(rng.integers(cfg["n_active"][0], cfg["n_active"][1] + 1))
    weights: dict[str, float] = {}
    for i in rng.choice(len(units), size=n, replace=False):
        weights[units[int(i)]] = _uniform(rng, cfg["weight"])
    if rng.random() < cfg["blink_p"]:
        w = _uniform(rng, cfg["blink_weight"])
        weights["eyeBlinkLeft"] = weights["eyeBlinkRight"] = w
    if rng.random() < cfg["jaw_open_p"]:
        weights["jawOpen"] = _uniform(rng, cfg["jaw_open_weight"])
    if rng.random() < cfg["smile_p"]:
        w = _uniform(rng, cfg["smile_weight"])
        weights["mouthSmileLeft"] = w
        weights["mouthSmileRight"] = float(np.clip(w + rng.normal(0.0, 0.05), 0.0, 1.0))
    return tuple(sorted(weights.items()))
