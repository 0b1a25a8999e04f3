"""Augmentations keep image and ground truth aligned, and touch each modality by its own rule.

Geometry is checked against the analytic person re-drawn with the transformed parameters,
not against the transform itself.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from synthhuman.train.augment import (
    AugmentConfig,
    AugmentParams,
    apply_augmentation,
    sample_augmentation,
    sample_rng,
)

pytestmark = pytest.mark.train
SIZE = 64


def person(cx: float = 31.5, cy: float = 31.5, a: float = 14.0, b: float = 20.0, size: int = SIZE) -> dict:
    """Ellipse person: soft alpha, red where alpha > 0.5, sphere-cap depth, the sphere's normals."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    u, v = (xs - cx) / a, (ys - cy) / b
    rho = np.hypot(u, v)
    cap = np.sqrt(np.clip(1 - rho**2, 0, 1))
    inside = rho < 1
    alpha = np.clip((1 - rho) * min(a, b) / 1.5 + 0.5, 0, 1)
    normals = np.stack([u, -v, cap])
    normals = np.where(inside, normals / np.linalg.norm(normals, axis=0), 0)
    rgb = np.stack([(alpha > 0.5).astype(float), xs / size, np.full_like(xs, 0.5)])
    t = lambda x: torch.from_numpy(np.asarray(x, dtype=np.float32))
    depth = t(np.where(inside, 2.0 - 0.3 * cap, 0))[None]
    return {"rgb": t(rgb), "alpha": t(alpha)[None], "depth": depth, "normals": t(normals), "mask": depth > 0}


def away_from_edge(alpha: torch.Tensor) -> torch.Tensor:
    return (alpha < 0.1) | (alpha > 0.9)


GEOMETRIES = [
    AugmentParams(shift=(0.1, -0.05)),
    AugmentParams(scale=1.3),
    AugmentParams(scale=0.75, shift=(-0.08, 0.1)),
    AugmentParams(flip=True),
    AugmentParams(scale=1.2, shift=(0.05, 0.05), flip=True, rotate_deg=12.0),
]


@pytest.mark.parametrize("params", GEOMETRIES)
def test_rgb_alpha_and_mask_stay_aligned(params: AugmentParams):
    out = apply_augmentation(person(cx=25.0), params)
    region = away_from_edge(out["alpha"][0])
    fg = out["alpha"][0] > 0.5
    assert ((out["rgb"][0] > 0.5) == fg)[region].float().mean() > 0.99
    assert (out["mask"][0] == fg)[region].float().mean() > 0.99
    assert fg.sum() > 50  # the person is still in view: the test is not vacuous


@pytest.mark.parametrize(
    ("params", "moved"),
    [
        (AugmentParams(flip=True), {"cx": 63 - 25.0}),
        (AugmentParams(shift=(0.125, 0.0)), {"cx": 25.0 + 8}),
        (AugmentParams(scale=1.25), {"cx": 31.5 + 1.25 * (25.0 - 31.5), "a": 14.0 * 1.25, "b": 20.0 * 1.25}),
    ],
)
def test_geometry_matches_the_transformed_analytic_person(params: AugmentParams, moved: dict):
    out = apply_augmentation(person(cx=25.0), params)
    expected = person(**{"cx": 25.0, **moved})
    assert (out["alpha"] - expected["alpha"]).abs().mean() < 0.01
    region = away_from_edge(expected["alpha"])  # nearest sampling may move the silhouette by 1/2 px
    assert (out["mask"] == expected["mask"])[region].float().mean() > 0.99


def test_flip_negates_normal_x():
    centred = person()  # mirror-symmetric about the image centre
    out = apply_augmentation(centred, AugmentParams(flip=True))
    mask = centred["mask"][0]
    assert torch.equal(out["mask"][0], mask)
    torch.testing.assert_close(out["normals"][:, mask], centred["normals"][:, mask], atol=1e-5, rtol=0)


def test_rotation_turns_normals_with_the_image():
    disc = person(a=20.0, b=20.0)  # rotation-symmetric: rotated normals must match the original field
    out = apply_augmentation(disc, AugmentParams(rotate_deg=30.0))
    both = out["mask"][0] & disc["mask"][0]
    cosine = (out["normals"][:, both] * disc["normals"][:, both]).sum(0).clamp(-1, 1)
    assert torch.rad2deg(torch.acos(cosine)).mean() < 3.0  # nearest sampling: ~1 px of jitter


@pytest.mark.parametrize("scale", [0.7, 1.4])
def test_scale_keeps_metric_depth_values(scale: float):
    sample = person()
    out = apply_augmentation(sample, AugmentParams(scale=scale))
    valid = out["mask"][0]
    source_values = np.unique(sample["depth"][0][sample["mask"][0]].numpy())
    assert np.isin(out["depth"][0][valid].numpy(), source_values).all()  # nearest: no new depths
    nearest = out["depth"][0][valid].min().item()
    assert nearest == pytest.approx(sample["depth"][0][sample["mask"][0]].min().item(), abs=0.02)
    area_ratio = valid.sum().item() / sample["mask"].sum().item()
    assert area_ratio == pytest.approx(scale**2, rel=0.1)  # apparent size changed instead


