"""Evaluate a checkpoint or an ONNX model (release contract, e.g. a released DAViD model) on data.

Prints a table of the paper's metrics per task, overall and per framing (face / upper / full),
and writes the same numbers as JSON (--out).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="synthhuman checkpoint (.pt)")
    model.add_argument("--onnx", help="ONNX file in the DAViD release contract")
    parser.add_argument(
        "--data", required=True, help="shard glob / brace pattern / dataset DIR / SynthHuman folder"
    )
    parser.add_argument("--out", help="write the report as JSON here")
    parser.add_argument(
        "--task",
        choices=("depth", "normals", "alpha"),
        help="task of a single-output ONNX file whose output name does not say",
    )
    parser.add_argument("--image-size", type=int, default=512, help="evaluation resolution (default 512)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="for checkpoints")
    parser.add_argument("--max-batches", type=int, help="stop after this many batches (quick checks)")


def run(args: argparse.Namespace) -> int:
    from synthhuman.train.evaluate import evaluate_source, format_table, write_report

    report = evaluate_source(
        args.data,
        args.checkpoint,
        args.onnx,
        args.task,
        args.image_size,
        args.batch_size,
        args.workers,
        args.device,
        args.max_batches,
    )
    print(format_table(report["metrics"]))
    if args.out:
        print(f"wrote {write_report(report, args.out)}")
    return 0
