"""What ``synthhuman inspect`` shows: attribute statistics, the contact sheet and the HTML report.

Pillow and hand-written SVG only (no matplotlib), so the report costs no extra dependency
and the HTML is one self-contained file that can be mailed or attached to an issue.
"""

from __future__ import annotations

import base64
import html
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from synthhuman.dataset_stats import DatasetStats
from synthhuman.sample import RenderedSample

if TYPE_CHECKING:
    from synthhuman.inspect import InspectResult

PANEL_MAX_HEIGHT = 256  # contact-sheet panels are downscaled to at most this many rows
# Viridis at 9 evenly spaced stops: perceptually ordered, readable in grey, no matplotlib.
VIRIDIS = np.array([
    [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]], dtype=np.float64)
PRIMARY_PHENOTYPES = ("age", "gender", "weight", "height")  # shown first; others follow


# --------------------------------------------------------------------------- contact sheet


def colourise_depth(depth: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Viridis over the foreground's min..max depth, near = yellow, far = purple; black off it."""
    out = np.zeros((*depth.shape, 3), dtype=np.uint8)
    valid = foreground & np.isfinite(depth)
    if not valid.any():
        return out
    lo, hi = float(depth[valid].min()), float(depth[valid].max())
    t = 1.0 - (depth[valid] - lo) / (hi - lo) if hi > lo else np.ones(int(valid.sum()))
    stops = np.linspace(0.0, 1.0, len(VIRIDIS))
    colours = np.stack([np.interp(t, stops, VIRIDIS[:, c]) for c in range(3)], axis=-1)
    out[valid] = colours.round().astype(np.uint8)
    return out


def sample_panels(sample: RenderedSample) -> list[np.ndarray]:
    """rgb | alpha (grey) | depth (colour-mapped) | normals ((n + 1) / 2), each (H, W, 3) uint8."""
    alpha = np.nan_to_num(np.clip(sample.alpha, 0, 1))
    foreground = sample.depth > 0
    normal_rgb = np.clip((np.nan_to_num(sample.normal) + 1.0) * 0.5 * 255.0, 0, 255).round().astype(np.uint8)
    normal_rgb[~foreground] = 0
    grey = (alpha * 255.0).round().astype(np.uint8)
    depth_rgb = colourise_depth(sample.depth, foreground)
    return [sample.rgb, np.repeat(grey[..., None], 3, axis=-1), depth_rgb, normal_rgb]


def contact_row(sample: RenderedSample, max_height: int = PANEL_MAX_HEIGHT) -> np.ndarray:
    """The sample's four panels side by side, downscaled so that the row is at most ``max_height`` tall."""
    height, width = sample.height, sample.width
    scale = min(1.0, max_height / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    panels = []
    for i, panel in enumerate(sample_panels(sample)):
        image = Image.fromarray(np.ascontiguousarray(panel))
        if size != (width, height):  # smooth images bilinear; keep depth/normal edges crisp
            image = image.resize(size, Image.Resampling.BILINEAR if i < 2 else Image.Resampling.NEAREST)
        panels.append(np.asarray(image))
    return np.concatenate(panels, axis=1)


def write_contact_sheet(rows: list[np.ndarray], path: Path) -> Path:
    """Stack rows top to bottom (narrower rows padded with black) into one PNG."""
    width = max(row.shape[1] for row in rows)
    padded = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(padded, axis=0)).save(path, optimize=True)
    return path


# --------------------------------------------------------------------------- SVG charts


def svg_histogram(values: list[float], title: str, bins: int = 20, lo: float | None = None,
                  hi: float | None = None) -> str:
    """A small inline SVG histogram (bars over ``bins`` equal bins of lo..hi)."""
    if not values:
        return ""
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    hi = hi if hi > lo else lo + 1.0
    counts, _ = np.histogram(values, bins=bins, range=(lo, hi))
    labels = [f"{lo + (hi - lo) * i / bins:.3g}" for i in range(bins)]
    return _svg_bars(title, [int(c) for c in counts], labels, f"{lo:.3g}", f"{hi:.3g}", f"n = {len(values)}")


def svg_counts(counter: Counter, title: str) -> str:
    """Bars for categorical counts (framing, HDRI id), one per category, most frequent first."""
    if not counter:
        return ""
    items = counter.most_common(40)
    return _svg_bars(title, [c for _, c in items], [str(k) for k, _ in items], "", "",
                     f"{len(counter)} distinct", category_labels=True)


def _svg_bars(title: str, counts: list[int], tips: list[str], left: str, right: str, note: str,
              category_labels: bool = False) -> str:
    width, height, top, bottom = 320, 150, 22, 40 if category_labels else 18
    bar_w = (width - 10) / len(counts)
    peak = max(counts) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart">',
             f'<text x="5" y="14" class="title">{html.escape(title)} ({html.escape(note)})</text>']
    for i, count in enumerate(counts):
        h = (height - top - bottom) * count / peak
        x, y = 5 + i * bar_w, height - bottom - h
        tip = html.escape(f"{tips[i]}: {count}")
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}">'
                     f"<title>{tip}</title></rect>")
        if category_labels:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 12}" class="tick" '
                         f'text-anchor="middle">{html.escape(tips[i][-10:])}</text>')
    if not category_labels:
        parts.append(f'<text x="5" y="{height - 4}" class="tick">{html.escape(left)}</text>')
        parts.append(f'<text x="{width - 5}" y="{height - 4}" class="tick" text-anchor="end">'
                     f"{html.escape(right)}</text>")
    return "".join(parts) + "</svg>"


