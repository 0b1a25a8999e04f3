"""Training augmentations (paper B.6): a random policy samples parameters, one transform applies them.

Split as detectron2 splits it: :func:`sample_augmentation` draws an :class:`AugmentParams`
from an explicit ``np.random.Generator``; :func:`apply_augmentation` is deterministic given
those parameters and applies each one to every modality with that modality's rule:

- geometric (scale, shift of the ROI, optional in-plane rotation, horizontal flip) move
  image and ground truth together: RGB and alpha bilinear, depth and normals nearest
  (never averaged across a silhouette) with a validity mask. Scale changes apparent size
  only: metric depth values are NOT changed, because the augmentation mimics a different
  focal length/crop, not a different distance. Normals are camera-frame vectors: flip
  negates x, rotation rotates (x, y) with the image, then they are renormalised.
- photometric (blur, ISO noise, brightness, contrast, hue, saturation, grey, JPEG) touch
  RGB only. They run in camera-pipeline order: optics blur, sensor noise, then colour
  edits, then JPEG compression last, as a real camera would.

Sample tensors are a dict of channel-first float tensors: ``rgb`` (3,H,W) in [0,1],
``alpha`` (1,H,W), ``depth`` (1,H,W) metres, ``normals`` (3,H,W), ``mask`` (1,H,W) bool.
The paper publishes no parameter values: the defaults of :class:`AugmentConfig` are ours.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from synthhuman import outputs

Range = tuple[float, float]


@dataclass(frozen=True)
class AugmentConfig:
    """Probability and range of each augmentation (``*_prob`` in [0,1]; ranges are (lo, hi))."""

    scale_prob: float = 0.5
    scale_range: Range = (0.8, 1.25)  # > 1 zooms in
    shift_prob: float = 0.5
    shift_max: float = 0.1  # ROI shift, fraction of width/height, each axis in [-max, max]
    rotate_prob: float = 0.0  # not in the paper: off by default, supported for experiments
    rotate_max_deg: float = 10.0
    flip_prob: float = 0.5
    blur_prob: float = 0.2
    blur_sigma_frac: Range = (0.0005, 0.004)  # Gaussian sigma / image size: 0.26..2 px at 512
    noise_prob: float = 0.3
    noise_photons: Range = (200.0, 2000.0)  # Poisson photons at intensity 1: fewer = noisier
    noise_sigma: Range = (0.0, 0.02)  # signal-independent Gaussian read noise
    brightness_prob: float = 0.5
    brightness_range: Range = (-0.1, 0.1)  # additive offset
    contrast_prob: float = 0.5
    contrast_range: Range = (-0.25, 0.25)  # c in (img - 0.5)(1 + c) + 0.5
    hue_prob: float = 0.3
    hue_range_deg: Range = (-10.0, 10.0)  # rotation of the chroma plane (YIQ)
    saturation_prob: float = 0.3
    saturation_range: Range = (0.7, 1.3)  # chroma gain
    grey_prob: float = 0.05
    jpeg_prob: float = 0.3
    jpeg_quality: Range = (30.0, 95.0)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):  # YAML run files give lists; params must stay hashable
                value = tuple(value)
                object.__setattr__(self, f.name, value)
            if f.name.endswith("_prob") and not 0.0 <= value <= 1.0:
                raise ValueError(f"AugmentConfig.{f.name} = {value}: a probability must be in [0, 1]")
            if isinstance(value, tuple) and not (len(value) == 2 and value[0] <= value[1]):
                raise ValueError(f"AugmentConfig.{f.name} = {value}: expected (lo, hi) with lo <= hi")
        if self.scale_range[0] <= 0:
            raise ValueError(f"AugmentConfig.scale_range = {self.scale_range}: scales must be > 0")
        if self.noise_photons[0] <= 0:
            raise ValueError(f"AugmentConfig.noise_photons = {self.noise_photons}: must be > 0")


@dataclass(frozen=True)
class AugmentParams:
    """One sample's drawn augmentation; the defaults are the identity."""

    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)  # (x, y) fraction of width/height; + moves content right/down
    rotate_deg: float = 0.0  # counter-clockwise as displayed
    flip: bool = False
    blur_sigma_frac: float = 0.0
    noise_photons: float | None = None
    noise_sigma: float = 0.0
    noise_seed: int = 0
    brightness: float = 0.0
    contrast: float = 0.0
    hue_deg: float = 0.0
    saturation: float = 1.0
    grey: bool = False
    jpeg_quality: int | None = None

    @property
    def is_geometric_identity(self) -> bool:
        return self.scale == 1.0 and self.shift == (0.0, 0.0) and self.rotate_deg == 0.0 and not self.flip


