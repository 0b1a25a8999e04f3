"""STYLE.md section 1: the pure package imports without bpy, torch or anny installed."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import synthhuman

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'bpy', 'torch', 'anny', 'mathutils'}:
            raise ImportError(f'blocked heavy import: {name}')
sys.meta_path.insert(0, Block())
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
from synthhuman.cli import build_parser
print('ok', len(sys.argv) - 1)
"""


def pure_modules() -> list[str]:
    root = Path(synthhuman.__file__).parent
    names = ["synthhuman"]
    for info in pkgutil.walk_packages([str(root)], prefix="synthhuman."):
        if not info.name.startswith(("synthhuman.render", "synthhuman.train")):
            names.append(info.name)
    return names


def test_every_pure_module_imports_with_heavy_packages_blocked():
    names = pure_modules()
    assert "synthhuman.sampling" in names and "synthhuman.cli" in names
    result = subprocess.run([sys.executable, "-c", BLOCKER, *names], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"ok {len(names)}"


def test_cli_help_lists_every_command_without_heavy_imports():
    code = BLOCKER.replace("print('ok', len(sys.argv) - 1)", "build_parser().print_help()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    for command in ("render", "inspect", "assets", "train", "evaluate", "predict", "export", "convert"):
        assert command in result.stdout
    assert "[unavailable]" not in result.stdout  # command modules keep torch/bpy inside run()