def attribute_charts(stats: DatasetStats) -> list[str]:
    """Every chart of the report, primary phenotypes first."""
    names = [n for n in PRIMARY_PHENOTYPES if n in stats.phenotype]
    names += sorted(n for n in stats.phenotype if n not in PRIMARY_PHENOTYPES)
    charts = [svg_counts(stats.framing, "framing"), svg_counts(stats.hdri, "HDRI")]
    charts += [svg_histogram(stats.phenotype[n], f"phenotype {n}", lo=0.0, hi=1.0) for n in names]
    charts += [svg_histogram(stats.melanin, "skin melanin", lo=0.0, hi=1.0),
               svg_histogram(stats.focal_mm, "focal length (mm, 36 mm sensor)"),
               svg_histogram(stats.focal_px, "focal length (px)"),
               svg_histogram(stats.coverage, "foreground coverage (mean alpha)", lo=0.0, hi=1.0)]
    if stats.hair_people:
        charts += [svg_counts(stats.head_style, "head hair style"), svg_counts(stats.facial_style, "facial hair"),
                   svg_counts(stats.hair_color, "hair colour"),
                   svg_histogram(stats.hair_length_m, "head hair length (m)", lo=0.0)]
    if stats.outfit_people:
        charts += [svg_counts(stats.outfit_kind, "outfit (slot kind)"), svg_counts(stats.fabric, "fabric")]
    return [c for c in charts if c]


# --------------------------------------------------------------------------- HTML

MAX_LISTED = 1000  # problems listed in the HTML; problems.txt beside it holds them all
STYLE = """body{font:14px system-ui,sans-serif;margin:24px;max-width:1400px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}
.chart{margin:4px;background:#fafafa}
.chart rect{fill:#3b518b}.title{font-size:11px}.tick{font-size:9px;fill:#555}.bad{color:#b00020}
.ok{color:#1b7f3b}img{image-rendering:pixelated;max-width:100%}li{font-family:monospace}"""


def summary_rows(result: InspectResult) -> list[tuple[str, str]]:
    """(label, value) pairs shared by the terminal summary and the HTML table."""
    manifest = result.manifest or {}
    rate = result.stats.samples / result.elapsed_s if result.elapsed_s > 0 else 0.0
    rows = [("dataset", str(result.out_dir)), ("samples decoded", str(result.stats.samples)),
            ("complete shards", str(len(result.shards))),
            ("incomplete shard files", str(len(result.incomplete))),
            ("failed samples (recorded)", str(len(result.failures))), ("problems", str(len(result.problems))),
            ("image sizes", ", ".join(f"{k} ({v})" for k, v in sorted(result.stats.sizes.items())))]
    names = ("seed", "n", "shard_size", "status", "renderer")
    rows += [(name, str(manifest[name])) for name in names if name in manifest]
    if isinstance(manifest.get("versions"), dict):
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in sorted(manifest["versions"].items()))))
    rows.append(("inspect time", f"{result.elapsed_s:.1f} s ({rate:.1f} samples/s)"))
    return rows


def _table(rows: list[tuple[str, str]], head: tuple[str, str] | None = None) -> str:
    header = f"<tr><th>{html.escape(head[0])}</th><th>{html.escape(head[1])}</th></tr>" if head else ""
    body = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in rows)
    return f"<table>{header}{body}</table>"


def _table4(rows: list[tuple[str, str, str, str]]) -> str:
    head = "<tr><th>style</th><th>observed</th><th>expected</th><th>z</th></tr>"
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _list(title: str, lines: list[str], css: str = "") -> str:
    if not lines:
        return ""
    shown = "".join(f"<li>{html.escape(line)}</li>" for line in lines[:MAX_LISTED])
    more = f"<p>... and {len(lines) - MAX_LISTED} more (problems.txt)</p>" if len(lines) > MAX_LISTED else ""
    return f'<h2 class="{css}">{html.escape(title)} ({len(lines)})</h2><ul>{shown}</ul>{more}'


def _licence_rows(licences: Any) -> list[tuple[str, str]]:
    if not isinstance(licences, dict):
        return []
    rows = []
    for name, entry in sorted(licences.items()):
        if isinstance(entry, dict):
            credit = "; ".join(map(str, entry.get("attribution", [])))
            rows.append((str(name), f"{entry.get('count', '?')} asset(s): {credit}"))
        else:
            rows.append((str(name), str(entry)))
    return rows


