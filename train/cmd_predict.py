"""Predict depth, normals and alpha for images, and run the paper's applications on them.

Per image STEM in --out: STEM_depth.exr/.png, STEM_normal.exr/.png, STEM_alpha.png (16-bit),
STEM_relit.png (Lambert + ambient from the normals, light --light-dir in the camera frame:
x right, y up, z towards the camera), STEM_composite.png (alpha matte over --background),
STEM_points.ply (2.5D point cloud). An input whose stem an earlier input already has is
written as STEM-2_*, STEM-3_*... (predict.json lists which input got which stem). Depth is relative (unknown scale and shift), so the point
cloud maps it to metres with guessed --near-m (closest point) and --range-m (subject depth)
and a pinhole of horizontal field of view --fov-deg.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="synthhuman checkpoint (.pt)")
    model.add_argument("--onnx", help="ONNX file in the DAViD release contract")
    parser.add_argument("images", nargs="+", help="input images (PNG/JPEG)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--task",
        choices=("depth", "normals", "alpha"),
        help="task of a single-output ONNX file whose output name does not say",
    )
    parser.add_argument(
        "--light-dir", default="0.5,0.5,1", help="direction towards the light, x,y,z (camera frame)"
    )
    parser.add_argument("--ambient", type=float, default=0.25, help="ambient term of the relighting, 0..1")
    parser.add_argument(
        "--background", help="replacement background: an image file or a colour (#00ff00, green, 0,255,0)"
    )
    parser.add_argument(
        "--fov-deg", type=float, default=50.0, help="horizontal field of view for the point cloud"
    )
    parser.add_argument(
        "--near-m", type=float, default=2.0, help="guessed distance of the nearest point, metres"
    )
    parser.add_argument(
        "--range-m", type=float, default=0.5, help="guessed depth extent of the subject, metres"
    )
    parser.add_argument(
        "--invert-depth",
        action="store_true",
        help="the model's depth grows towards the camera (e.g. a DAViD single-task release)",
    )
    parser.add_argument("--size", type=int, default=512, help="model input size (default 512)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="for checkpoints")


def run(args: argparse.Namespace) -> int:
    from synthhuman.train.applications import parse_vector
    from synthhuman.train.predict import PredictOptions, load_backend, output_stems, predict_files

    from synthhuman.errors import UserError

    if not 0.0 <= args.ambient <= 1.0:
        raise UserError(f"--ambient must be in [0, 1], got {args.ambient}")
    if args.size <= 0 or args.size % 16:
        raise UserError(f"--size must be a positive multiple of 16, got {args.size}")
    opts = PredictOptions(
        size=args.size,
        light_dir=tuple(parse_vector(args.light_dir)),
        ambient=args.ambient,
        background=args.background,
        fov_deg=args.fov_deg,
        near_m=args.near_m,
        range_m=args.range_m,
        invert_depth=args.invert_depth,
    )
    backend = load_backend(args.checkpoint, args.onnx, args.task, args.device)
    written = predict_files(backend, args.images, args.out, opts)
    for path, stem in zip(args.images, output_stems(args.images), strict=True):
        if stem != Path(path).stem:
            print(f"{path}: its stem is taken by an earlier input, written as {stem}_*")
    print(f"wrote {len(written)} files for {len(args.images)} images to {args.out}")
    return 0
