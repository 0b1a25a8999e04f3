"""Value checks for config keys: each returns the checked value or raises a one-line UserError naming the key."""

from __future__ import annotations

from typing import Any

from synthhuman.errors import UserError


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
