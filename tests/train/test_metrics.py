"""Evaluation metrics against hand-computed values and the defining properties of each metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from synthhuman.train.metrics import (
    MetricAccumulator,
    alpha_metrics,
    connectivity_error,
    depth_metrics,
    gauss_gradient_kernels,
    normals_metrics,
)

pytestmark = pytest.mark.train


def _img(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)[None]


def test_depth_hand_computed() -> None:
    """pred [[0,1],[0,1]] on GT [[1,2],[3,4]]: s=1, t=2 -> [[2,3],[2,3]], residuals +-1."""
    m = depth_metrics(_img([[0, 1], [0, 1]]), _img([[1, 2], [3, 4]]))
    assert m["rmse"] == pytest.approx(1.0)
    assert m["absrel"] == pytest.approx((1 / 1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert m["delta1"] == 0.0  # ratios 2, 1.5, 1.5, 1.33
    # GT [[10,10],[11,13]]: s=1, t=10.5 -> [[10.5,11.5],[10.5,11.5]]; every ratio < 1.25.
    m = depth_metrics(_img([[0, 1], [0, 1]]), _img([[10, 10], [11, 13]]))
    assert m["rmse"] == pytest.approx(math.sqrt(1.25))
    assert m["absrel"] == pytest.approx((0.5 / 10 + 1.5 / 10 + 0.5 / 11 + 1.5 / 13) / 4)
    assert m["delta1"] == 1.0


def test_depth_is_scale_shift_invariant_and_masked() -> None:
    gt = 2.0 + torch.rand(1, 8, 8)
    mask = torch.zeros(1, 8, 8, dtype=torch.bool)
    mask[:, 2:6, 2:6] = True
    pred = torch.where(mask, -0.3 * gt + 5.0, torch.full_like(gt, 99.0))  # wrong only off-mask
    m = depth_metrics(pred, torch.where(mask, gt, torch.zeros_like(gt)), mask)
    assert m["rmse"] == pytest.approx(0.0, abs=1e-6) and m["delta1"] == 1.0
    assert math.isnan(depth_metrics(pred, gt, torch.zeros_like(mask))["rmse"])


def test_normals_at_known_angles() -> None:
    angles = [10.0, 20.0, 40.0, 90.0]
    pred = torch.tensor([[math.sin(math.radians(a)), 0.0, math.cos(math.radians(a))] for a in angles])
    pred = pred.T.reshape(3, 1, 4)
    gt = torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1).expand(3, 1, 4)
    m = normals_metrics(pred, gt)
    assert m["mean"] == pytest.approx(40.0, abs=1e-4)
    assert m["median"] == pytest.approx(30.0, abs=1e-4)
    assert (m["within_11.25"], m["within_22.5"], m["within_30"]) == pytest.approx((25.0, 50.0, 50.0))
    mask = torch.tensor([[True, False, False, True]])
    assert normals_metrics(pred, gt, mask)["mean"] == pytest.approx(50.0, abs=1e-4)


def test_sad_and_mse_of_known_difference() -> None:
    gt = torch.zeros(1, 40, 50)
    pred = torch.full_like(gt, 0.5)
    m = alpha_metrics(pred, gt)
    assert m["sad"] == pytest.approx(2000 * 0.5 / 1000)
    assert m["mse"] == pytest.approx(0.25)
    assert alpha_metrics(gt, gt) == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "conn": 0.0}


def test_grad_error_of_an_impulse_is_twice_the_unit_kernel_energy() -> None:
    """An impulse's gradient field is (hx, hy) itself; both have unit L2 norm -> sum = 2, /1000."""
    hx, hy = gauss_gradient_kernels(1.4)
    assert hx.shape == (9, 9) and torch.allclose(hy, hx.T)
    gt = torch.zeros(1, 21, 21)
    pred = gt.clone()
    pred[0, 10, 10] = 1.0
    assert alpha_metrics(pred, gt)["grad"] == pytest.approx(2.0 / 1000, rel=1e-6)


