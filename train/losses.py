"""Training losses of DAViD (paper 3.3): matting, surface-normal and scale-shift-invariant depth terms.

All terms are pure functions `(pred, target, mask) -> scalar Tensor`; masks are (B,1,H,W) bool.
Masked terms use MiDaS' "batch-based" reduction (sum over all valid pixels of the batch divided
by their count), which weights images by their foreground area and gives 0, not NaN, for an
empty mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

_EPS = 1e-6
LAP_STYLES = ("hou_liu", "matting")  # definitions of the Laplacian term, see alpha_laplacian
REDUCTIONS = ("image", "batch")  # how the depth terms average over a batch, see depth_loss
DEPTH_DATA_TERMS = ("mse", "trimmed_mae")  # the depth data term, see depth_loss


@dataclass(frozen=True)
class LossWeights:
    """Loss weights; the paper weights BCE, L1 and Dice equally and uses w_lap < 1."""

    bce: float = 1.0
    l1: float = 1.0
    dice: float = 1.0
    lap: float = 0.5
    lap_levels: int = 5
    # "hou_liu": the formula of the paper's citation (Hou & Liu 2019) read literally: 2^i per
    # level including the low-pass residual. "matting": what matting codebases compute
    # (MatteFormer, FBA; ViTMatte's is this / 5): each band-pass level's mean times 2^i, no
    # residual, so a constant offset costs nothing. See `alpha_laplacian`.
    lap_style: str = "hou_liu"
    grad: float = 0.5  # MiDaS' alpha: L = sum(r^2)/(2M) + grad * L_grad, as in MiDaS' own loss
    grad_scales: int = 4
    # "image": each image's depth terms averaged over its own foreground, then images averaged
    # (MiDaS' "image-based" reduction; the metrics average per image too). "batch": MiDaS'
    # default, all valid pixels of the batch pooled, which weighs images by foreground area.
    depth_reduction: str = "batch"
    # (log s)^2 per image, s the least-squares scale of the depth alignment: anchors the raw
    # output's scale, which the aligned terms leave free. See depth_loss.
    depth_scale: float = 0.0
    # "mse": the paper's half mean square of the aligned residual. "trimmed_mae": MiDaS'
    # L_ssitrim, the mean absolute residual with the `depth_trim` largest fraction of each
    # image's residuals left out (hair strands, silhouette pixels), halved as MiDaS does.
    depth_data: str = "mse"
    depth_trim: float = 0.2
    depth: float = 1.0  # per-task weights, used when summing the multi-task loss
    normals: float = 1.0
    alpha: float = 1.0

    def __post_init__(self) -> None:
        if self.lap_style not in LAP_STYLES:  # fails when the run file is read, not at step 1
            raise ValueError(f"lap_style must be one of {', '.join(LAP_STYLES)}, got {self.lap_style!r}")
        if self.depth_data not in DEPTH_DATA_TERMS:
            raise ValueError(f"depth_data must be one of {', '.join(DEPTH_DATA_TERMS)}, got {self.depth_data!r}")
        if not 0.0 <= self.depth_trim < 1.0:
            raise ValueError(f"depth_trim must be in [0, 1), got {self.depth_trim}")
        if self.depth_reduction not in REDUCTIONS:
            raise ValueError(f"depth_reduction must be one of {', '.join(REDUCTIONS)}, "
                             f"got {self.depth_reduction!r}")


def _masked_mean(values: Tensor, mask: Tensor | None) -> Tensor:
    """Mean of `values` (B,C,H,W) over pixels where `mask` (B,1,H,W) holds; 0 for an empty mask."""
    if mask is None:
        return values.mean()
    m = mask.to(values.dtype).expand_as(values)
    return (values * m).sum() / m.sum().clamp_min(1.0)


def _reduce(values: Tensor, weight: Tensor, reduction: str) -> Tensor:
    """sum(values) / sum(weight) pooled over the batch ("batch"), or per image and then averaged
    over the batch ("image"; an image without weight counts 0, as in MiDaS'
    `reduction_image_based`). (B,...) each; 0 when no weight at all."""
    if reduction == "batch":
        return values.sum() / weight.sum().clamp_min(1.0)
    sums, counts = values.flatten(1).sum(1), weight.flatten(1).sum(1)
    return (sums / counts.clamp_min(1.0)).mean()


# --- soft foreground (alpha) -------------------------------------------------------------------


def alpha_bce(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of predicted alpha (already in [0,1]) against soft GT alpha.

    Written out with a clamp rather than F.binary_cross_entropy, which autocast refuses.
    For soft targets the minimum is the target's entropy, not 0.
    """
    p = pred.float().clamp(_EPS, 1 - _EPS)
    t = target.float()
    return _masked_mean(-(t * p.log() + (1 - t) * (1 - p).log()), mask)