def test_normals_stay_unit_and_zero_off_the_mask():
    out = apply_augmentation(person(), GEOMETRIES[-1])
    norms = out["normals"].norm(dim=0)
    torch.testing.assert_close(norms[out["mask"][0]], torch.ones(int(out["mask"].sum())), atol=1e-5, rtol=0)
    assert (norms[~out["mask"][0]] == 0).all() and (out["depth"][0][~out["mask"][0]] == 0).all()


PHOTOMETRIC = AugmentParams(blur_sigma_frac=0.01, noise_photons=300.0, noise_sigma=0.01, noise_seed=3, brightness=0.05,
                            contrast=0.2, hue_deg=8.0, saturation=1.2, grey=False, jpeg_quality=50)


def test_photometric_ops_touch_rgb_only():
    sample = person()
    before = {k: v.clone() for k, v in sample.items()}
    out = apply_augmentation(sample, PHOTOMETRIC)
    for name in ("alpha", "depth", "normals", "mask"):
        assert torch.equal(out[name], before[name]), name
    assert torch.equal(sample["rgb"], before["rgb"])  # the input is not modified in place
    assert (out["rgb"] - before["rgb"]).abs().mean() > 0.01
    assert out["rgb"].min() >= 0 and out["rgb"].max() <= 1


def test_same_params_same_result_and_rng_is_per_sample():
    params = replace(PHOTOMETRIC, scale=1.1, flip=True)
    first, second = apply_augmentation(person(), params), apply_augmentation(person(), params)
    for name in first:
        assert torch.equal(first[name], second[name]), name
    cfg = AugmentConfig()
    draw = lambda epoch, key: sample_augmentation(sample_rng(0, epoch, key), cfg)
    assert draw(0, "000000001") == draw(0, "000000001")
    assert len({draw(e, k) for e in range(3) for k in ("000000001", "000000002")}) == 6


def test_contrast_and_brightness_follow_the_paper_formulas():
    sample = person()
    out = apply_augmentation(sample, AugmentParams(contrast=0.5))
    torch.testing.assert_close(out["rgb"], ((sample["rgb"] - 0.5) * 1.5 + 0.5).clamp(0, 1))
    out = apply_augmentation(sample, AugmentParams(brightness=0.1))
    torch.testing.assert_close(out["rgb"], (sample["rgb"] + 0.1).clamp(0, 1))


def test_grey_and_iso_noise():
    sample = person()
    grey = apply_augmentation(sample, AugmentParams(grey=True))["rgb"]
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    flat = {**sample, "rgb": torch.cat([torch.full((3, 32, 64), 0.1), torch.full((3, 32, 64), 0.8)], dim=1)}
    noisy = apply_augmentation(flat, AugmentParams(noise_photons=200.0, noise_sigma=0.0, noise_seed=1))["rgb"]
    dark_std, bright_std = noisy[:, :32].std().item(), noisy[:, 32:].std().item()
    assert bright_std == pytest.approx(np.sqrt(0.8 / 200), rel=0.1)  # Poisson: signal-dependent
    assert dark_std == pytest.approx(np.sqrt(0.1 / 200), rel=0.15)


def test_blur_strength_is_proportional_to_image_size():
    def edge_sigma(size: int) -> float:
        """The blur's sigma in pixels, measured as the spread of a blurred step's derivative."""
        step = torch.zeros(3, size, size)
        step[:, :, size // 2 :] = 1.0
        sample = {**person(size=size), "rgb": step}
        row = apply_augmentation(sample, AugmentParams(blur_sigma_frac=0.03))["rgb"][0, size // 2].double()
        slope = row.diff()
        x = torch.arange(len(slope), dtype=torch.float64)
        mean = (slope * x).sum() / slope.sum()
        return float(((slope * (x - mean) ** 2).sum() / slope.sum()).sqrt())

    assert edge_sigma(64) == pytest.approx(0.03 * 64, rel=0.1)
    assert edge_sigma(128) == pytest.approx(2 * edge_sigma(64), rel=0.05)


def test_policy_respects_probabilities_and_validates():
    off = AugmentConfig(**{name: 0.0 for name in AugmentConfig.__dataclass_fields__ if name.endswith("_prob")})
    params = sample_augmentation(np.random.default_rng(0), off)
    assert replace(params, noise_seed=0) == AugmentParams()
    on = AugmentConfig(**{name: 1.0 for name in AugmentConfig.__dataclass_fields__ if name.endswith("_prob")})
    params = sample_augmentation(np.random.default_rng(0), on)
    assert params.flip and params.grey and params.jpeg_quality is not None and params.noise_photons is not None
    assert params.scale != 1.0 and params.shift != (0.0, 0.0) and params.rotate_deg != 0.0
    with pytest.raises(ValueError, match="probability"):
        AugmentConfig(flip_prob=1.5)
    with pytest.raises(ValueError, match="lo <= hi"):
        AugmentConfig(scale_range=(1.2, 0.8))
