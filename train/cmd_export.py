"""Export a checkpoint to ONNX in the DAViD release contract and check it against PyTorch.

By default the file is what the release's runtime loads: a static 1 x 3 x 512 x 512 BGR input
in [0,1] (no mean/std; replicate-pad to square, then resize) and outputs named depth (1 x H x W),
normal, foreground (that order for multi-task models). ``--dynamic`` declares N, H, W free
(H, W multiples of 16). The export is verified with onnxruntime (at 512x512 and 384x512 when
dynamic); the largest difference is printed.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="synthhuman checkpoint (.pt)")
    parser.add_argument("--onnx", required=True, help="output .onnx path")
    parser.add_argument("--size", type=int, default=512,
                        help="input size S of the 1x3xSxS graph, a multiple of 16 (default 512, the release's)")
    parser.add_argument("--dynamic", action="store_true",
                        help="declare batch, height and width dynamic (not loadable by the release runtime)")


def run(args: argparse.Namespace) -> int:
    from synthhuman.train.export import export_checkpoint

    from synthhuman.errors import UserError

    if args.size <= 0 or args.size % 16:
        raise UserError(f"--size must be a positive multiple of 16, got {args.size}")
    diffs = export_checkpoint(args.checkpoint, args.onnx, args.size, dynamic=args.dynamic)
    worst = max(v for per_size in diffs.values() for v in per_size.values())
    print(f"wrote {args.onnx}; onnxruntime vs PyTorch max abs diff {worst:.3g} ({diffs})")
    if worst > 1e-3:
        raise UserError(f"exported graph differs from PyTorch by {worst:.3g} (> 1e-3); not usable")
    return 0
