"""Session fixtures shared across test packages.

``blender_dataset`` renders a tiny real dataset once per test session with the
``synthhuman render`` CLI in a subprocess (a BlenderRenderer resets Blender's factory
settings, which must not disturb the in-process renderer the render tests share).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BLENDER_DATASET_ARGS = ("--n", "3", "--seed", "11", "--resolution", "64x48", "--samples", "4",
                        "--shard-size", "2", "--workers", "0", "--export-mesh", "--hair-detail", "preview", "--quiet")


def run_cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m synthhuman.cli ARGS`` in a fresh process, as a user runs it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "synthhuman.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def blender_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("bpy") is None or importlib.util.find_spec("anny") is None:
        pytest.skip("bpy and anny are needed to render (bash scripts/install.sh installs them)")
    out = tmp_path_factory.mktemp("blender_dataset")
    result = run_cli("render", "--out", str(out), *BLENDER_DATASET_ARGS)
    assert result.returncode == 0, result.stderr[-3000:]
    return out
