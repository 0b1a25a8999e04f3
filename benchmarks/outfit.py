"""Garments on posed bodies: skin poke-through and build/fit cost per garment; prints JSON.

Issue 14's measure: over N sampled full-body specs of the default preset, the share of covered
skin points (body vertices under a garment, away from its cut edges) whose outward ray along
the skin normal never meets that garment, i.e. skin outside the cloth that covers it (target
< 0.1%), with the garments built and fitted exactly as a render does (no Blender needed).

    python benchmarks/outfit.py --n 100
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np
import trimesh

from synthhuman.config import load_config
from synthhuman.garments import build_outfit
from synthhuman.sampling import sample_scene


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    return trimesh.Trimesh(vertices, faces, process=False).vertex_normals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="posed full-body samples")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()

    from synthhuman.render.scene import BlenderRenderer  # posing as a render does (base poses included)

    renderer = BlenderRenderer(device="cpu")
    atlas = renderer.garment_atlas
    faces = renderer.body.faces
    cfg = load_config()
    missed, covered = defaultdict(int), defaultdict(int)
    build_s, fit_s, triangles = defaultdict(list), defaultdict(list), defaultdict(list)
    index = done = 0
    while done < args.n:
        spec = sample_scene(args.seed, index, cfg, ["hdri/city"])
        index += 1
        if spec.camera.framing != "full":
            continue
        done += 1
        vertices = renderer.body.pose(spec.body, spec.pose, renderer._base_rotations(spec.pose.base_pose)).vertices
        normals = vertex_normals(vertices, faces)
        t0 = time.perf_counter()
        garments = build_outfit(spec.outfit, atlas)
        t1 = time.perf_counter()
        for name, garment in garments.items():
            t2 = time.perf_counter()
            fitted = garment.fit(vertices, normals)
            fit_s[name].append(time.perf_counter() - t2)
            build_s[name].append((t1 - t0) / len(garments))
            triangles[name].append(len(garment.faces))
            ids = np.flatnonzero(garment.covered)
            cloth = trimesh.Trimesh(fitted, garment.faces, process=False)
            hit = cloth.ray.intersects_any(vertices[ids] + normals[ids] * 1e-5, normals[ids])
            missed[name] += int((~hit).sum())
            covered[name] += len(ids)
    total_missed, total = sum(missed.values()), sum(covered.values())
    print(json.dumps({
        "benchmark": "outfit", "samples": done,
        "poke_through_fraction": round(total_missed / max(total, 1), 6),
        "per_slot": {name: {"poke_through_fraction": round(missed[name] / max(covered[name], 1), 6),
                            "covered_points": covered[name], "garments": len(fit_s[name]),
                            "triangles_mean": round(float(np.mean(triangles[name]))),
                            "build_s_mean": round(float(np.mean(build_s[name])), 4),
                            "fit_s_mean": round(float(np.mean(fit_s[name])), 4)} for name in sorted(covered)},
    }))



if __name__ == "__main__":
    main()
