"""Train a DAViD model (depth, normals, alpha or multi-task) on shards or a SynthHuman folder.

Defaults follow the paper: 100 epochs, AdamW, lr 1e-5 with cosine annealing, batch 24 per
GPU, 512x512 inputs. A YAML run file (--config) sets any TrainConfig key; flags override it.
Ctrl-C or SIGTERM stops at the next step and saves RUN/checkpoints/last.pt; --resume goes on
from there. Several GPUs or nodes: launch with torchrun (e.g. `torchrun --nproc-per-node 4
-m synthhuman.cli train ...`); only rank 0 logs and writes checkpoints.
"""

from __future__ import annotations

import argparse
import sys

from synthhuman.train.config import DEVICE_CHOICES, MODEL_CHOICES, TASK_CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # No argparse `choices` for task/model/device: TrainConfig.validate checks them for flags and
    # run files alike, with the same one-line message.
    parser.add_argument("--config", help="YAML run file with TrainConfig keys (flags below override it)")
    parser.add_argument("--task", help=f"{' | '.join(TASK_CHOICES)} (default depth)")
    parser.add_argument("--model", help=f"model size: {' | '.join(MODEL_CHOICES)} (default base)")
    parser.add_argument(
        "--data",
        help="training source: 'DIR/shards/*.tar', a brace pattern, pipe:..., a dataset DIR "
        "or a SynthHuman folder",
    )
    parser.add_argument("--eval-data", help="evaluated after every epoch (same forms as --data)")
    parser.add_argument("--out", help="run directory (default runs/david)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, help="per process / GPU (paper: 24)")
    parser.add_argument("--lr", type=float, help="peak learning rate (paper: 1e-5)")
    parser.add_argument(
        "--steps-per-epoch", type=int, help="fixed epoch length for streams (default: one pass)"
    )
    parser.add_argument("--image-size", type=int, help="training resolution S (S x S; default 512)")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        metavar="CKPT",
        help="continue from CKPT, or from RUN/checkpoints/last.pt when no path is given",
    )
    parser.add_argument("--pretrained-encoder", help="ViT weights (timm/DPT state-dict layout) to start from")
    parser.add_argument("--workers", type=int, help="DataLoader workers per process (default 4)")
    parser.add_argument("--device", help=f"{' | '.join(DEVICE_CHOICES)} (default auto)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar (logs still go to train.csv)")


def config_from_args(args: argparse.Namespace):  # -> TrainConfig
    """Run file (if any), then every flag that was given."""
    from synthhuman.train.config import TrainConfig, load_run_file, with_overrides

    cfg = load_run_file(args.config) if args.config else TrainConfig()
    flags = {
        "task": args.task,
        "model": args.model,
        "data": args.data,
        "eval_data": args.eval_data,
        "out": args.out,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "steps_per_epoch": args.steps_per_epoch,
        "pretrained_encoder": args.pretrained_encoder,
        "workers": args.workers,
        "device": args.device,
        "seed": args.seed,
    }
    cfg = with_overrides(cfg, flags)
    if args.image_size is not None:
        cfg.data_config = {**cfg.data_config, "image_size": args.image_size}
    return cfg


def run(args: argparse.Namespace) -> int:
    from synthhuman.train.engine import train_from_config

    cfg = config_from_args(args)
    result = train_from_config(cfg, resume=args.resume, progress=not args.no_progress)
    if result.checkpoint is None:  # not rank 0
        return 0 if result.outcome == "finished" else 130
    if result.outcome == "interrupted":
        print(
            f"synthhuman: interrupted at step {result.step} (epoch {result.epoch}); "
            f"saved {result.checkpoint}; continue with --resume",
            file=sys.stderr,
        )
        return 130
    print(f"trained {result.epoch} epochs, {result.step} steps; checkpoint {result.checkpoint}")
    return 0
