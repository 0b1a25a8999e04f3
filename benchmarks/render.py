"""Render throughput of one worker at the default preset: prints JSON.

Specs come from the real sampler (configs/default.yaml + pose.yaml), so the mix of framings,
poses and HDRIs is the dataset's. Default preset: 384 x 512, 32 samples per pixel, fixed
(no adaptive sampling), OpenImageDenoise on the RGB. Blender's own log lines go to stderr
so stdout is the JSON alone.

    python benchmarks/render.py [--n 6] [--samples 32] [--resolution 384x512] [--device cpu] [--no-denoise]
                                [--hair-detail preview|fast|full|dense] [--compare-bald] [--compare-nude]
                                [--compare-floorless]

Hair: `hair_grow_s` (numpy strands) and `hair_proxy_s` (marching-cubes proxy normals) are
part of `scene_update_s`; `--compare-bald` renders the same specs without a groom as well and
reports the render-time ratio. Clothing: `outfit_build_s` and `outfit_fit_s` are part of
`scene_update_s`, `behind_lenses_render_s` (the see-through GT render, only with glasses) is not
part of `render_s`; `--compare-nude` renders the same specs without an outfit and reports the
ratio of the whole frame time (render plus that extra render) dressed over nude. Environment:
`--compare-floorless` renders the same specs without the shadow-catcher floor and reports the
ratio with / without it (`backplate_s`, the HDRI lookup for the floor's pixels, is part of
`readback_s`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6, help="samples to render (indices 0..n-1, seed 0)")
    ap.add_argument("--samples", type=int, help="Cycles samples per pixel (default: the config's)")
    ap.add_argument("--resolution", default="384x512", help="WIDTHxHEIGHT")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "optix"))
    ap.add_argument("--no-denoise", action="store_true")
    ap.add_argument("--hair-detail", choices=("preview", "fast", "full", "dense"), default="full")
    ap.add_argument("--compare-bald", action="store_true", help="also render every spec without hair")
    ap.add_argument("--compare-nude", action="store_true", help="also render every spec without clothes")
    ap.add_argument("--compare-floorless", action="store_true", help="also render every spec without the floor")
    args = ap.parse_args()
    with _stdout_to_stderr():
        result = measure(args)
    print(json.dumps(result, indent=2))


def measure(args: argparse.Namespace) -> dict:
    from synthhuman.render.scene import BlenderRenderer

    from synthhuman.assets import load_library
    from synthhuman.config import load_config
    from synthhuman.sampling import sample_scene

    width, height = (int(v) for v in args.resolution.split("x"))
    render = {"resolution": [width, height], "denoise": not args.no_denoise}
    if args.samples:
        render["samples"] = args.samples
    from synthhuman.cmd_render import HAIR_DETAIL

    cfg = load_config(overrides={"render": render, "hair": {"strand_scale": HAIR_DETAIL[args.hair_detail]}})
    library = load_library()
    hdris = library.ids("hdri")
    t0 = time.perf_counter()
    renderer = BlenderRenderer(device=args.device, asset_paths={h: library.path(h) for h in hdris})
    build_s = time.perf_counter() - t0
    renderer.render_sample(sample_scene(0, args.n, cfg, hdris))  # warm-up: kernels, HDRI loads
    timings, framings, strands, bald = [], [], [], []
    started = time.perf_counter()
    for index in range(args.n):
        spec = sample_scene(0, index, cfg, hdris)
        sample = renderer.render_sample(spec)
        timings.append(sample.meta["timings"])
        strands.append(sum(sample.meta["hair_strands"].values()))
        framings.append(spec.camera.framing)
    wall = time.perf_counter() - started
    import dataclasses

    from synthhuman.hair import NO_HAIR
    from synthhuman.outfit import NO_OUTFIT
    from synthhuman.spec import NO_ENVIRONMENT

    def frame_s(t: dict) -> float:
        return t["render_s"] + t.get("behind_lenses_render_s", 0.0)

    nude, floorless = [], []
    for flag, field, off, out in ((args.compare_bald, "hair", NO_HAIR, bald), (args.compare_nude, "outfit", NO_OUTFIT, nude),
                                  (args.compare_floorless, "environment", NO_ENVIRONMENT, floorless)):
        for index in range(args.n if flag else 0):
            spec = dataclasses.replace(sample_scene(0, index, cfg, hdris), **{field: off})
            out.append(frame_s(renderer.render_sample(spec).meta["timings"]))
    keys = sorted({k for t in timings for k in t})
    median = {k: statistics.median(t[k] for t in timings if k in t) for k in keys}
    renderer.close()
    extra = {}
    if bald:
        extra = {"bald_render_median_s": round(statistics.median(bald), 4),
                 "groomed_over_bald_render": round(statistics.median(frame_s(t) for t in timings)
                                                   / statistics.median(bald), 3)}
    if nude:
        extra.update({"nude_render_median_s": round(statistics.median(nude), 4),
                      "dressed_over_nude_render": round(statistics.median(frame_s(t) for t in timings)
                                                        / statistics.median(nude), 3),
                      "with_glasses": sum("behind_lenses_render_s" in t for t in timings)})
    if floorless:
        extra.update({"floorless_render_median_s": round(statistics.median(floorless), 4),
                      "floor_over_floorless_render": round(statistics.median(frame_s(t) for t in timings)
                                                           / statistics.median(floorless), 3),
                      "with_floor": sum(1 for i in range(args.n) if sample_scene(0, i, cfg, hdris).environment.ground)})
    return {
        "hair_detail": args.hair_detail,
        "strands_per_sample_median": statistics.median(strands),
        **extra,
        "resolution": [width, height],
        "samples_per_pixel": cfg.samples,
        "denoise": cfg.denoise,
        "device": args.device,
        "n": args.n,
        "framings": {f: framings.count(f) for f in sorted(set(framings))},
        "build_s": round(build_s, 3),
        "samples_per_min": round(60.0 * args.n / wall, 3),
        "median_s": {k: round(v, 4) for k, v in median.items()},
        "update_over_render": round(median["scene_update_s"] / median["render_s"], 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "cpu_count": os.cpu_count(),
    }


@contextlib.contextmanager
def _stdout_to_stderr():
    """Blender writes 'Saved: ...' lines to fd 1; keep them off the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


if __name__ == "__main__":
    main()
