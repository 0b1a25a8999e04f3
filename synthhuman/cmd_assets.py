"""List, verify or re-hash the assets named in assets_manifest/*.yaml.

  synthhuman assets list [--kind K]      table of id, kind, licence, size, path
  synthhuman assets verify               every file present with its manifest sha256
  synthhuman assets hash [--update]      recompute sha256 values (maintainers, after an upgrade)
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from synthhuman.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifests", type=Path, default=None,
                        help="manifest folder (default: the repository's assets_manifest/)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="print a table of the assets")
    listing.add_argument("--kind", default=None, help="only this kind (hdri, body_data, motion, ...)")
    verify = sub.add_parser("verify", help="check that every asset exists with its manifest sha256")
    verify.add_argument("ids", nargs="*", help="asset ids (default: all)")
    hashing = sub.add_parser("hash", help="recompute sha256 values from the installed files")
    hashing.add_argument("ids", nargs="*", help="asset ids (default: all)")
    hashing.add_argument("--update", action="store_true", help="write the new values into the manifest files")


def run(args: argparse.Namespace) -> int:
    from synthhuman.assets import load_library

    library = load_library(args.manifests)
    if args.action == "list":
        return _list(library, args.kind)
    if args.action == "verify":
        return _verify(library, args.ids or None)
    return _hash(library, args.ids or library.ids(), args.update)


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _list(library, kind: str | None) -> int:
    from synthhuman.assets import content_size

    ids = library.ids(kind)
    if not ids:
        kinds = sorted({a.kind for a in library.assets.values()})
        raise UserError(f"no assets of kind {kind!r}; kinds: {', '.join(kinds)}")
    rows = [("id", "kind", "licence", "size", "path")]
    for asset_id in ids:
        asset = library.get(asset_id)
        try:
            size = _human_size(content_size(library.path(asset_id), asset.include))
        except UserError:
            size = "missing"
        rows.append((asset_id, asset.kind, asset.licence, size, asset.path))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _verify(library, ids: list[str] | None) -> int:
    for asset_id in ids or []:
        library.get(asset_id)  # unknown ids fail with a hint before any hashing
    problems = library.verify(ids)
    for line in problems:
        print(line)
    if problems:
        return 1
    print(f"{len(ids) if ids else len(library.assets)} assets verified")
    return 0


def _hash(library, ids: list[str], update: bool) -> int:
    """Print ``id sha256 [changed]``; with ``update``, rewrite the sha256 lines in place."""
    from synthhuman.assets import content_sha256

    changed: dict[str, str] = {}
    for asset_id in ids:
        asset = library.get(asset_id)
        digest = content_sha256(library.path(asset_id), asset.include)
        flag = "" if digest == asset.sha256 else "  (changed)"
        print(f"{asset_id}  {digest}{flag}")
        if digest != asset.sha256:
            changed[asset_id] = digest
    if update and changed:
        for manifest in sorted({library.get(i).manifest for i in changed}):
            path = library.manifest_dir / manifest
            path.write_text(rewrite_sha256(path.read_text(), changed))
        print(f"updated {len(changed)} sha256 value(s)")
    return 0


def rewrite_sha256(text: str, new: dict[str, str]) -> str:
    """Replace the ``sha256:`` line of each record in ``new``, keeping comments and layout."""
    out, current = [], None
    for line in text.splitlines(keepends=True):
        match = re.match(r"^- id:\s*['\"]?([^'\"\s]+)", line)
        if match:
            current = match.group(1)
        sha = re.match(r"^(\s+sha256:\s*)\S+", line)
        if sha and current in new:
            line = f'{sha.group(1)}"{new[current]}"\n'  # quoted: YAML would read all-digit hex as an int
        out.append(line)
    return "".join(out)
