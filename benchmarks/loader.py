"""Loader throughput: samples/s of make_loader at 512x512 for 0, 1 and 2 workers; prints JSON.

Fabricates a 384x512 dataset (an analytic person over a textured background, written with the
real shard writer) in a temporary folder, so the numbers include PNG/EXR decoding, the
pad/resize/augment resampling and the photometric augmentations, as in training.
Run by hand: ``python benchmarks/loader.py [--samples 64] [--workers 0 1 2] [--passes 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from synthhuman.train.data import DataConfig, make_loader

from synthhuman.sample import RenderedSample
from synthhuman.shards import ShardWriter, encode_sample


def fabricate(index: int, height: int = 512, width: int = 384) -> RenderedSample:
    """A person-like ellipse (soft alpha, sphere-cap depth and normals) over a smooth random background."""
    rng = np.random.default_rng(index)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width * rng.uniform(0.35, 0.65), height * rng.uniform(0.4, 0.6)
    a, b = width * 0.3, height * 0.4
    u, v = (xs - cx) / a, (ys - cy) / b
    rho = np.hypot(u, v)
    cap = np.sqrt(np.clip(1 - rho**2, 0, 1))
    inside = rho < 1
    normal = np.stack([u, -v, cap], -1)
    normal = np.where(inside[..., None], normal / np.linalg.norm(normal, axis=-1, keepdims=True), 0)
    phase = rng.uniform(0, 6.28, 3)
    background = 0.5 + 0.4 * np.sin(xs[..., None] / 23.0 + ys[..., None] / 37.0 + phase)
    person = 0.3 + 0.5 * cap[..., None] * rng.uniform(0.5, 1.0, 3)
    alpha = np.clip((1 - rho) * a / 1.5 + 0.5, 0, 1)
    rgb = alpha[..., None] * person + (1 - alpha[..., None]) * background
    rgb = np.clip(rgb * 255 + rng.normal(0, 2, rgb.shape), 0, 255).astype(np.uint8)
    maps = {"rgb": rgb, "alpha": alpha.astype(np.float32),
            "depth": np.where(inside, 2.5 - 0.3 * cap, 0).astype(np.float32), "normal": normal.astype(np.float32)}
    return RenderedSample(
        key=f"{index:09d}",
        maps=maps,
        meta={"K": [[600.0, 0, width / 2], [0, 600.0, height / 2], [0, 0, 1]], "framing": "upper"},
    )


def write_dataset(root: Path, samples: int, shard_size: int) -> None:
    for shard_id, start in enumerate(range(0, samples, shard_size)):
        writer = ShardWriter(root / "shards", shard_id)
        for index in range(start, min(start + shard_size, samples)):
            writer.add(encode_sample(fabricate(index)))
        writer.commit([], {})


def measure(source: str, workers: int, passes: int, batch_size: int, augment: bool) -> dict[str, float]:
    """Mean samples/s over ``passes`` full passes (worker start-up included, as in each epoch)."""
    cfg = DataConfig(image_size=512, augment=augment, shuffle_buffer=32, seed=0)
    loader = make_loader(source, cfg, batch_size=batch_size, num_workers=workers, train=True)
    rates = []
    for _ in range(passes):
        start, count = time.perf_counter(), 0
        for batch in loader:
            count += len(batch["key"])
        rates.append(count / (time.perf_counter() - start))
    return {"samples_per_s": round(float(np.mean(rates)), 2), "best_pass": round(max(rates), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--shard-size", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        write_dataset(root, args.samples, args.shard_size)
        results = {
            "benchmark": "loader",
            "source_hw": [512, 384],
            "image_size": 512,
            "samples": args.samples,
            "batch_size": args.batch_size,
            "fabricate_s": round(time.perf_counter() - start, 2),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),  # workers use 1 each; 0 workers shares these
            "load_average_1min": round(os.getloadavg()[0], 2),  # the machine may be shared: read with care
            "machine": platform.processor() or platform.machine(),
            "augment_on": {str(w): measure(str(root), w, args.passes, args.batch_size, True) for w in args.workers},
            "augment_off": {str(w): measure(str(root), w, 1, args.batch_size, False) for w in args.workers[:1]},
        }
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
