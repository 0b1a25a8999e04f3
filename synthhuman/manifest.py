"""``DIR/dataset.json``: what a run is (seed, config, versions, licences) and what it holds.

Written when a run starts and rewritten when it ends, atomically each time. A re-run into
the same DIR must match its seed, config and shard size: resuming a run with other settings
would silently mix two datasets, so it is refused with a one-line error instead.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from synthhuman import __version__
from synthhuman.errors import UserError
from synthhuman.shards import atomic_write_text

MANIFEST_NAME = "dataset.json"


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@dataclass
class DatasetManifest:
    seed: int
    n: int
    shard_size: int
    config: dict[str, Any]
    config_sha256: str
    renderer: str
    export_mesh: bool = False  # shards carry mesh.ply; a resume must not mix datasets with and without
    versions: dict[str, str] = field(default_factory=dict)
    licences: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # samples, failed, shards
    timings: dict[str, float] = field(default_factory=dict)  # mean seconds per sample by stage
    status: str = "running"
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    updated: str = ""

    def write(self, out_dir: Path) -> None:
        self.updated = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write_text(Path(out_dir) / MANIFEST_NAME, json.dumps(asdict(self), indent=1, sort_keys=True))

    @classmethod
    def read(cls, out_dir: Path) -> DatasetManifest | None:
        path = Path(out_dir) / MANIFEST_NAME
        if not path.exists():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise UserError(f"{path} is not a synthhuman dataset manifest: {exc}") from None


def current_versions() -> dict[str, str]:
    return {
        "synthhuman": __version__,
        "bpy": package_version("bpy"),
        "anny": package_version("anny"),
        "ray": package_version("ray"),
    }


def check_resumable(existing: DatasetManifest, new: DatasetManifest, out_dir: Path) -> None:
    """Refuse to continue a run in ``out_dir`` with settings that would change its samples.

    A larger ``n`` extends the dataset; a smaller one is refused, because its plan would
    re-render the last shard with fewer keys and strand the shards beyond it.
    """
    if new.n < existing.n:
        raise UserError(
            f"{out_dir} holds a dataset of n = {existing.n}; --n {new.n} would shrink it: pass "
            f"--n {existing.n} (or larger, to extend it), or use another --out"
        )
    for name in ("seed", "shard_size", "config_sha256", "renderer", "export_mesh"):
        old, now = getattr(existing, name), getattr(new, name)
        if old != now:
            what = {"config_sha256": "config", "export_mesh": "--export-mesh setting"}.get(name, name)
            raise UserError(
                f"{out_dir} was made with a different {what} ({_short(old)} vs {_short(now)}): "
                "use another --out, or the settings it was made with"
            )


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] if len(text) > 40 else text