def sample_rng(seed: int, epoch: int, key: str) -> np.random.Generator:
    """The rng of one sample in one epoch: independent of worker count, order and machine."""
    key_int = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, key_int]))


def _maybe(rng: np.random.Generator, prob: float, lo: float, hi: float, default: Any) -> Any:
    """Draw a gate and a value every time, so each augmentation's stream is fixed by position."""
    gate, value = rng.random(), rng.uniform(lo, hi)
    return value if gate < prob else default


def sample_augmentation(rng: np.random.Generator, cfg: AugmentConfig) -> AugmentParams:
    """Draw one sample's parameters. Always consumes the same number of draws from ``rng``."""
    shift_on = rng.random() < cfg.shift_prob
    shift = rng.uniform(-cfg.shift_max, cfg.shift_max, size=2)
    photons = _maybe(rng, cfg.noise_prob, *cfg.noise_photons, default=None)
    noise_sigma = rng.uniform(*cfg.noise_sigma)
    jpeg = _maybe(rng, cfg.jpeg_prob, *cfg.jpeg_quality, default=None)
    return AugmentParams(
        scale=float(_maybe(rng, cfg.scale_prob, *cfg.scale_range, default=1.0)),
        shift=(float(shift[0]), float(shift[1])) if shift_on else (0.0, 0.0),
        rotate_deg=float(_maybe(rng, cfg.rotate_prob, -cfg.rotate_max_deg, cfg.rotate_max_deg, default=0.0)),
        flip=bool(rng.random() < cfg.flip_prob),
        blur_sigma_frac=float(_maybe(rng, cfg.blur_prob, *cfg.blur_sigma_frac, default=0.0)),
        noise_photons=None if photons is None else float(photons),
        noise_sigma=float(noise_sigma) if photons is not None else 0.0,
        noise_seed=int(rng.integers(0, 2**31 - 1)),
        brightness=float(_maybe(rng, cfg.brightness_prob, *cfg.brightness_range, default=0.0)),
        contrast=float(_maybe(rng, cfg.contrast_prob, *cfg.contrast_range, default=0.0)),
        hue_deg=float(_maybe(rng, cfg.hue_prob, *cfg.hue_range_deg, default=0.0)),
        saturation=float(_maybe(rng, cfg.saturation_prob, *cfg.saturation_range, default=1.0)),
        grey=bool(rng.random() < cfg.grey_prob),
        jpeg_quality=None if jpeg is None else int(round(jpeg)),
    )


