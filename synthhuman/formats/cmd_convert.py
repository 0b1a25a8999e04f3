"""Convert between synthhuman shards and the public SynthHuman file layout (microsoft/DAViD release).

--to synthhuman-layout SRC DST: SRC is a dataset DIR or a shard glob / brace pattern; DST is a
flat folder of rgb_/alpha_/depth_/normal_/cam_NNNNNNN files (index = the sample's global index).
--to shards SRC DST: SRC is a SynthHuman folder; DST becomes a dataset DIR (shards/ + dataset.json).

What is lost. shards -> layout (default): alpha 16 -> 8 bit (<= 0.5/255), depth float32 metres ->
float16 centimetres (<= 2.5 mm at 10 m), and the sample json (SceneSpec, cam_to_world, assets:
the layout keeps K only). With --lossless alpha is written as 16-bit PNG, depth as float32 EXR
(plus an exact metres channel) and normals as float32: shards -> layout -> shards is then exact
for RGB, alpha, depth, normals and K. layout -> shards -> layout is exact for default-mode folders
(8-bit alpha maps exactly onto 16-bit; half-precision cm survive float32 metres and back); shards
store normals as float16, so float32 normals of another folder round to half (< 5e-4).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synthhuman.errors import UserError
from synthhuman.sample import sample_framing

LAYOUT_NOTE = (
    "converted from the public SynthHuman file layout: no SceneSpec exists for this sample; "
    "meta holds the intrinsics K, the framing (when known) and the layout index only"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, choices=("synthhuman-layout", "shards"), help="output format")
    parser.add_argument("src", metavar="SRC", help="shards (DIR, glob or brace pattern) or a SynthHuman folder")
    parser.add_argument("dst", metavar="DST", type=Path, help="output folder (must not already hold output)")
    parser.add_argument("--shard-size", type=int, default=1000, metavar="K", help="samples per shard (--to shards)")
    parser.add_argument(
        "--lossless",
        action="store_true",
        help="--to synthhuman-layout: 16-bit alpha PNG, float32 depth EXR (cm, plus an exact metres channel Z) "
        "and float32 normals, same file names, so shards -> layout -> shards is exact. Default: the release's "
        "8-bit alpha (<= 0.5/255 error) and float16 depth (<= 2.5 mm at 10 m)",
    )


def run(args: argparse.Namespace) -> int:
    if args.to == "synthhuman-layout":
        count = to_layout(args.src, args.dst, args.lossless)
        print(f"wrote {count} sample(s) to {args.dst} (SynthHuman layout{', lossless' if args.lossless else ''})")
    else:
        if args.shard_size < 1:
            raise UserError(f"--shard-size must be >= 1, got {args.shard_size}")
        count = to_shards(Path(args.src), args.dst, args.shard_size)
        print(f"wrote {count} sample(s) to {args.dst / 'shards'}")
    return 0


def _progress(total: int | None, desc: str) -> Any:  # a tqdm bar; tqdm imported lazily
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", dynamic_ncols=True)


def _shard_samples(src: str) -> tuple[list[Path], int | None]:
    """Local shard paths of SRC and, when every shard has an index, the sample count."""
    from synthhuman.formats.synthhuman_layout import resolve_source
    from synthhuman.shards import count_indexed_samples

    resolved = resolve_source(src)
    if resolved.kind == "layout":
        raise UserError(f"{src} is already a SynthHuman folder; use --to shards to import it")
    paths = [Path(p) for p in resolved.paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"convert reads local shard files only; not found: {missing[0]}")
    return paths, count_indexed_samples(paths)


def to_layout(src: str, dst: Path, lossless: bool) -> int:
    """Shards -> SynthHuman folder; also writes ``framing.json`` (the layout has no framing field)."""
    from synthhuman.formats.synthhuman_layout import FRAMING_FILE, is_layout_folder, write_layout_sample
    from synthhuman.shards import atomic_write_text, iter_samples

    paths, total = _shard_samples(src)
    if is_layout_folder(dst):
        raise UserError(f"{dst} already holds SynthHuman files; choose an empty folder")
    dst.mkdir(parents=True, exist_ok=True)
    framing: dict[str, str] = {}
    with _progress(total, "convert") as bar:
        for path in paths:
            for sample in iter_samples(path):
                if not sample.key.isdigit():
                    raise UserError(f"sample key {sample.key!r} in {path} is not a numeric index")
                index = int(sample.key)
                write_layout_sample(dst, index, sample, lossless=lossless)
                framing[str(index)] = sample_framing(sample.meta)
                bar.update(1)
    atomic_write_text(dst / FRAMING_FILE, json.dumps(framing, sort_keys=True))
    return len(framing)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def to_shards(src: Path, dst: Path, shard_size: int) -> int:
    """SynthHuman folder -> DST/shards/shard-*.tar (via ShardWriter) and DST/dataset.json."""
    from synthhuman.formats.synthhuman_layout import is_layout_folder, layout_framing, list_layout_indices
    from synthhuman.shards import list_shards

    if not is_layout_folder(src):
        raise UserError(f"{src} is not a SynthHuman folder (no rgb_NNNNNNN.png files)")
    if list_shards(dst):
        raise UserError(f"{dst} already holds shards; choose an empty folder")
    indices = list_layout_indices(src)
    framing = layout_framing(src, indices)
    with _progress(len(indices), "convert") as bar:
        for shard_id, chunk in enumerate(_chunks(indices, shard_size)):
            _write_shard(src, dst, shard_id, chunk, framing, bar)
    _write_manifest(src, dst, len(indices), shard_size)
    return len(indices)


def _write_shard(src: Path, dst: Path, shard_id: int, chunk: list[int], framing: dict[int, str], bar: Any) -> None:
    from synthhuman.formats.synthhuman_layout import read_layout_sample
    from synthhuman.shards import ShardWriter, encode_sample

    writer = ShardWriter(dst / "shards", shard_id)
    try:
        for index in chunk:
            sample = read_layout_sample(src, index, framing[index])
            sample.meta["note"] = LAYOUT_NOTE
            writer.add(encode_sample(sample))
            bar.update(1)
    except BaseException:
        writer.abort()
        raise
    writer.commit([], {"source": "synthhuman-layout", "framing": dict(Counter(framing[i] for i in chunk))})


def _write_manifest(src: Path, dst: Path, count: int, shard_size: int) -> None:
    from synthhuman.manifest import DatasetManifest, current_versions

    config = {"converted_from": "synthhuman-layout", "source": str(src.resolve()), "note": LAYOUT_NOTE}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    manifest = DatasetManifest(
        seed=0, n=count, shard_size=shard_size, config=config, config_sha256=digest,
        renderer="synthhuman-layout import (no renderer)", versions=current_versions(),
        counts={"samples": count, "failed": 0, "shards": -(-count // shard_size)},
        status="complete",
    )
    manifest.write(dst)
