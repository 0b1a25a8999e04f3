"""Picture-blind baselines against hand-computed maps."""

from __future__ import annotations

import pytest
import torch
from synthhuman.train.baselines import constant_maps, fixed_predictor, pixel_mean_maps

pytestmark = pytest.mark.train


def _batch() -> dict[str, torch.Tensor]:
    """Two 1x3 images: depth (m) 1, 2, 3 and 2, 2, 4 with the last pixel of image 2 off the
    foreground; normals +z and +x; alpha 1 where foreground."""
    depth = torch.tensor([[[[1.0, 2.0, 3.0]]], [[[2.0, 4.0, 0.0]]]])
    mask = depth > 0
    normals = torch.zeros(2, 3, 1, 3)
    normals[0, 2] = 1.0
    normals[1, 0] = 1.0
    normals[1, :, :, 2] = 0.0
    return {"rgb": torch.rand(2, 3, 1, 3), "depth": depth, "mask": mask, "normals": normals,
            "alpha": mask.float()}


def test_pixel_mean_maps_by_hand() -> None:
    maps = pixel_mean_maps([_batch()])
    # Min-max over each foreground: image 1 -> 0, 0.5, 1; image 2 -> 0, 1 (third pixel invalid).
    torch.testing.assert_close(maps["depth"], torch.tensor([[[0.0, 0.75, 1.0]]]))
    # Pixels 0 and 1 average +z and +x, renormalised; pixel 2 only image 1's +z.
    half = 2 ** -0.5
    expected = torch.tensor([[[half, half, 0.0]], [[0.0, 0.0, 0.0]], [[half, half, 1.0]]])
    torch.testing.assert_close(maps["normals"], expected)
    torch.testing.assert_close(maps["alpha"], torch.tensor([[[1.0, 1.0, 0.5]]]))


def test_constant_maps_and_the_predictor_ignore_the_image() -> None:
    maps = pixel_mean_maps([_batch()])
    const = constant_maps(maps)
    assert torch.equal(const["depth"], torch.ones(1, 1, 3))
    assert const["alpha"].unique().tolist() == [pytest.approx(2.5 / 3)]
    predict = fixed_predictor(maps)
    a, b = predict(torch.zeros(4, 3, 1, 3)), predict(torch.ones(4, 3, 1, 3))
    assert all(torch.equal(a[k], b[k]) and a[k].shape[0] == 4 for k in maps)
    with pytest.raises(ValueError, match="no batches"):
        pixel_mean_maps([])
