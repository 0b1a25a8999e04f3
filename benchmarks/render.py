"""Render throughput of one worker at the default preset: prints JSON.

Default preset: 384 x 512, 64 samples per pixel (fixed; no adaptive sampling or denoising),
the DAViD-style output size. 64 spp is our default because skin subsurface (random walk)
is the noisiest term and stays visibly grainy below ~32 spp on CPU; pass --samples to compare.
Poses come from configs/pose.yaml; framings cycle through face / upper / full.

    python benchmarks/render.py [--n 6] [--samples 64] [--width 384] [--height 512] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--width", type=int, default=384)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests" / "render"))
    from conftest import make_spec  # a hand-made plausible spec until the lead's sampler is wired in

    from synthhuman.pose_sampling import load_pose_config, sample_pose
    from synthhuman.render.scene import BlenderRenderer

    t0 = time.perf_counter()
    renderer = BlenderRenderer(device=args.device)
    build_s = time.perf_counter() - t0
    pose_cfg = load_pose_config(ROOT / "configs" / "pose.yaml")
    hdris = ["hdri/city", "hdri/courtyard", "hdri/forest", "hdri/interior", "hdri/sunset"]
    timings = []
    t_start = time.perf_counter()
    for i in range(args.n):
        spec = make_spec(("face", "upper", "full")[i % 3], width=args.width, height=args.height,
                         samples=args.samples, hdri_id=hdris[i % len(hdris)], index=i)
        spec = dataclasses.replace(spec, pose=sample_pose(np.random.default_rng(i), pose_cfg))
        timings.append(renderer.render_sample(spec).meta["timings"])
    wall = time.perf_counter() - t_start
    med = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
    print(json.dumps({
        "resolution": [args.width, args.height], "samples_per_pixel": args.samples, "n": args.n,
        "device": args.device, "build_s": round(build_s, 3),
        "samples_per_min": round(60.0 * args.n / wall, 3),
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "update_over_render": round(med["scene_update_s"] / med["render_s"], 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }, indent=2))
    renderer.close()


if __name__ == "__main__":
    main()
