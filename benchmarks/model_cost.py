"""Model cost: parameters, MACs at 512x512 and measured CPU forward time, printed as JSON.

Run by hand: `python benchmarks/model_cost.py [--iters 3] [--no-timing]`. MACs are counted with
torch's FlopCounterMode on the meta device (FLOPs = 2 x MACs for matmul and conv), so counting
needs no memory or time; timing runs real forwards in inference mode.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from synthhuman.train.models import MODEL_TASKS, build_model
from torch.utils.flop_counter import FlopCounterMode

# Released DAViD figures (PAPER_NOTES.md): params in billions, GMACs at 512x512.
PAPER = {("base", "single"): (0.12, 172.4), ("large", "single"): (0.34, 331.5),
         ("large", "multi"): (0.35, 389.9)}
TIME_LIMIT_S = 60.0


def count_cost(size: str, task: str, side: int) -> dict[str, float]:
    """Params and MACs of one forward at side x side, counted without allocating weights."""
    with torch.device("meta"):
        model = build_model(size, task)
        x = torch.zeros(1, 3, side, side)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    flops = counter.get_total_flops()
    row: dict[str, float] = {"params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
                             "gmacs": round(flops / 2e9, 1), "gflops": round(flops / 1e9, 1)}
    paper = PAPER.get((size, "multi" if task == "multi" else "single"))
    if paper is not None:
        row["paper_params_M"], row["paper_gmacs"] = paper[0] * 1000, paper[1]
        row["params_vs_paper"] = round(row["params_M"] / (paper[0] * 1000) - 1, 3)
        row["gmacs_vs_paper"] = round(row["gmacs"] / paper[1] - 1, 3)
    return row


def time_forward(size: str, task: str, side: int, iters: int) -> dict[str, float]:
    """Seconds per forward (batch 1) on the CPU: one untimed warm-up, then `iters` timed runs.

    Skips the timed runs when the warm-up alone exceeds TIME_LIMIT_S.
    """
    torch.manual_seed(0)
    model = build_model(size, task).eval()
    x = torch.rand(1, 3, side, side)
    with torch.inference_mode():
        start = time.perf_counter()
        model(x)
        first = time.perf_counter() - start
        if first > TIME_LIMIT_S:
            return {"first_forward_s": round(first, 2), "skipped": "warm-up over the time limit"}
        times = []
        for _ in range(iters):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return {"first_forward_s": round(first, 2), "mean_s": round(sum(times) / len(times), 3),
            "min_s": round(min(times), 3), "iters": iters}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    report: dict[str, object] = {
        "input": [1, 3, args.side, args.side],
        "cost": {f"{s}/{t}": count_cost(s, t, args.side) for s in ("base", "large") for t in MODEL_TASKS},
    }
    if not args.no_timing:
        report["cpu"] = {"torch": torch.__version__, "threads": torch.get_num_threads(),
                         "processor": platform.processor() or platform.machine()}
        timing: dict[str, dict[str, float]] = {}
        for size in ("base", "large"):
            timing[f"{size}/depth"] = time_forward(size, "depth", args.side, args.iters)
            if "mean_s" not in timing[f"{size}/depth"]:
                break
        report["cpu_forward"] = timing
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