def alpha_l1(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    return _masked_mean((pred.float() - target.float()).abs(), mask)


def alpha_dice(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Generalised Dice loss (Sudre et al. 2017, the paper's [41]) over foreground and background.

    Each class is weighted by 1 / (GT volume)^2 so a small subject still counts; per image, then
    averaged over the batch. (B,1,H,W) inputs. 0 for a perfect binary prediction; with soft GT
    the overlap sum(p*t) / sum(p+t) cannot reach 1/2, so the minimum is above 0.
    """
    p = pred.float().flatten(1)
    t = target.float().flatten(1)
    if mask is not None:
        keep = mask.flatten(1).float()
        p, t = p * keep, t * keep
    else:
        keep = torch.ones_like(p)
    probs = torch.stack([p, keep - p], dim=1)  # (B,2,N): foreground, background
    truth = torch.stack([t, keep - t], dim=1)
    volume = truth.sum(-1)
    w = torch.where(volume > 0, 1.0 / volume.clamp_min(_EPS).square(), torch.zeros_like(volume))
    # MONAI's GeneralizedDiceLoss: an empty class takes the largest weight of the other classes
    w = torch.where(volume > 0, w, w.amax(dim=1, keepdim=True))
    inter = (w * (probs * truth).sum(-1)).sum(-1)
    union = (w * (probs + truth).sum(-1)).sum(-1)
    return (1 - 2 * inter / union.clamp_min(_EPS)).mean()


def _gauss_blur(x: Tensor) -> Tensor:
    """5x5 binomial blur ([1,4,6,4,1]/16 separable) with replicate padding, per channel."""
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype, device=x.device) / 16
    kernel = (k1[:, None] * k1[None, :]).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernel, groups=x.shape[1])


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """Band-pass levels, finest first, then the low-pass residual: `levels` maps in all.

    x: (B,C,H,W) -> [(B,C,H,W), (B,C,H/2,W/2), ...]; stops early once a side would drop below 2.
    """
    out = []
    for _ in range(levels - 1):
        if min(x.shape[-2:]) < 4:
            break
        down = _gauss_blur(x)[..., ::2, ::2]
        up = F.interpolate(down, size=x.shape[-2:], mode="bilinear", align_corners=False)
        out.append(x - up)
        x = down
    out.append(x)
    return out


def alpha_laplacian(pred: Tensor, target: Tensor, levels: int = 5, style: str = "hou_liu") -> Tensor:
    """L1 between Laplacian pyramids of prediction and GT (Hou & Liu 2019, the paper's [12]).

    style "hou_liu" (default, the paper's citation): Hou & Liu's sum_i 2^(i-1) * ||L^i(a) -
    L^i(a_hat)||_1 (i = 1 the finest level, ||.||_1 a sum, the low-pass residual included),
    divided by the pixel count of the finest level so it is per pixel like the L1 term: a
    coarse level holds 4x fewer pixels, so fine detail weighs most. A constant offset c costs
    2^(levels-1) * c / 4^(levels-1).
    style "matting": sum_i 2^i * mean|band_i| over the `levels` band-pass levels only, as
    MatteFormer's and FBA's training code weigh it (ViTMatte divides that by 5): coarse bands
    weigh more, and a constant offset costs 0.
    The pyramid (5x5 binomial blur, replicate border) is linear, so it is taken once of the
    difference. (B,1,H,W) inputs.
    """
    if style not in LAP_STYLES:
        raise ValueError(f"lap_style must be one of {', '.join(LAP_STYLES)}, got {style!r}")
    diff = pred.float() - target.float()
    if style == "matting":
        bands = laplacian_pyramid(diff, levels + 1)[:-1]  # drop the residual
        return sum(2.0**i * band.abs().mean() for i, band in enumerate(bands))
    pyramid = laplacian_pyramid(diff, levels)
    pixels = pyramid[0].numel()
    return sum(2.0**i * band.abs().sum() for i, band in enumerate(pyramid)) / pixels


def alpha_loss(pred: Tensor, target: Tensor, weights: LossWeights) -> tuple[Tensor, dict[str, Tensor]]:
    """L_alpha = BCE + L1 + Dice + w_lap * L_lap over all pixels. pred, target: (B,1,H,W) in [0,1]."""
    terms = {
        "bce": alpha_bce(pred, target),
        "l1": alpha_l1(pred, target),
        "dice": alpha_dice(pred, target),
        "lap": alpha_laplacian(pred, target, weights.lap_levels, weights.lap_style),
    }
    total = (weights.bce * terms["bce"] + weights.l1 * terms["l1"] + weights.dice * terms["dice"]
             + weights.lap * terms["lap"])
    return total, terms


# --- surface normals ----------------------------------------------------------------------------


def normals_cosine(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """mean(1 - n_gt . n_pred) over the foreground; both re-normalised. (B,3,H,W), mask (B,1,H,W)."""
    cos = (F.normalize(pred.float(), dim=1, eps=_EPS) * F.normalize(target.float(), dim=1, eps=_EPS)).sum(1)
    return _masked_mean((1 - cos).unsqueeze(1), mask)


# --- relative depth -----------------------------------------------------------------------------


def depth_valid(depth: Tensor, mask: Tensor) -> Tensor:
    """Foreground pixels with a usable depth: mask & finite & > 0 (0 marks off-foreground)."""
    return mask.bool() & torch.isfinite(depth) & (depth > 0)


def normalise_depth(depth: Tensor, mask: Tensor) -> Tensor:
    """d = (d* - min) / (max - min) per image over the mask; 0 off the mask. (B,1,H,W)."""
    d = depth.float()
    lo = torch.where(mask, d, torch.inf).amin(dim=(1, 2, 3), keepdim=True)
    hi = torch.where(mask, d, -torch.inf).amax(dim=(1, 2, 3), keepdim=True)
    lo = torch.where(torch.isfinite(lo), lo, torch.zeros_like(lo))
    span = torch.where(torch.isfinite(hi), hi - lo, torch.ones_like(hi)).clamp_min(_EPS)
    return torch.where(mask, (d - lo) / span, torch.zeros_like(d))


def align_scale_shift(pred: Tensor, target: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image least-squares s, t minimising sum_mask (s*pred + t - target)^2 (MiDaS).

    Closed form on centred values (better conditioned than the raw 2x2 normal equations).
    The scale's sign is fixed positive: s = |cov| / var, the least-squares magnitude. For a
    prediction that grows with the GT this is the plain least-squares fit; a flipped one is
    fitted mirrored, which costs more than a flat map (var_d * (1 + 3 rho^2) against var_d)
    and still has a gradient pointing back towards the right sign. So the loss fixes the sign
    (the raw output grows with the normalised GT: larger = farther) without the dead zone a
    clamp at s = 0 has (there a flipped image gives no gradient at all, measured in issue 18).
    Images with fewer than 2 valid pixels or a constant prediction get s = 0, t = GT mean.
    Returns s, t of shape (B,1,1,1); differentiable in `pred`.
    """
    m = mask.to(pred.dtype)
    dims = (1, 2, 3)
    n = m.sum(dims, keepdim=True)
    n_safe = n.clamp_min(1.0)
    mp = (m * pred).sum(dims, keepdim=True) / n_safe
    mt = (m * target).sum(dims, keepdim=True) / n_safe
    var = (m * (pred - mp).square()).sum(dims, keepdim=True)
    cov = (m * (pred - mp) * (target - mt)).sum(dims, keepdim=True)
    valid = (n >= 2) & (var > 1e-12 * n_safe)
    s = torch.where(valid, cov.abs() / torch.where(valid, var, torch.ones_like(var)), torch.zeros_like(var))
    t = mt - s * mp  # s = 0 (flat prediction): t is the GT mean, the best constant
    return s, t


def gradient_matching(residual: Tensor, mask: Tensor, scales: int = 4, reduction: str = "batch") -> Tensor:
    """MiDaS multi-scale gradient-matching loss on a residual R = aligned prediction - GT.

    At scale k (every 2^k-th pixel) sum |dR/dx| + |dR/dy| over pixel pairs valid on both sides,
    divided by the valid-pixel count at that scale (of the batch, or of each image and then
    averaged over images: see `_reduce`); summed over scales. residual, mask (B,1,H,W).
    """
    total = residual.new_zeros(())
    for k in range(scales):
        step = 2**k
        r = residual[..., ::step, ::step]
        m = mask[..., ::step, ::step].to(r.dtype)
        r = r * m
        gx = (r[..., :, 1:] - r[..., :, :-1]).abs() * (m[..., :, 1:] * m[..., :, :-1])
        gy = (r[..., 1:, :] - r[..., :-1, :]).abs() * (m[..., 1:, :] * m[..., :-1, :])
        grads = gx.flatten(1).sum(1, keepdim=True) + gy.flatten(1).sum(1, keepdim=True)
        total = total + _reduce(grads, m, reduction)
    return total


def depth_ssi_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """MSE(s*d_hat + t, d) on the foreground, d the min-max normalised GT. (B,1,H,W) each."""
    valid = depth_valid(target, mask)
    d = normalise_depth(target, valid)
    s, t = align_scale_shift(pred.float(), d, valid)
    return _masked_mean((s * pred.float() + t - d).square(), valid)


def trimmed_keep(residual: Tensor, valid: Tensor, trim: float) -> Tensor:
    """valid minus each image's `trim` fraction of largest |residual| (MiDaS' trimming). (B,1,H,W) bool."""
    if trim <= 0:
        return valid
    flat = torch.where(valid, residual.detach().abs(), torch.full_like(residual, torch.inf)).flatten(1)
    rank = flat.argsort(dim=1).argsort(dim=1)  # 0 = smallest residual of the image
    keep = (valid.flatten(1).sum(1, keepdim=True).float() * (1 - trim)).floor()
    return (rank < keep).view_as(valid) & valid


def depth_loss(pred: Tensor, target: Tensor, mask: Tensor,
               weights: LossWeights) -> tuple[Tensor, dict[str, Tensor]]:
    """L_d = sum(r^2)/(2M) + w_grad * L_grad(r), r = s*d_hat + t - d, foreground only (eq. 4).

    The data term is MiDaS' (half the mean square, M valid pixels), so `weights.grad` is
    exactly MiDaS' alpha; "mse" in the named terms is that half mean square.

    pred: relative depth (B,1,H,W); target: depth in metres (B,1,H,W), 0 off the foreground.
    """
    valid = depth_valid(target, mask)
    d = normalise_depth(target, valid)
    s, t = align_scale_shift(pred.float(), d, valid)
    residual = s * pred.float() + t - d
    m = valid.to(residual.dtype)
    if weights.depth_data == "trimmed_mae":
        kept = trimmed_keep(residual, valid, weights.depth_trim).to(residual.dtype)
        data = 0.5 * _reduce(residual.abs() * kept, kept, weights.depth_reduction)
    else:
        data = 0.5 * _reduce(residual.square() * m, m, weights.depth_reduction)
    terms = {weights.depth_data: data,
             "grad": gradient_matching(residual, valid, weights.grad_scales, weights.depth_reduction)}
    fitted = s > 0  # s = 0: flat prediction or no valid pixels, no scale to anchor
    log_s = torch.where(fitted, s.clamp_min(_EPS).log(), torch.zeros_like(s))
    terms["scale"] = log_s.square().sum() / fitted.sum().clamp_min(1)
    total = data + weights.grad * terms["grad"]
    if weights.depth_scale:
        total = total + weights.depth_scale * terms["scale"]
    return total, terms


# --- per task and multi-task --------------------------------------------------------------------


def task_loss(task: str, pred: dict[str, Tensor], batch: dict[str, Tensor],
              weights: LossWeights) -> tuple[Tensor, dict[str, Tensor]]:
    """Loss of one task, or of all three for task "multi" (summed with the per-task weights).

    pred: model output dict; batch: rgb, alpha, depth, normals (B,C,H,W) and mask (B,1,H,W) bool.
    Returns the differentiable total and detached named terms ("depth/mse", ..., "depth", "total").
    """
    tasks = ("depth", "normals", "alpha") if task == "multi" else (task,)
    if not set(tasks) <= {"depth", "normals", "alpha"}:
        raise ValueError(f"unknown task {task!r}")
    total = pred[tasks[0]].new_zeros(()).float()
    named: dict[str, Tensor] = {}
    for name in tasks:
        if name == "alpha":
            value, terms = alpha_loss(pred["alpha"], batch["alpha"], weights)
        elif name == "normals":
            value = normals_cosine(pred["normals"], batch["normals"], batch["mask"])
            terms = {"cos": value}
        else:
            value, terms = depth_loss(pred["depth"], batch["depth"], batch["mask"], weights)
        named.update({f"{name}/{k}": v.detach() for k, v in terms.items()})
        named[name] = value.detach()
        total = total + getattr(weights, name) * value
    named["total"] = total.detach()
    return total, named
