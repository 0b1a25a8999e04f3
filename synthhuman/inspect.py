"""Integrity checks and statistics over a rendered dataset (the engine of ``synthhuman inspect``).

Every check is a pure function returning problem strings, so it can be run on one sample
in a test or a notebook; ``inspect_dataset`` runs them over every complete shard and
accumulates the statistics the report shows. Ground-truth rules checked (DESIGN.md):

* alpha in [0, 1]; depth >= 0 everywhere; depth == 0 where alpha == 0 (off the foreground);
  depth > 0 where alpha == 1 (fully covered). A pixel with fractional alpha keeps the
  sample-0 hit, so its depth may be 0 (sample 0 missed) or > 0: both are accepted.
* Where depth > 0 the normal is unit: ``| |n| - 1 | < 1e-2`` (normals are stored as float16).
  Where alpha == 0 the normal is 0. Where depth == 0 but alpha is fractional, the normal is
  the renormalised mean of the samples that did hit, so either 0 or unit is accepted.
* json: ``spec`` parses as a SceneSpec of this sample (index, size), ``K`` is a 3x3 pinhole
  matrix, ``cam_to_world`` a 4x4 rigid transform, ``timings`` a dict of seconds.
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from synthhuman import outputs
from synthhuman.dataset_stats import DatasetStats, is_number, matrix
from synthhuman.errors import UserError
from synthhuman.sample import RenderedSample
from synthhuman.shards import (
    ShardIndex,
    decode_sample,
    index_path,
    iter_records,
    list_shards,
    load_index,
    read_index,
    record_crc_problem,
    shard_bytes_changed,
)
from synthhuman.spec import FRAMINGS, SceneSpec, sample_key

UNIT_NORMAL_TOL = 1e-2  # float16 storage: |n| of a stored unit normal is within ~1e-3 of 1
ORTHONORMAL_TOL = 1e-4  # cam_to_world rotation: max |R^T R - I|
REQUIRED_META = ("spec", "K", "cam_to_world", "timings")
# A sample whose source cannot know some required fields (a converted SynthHuman folder has no
# SceneSpec, camera pose or timings) lists them here; they are then not reported as missing.
UNKNOWN_FIELDS = "unknown_fields"


def check_sample(sample: RenderedSample) -> list[str]:
    """All problems of one decoded sample, one short sentence each; [] when it is sound."""
    problems = check_shapes(sample)
    if problems:  # the pixel rules need aligned arrays
        return problems + check_meta(sample.meta, sample.key, sample.height, sample.width)
    return check_pixels(sample) + check_meta(sample.meta, sample.key, sample.height, sample.width)


# Stored formats (DESIGN.md): decode_sample casts to float32, so they are checked on the bytes.
# EXR channels: Y for scalars and B, G, R for x, y, z vectors (codecs.VECTOR_CHANNELS), so cv2
# reads them; shards of earlier versions (Z, and X, Y, Z) still inspect clean.
STORAGE = {"rgb.png": "RGB", "alpha.png": "I;16", "depth.exr": {"Y": "float32"},
           "normal.exr": {"B": "float16", "G": "float16", "R": "float16"}}
_EARLIER_STORAGE = {"depth.exr": {"Z": "float32"}, "normal.exr": {"X": "float16", "Y": "float16", "Z": "float16"}}
EXR_PIXEL_TYPES = {0: "uint32", 1: "float16", 2: "float32"}


def check_storage(record: dict[str, bytes]) -> list[str]:
    """PNG modes and EXR channel types as stored: 8-bit RGB, 16-bit alpha, float32 depth, half normals."""
    problems = []
    for name in ("rgb.png", "alpha.png"):
        if name in record:
            with Image.open(io.BytesIO(record[name])) as image:
                if image.mode != STORAGE[name]:
                    problems.append(f"{name} is stored as PNG mode {image.mode}, expected {STORAGE[name]}")
    for name in ("depth.exr", "normal.exr"):
        if name in record:
            try:
                found = exr_channel_types(record[name])
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if found not in (STORAGE[name], _EARLIER_STORAGE[name]):
                problems.append(f"{name} stores channels {found}, expected {STORAGE[name]}")
    return problems


def exr_channel_types(data: bytes) -> dict[str, str]:
    """Channel name -> pixel type from an EXR header's ``chlist`` (OpenEXR's Python API gives no
    types without decoding every pixel)."""
    if data[:4] != b"\x76\x2f\x31\x01":
        raise ValueError("not an OpenEXR file")
    pos = 8
    while data[pos] != 0:  # attributes: name\0 type\0 int32 size, value
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        size = int.from_bytes(data[type_end + 1 : type_end + 5], "little")
        start = type_end + 5
        if data[pos:name_end] == b"channels":
            channels, cpos = {}, start
            while data[cpos] != 0:  # name\0 int32 type, uint8 pLinear, 3 reserved, int32 x2 sampling
                end = data.index(b"\0", cpos)
                pixel_type = int.from_bytes(data[end + 1 : end + 5], "little")
                channels[data[cpos:end].decode()] = EXR_PIXEL_TYPES.get(pixel_type, f"type {pixel_type}")
                cpos = end + 17
            return channels
        pos = start + size
    raise ValueError("EXR header has no channel list")


def check_shapes(sample: RenderedSample) -> list[str]:
    """Every map of the output table that the sample must have is there, with its row's shape and
    dtype at the size of rgb (8-bit RGB); optional maps are checked when present."""
    if sample.rgb.ndim != 3 or sample.rgb.shape[2] != 3 or sample.rgb.dtype != np.uint8:
        return [f"rgb is {sample.rgb.shape} {sample.rgb.dtype}, expected (H, W, 3) uint8"]
    h, w = sample.rgb.shape[:2]
    problems = [f"{o.key} is missing" for o in outputs.REQUIRED if o.key not in sample.maps]
    for out in outputs.present(sample.maps):
        problem = out.shape_problem(sample.maps[out.key], h, w)
        if problem:
            problems.append(problem)
    return problems


def check_pixels(sample: RenderedSample) -> list[str]:
    """The ground-truth rules of the module docstring, counted in pixels."""
    alpha, depth, normal = sample.alpha, sample.depth, sample.normal
    problems = []
    for out in outputs.present(sample.maps):
        if out.dtype == np.uint8:
            continue
        bad = int(np.count_nonzero(~np.isfinite(sample.maps[out.key])))
        if bad:
            problems.append(f"{out.key} is NaN or inf at {bad} px")
    norm2 = np.einsum("...i,...i->...", normal, normal)  # squared length: no sqrt, 5x faster than linalg.norm
    unit = ((1 - UNIT_NORMAL_TOL) ** 2 < norm2) & (norm2 < (1 + UNIT_NORMAL_TOL) ** 2)
    zero = norm2 == 0
    finite = np.isfinite(norm2)
    rules = [
        ("alpha outside [0, 1]", (alpha < 0) | (alpha > 1)),
        ("depth < 0", depth < 0),
        ("depth > 0 where alpha == 0", (depth > 0) & (alpha == 0)),
        ("depth == 0 where alpha == 1", (depth == 0) & (alpha == 1)),
        ("normals not unit where depth > 0", (depth > 0) & ~unit & finite),
        ("normals non-zero where alpha == 0", (alpha == 0) & ~zero & finite),
        ("normals neither 0 nor unit where depth == 0", (depth == 0) & (alpha > 0) & ~zero & ~unit & finite),
    ]
    for message, mask in rules:
        count = int(np.count_nonzero(mask))
        if count:
            problems.append(f"{message} at {count} px")
    return problems


def check_meta(meta: dict[str, Any], key: str, height: int, width: int) -> list[str]:
    """The sample's json: required fields, a parseable spec of this very sample, sane cameras."""
    unknown = meta.get(UNKNOWN_FIELDS, [])
    if not isinstance(unknown, list) or not set(unknown) <= set(REQUIRED_META) - {"K"}:
        return [f"json {UNKNOWN_FIELDS!r} must list fields among spec, cam_to_world, timings, got {unknown!r}"]
    problems = [f"json lacks {name!r}" for name in REQUIRED_META if name not in meta and name not in unknown]
    if meta.get("spec") is not None or ("spec" in meta and "spec" not in unknown):
        problems += _check_spec(meta["spec"], key, height, width)
    if "K" in meta:
        problems += _check_intrinsics(meta["K"], height, width)
    if "cam_to_world" in meta:
        problems += _check_pose(meta["cam_to_world"])
    timings = meta.get("timings", {})
    if not isinstance(timings, dict) or not all(is_number(v) and v >= 0 for v in timings.values()):
        problems.append("json timings must map stage names to seconds >= 0")
    return problems


