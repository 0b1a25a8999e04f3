"""Value checks for config keys: each returns the checked value or raises a one-line UserError naming the key."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from synthhuman.errors import UserError


def check_known(keys: Iterable[Any], allowed: tuple[str, ...] | list[str], where: str) -> None:
    """Every key is one of ``allowed``; else a one-line error with a did-you-mean hint."""
    for key in keys:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), list(allowed), n=1)
            known = f"known: {', '.join(allowed)}" if len(allowed) <= 16 else ""
            parts = [f"did you mean '{where}.{hint[0]}'?"] if hint else []
            parts += [known] if known else []
            raise UserError(f"unknown config key '{where}.{key}'" + (f" ({'; '.join(parts)})" if parts else ""))


def check_mapping(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UserError(f"config key {key} must be a mapping, got {value!r}")
    return value


def check_weights(weights: Any, key: str, names: tuple[str, ...]) -> dict[str, float]:
    """name -> relative weight: known names, weights >= 0, not all 0."""
    weights = check_mapping(weights, key)
    check_known(weights, names, key)
    parsed = {n: check_number(w, f"{key}.{n}", 0, 1e6) for n, w in weights.items()}
    if sum(parsed.values()) <= 0:
        raise UserError(f"config key {key}: at least one weight must be > 0")
    return parsed


def check_flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"config key {key} must be true or false, got {value!r}")
    return value


def check_number(value: Any, key: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise UserError(f"config key {key} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


def check_numbers(value: Any, key: str, length: int, lo: float, hi: float) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise UserError(f"config key {key} must be a list of {length} numbers, got {value!r}")
    return tuple(check_number(v, key, lo, hi) for v in value)


def check_range(value: Any, key: str, lo: float, hi: float) -> tuple[float, float]:
    low, high = check_numbers(value, key, 2, lo, hi)
    if low > high:
        raise UserError(f"config key {key} must be [low, high] with low <= high, got {list(value)}")
    return low, high


def check_int_pair(value: Any, key: str, lo: int, hi: int) -> tuple[int, int]:
    pair = check_numbers(value, key, 2, lo, hi)
    if any(int(v) != v for v in pair):
        raise UserError(f"config key {key} must hold whole numbers, got {value!r}")
    return int(pair[0]), int(pair[1])