def groom_rows(result: InspectResult) -> list[tuple[str, str, str, str]]:
    """(kind, observed, expected under the dataset's config, z) for head and facial styles.

    Expected counts come from the config stored in dataset.json and each sample's own sex and
    age (``hair.expected_style_counts``); |z| > 3 on a few hundred samples means the grooms do
    not follow the config. Empty when the dataset has no grooms or no readable config.
    """
    from synthhuman.errors import UserError
    from synthhuman.hair import expected_style_counts, parse_hair_config

    stats = result.stats
    raw = ((result.manifest or {}).get("config") or {}).get("hair")
    if not stats.hair_people or not isinstance(raw, dict):
        return []
    try:
        cfg = parse_hair_config(raw)
    except UserError:
        return []
    head, facial = expected_style_counts(cfg, stats.hair_people)
    n = len(stats.hair_people)
    return (_z_rows("head", stats.head_style, head, n) + _z_rows("facial", stats.facial_style, facial, n))


def outfit_rows(result: InspectResult) -> list[tuple[str, str, str, str]]:
    """(slot kind, observed, expected under the dataset's config, z), as ``groom_rows`` for grooms:
    expected counts from the stored config and each sample's sex, age and framing
    (``outfit.expected_kind_counts``). Empty without outfits or a readable config."""
    from synthhuman.errors import UserError
    from synthhuman.outfit import expected_kind_counts, parse_outfit_config

    stats = result.stats
    raw = ((result.manifest or {}).get("config") or {}).get("outfit")
    if not stats.outfit_people or not isinstance(raw, dict):
        return []
    try:
        cfg = parse_outfit_config(raw)
    except UserError:
        return []
    observed = {slot: {k.split(" ", 1)[1]: v for k, v in stats.outfit_kind.items() if k.startswith(slot + " ")}
                for slot in ("top", "bottom", "shoes", "glasses", "headwear")}
    n = len(stats.outfit_people)
    expected = expected_kind_counts(cfg, stats.outfit_people)
    return [row for slot, exp in expected.items() for row in _z_rows(slot, observed[slot], exp, n)]


def _z_rows(prefix: str, observed: dict[str, int], expected: dict[str, float], n: int) -> list[tuple[str, str, str, str]]:
    """Binomial z of each observed count against its expectation over n samples."""
    rows = []
    for name, exp in expected.items():
        obs = observed.get(name, 0)
        sd = math.sqrt(max(exp * (1 - exp / n), 1e-9))
        rows.append((f"{prefix} {name}", str(obs), f"{exp:.1f}", f"{(obs - exp) / sd:+.1f}"))
    return rows


def write_html(result: InspectResult, path: Path, sheet: Path | None) -> Path:
    """One self-contained page: summary, problems, charts, the contact sheet inlined as base64."""
    stats = result.stats
    grooms = groom_rows(result)
    outfits = outfit_rows(result)
    verdict = ('<p class="ok">no integrity problems</p>' if not result.problems
               else f'<p class="bad">{len(result.problems)} integrity problem(s)</p>')
    timings = [(stage, f"{mean:.3f} s") for stage, mean in stats.timing_means().items()]
    title = html.escape(result.out_dir.name)
    parts = [f"<!doctype html><meta charset=utf-8><title>synthhuman inspect: {title}</title>",
             f"<style>{STYLE}</style><h1>synthhuman inspect</h1>{verdict}",
             _table(summary_rows(result)),
             "<h2>Framing</h2>" + _table([(k, str(v)) for k, v in sorted(stats.framing.items())],
                                         ("framing", "samples")),
             "<h2>Mean time per sample</h2>" + _table(timings, ("stage", "mean")) if timings else "",
             "<h2>Licences</h2>" + _table(_licence_rows((result.manifest or {}).get("licences")))
             if _licence_rows((result.manifest or {}).get("licences")) else "",
             "<h2>Grooms against the config</h2>" + _table4(grooms) if grooms else "",
             "<h2>Outfits against the config</h2>" + _table4(outfits) if outfits else "",
             "<h2>Attributes</h2><div>" + "".join(attribute_charts(stats)) + "</div>",
             _list("Problems", result.problems, "bad"), _list("Failed samples", result.failures),
             _list("Warnings", result.warnings), _list("Incomplete shard files", result.incomplete)]
    if sheet is not None and sheet.exists():
        data = base64.b64encode(sheet.read_bytes()).decode()
        labels = "".join(f"<li>{html.escape(label)}</li>" for label, _ in result.contact_rows)
        parts.append("<h2>Contact sheet</h2>"
                     "<p>rgb | alpha | depth (near = yellow) | normals ((n + 1) / 2)</p>"
                     f'<img alt="contact sheet" src="data:image/png;base64,{data}"><ol>{labels}</ol>')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(p for p in parts if p) + "\n")
    return path