def _check_spec(data: Any, key: str, height: int, width: int) -> list[str]:
    try:
        spec = SceneSpec.from_dict(data)
    except Exception as exc:
        return [f"json spec does not parse: {type(exc).__name__}: {exc}"]
    problems = []
    if sample_key(spec.index) != key:
        problems.append(f"json spec index {spec.index} does not match key {key}")
    if (spec.render.height_px, spec.render.width_px) != (height, width):
        size = f"{spec.render.width_px}x{spec.render.height_px}"
        problems.append(f"json spec size {size} != image {width}x{height}")
    return problems


def _check_intrinsics(value: Any, height: int, width: int) -> list[str]:
    K = matrix(value, (3, 3))
    if K is None:
        return ["json K is not a finite 3x3 matrix"]
    problems = []
    if K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0, 0, 1]):
        problems.append("json K is not a pinhole matrix (fx, fy > 0, last row 0 0 1)")
    if not (0 < K[0, 2] < width and 0 < K[1, 2] < height):
        problems.append(f"json K principal point ({K[0, 2]:.1f}, {K[1, 2]:.1f}) is outside the image")
    return problems


def _check_pose(value: Any) -> list[str]:
    M = matrix(value, (4, 4))
    if M is None:
        return ["json cam_to_world is not a finite 4x4 matrix"]
    R = M[:3, :3]
    error = float(np.abs(R.T @ R - np.eye(3)).max())
    problems = []
    if error > ORTHONORMAL_TOL or np.linalg.det(R) <= 0:
        problems.append(f"json cam_to_world rotation is not orthonormal (max |R^T R - I| = {error:.2g})")
    if not np.allclose(M[3], [0, 0, 0, 1]):
        problems.append("json cam_to_world last row is not 0 0 0 1")
    return problems


