"""Evaluation metrics for depth, normals and matting, per image, and their per-group averages.

Per-image functions take torch tensors of one image: pred/target (C,H,W) (C = 1 for depth and
alpha, 3 for normals) and an optional bool mask (1,H,W) or (H,W); they return plain floats.
Metrics are computed in float64 on the CPU, independent of the training dtype.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

NORMAL_THRESHOLDS_DEG = (11.25, 22.5, 30.0)
MIN_DEPTH_EVAL_M = 1e-3  # ZoeDepth's min_depth_eval: aligned depth is clipped to it


def _prep(pred: Tensor, target: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """(C,H,W) float64 pred/target and an (H,W) bool mask (all True when None)."""
    p = pred.detach().to("cpu", torch.float64)
    t = target.detach().to("cpu", torch.float64)
    if p.ndim == 2:
        p, t = p[None], t[None]
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and target {tuple(t.shape)} differ")
    m = torch.ones(p.shape[-2:], dtype=torch.bool) if mask is None else mask.detach().cpu().bool()
    return p, t, m.reshape(p.shape[-2:])


# --- depth --------------------------------------------------------------------------------------


def align_depth(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """s*pred + t with s, t the least-squares fit to `target` over `mask` (MiDaS style). (H,W)."""
    p, g = pred[mask], target[mask]
    var = (p - p.mean()).square().sum()
    s = ((p - p.mean()) * (g - g.mean())).sum() / var if var > 0 else p.new_zeros(())
    return s * pred + (g.mean() - s * p.mean())


def depth_metrics(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> dict[str, float]:
    """RMSE (metres), AbsRel and delta1 after aligning relative depth to GT depth in metres.

    As the DAViD release evaluates: masked least-squares scale and shift of the prediction onto
    the metric GT, then errors over the foreground. Valid pixels: mask & finite & GT > 0.
    The aligned prediction is clipped to MIN_DEPTH_EVAL_M first, as ZoeDepth does.
    Returns NaNs when fewer than 2 pixels are valid (the accumulator skips such images).
    """
    p, g, m = _prep(pred, target, mask)
    p, g = p[0], g[0]
    valid = m & torch.isfinite(g) & (g > 0)
    if valid.sum() < 2:
        return {"rmse": math.nan, "absrel": math.nan, "delta1": math.nan}
    # ZoeDepth clips predictions to its min_depth_eval (1e-3 m) before every metric
    a, g = align_depth(p, g, valid)[valid].clamp_min(MIN_DEPTH_EVAL_M), g[valid]
    ratio = torch.maximum(a / g, g / a)
    return {
        "rmse": (a - g).square().mean().sqrt().item(),
        "absrel": ((a - g).abs() / g).mean().item(),
        "delta1": (ratio < 1.25).double().mean().item(),
    }


# --- surface normals ----------------------------------------------------------------------------


def angular_error_deg(pred: Tensor, target: Tensor) -> Tensor:
    """Per-pixel angle in degrees between (3,H,W) normal maps (both re-normalised) -> (H,W)."""
    cos = (F.normalize(pred, dim=0) * F.normalize(target, dim=0)).sum(0).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))


def normal_errors_deg(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Angular errors (degrees, float64) at the valid pixels: mask & finite & non-zero GT."""
    p, g, m = _prep(pred, target, mask)
    valid = m & torch.isfinite(g).all(0) & (g.norm(dim=0) > 0)
    return angular_error_deg(p, g)[valid]


