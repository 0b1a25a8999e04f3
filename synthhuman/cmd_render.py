"""Render N samples into DIR/shards/*.tar (WebDataset) with DIR/dataset.json.

Resumable: re-running the same command skips complete shards and renders the rest. Every
sample is reproducible from (--seed, index). Failed samples are retried, then recorded in
their shard's index file with the error, never silently dropped.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synthhuman.errors import UserError

# --hair-detail presets: hair.strand_scale (every strand count x this).
HAIR_DETAIL = {"preview": 0.1, "fast": 0.4, "full": 1.0, "dense": 2.5}
# Assets every Blender render reads besides the HDRI it samples (body model, MPFB data).
BODY_ASSET_KINDS = ("body_model", "body_data", "motion", "node_tree", "texture")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from synthhuman.hair import HAIR_NORMALS
    from synthhuman.spec import TRANSPARENT_GT_MODES

    p.add_argument("--n", type=int, required=True, help="number of samples (indices 0..N-1)")
    p.add_argument("--out", required=True, help="output dataset directory")
    p.add_argument("--seed", type=int, default=0, help="global seed; (seed, index) fixes each sample (default 0)")
    p.add_argument("--config", type=Path, help="YAML merged over configs/default.yaml (scene distribution)")
    p.add_argument("--workers", type=int, default=1, help="render workers (Ray actors; one per GPU). 0 = in-process, no Ray")
    p.add_argument("--shard-size", type=int, default=1000, help="samples per shard (default 1000)")
    p.add_argument("--resolution", help="WIDTHxHEIGHT, e.g. 384x512 (default from config: 384x512)")
    p.add_argument("--samples", type=int, help="Cycles samples per pixel (default from config: 64)")
    p.add_argument("--hair-normals", choices=HAIR_NORMALS,
                   help="GT normals of hair: the marching-cubes proxy (paper A.1; config default) or the strands' own")
    p.add_argument("--transparent-gt", choices=TRANSPARENT_GT_MODES,
                   help="GT of glasses lenses: what is behind them (see-through; paper A.2, config default) "
                        "or the lens surface; RGB refracts either way")
    p.add_argument("--hair-detail", choices=tuple(HAIR_DETAIL),
                   help="strand counts, speed vs fidelity: " + ", ".join(f"{k} = x{v:g}" for k, v in HAIR_DETAIL.items())
                   + " (default from config: full)")
    p.add_argument("--device", choices=("cpu", "cuda", "optix"), default="cpu", help="Cycles device per worker")
    p.add_argument("--address", help="Ray cluster address (e.g. ray://head:10001 or auto); default: local Ray")
    p.add_argument("--recycle-every", type=int, default=500, help="samples before a worker's Blender is restarted")
    p.add_argument("--export-mesh", action="store_true", help="debug: also store each posed camera-space mesh (mesh.ply) and hair strands (hair.ply, polylines)")
    p.add_argument("--renderer", choices=("blender", "analytic"), default="blender",
                   help="'analytic' renders a sphere with exact GT, without Blender (pipeline checks)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from synthhuman.interrupts import stop_on_signals

    with stop_on_signals():  # SIGINT and SIGTERM: exit 130 between samples, finished shards kept
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from synthhuman.assets import load_library
    from synthhuman.config import load_config
    from synthhuman.dirlock import DirLock
    from synthhuman.distributed import plan_shards
    from synthhuman.outdir import prepare_output_dir
    from synthhuman.sampling import resolve_hdri_ids

    _check_numbers(args)
    planned = plan_shards(args.n, args.shard_size)  # checks --n and --shard-size before any I/O
    cfg = load_config(args.config, _overrides(args))
    library = load_library()
    hdri_ids = resolve_hdri_ids(cfg.lighting, library.ids("hdri"))
    used_ids = list(hdri_ids) + ([i for k in BODY_ASSET_KINDS for i in library.ids(k)] if args.renderer == "blender" else [])
    from synthhuman.outfit import WARDROBE_ASSET

    if args.renderer == "blender" and any(p > 0 for slot in cfg.outfit.probability.values() for p in slot.values()):
        used_ids.append(WARDROBE_ASSET)  # dressed people: the procedural wardrobe's licence is listed too
    asset_paths = {asset_id: str(library.path(asset_id)) for asset_id in used_ids}  # missing asset -> one-line error
    out_dir = prepare_output_dir(args.out, subdir="shards")
    with DirLock(out_dir):  # one render per DIR: a second one is refused, not interleaved
        return _render_locked(args, out_dir, cfg, library, hdri_ids, used_ids, asset_paths, planned)


def _render_locked(args: argparse.Namespace, out_dir: Path, cfg: Any, library: Any, hdri_ids: list[str],
                   used_ids: list[str], asset_paths: dict[str, str], planned: Sequence[Any]) -> int:
    from synthhuman.distributed import PoolSettings, pending_tasks, run_shards
    from synthhuman.manifest import DatasetManifest, check_resumable, current_versions
    from synthhuman.worker import RunSettings

    manifest = DatasetManifest(
        seed=args.seed, n=args.n, shard_size=args.shard_size, config=cfg.raw, config_sha256=cfg.digest(),
        renderer=args.renderer, export_mesh=args.export_mesh, versions=current_versions(), licences=library.licence_summary(used_ids),
    )
    existing = DatasetManifest.read(out_dir)
    if existing is not None:
        check_resumable(existing, manifest, out_dir)
        manifest.created = existing.created
    tasks, skipped, corrupt = pending_tasks(out_dir, planned)
    for shard_id in corrupt:
        _say(f"shard {shard_id}: its bytes differ from its index's sha256 (corrupted on disk); re-rendering it")
    manifest.write(out_dir)
    settings = RunSettings(
        out_dir=str(out_dir), seed=args.seed, config=cfg, hdri_ids=tuple(hdri_ids), device=args.device,
        renderer=args.renderer, export_mesh=args.export_mesh, asset_paths=asset_paths,
    )
    pool = PoolSettings(
        workers=args.workers, address=args.address, recycle_every=args.recycle_every,
        gpus_per_worker=1.0 if args.device in ("cuda", "optix") else 0.0,
    )
    total = sum(len(t.indices) for t in tasks)
    _say(f"{len(skipped)} shard(s) already complete; rendering {total} sample(s) in {len(tasks)} shard(s) into {out_dir}")
    started = time.perf_counter()
    with _progress(total, args.quiet) as bar:
        report = run_shards(settings, tasks, pool, _ProgressCounter(bar))
    _finish_manifest(manifest, out_dir, report)
    code = _summarise(out_dir, report, skipped, time.perf_counter() - started)
    if code == 0 and manifest.status != "complete":
        _say(f"dataset is {manifest.status}: {manifest.counts['samples']} of {manifest.n} sample(s) present")
        code = 1
    return code


def _check_numbers(args: argparse.Namespace) -> None:
    """Flags plan_shards does not check (it checks --n and --shard-size)."""
    if args.workers < 0:
        raise UserError(f"--workers must be >= 0, got {args.workers}")
    if args.samples is not None and args.samples <= 0:
        raise UserError(f"--samples must be > 0, got {args.samples}")
    if args.recycle_every <= 0:
        raise UserError(f"--recycle-every must be > 0, got {args.recycle_every}")
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, got {args.seed}")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    render: dict[str, Any] = {}
    if args.resolution:
        match = re.fullmatch(r"(\d+)x(\d+)", args.resolution)
        if not match:
            raise UserError(f"--resolution must look like 384x512 (WIDTHxHEIGHT), got {args.resolution!r}")
        render["resolution"] = [int(match[1]), int(match[2])]
    if args.samples:
        render["samples"] = args.samples
    if args.hair_normals:
        render["hair_normals"] = args.hair_normals
    if args.transparent_gt:
        render["transparent_gt"] = args.transparent_gt
    out: dict[str, Any] = {"render": render} if render else {}
    if args.hair_detail:
        out["hair"] = {"strand_scale": HAIR_DETAIL[args.hair_detail]}
    return out


class _ProgressCounter:
    """Per finished sample: advance the bar; show how many samples failed so far."""

    def __init__(self, bar: Any):
        self.bar = bar
        self.failed = 0

    def __call__(self, index: int, ok: bool) -> None:
        if not ok:
            self.failed += 1
            self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update(1)

    def rewind(self, n: int) -> None:
        """A dead worker's samples will be rendered again: stop counting them as done."""
        self.bar.update(-n)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _progress(total: int, quiet: bool):
    if quiet:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="sample", desc="render", dynamic_ncols=True, smoothing=0.1)