def geometric_matrix(params: AugmentParams, height: int, width: int) -> np.ndarray:
    """3x3 map from OUTPUT pixel coordinates to INPUT pixel coordinates (same image size).

    Pixel centres are integers; the image spans [-0.5, W-0.5]. The forward map is
    flip about the centre, then rotate and scale about the centre, then shift.
    """
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], dtype=np.float64)
    uncentre = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], dtype=np.float64)
    flip = np.diag([-1.0 if params.flip else 1.0, 1.0, 1.0])
    theta = np.deg2rad(params.rotate_deg)
    # Counter-clockwise as displayed, with image y pointing down.
    rot = np.array([[np.cos(theta), np.sin(theta), 0], [-np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    scale = np.diag([params.scale, params.scale, 1.0])
    shift = np.array([[1, 0, params.shift[0] * width], [0, 1, params.shift[1] * height], [0, 0, 1]])
    forward = shift @ uncentre @ rot @ scale @ flip @ centre
    return np.linalg.inv(forward)


def normal_matrix(params: AugmentParams) -> np.ndarray:
    """3x3 map applied to camera-frame normals (x right, y up, z to camera) by the geometry.

    Scale and shift do not turn surfaces relative to the camera axes (they mimic a different
    focal length / principal point), so only flip and rotation act on normals. An image
    rotated counter-clockwise rotates (x, y-up) counter-clockwise by the same angle.
    """
    theta = np.deg2rad(params.rotate_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    flip = np.diag([-1.0 if params.flip else 1.0, 1.0, 1.0])
    return rot @ flip


# --------------------------------------------------------------------------- geometric transform


def _sampling_grid(matrix: np.ndarray, out_hw: tuple[int, int], in_hw: tuple[int, int]) -> torch.Tensor:
    """grid_sample grid (1, Ho, Wo, 2) for an output->input pixel map, built in float64."""
    (h_out, w_out), (h_in, w_in) = out_hw, in_hw
    xs = np.arange(w_out, dtype=np.float64)[None, :]
    ys = np.arange(h_out, dtype=np.float64)[:, None]
    src_x = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2]
    src_y = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2]
    grid = np.stack([(2 * src_x + 1) / w_in - 1, (2 * src_y + 1) / h_in - 1], axis=-1)
    return torch.from_numpy(grid.astype(np.float32))[None]


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with replicated borders; sigma in pixels."""
    if sigma <= 0:
        return images
    radius = max(1, int(np.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    out = F.pad(images, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def warp_sample(
    tensors: dict[str, Any], matrix: np.ndarray, out_hw: tuple[int, int], normal_map: np.ndarray | None = None
) -> dict[str, torch.Tensor]:
    """Resample every map through one output->input pixel map ``matrix`` (3x3).

    Each map follows its row of the output table (``synthhuman.outputs``, by tensor name).
    "bilinear" maps (RGB, alpha: colour and coverage in [0, 1]): bilinear, with borders
    replicated outside the source (this is also how the loader pads to square), and a
    Gaussian pre-filter when minifying, against aliasing. "nearest" maps (depth, normals)
    and the mask: nearest, zero outside the source, so padded / uncovered pixels are invalid
    (mask False, depth 0, normals 0). Vector maps (normals) are then mapped by ``normal_map``
    (flip / rotation) and renormalised.
    """
    rows = [o for o in outputs.OUTPUTS if o.tensor in tensors]
    smooth_rows = [o for o in rows if o.resample == "bilinear"]
    sharp_rows = [o for o in rows if o.resample == "nearest"]
    grid = _sampling_grid(matrix, out_hw, tuple(tensors["rgb"].shape[-2:]))
    smooth = torch.cat([tensors[o.tensor] for o in smooth_rows], dim=0)[None]
    minify = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
    if minify > 1.01:
        smooth = gaussian_blur(smooth, (minify - 1) / 2)
    smooth = F.grid_sample(smooth, grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
    sharp = torch.cat([*(tensors[o.tensor] for o in sharp_rows), tensors["mask"].float()], dim=0)[None]
    sharp = F.grid_sample(sharp, grid, mode="nearest", padding_mode="zeros", align_corners=False)[0]
    out = dict(zip((o.tensor for o in smooth_rows), smooth.split([o.channels for o in smooth_rows]), strict=True))
    out = {name: value.clamp(0, 1) for name, value in out.items()}
    warped = sharp.split([*(o.channels for o in sharp_rows), 1])
    mask = (warped[-1] > 0.5) & (warped[sharp_rows.index(outputs.output("depth"))] > 0)
    for row, value in zip(sharp_rows, warped[:-1], strict=True):
        if row.vector:
            if normal_map is not None:
                value = torch.einsum("ij,jhw->ihw", torch.from_numpy(normal_map.astype(np.float32)), value)
            length = (value[0] * value[0] + value[1] * value[1] + value[2] * value[2]).sqrt()
            value = value / length.clamp_min(1e-6)[None]  # (3 explicit terms: norm(dim=0) is 10x slower)
        out[row.tensor] = torch.where(mask, value, torch.zeros_like(value))
    out["mask"] = mask
    return out


# --------------------------------------------------------------------------- photometric transform

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601, the weights of OpenCV's BGR2GRAY
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]])


def colour_matrix(hue_deg: float, saturation: float) -> np.ndarray:
    """3x3 RGB map: rotate the chroma (I, Q) plane by ``hue_deg`` and scale it by ``saturation``.

    A linear YIQ rotation keeps luma fixed and is cheaper than an HSV round trip.
    """
    theta = np.deg2rad(hue_deg)
    rot = np.array([[1, 0, 0], [0, np.cos(theta), -np.sin(theta)], [0, np.sin(theta), np.cos(theta)]])
    return np.linalg.inv(_RGB_TO_YIQ) @ np.diag([1.0, saturation, saturation]) @ rot @ _RGB_TO_YIQ


def iso_noise(rgb: torch.Tensor, photons: float, sigma: float, seed: int) -> torch.Tensor:
    """Poisson shot noise (variance proportional to intensity) plus Gaussian read noise."""
    generator = torch.Generator().manual_seed(seed)
    noisy = torch.poisson(rgb.clamp(0, 1) * photons, generator=generator) / photons
    return noisy + torch.randn(rgb.shape, generator=generator) * sigma


def jpeg_roundtrip(rgb: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode and decode (3, H, W) in [0,1] as an in-memory JPEG (Pillow, 4:2:0)."""
    array = (rgb.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=int(quality))
    with Image.open(buffer) as decoded:
        out = np.asarray(decoded.convert("RGB"))
    return torch.from_numpy(out.copy()).permute(2, 0, 1).float() / 255.0


def apply_photometric(rgb: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Blur, ISO noise, brightness, contrast, hue/saturation, grey, JPEG: RGB only, new tensor."""
    if params.blur_sigma_frac > 0:
        rgb = gaussian_blur(rgb[None], params.blur_sigma_frac * max(rgb.shape[-2:]))[0]
    if params.noise_photons is not None:
        rgb = iso_noise(rgb, params.noise_photons, params.noise_sigma, params.noise_seed)
    rgb = rgb + params.brightness
    rgb = (rgb - 0.5) * (1.0 + params.contrast) + 0.5
    if params.hue_deg != 0.0 or params.saturation != 1.0:
        matrix = torch.from_numpy(colour_matrix(params.hue_deg, params.saturation).astype(np.float32))
        rgb = torch.einsum("ij,jhw->ihw", matrix, rgb)
    rgb = rgb.clamp(0.0, 1.0)
    if params.grey:
        weights = torch.tensor(LUMA_WEIGHTS, dtype=rgb.dtype).view(3, 1, 1)
        rgb = (rgb * weights).sum(dim=0, keepdim=True).expand(3, -1, -1).clone()
    if params.jpeg_quality is not None:
        rgb = jpeg_roundtrip(rgb, params.jpeg_quality)
    return rgb


def apply_augmentation(sample_tensors: dict[str, Any], params: AugmentParams) -> dict[str, Any]:
    """Apply ``params`` to one sample (channel-first tensors, see module doc); same size out.

    Non-tensor entries (key, framing) pass through unchanged. Deterministic: the same
    tensors and params give the same result.
    """
    out = dict(sample_tensors)
    height, width = sample_tensors["rgb"].shape[-2:]
    if not params.is_geometric_identity:
        matrix = geometric_matrix(params, height, width)
        out.update(warp_sample(sample_tensors, matrix, (height, width), normal_matrix(params)))
    out["rgb"] = apply_photometric(out["rgb"], params)
    return out


__all__ = [
    "AugmentConfig",
    "AugmentParams",
    "apply_augmentation",
    "apply_photometric",
    "geometric_matrix",
    "normal_matrix",
    "sample_augmentation",
    "sample_rng",
    "warp_sample",
]
