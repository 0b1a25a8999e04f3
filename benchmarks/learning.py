"""Does training learn? Held-out metrics of a short run next to picture-blind baselines; prints JSON.

Issue 18's protocol, end to end: render (or reuse) a disjoint train/test pair with Blender
(seeds 1 and 2, 160 and 32 samples, 96x128, 8 spp), train a small model at 128x128 for 720
steps (batch 16, lr 2e-3, 20 warm-up steps, grad clip 1.0), evaluate on the held-out set at
every `--eval-every` steps and on the training set at the end, and score the baselines of
`synthhuman.train.baselines` (constant, per-pixel training mean) through the same metric code.
About 15 minutes per task on a 2-core CPU, most of it training.

    python benchmarks/learning.py                      # multi-task, default loss weights
    python benchmarks/learning.py --task depth --steps 360 --loss grad=2.0
    python benchmarks/learning.py --task depth --model-override encoder_size=128 --data-override augment=false

The last line of output is one JSON object: {"config", "baselines", "curve", "final",
"train_fit", "beats_pixel_mean"}; `beats_pixel_mean` holds the held-out ratio
metric / baseline metric for depth AbsRel and RMSE (below 0.8 is issue 18's bar).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from synthhuman.train.baselines import constant_maps, fixed_predictor, pixel_mean_maps
from synthhuman.train.config import TrainConfig
from synthhuman.train.data import DataConfig, make_loader
from synthhuman.train.engine import train_from_config
from synthhuman.train.evaluate import evaluate, evaluate_source

DEFAULT_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "learning"
SETS = {"train": (1, 160), "test": (2, 32)}  # name: (seed, samples), as issue 18 measured
SUMMARY = {"depth": ("absrel", "rmse", "delta1"), "normals": ("mean", "median", "within_30"),
           "alpha": ("sad", "mse", "grad")}


def ensure_dataset(cache: Path, name: str, seed: int, n: int, resolution: str, spp: int) -> Path:
    """Render DIR once with the real Blender pipeline; a finished dataset is reused as is."""
    out = cache / f"{name}-s{seed}-n{n}-{resolution}-spp{spp}"
    status = out / "dataset.json"
    if status.exists() and json.loads(status.read_text()).get("status") == "complete":
        return out
    cmd = [sys.executable, "-m", "synthhuman.cli", "render", "--n", str(n), "--seed", str(seed),
           "--out", str(out), "--resolution", resolution, "--samples", str(spp),
           "--shard-size", str(max(1, n // 4)), "--quiet"]
    print(f"rendering {name}: {' '.join(cmd[2:])}", file=sys.stderr)
    subprocess.run(cmd, check=True)
    return out


def summarise(metrics: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """The "all" group's headline metrics per task."""
    return {task: {m: round(groups["all"][m], 5) for m in SUMMARY[task] if m in groups["all"]}
            for task, groups in metrics.items()}


def baselines(train_dir: Path, test_dir: Path, image_size: int) -> dict[str, Any]:
    dcfg = DataConfig(image_size=image_size, augment=False)
    means = pixel_mean_maps(make_loader(str(train_dir), dcfg, 16, 0, train=False))
    out = {}
    for name, maps in (("constant", constant_maps(means)), ("pixel_mean", means)):
        loader = make_loader(str(test_dir), dcfg, 16, 0, train=False)
        out[name] = summarise(evaluate(fixed_predictor(maps), loader, ("depth", "normals", "alpha")))
    return out


def read_curve(run: Path) -> list[dict[str, float]]:
    """Held-out headline metrics after each epoch, from the run's eval.csv."""
    rows = []
    with (run / "eval.csv").open() as f:
        for row in csv.DictReader(f):
            point: dict[str, float] = {"step": int(row["step"])}
            for task, names in SUMMARY.items():
                for m in names:
                    if row.get(f"all/{task}/{m}"):
                        point[f"{task}/{m}"] = round(float(row[f"all/{task}/{m}"]), 5)
            rows.append(point)
    return rows


def parse_pairs(items: list[str]) -> dict[str, Any]:
    """KEY=VALUE flags; values read as YAML (0.5, 128, matting, [8, 16])."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="rendered train/test sets")
    parser.add_argument("--resolution", default="96x128")
    parser.add_argument("--spp", type=int, default=8)
    parser.add_argument("--task", default="multi")
    parser.add_argument("--model", default="small")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=720)
    parser.add_argument("--eval-every", type=int, default=90)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--loss", action="append", default=[], metavar="KEY=VALUE",
                        help="LossWeights field, e.g. grad=0.1 (repeatable)")
    parser.add_argument("--model-override", action="append", default=[], metavar="KEY=VALUE",
                        help="ModelConfig field, e.g. encoder_size=128 (repeatable)")
    parser.add_argument("--data-override", action="append", default=[], metavar="KEY=VALUE",
                        help="DataConfig field, e.g. augment=false (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-samples", type=int,
                        help="training renders (default 160, the protocol's); more shows whether depth needs data")
    parser.add_argument("--run", type=Path, help="run directory (default: CACHE/runs/<task>-<time>)")
    args = parser.parse_args()
    if args.steps % args.eval_every:
        parser.error("--steps must be a multiple of --eval-every")

    started = time.perf_counter()
    sets = {**SETS, "train": (SETS["train"][0], args.train_samples or SETS["train"][1])}
    train_dir, test_dir = (ensure_dataset(args.cache, name, seed, n, args.resolution, args.spp)
                           for name, (seed, n) in sets.items())
    rendered = time.perf_counter()
    base = baselines(train_dir, test_dir, args.image_size)
    run = args.run or args.cache / "runs" / f"{args.task}-{time.strftime('%Y%m%d-%H%M%S')}"
    cfg = TrainConfig(
        task=args.task, model=args.model, model_overrides=parse_pairs(args.model_override),
        data=str(train_dir), eval_data=str(test_dir), out=str(run),
        batch_size=args.batch_size, epochs=args.steps // args.eval_every, steps_per_epoch=args.eval_every,
        lr=args.lr, warmup_steps=args.warmup, grad_clip=args.grad_clip, loss_weights=parse_pairs(args.loss),
        data_config={"image_size": args.image_size, **parse_pairs(args.data_override)},
        workers=1, device="cpu", seed=args.seed, log_every=args.eval_every, keep_checkpoints=0,
    )
    result = train_from_config(cfg, progress=False)
    trained = time.perf_counter()
    fit = evaluate_source(str(train_dir), checkpoint=str(result.checkpoint), image_size=args.image_size,
                          batch_size=16)
    curve = read_curve(run)
    final = {k: v for k, v in curve[-1].items() if k != "step"}
    beats = {}
    if "depth/absrel" in final:
        ref = base["pixel_mean"]["depth"]
        beats = {m: round(final[f"depth/{m}"] / ref[m], 3) for m in ("absrel", "rmse")}
    print(json.dumps({
        "benchmark": "learning",
        "config": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                   "loss": parse_pairs(args.loss), "train": sets["train"], "test": sets["test"]},
        "baselines_heldout": base,
        "curve_heldout": curve,
        "final_heldout": final,
        "train_fit": summarise(fit["metrics"]),
        "beats_pixel_mean": beats,
        "seconds": {"render": round(rendered - started, 1), "train": round(trained - rendered, 1),
                    "total": round(time.perf_counter() - started, 1)},
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor(),
        "cores": os.cpu_count(), "run": str(run),
    }))
    (run / "learning.yaml").write_text(yaml.safe_dump({"baselines": base, "final": final}))


if __name__ == "__main__":
    main()
