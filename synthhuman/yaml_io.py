"""YAML files that must hold a mapping, read with one-line errors (missing, a directory, bad YAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from synthhuman.errors import UserError


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