def _finish_manifest(manifest: Any, out_dir: Path, report: Any) -> None:
    from synthhuman.shards import list_shards, read_index

    indexes = [i for i in (read_index(p) for p in list_shards(out_dir)) if i is not None]
    manifest.counts = {
        "shards": len(indexes),
        "samples": sum(len(i.keys) for i in indexes),
        "failed": sum(len(i.failures) for i in indexes),
    }
    means: dict[str, list[float]] = {}
    for index in indexes:
        for stage, value in index.stats.get("timings_mean_s", {}).items():
            means.setdefault(stage, []).append(value)
    manifest.timings = {stage: sum(v) / len(v) for stage, v in means.items()}
    # Complete means every one of the n samples is in a shard: recorded failures leave it
    # incomplete, so the status (and render's exit code, which follows it) never says done early.
    complete = not report.shards_failed and manifest.counts["samples"] == manifest.n
    manifest.status = "complete" if complete else "incomplete"
    manifest.write(out_dir)


def _summarise(out_dir: Path, report: Any, skipped: list[int], wall_s: float) -> int:
    rate = report.samples / wall_s * 60 if wall_s > 0 else 0.0
    _say(f"rendered {report.samples} sample(s) in {len(report.shards_done)} shard(s) "
         f"({rate:.1f} samples/min), skipped {len(skipped)} complete shard(s)")
    for failure in report.failures:
        print(f"failed sample {failure.key} after {failure.attempts} attempts: {failure.error.splitlines()[0]}", file=sys.stderr)
    for shard_id, error in sorted(report.shards_failed.items()):
        print(f"shard {shard_id} failed on every attempt (re-run to retry): {error}", file=sys.stderr)
    _say(f"dataset: {out_dir} (inspect it with: synthhuman inspect {out_dir})")
    return 1 if report.shards_failed or report.failures else 0


def _say(message: str) -> None:
    print(message, file=sys.stderr)
