"""Where the YAML shipped with synthhuman lives, in a checkout and in an installed wheel.

``configs/`` and ``assets_manifest/`` sit at the top of the repository (they are what a user
reads and edits), and pyproject.toml maps them into the package as ``synthhuman.configs`` and
``synthhuman.assets_manifest``. Resolving them through the import system, instead of a path
relative to this file, finds the same folders in an editable install and inside a built
wheel's ``site-packages/synthhuman/``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from synthhuman.errors import UserError


def package_data_dir(name: str) -> Path:
    """The folder of data package ``synthhuman.<name>`` (e.g. ``configs``)."""
    spec = importlib.util.find_spec(f"synthhuman.{name}")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise UserError(f"synthhuman is installed without its {name}/ folder: reinstall it (pip install .)")
    return Path(locations[0])
