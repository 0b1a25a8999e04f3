"""`synthhuman` command line: one sub-command per job, each defined in its own module.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int`` and keeps
heavy imports (bpy, torch, ray) inside ``run`` so that ``synthhuman --help`` is instant and
works without the optional extras installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from synthhuman import __version__
from synthhuman.errors import UserError

# name -> (module, one-line help). Order is the order shown by --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "render": ("synthhuman.cmd_render", "render N samples into WebDataset shards (resumable)"),
    "inspect": ("synthhuman.cmd_inspect", "check a rendered dataset; write a contact sheet and HTML report"),
    "assets": ("synthhuman.cmd_assets", "list or verify the bundled assets and their licences"),
    "train": ("synthhuman.train.cmd_train", "train a DAViD depth / normals / alpha / multi-task model"),
    "evaluate": ("synthhuman.train.cmd_evaluate", "evaluate a checkpoint or ONNX model on shards or a SynthHuman folder"),
    "predict": ("synthhuman.train.cmd_predict", "predict depth, normals and alpha for images (+ relighting, matting, point cloud)"),
    "export": ("synthhuman.train.cmd_export", "export a checkpoint to ONNX (DAViD release contract)"),
    "convert": ("synthhuman.formats.cmd_convert", "convert between synthhuman shards and the public SynthHuman file layout"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthhuman",
        description="Synthetic human datasets with exact ground truth, and the DAViD models trained on them.",
    )
    parser.add_argument("--version", action="version", version=f"synthhuman {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # e.g. an optional extra is not installed
            command_parser = sub.add_parser(name, help=f"{help_text} [unavailable]", add_help=False)
            command_parser.add_argument("rest", nargs=argparse.REMAINDER)
            command_parser.set_defaults(_run=_unavailable(name, exc))
            continue
        command_parser = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def _unavailable(name: str, exc: ImportError):
    def run(args: argparse.Namespace) -> int:
        raise UserError(f"'synthhuman {name}' is unavailable: {exc} (install with: bash scripts/install.sh)")

    return run


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"synthhuman: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("synthhuman: interrupted; finished shards are kept, re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
