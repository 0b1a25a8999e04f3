"""Check a rendered dataset and summarise it: integrity problems, attribute statistics, a
contact sheet (rgb | alpha | depth | normals per sample) and a self-contained HTML report.

Exit status: 0 only when the dataset is whole and sound: every one of its ``n`` samples is
present and passes every check. 1 when integrity problems were found (one line each:
``shard-000003 / 000003012: depth > 0 where alpha == 0 at 14 px``), when any sample was
recorded as failed by the renderer (re-running the render retries them), or when samples are
missing (an interrupted run; ``--allow-incomplete`` turns that into a warning). 2 when the
input cannot be inspected at all (not a dataset folder, a corrupt tar). Unfinished shards
(temp files, a tar without its index) are listed, not read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

MAX_PRINTED = 1000  # problem lines printed; the report's problems.txt holds them all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR",
                        help="dataset folder (holds dataset.json and shards/)")
    parser.add_argument("--report", type=Path, default=None, metavar="PATH",
                        help="folder for index.html, contact_sheet.png, problems.txt (default: DIR/report)")
    parser.add_argument("--contact-rows", type=int, default=16, metavar="N",
                        help="samples shown in the contact sheet, one row each (default: 16; 0 = none)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="processes inspecting shards in parallel (default: 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or statistics; problems only")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="a dataset with fewer samples than its n (a run still going, or stopped) is a "
                             "warning, not a failure")


def run(args: argparse.Namespace) -> int:
    from synthhuman.errors import UserError
    from synthhuman.inspect import inspect_dataset
    from synthhuman.report import contact_row, write_contact_sheet, write_html

    if args.contact_rows < 0:
        raise UserError("--contact-rows must be >= 0")
    if args.workers < 1:
        raise UserError("--workers must be >= 1")
    result = inspect_dataset(args.dir, args.contact_rows, progress=not args.quiet, row_renderer=contact_row,
                             workers=args.workers, allow_incomplete=args.allow_incomplete)
    report_dir = args.report if args.report is not None else Path(args.dir) / "report"
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        rows = [row for _, row in result.contact_rows]
        sheet = write_contact_sheet(rows, report_dir / "contact_sheet.png") if rows else None
        (report_dir / "problems.txt").write_text("".join(f"{p}\n" for p in result.problems))
        page = write_html(result, report_dir / "index.html", sheet)
    except OSError as exc:
        raise UserError(f"cannot write the report into {report_dir}: {exc}") from None
    if not args.quiet:
        _print_summary(result)
    for line in result.problems[:MAX_PRINTED]:
        print(line)
    if len(result.problems) > MAX_PRINTED:
        print(f"... and {len(result.problems) - MAX_PRINTED} more problems: {report_dir / 'problems.txt'}")
    if result.failures:
        print(f"{len(result.failures)} sample(s) recorded as failed (re-run the render command to retry them)")
    verdict = f"{len(result.problems)} problem(s)" if result.problems else "no problems"
    print(f"{result.stats.samples} samples in {len(result.shards)} shards: {verdict}; report: {page}")
    return 1 if result.problems or result.failures else 0


def _print_summary(result) -> None:
    """Counts per framing, attribute ranges, timings, failures and warnings, for the terminal."""
    from synthhuman.report import PRIMARY_PHENOTYPES, groom_rows, outfit_rows, summary_rows

    stats = result.stats
    for label, value in summary_rows(result):
        print(f"{label:>26}: {value}")
    print("framing: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.framing.items())))
    print("hdri: " + ", ".join(f"{k} {v}" for k, v in stats.hdri.most_common()))
    print("environment: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.environment.items())))
    if stats.view:
        print("close-crop views: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.view.items()))
              + (" (blocked: the person covers the framed region from every fallback angle)"
                 if stats.view["blocked"] else ""))
    if stats.hair_people:
        print("hair: " + ", ".join(f"{k} {v}" for k, v in stats.head_style.most_common())
              + "; facial: " + ", ".join(f"{k} {v}" for k, v in stats.facial_style.most_common())
              + "; colour: " + ", ".join(f"{k} {v}" for k, v in stats.hair_color.most_common()))
        off = [f"{kind} (observed {obs}, expected {exp}, z {z})" for kind, obs, exp, z in groom_rows(result)
               if abs(float(z)) > 3]
        if off:
            print("grooms off the config (|z| > 3): " + "; ".join(off))
    if stats.outfit_people:
        print("outfit: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.outfit_kind.items()))
              + "; fabric: " + ", ".join(f"{k} {v}" for k, v in stats.fabric.most_common()))
        off = [f"{kind} (observed {obs}, expected {exp}, z {z})" for kind, obs, exp, z in outfit_rows(result)
               if abs(float(z)) > 3]
        if off:
            print("outfits off the config (|z| > 3): " + "; ".join(off))
    ranges = {f"phenotype {n}": stats.phenotype[n] for n in PRIMARY_PHENOTYPES if n in stats.phenotype}
    ranges.update({"melanin": stats.melanin, "focal mm": stats.focal_mm, "focal px": stats.focal_px,
                   "coverage": stats.coverage})
    for name, values in ranges.items():
        if values:
            mean = sum(values) / len(values)
            print(f"{name}: mean {mean:.3g}, min {min(values):.3g}, max {max(values):.3g}")
    means = stats.timing_means()
    if means:
        print("mean time per sample: " + ", ".join(f"{k} {v:.3f} s" for k, v in means.items()))
    for line in result.failures:
        print(f"failed: {line}")
    for line in result.warnings + [f"incomplete: {name}" for name in result.incomplete]:
        print(f"warning: {line}")