# --------------------------------------------------------------------------- a dataset


@dataclass
class InspectResult:
    """Everything ``synthhuman inspect`` prints and reports."""

    out_dir: Path
    manifest: dict[str, Any] | None  # dataset.json, if present
    shards: dict[str, int] = field(default_factory=dict)  # complete shard name -> samples in its tar
    incomplete: list[str] = field(default_factory=list)  # files of unfinished shards (resumable)
    problems: list[str] = field(default_factory=list)  # "<shard> / <key>: <what>"
    failures: list[str] = field(default_factory=list)  # samples the renderer recorded as failed
    warnings: list[str] = field(default_factory=list)
    undecodable: int = 0  # samples in a tar that could not be decoded (each also a problem)
    stats: DatasetStats = field(default_factory=DatasetStats)
    contact_rows: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (label, RGB row image)
    row_framings: list[str] = field(default_factory=list)  # framing of each contact row
    elapsed_s: float = 0.0


def inspect_dataset(out_dir: Path, contact_rows: int = 16, progress: bool = True,
                    row_renderer: Callable[[RenderedSample], np.ndarray] | None = None,
                    workers: int = 1, allow_incomplete: bool = False) -> InspectResult:
    """Check and summarise every complete shard of ``out_dir``.

    Samples are decoded from the raw tar records (not ``iter_samples``) so that a sample that
    does not decode becomes a problem on its own line instead of ending the whole run; a tar
    that cannot be read at all is a UserError. ``row_renderer`` turns the first
    ``contact_rows`` samples into contact-sheet rows while they are in memory. With
    ``workers`` > 1, shards are inspected in that many processes (decoding dominates: about
    25 samples/s per core at 384x512) and merged in shard order, so the result is the same.
    A dataset that holds fewer samples than its ``n`` (an interrupted or crashed run) is a
    problem unless ``allow_incomplete`` (then a warning): "running" in dataset.json only
    says a run started, not that one is still alive.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    result = InspectResult(out_dir, _read_manifest(out_dir))
    complete = _complete_shards(out_dir, result)
    total = sum(len(index.keys) for _, index in complete)
    with tqdm(total=total, unit="sample", disable=not progress, desc="inspect") as bar:
        if workers > 1 and len(complete) > 1:
            run = partial(_inspect_shard, contact_rows=contact_rows, row_renderer=row_renderer)
            with ProcessPoolExecutor(min(workers, len(complete))) as pool:
                for part in pool.map(run, *zip(*complete, strict=True)):  # in shard order
                    _merge(result, part, contact_rows)
                    bar.update(part.stats.samples + part.undecodable)
        else:
            for tar_path, index in complete:
                part = _inspect_shard(tar_path, index, contact_rows, row_renderer, bar.update)
                _merge(result, part, contact_rows)
    balance_rows(result, contact_rows)
    _check_counts(result, allow_incomplete)
    result.elapsed_s = time.perf_counter() - start
    return result


def _read_manifest(out_dir: Path) -> dict[str, Any] | None:
    if not out_dir.is_dir():
        raise UserError(f"{out_dir} is not a directory")
    path = out_dir / "dataset.json"
    if not path.exists():
        if not (out_dir / "shards").is_dir():
            raise UserError(f"{out_dir} is not a synthhuman dataset (no dataset.json, no shards/)")
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a dataset manifest (a JSON object)")
    return data


def _complete_shards(out_dir: Path, result: InspectResult) -> list[tuple[Path, ShardIndex]]:
    """Finished shards with their indexes; unfinished ones are listed, never read."""
    if result.manifest is None:
        result.warnings.append("no dataset.json: seed, config, versions and licences are unknown")
    shard_dir = out_dir / "shards"
    result.incomplete = sorted(p.name for p in shard_dir.glob("*.tmp")) if shard_dir.is_dir() else []
    complete = []
    for tar_path in list_shards(out_dir):
        index = read_index(tar_path)
        if index is not None:
            complete.append((tar_path, index))
        elif index_path(tar_path).exists() and load_index(tar_path) is None:
            raise UserError(f"corrupt index {index_path(tar_path)}: not a shard index (unreadable JSON "
                            "or fields); re-run render on this DIR to re-render its shard")
        elif index_path(tar_path).exists():
            raise UserError(f"corrupt shard {tar_path}: its index does not match the tar "
                            f"({tar_path.stat().st_size} bytes; truncated or overwritten?)")
        else:
            result.incomplete.append(tar_path.name)
    if not complete:
        raise UserError(f"no complete shards in {shard_dir} ({len(result.incomplete)} incomplete file(s))")
    return complete


def _inspect_shard(tar_path: Path, index: ShardIndex, contact_rows: int,
                   row_renderer: Callable[[RenderedSample], np.ndarray] | None,
                   on_sample: Callable[[int], Any] | None = None) -> InspectResult:
    """One shard's problems, failures, statistics and first contact rows (a worker's unit of work)."""
    name = tar_path.name[: -len(".tar")]
    result = InspectResult(tar_path, None)
    tar_keys = []
    for record in iter_records(tar_path):  # a corrupt tar raises UserError here
        key = record["__key__"].decode()
        tar_keys.append(key)
        crc = record_crc_problem(record, index)
        if crc:
            result.problems.append(f"{name} / {key}: {crc}")
        try:
            sample = decode_sample(record)
        except Exception as exc:
            result.problems.append(f"{name} / {key}: cannot decode: {exc}")
            result.undecodable += 1
            if on_sample is not None:
                on_sample(1)
            continue
        result.problems += [f"{name} / {key}: {p}" for p in check_storage(record) + check_sample(sample)]
        result.stats.add(sample)
        framing = str((sample.meta.get("spec") or {}).get("camera", {}).get("framing", "?"))
        if row_renderer is not None and result.row_framings.count(framing) < contact_rows:
            result.contact_rows.append((f"{name} / {key} ({framing})", row_renderer(sample)))
            result.row_framings.append(framing)
        if on_sample is not None:
            on_sample(1)
    result.shards[name] = len(tar_keys)
    result.problems += [f"{name}: {p}" for p in check_index(index, tar_keys)]
    if not index.sha256:
        result.warnings.append(f"{name}: written before content hashes were recorded; its bytes cannot be verified")
    elif shard_bytes_changed(tar_path, index):
        result.problems.append(f"{name}: the tar's sha256 differs from its index (bytes changed after writing)")
    result.failures += [f"{name} / {f.key}: {f.error} (after {f.attempts} attempts)" for f in index.failures]
    return result


def _merge(result: InspectResult, part: InspectResult, contact_rows: int) -> None:
    result.shards.update(part.shards)
    result.problems += part.problems
    result.failures += part.failures
    result.warnings += part.warnings
    result.undecodable += part.undecodable
    result.stats.merge(part.stats)
    for row, framing in zip(part.contact_rows, part.row_framings, strict=True):
        if result.row_framings.count(framing) < contact_rows:  # candidates: up to N per framing
            result.contact_rows.append(row)
            result.row_framings.append(framing)


def balance_rows(result: InspectResult, contact_rows: int) -> None:
    """Keep ``contact_rows`` rows, the framings in equal shares where the data allows (a sheet of
    24 shows 8 faces, 8 upper bodies, 8 full bodies), grouped by framing, in dataset order."""
    order = [f for f in FRAMINGS if f in result.row_framings] + sorted(set(result.row_framings) - set(FRAMINGS))
    if not order:
        return
    quota = -(-contact_rows // len(order))
    picked = [i for f in order for i in [j for j, g in enumerate(result.row_framings) if g == f][:quota]]
    rest = [i for i in range(len(result.row_framings)) if i not in set(picked)]
    chosen = sorted((picked + rest)[:contact_rows], key=lambda i: (order.index(result.row_framings[i]), i))
    result.contact_rows = [result.contact_rows[i] for i in chosen]
    result.row_framings = [result.row_framings[i] for i in chosen]


def check_index(index: ShardIndex, tar_keys: list[str]) -> list[str]:
    """The index lists exactly the tar's keys, in order, and no failed sample is also in the tar."""
    problems = []
    duplicates = sorted(k for k, n in Counter(tar_keys).items() if n > 1)
    if duplicates:
        problems.append(f"tar holds key(s) {_few(duplicates)} more than once")
    missing = sorted(set(index.keys) - set(tar_keys))
    extra = sorted(set(tar_keys) - set(index.keys))
    if missing:
        problems.append(f"index lists {len(missing)} key(s) the tar lacks: {_few(missing)}")
    if extra:
        problems.append(f"tar holds {len(extra)} key(s) the index lacks: {_few(extra)}")
    if not (missing or extra or duplicates) and index.keys != tar_keys:
        problems.append("index keys are not in tar order")
    both = sorted({f.key for f in index.failures} & set(tar_keys))
    if both:
        problems.append(f"failed sample(s) {_few(both)} are also in the tar")
    return problems


def _check_counts(result: InspectResult, allow_incomplete: bool) -> None:
    """The manifest's ``n`` against what the complete shards hold (samples + recorded failures)."""
    n = (result.manifest or {}).get("n")
    found = result.stats.samples + len(result.failures)
    found += result.undecodable
    if not isinstance(n, int) or found == n:
        return
    message = (f"dataset.json: n = {n}, but complete shards hold {found} sample(s) incl. failures "
               f"({len(result.incomplete)} incomplete shard file(s))")
    fewer = found < n
    if fewer and allow_incomplete:
        result.warnings.append(message)
    else:
        hint = " (re-run the same render command to finish it, or pass --allow-incomplete)" if fewer else ""
        result.problems.append(message + hint)


def _few(keys: list[str], limit: int = 5) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


__all__ = ["DatasetStats", "InspectResult", "check_index", "check_meta", "check_pixels", "check_sample",
           "check_shapes", "check_storage", "inspect_dataset"]