def test_connectivity_error_of_a_hole() -> None:
    """GT all 1, pred 0 at one pixel: there l = 0, so target phi = 0 and pred phi = 1 -> 1/1000."""
    gt = np.ones((4, 4))
    pred = gt.copy()
    pred[1, 1] = 0.0
    region = np.ones((4, 4), dtype=bool)
    assert connectivity_error(pred, gt, region) == pytest.approx(1 / 1000)
    # A speck off the GT body lies outside every largest component (l = 0): it costs its full
    # alpha, unless that is below the 0.15 tolerance of phi.
    gt = np.zeros((5, 5))
    gt[:, :2] = 1.0
    speck = gt.copy()
    speck[2, 4] = 0.8
    everywhere = np.ones((5, 5), dtype=bool)
    assert connectivity_error(speck, gt, everywhere) == pytest.approx(0.8 / 1000)
    speck[2, 4] = 0.1
    assert connectivity_error(speck, gt, everywhere) == pytest.approx(0.0)


def test_accumulator_averages_per_image_and_group() -> None:
    acc = MetricAccumulator()
    gt = torch.zeros(2, 1, 10, 10)
    pred = torch.stack([torch.full((1, 10, 10), 0.1), torch.full((1, 10, 10), 0.3)])
    acc.add("alpha", pred, gt, group=["face", "full"])
    acc.add("alpha", torch.full((1, 10, 10), 0.5), gt[0], group="face")
    empty = torch.zeros(1, 10, 10, dtype=torch.bool)
    acc.add("depth", torch.rand(1, 10, 10), 1 + torch.rand(1, 10, 10), empty, group="upper")
    s = acc.summary()
    assert s["alpha"]["all"]["images"] == 3
    assert s["alpha"]["all"]["sad"] == pytest.approx((10 + 30 + 50) / 3 / 1000)
    assert s["alpha"]["face"]["sad"] == pytest.approx((10 + 50) / 2 / 1000)
    assert s["alpha"]["full"]["mse"] == pytest.approx(0.09)
    assert s["depth"]["upper"] == {"images": 0, "skipped": 1}
    with pytest.raises(ValueError):
        acc.add("segmentation", pred, gt)


def _tilted(angles_deg: list[float]) -> torch.Tensor:
    """(3,1,W) unit normals tilted from +z by each angle about y."""
    rad = [math.radians(a) for a in angles_deg]
    return torch.tensor([[math.sin(r), 0.0, math.cos(r)] for r in rad]).T.reshape(3, 1, len(rad))


def test_pooled_normals_weigh_pixels_not_images() -> None:
    """One image of 1 pixel at 60 deg and one of 3 pixels at 20 deg: per image averages the
    images (mean 40), pooling averages the 4 pixels (mean 30, median 20, 75% within 22.5)."""
    acc = MetricAccumulator()
    gt = torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1)
    acc.add("normals", _tilted([60.0, 0, 0])[None], gt.expand(3, 1, 3)[None],
            torch.tensor([[[True, False, False]]]), group="face")
    acc.add("normals", _tilted([20.0, 20.0, 20.0])[None], gt.expand(3, 1, 3)[None], group="full")
    row = acc.summary()["normals"]["all"]
    assert row["mean"] == pytest.approx(40.0, abs=1e-4)
    assert row["median"] == pytest.approx(40.0, abs=1e-4)  # the mean of the per-image medians
    assert row["pooled_mean"] == pytest.approx(30.0, abs=1e-4)
    assert row["pooled_median"] == pytest.approx(20.0, abs=0.01)
    assert row["pooled_within_22.5"] == pytest.approx(75.0)
    assert row["pooled_within_11.25"] == pytest.approx(0.0)
    assert row["pooled_within_30"] == pytest.approx(75.0)
    assert acc.summary()["normals"]["face"]["pooled_mean"] == pytest.approx(60.0, abs=1e-4)


def test_pooled_median_matches_numpy_on_many_pixels() -> None:
    torch.manual_seed(0)
    angles = torch.rand(5001, dtype=torch.float64) * 90  # odd: one middle value
    acc = MetricAccumulator()
    pred = _tilted(angles.tolist())
    acc.add("normals", pred[None], torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1).expand(1, 3, 1, 5001))
    row = acc.summary()["normals"]["all"]
    assert row["pooled_median"] == pytest.approx(float(np.median(angles.numpy())), abs=0.0051)
    assert row["pooled_within_30"] == pytest.approx(100.0 * float((angles < 30).double().mean()), abs=1e-9)
