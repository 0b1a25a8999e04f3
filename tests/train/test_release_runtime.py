"""Our exported ONNX files through the DAViD release runtime's calling convention.

The release's runtime (microsoft/DAViD ``runtime/``, ``demo.py``) is not vendored: the few lines
of its contract are re-implemented here from its documentation and behaviour, with OpenCV as it
uses it: BGR float in [0, 1], replicate-pad to square (short side split ``d // 2`` before, the
rest after), ``cv2.resize`` to the model's declared input (``reshape(1, *input_shape[1:])``, so
the declared C, H, W must be integers), outputs indexed ``out[k][0]``; depth negated for
single-task models (``is_inverse``) and drawn as ``1 - (d - min) / (max - min)``: near bright.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")

from torch import Tensor, nn

from synthhuman.train.export import export_onnx

pytestmark = pytest.mark.train
RELEASE_SIZE = 512  # the model cards' input size


class RampModel(nn.Module):
    """A model whose outputs are known: depth grows to the right (the right half is farther),
    normals face the camera, foreground is 0.75. Our heads' convention: larger = farther."""

    def __init__(self, tasks: tuple[str, ...]) -> None:
        super().__init__()
        self.tasks = tasks
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, rgb: Tensor) -> dict[str, Tensor]:
        n, _, h, w = rgb.shape
        ramp = torch.arange(w, dtype=rgb.dtype).view(1, 1, 1, w).expand(n, 1, h, w) / w
        zero = rgb[:, :1] * 0.0
        out = {"depth": 2.0 + self.scale * ramp + zero,
               "normals": torch.cat([zero, zero, zero + 1.0], 1),
               "alpha": zero + 0.75}
        return {t: out[t] for t in self.tasks}


def release_run(session: ort.InferenceSession, bgr_u8: np.ndarray) -> list[np.ndarray]:
    """The release runtime's pre-processing, inference and crop back to the image."""
    inp = session.get_inputs()[0]
    image = bgr_u8.astype(np.float32) / 255.0
    h, w = image.shape[:2]
    d = abs(h - w)
    top, bottom = (d // 2, d - d // 2) if w > h else (0, 0)
    left, right = (d // 2, d - d // 2) if h > w else (0, 0)
    square = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE)
    resized = cv2.resize(square, (RELEASE_SIZE, RELEASE_SIZE), interpolation=cv2.INTER_LINEAR)
    # TypeError ('str' object cannot be interpreted as an integer) for a symbolic dimension:
    x = np.transpose(resized, (2, 0, 1)).reshape(1, *inp.shape[1:]).astype(np.float32)
    outputs = session.run(None, {inp.name: x})
    maps = []
    for out in outputs:
        m = out[0]  # the runtime's [0]: depth (H, W); normal (3, H, W); foreground (1, H, W)
        m = m if m.ndim == 2 else np.transpose(m, (1, 2, 0))
        m = cv2.resize(m, (square.shape[1], square.shape[0]), interpolation=cv2.INTER_CUBIC)
        maps.append(m[top:top + h, left:left + w])
    return maps


def visualised_depth(depth: np.ndarray, is_inverse: bool) -> np.ndarray:
    d = -depth if is_inverse else depth
    return 1.0 - (d - d.min()) / (d.max() - d.min())  # brightness: 1 = brightest


@pytest.mark.parametrize("tasks", [("depth",), ("depth", "normals", "alpha")])
@pytest.mark.parametrize("image_hw", [(512, 512), (512, 384)])  # square, and a 384x512 portrait
def test_release_runtime_runs_our_file_and_shows_near_bright(tmp_path: Path, tasks: tuple[str, ...],
                                                             image_hw: tuple[int, int]) -> None:
    path = export_onnx(RampModel(tasks), tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    bgr = np.random.default_rng(0).integers(0, 256, (*image_hw, 3), dtype=np.uint8)
    maps = release_run(session, bgr)
    depth = maps[0]
    assert depth.shape == image_hw
    bright = visualised_depth(depth, is_inverse=tasks == ("depth",))  # the release demo's rule per kind
    w = image_hw[1]
    assert bright[:, : w // 4].mean() > bright[:, -w // 4:].mean() + 0.3  # the near (left) side is bright
    if len(tasks) == 3:
        normal, foreground = maps[1], maps[2]
        assert normal.shape == (*image_hw, 3) and foreground.shape == image_hw  # cv2 drops the lone channel
        np.testing.assert_allclose(normal[..., 2], 1.0, atol=1e-4)
        np.testing.assert_allclose(np.clip(foreground, 0, 1), 0.75, atol=1e-4)


def test_a_dynamic_file_is_refused_by_the_release_runtime(tmp_path: Path) -> None:
    """Why the static shape is the default: the runtime's reshape fails on symbolic dimensions."""
    path = export_onnx(RampModel(("depth",)), tmp_path / "m.onnx", dynamic=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with pytest.raises(TypeError):
        release_run(session, np.zeros((64, 64, 3), np.uint8))