def normals_metrics(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> dict[str, float]:
    """Mean and median angular error (degrees) and % of pixels within 11.25/22.5/30 degrees.

    The median interpolates between the two middle values for an even count (numpy's median).
    """
    return normals_summary(normal_errors_deg(pred, target, mask))


def normals_summary(err: Tensor) -> dict[str, float]:
    """normals_metrics of precomputed angular errors (degrees); NaN for none."""
    if not err.numel():
        return {"mean": math.nan, "median": math.nan,
                **{f"within_{t:g}": math.nan for t in NORMAL_THRESHOLDS_DEG}}
    out = {"mean": err.mean().item(), "median": torch.quantile(err, 0.5).item()}
    out.update({f"within_{t:g}": 100.0 * (err < t).double().mean().item() for t in NORMAL_THRESHOLDS_DEG})
    return out


# --- matting ------------------------------------------------------------------------------------


def gauss_gradient_kernels(sigma: float = 1.4, epsilon: float = 1e-2) -> tuple[Tensor, Tensor]:
    """First-derivative-of-Gaussian filters (hx, hy), unit L2 norm, as the DIM/Rhemann eval code.

    Size 2*half+1 with half = ceil(sigma * sqrt(-2 log(sqrt(2 pi) sigma epsilon))) (9x9 at 1.4).
    """
    half = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * epsilon)))
    u = torch.arange(-half, half + 1, dtype=torch.float64)
    gauss = torch.exp(-u.square() / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    dgauss = -u * gauss / sigma**2
    hx = gauss[:, None] * dgauss[None, :]  # smooth along rows, differentiate along columns
    hx = hx / hx.square().sum().sqrt()
    return hx, hx.T.contiguous()


def _gradient_magnitude(img: Tensor, sigma: float) -> Tensor:
    """|grad img| with Gaussian-derivative filters, replicate border. (H,W) -> (H,W)."""
    hx, hy = gauss_gradient_kernels(sigma)
    half = hx.shape[0] // 2
    x = F.pad(img[None, None], (half, half, half, half), mode="replicate")
    g = F.conv2d(x, torch.stack([hx, hy])[:, None])[0]
    return g.square().sum(0).sqrt()


def largest_component(binary: np.ndarray) -> np.ndarray:
    """Largest 4-connected component of a bool map (all False when there is none)."""
    labels, count = ndimage.label(binary)
    if count == 0:
        return np.zeros_like(binary, dtype=bool)
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (int(np.argmax(sizes)) + 1)


def connectivity_error(pred: np.ndarray, target: np.ndarray, region: np.ndarray, step: float = 0.1) -> float:
    """Rhemann et al.'s connectivity error (the DIM evaluation code), summed over `region`, /1000.

    l(i) is the highest threshold at which pixel i still belongs to the largest connected
    component of (pred >= th) & (target >= th); phi = 1 - d * (d >= 0.15) with d = alpha - l.
    """
    thresholds = np.round(np.arange(0.0, 1.0 + step / 2, step), 10)
    level = np.full(pred.shape, -1.0)
    for lower, th in pairwise(thresholds):
        omega = largest_component((pred >= th) & (target >= th))
        level[(level == -1) & ~omega] = lower
    level[level == -1] = 1.0
    pred_d, target_d = pred - level, target - level
    pred_phi = 1 - pred_d * (pred_d >= 0.15)
    target_phi = 1 - target_d * (target_d >= 0.15)
    return float(np.abs(pred_phi - target_phi)[region].sum() / 1000.0)


def alpha_metrics(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> dict[str, float]:
    """SAD (/1000), MSE, Grad (sigma 1.4, /1000) and Conn (step 0.1, /1000) of alpha in [0,1].

    `mask` is the evaluated region (a trimap's unknown band); None evaluates the whole image,
    as PhotoMatte85/PPM-100 results are reported. MSE is per pixel of the region.
    """
    p, g, m = _prep(pred, target, mask)
    p, g = p[0], g[0]
    diff = (p - g)[m]
    grad_err = (_gradient_magnitude(p, 1.4) - _gradient_magnitude(g, 1.4)).square()[m]
    return {
        "sad": diff.abs().sum().item() / 1000.0,
        "mse": diff.square().mean().item() if diff.numel() else math.nan,
        "grad": grad_err.sum().item() / 1000.0,
        "conn": connectivity_error(p.numpy(), g.numpy(), m.numpy()),
    }


METRIC_FUNCTIONS = {"depth": depth_metrics, "normals": normals_metrics, "alpha": alpha_metrics}


POOLED_BIN_DEG = 0.01  # histogram bin of pooled normal errors: the pooled median is exact to 0.005 deg


class PooledNormalErrors:
    """Angular errors pooled over every valid pixel of every image, as a fixed-width histogram.

    Per-image averaging weighs a face crop's few hundred skin pixels like a full body's
    thousands; pooling weighs pixels equally, as the public normal-estimation references
    (e.g. omnidata, DSINE) report. The histogram keeps memory flat; the thresholds are bin
    edges, so the within-t percentages are exact.
    """

    def __init__(self) -> None:
        self.hist = np.zeros(round(180 / POOLED_BIN_DEG) + 1, dtype=np.int64)
        self.total = 0.0

    def add(self, err: Tensor) -> None:
        values = err.numpy()
        self.total += float(values.sum())
        bins = np.minimum((values / POOLED_BIN_DEG + 1e-9).astype(np.int64), len(self.hist) - 1)
        self.hist += np.bincount(bins, minlength=len(self.hist))

    def summary(self) -> dict[str, float]:
        count = int(self.hist.sum())
        if count == 0:
            return {}
        cum = np.cumsum(self.hist)
        median_bin = int(np.searchsorted(cum, count / 2))
        out = {"pooled_mean": self.total / count, "pooled_median": (median_bin + 0.5) * POOLED_BIN_DEG}
        for t in NORMAL_THRESHOLDS_DEG:
            out[f"pooled_within_{t:g}"] = 100.0 * float(cum[round(t / POOLED_BIN_DEG) - 1]) / count
        return out


class MetricAccumulator:
    """Averages per-image metrics per task, overall ("all") and per framing group (face/upper/full).

    Images whose metrics are NaN (no valid pixel) are counted under "skipped", not averaged.
    Normals also get pixel-pooled metrics (`pooled_mean`, `pooled_median`, `pooled_within_t`)
    next to the per-image averages (`mean`, `median`, `within_t`); see PooledNormalErrors.
    """

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self._skipped: dict[tuple[str, str], int] = defaultdict(int)
        self._pooled: dict[tuple[str, str], PooledNormalErrors] = defaultdict(PooledNormalErrors)

    def add(self, task: str, pred: Tensor, target: Tensor, mask: Tensor | None = None,
            group: str | Sequence[str] | None = None) -> None:
        """Add one image (C,H,W) or a batch (B,C,H,W); `group` per image or one for all."""
        if task not in METRIC_FUNCTIONS:
            raise ValueError(f"unknown task {task!r}; expected one of {sorted(METRIC_FUNCTIONS)}")
        if pred.ndim == 3:
            pred, target = pred[None], target[None]
            mask = None if mask is None else mask[None]
        groups = [group] * pred.shape[0] if group is None or isinstance(group, str) else list(group)
        for i in range(pred.shape[0]):
            m = None if mask is None else mask[i]
            if task == "normals":  # the errors once, for the per-image and the pooled metrics
                err = normal_errors_deg(pred[i], target[i], m)
                values = normals_summary(err)
                for key in {"all", groups[i]} - {None}:
                    self._pooled[task, key].add(err)
            else:
                values = METRIC_FUNCTIONS[task](pred[i], target[i], m)
            for key in {"all", groups[i]} - {None}:
                if any(math.isnan(v) for v in values.values()):
                    self._skipped[task, key] += 1
                    continue
                for name, v in values.items():
                    self._values[task, key][name].append(v)

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """{task: {group: {metric: mean over images, "images": n, "skipped": k}}}."""
        out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
        for task, key in sorted(set(self._values) | set(self._skipped)):
            values = self._values.get((task, key), {})
            row = {name: float(np.mean(v)) for name, v in values.items()}
            row["images"] = len(next(iter(values.values()))) if values else 0
            row["skipped"] = self._skipped.get((task, key), 0)
            if (task, key) in self._pooled:
                row.update(self._pooled[task, key].summary())
            out[task][key] = row
        return dict(out)
