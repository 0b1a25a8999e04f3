"""ONNX export in the DAViD release contract: static 1x3x512x512 input, names, order, shapes, depth sign,
BGR input, the opt-in dynamic size, numerics, and the release runtime's own calling convention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from synthhuman.train.checkpoint import save_checkpoint
from synthhuman.train.export import ReleaseContract, compare_with_torch, export_onnx
from synthhuman.train.models import build_model

from synthhuman.cli import main as cli_main

pytestmark = pytest.mark.train


def perturbed_small(task: str, seed: int = 0) -> torch.nn.Module:
    """A small model with noise on every weight, so outputs vary across the image (a freshly
    initialised head can be nearly constant, which would make the comparison vacuous)."""
    torch.manual_seed(seed)
    model = build_model("small", task)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope="module")
def multi_onnx(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    model = perturbed_small("multi")
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx") / "multi.onnx", size=512, dynamic=True)


@pytest.mark.parametrize("task", ["multi", "depth", "normals", "alpha"])
def test_default_export_is_the_release_contract(tmp_path: Path, task: str) -> None:
    """Static integer input shape (the runtime reshapes to (1, *input_shape[1:])) and the model
    cards' output shapes: depth (1, 512, 512), normal (1, 3, 512, 512), foreground (1, 1, 512, 512)."""
    path = export_onnx(perturbed_small(task), tmp_path / f"{task}.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.shape == [1, 3, 512, 512]
    want = {"depth": [1, 512, 512], "normal": [1, 3, 512, 512], "foreground": [1, 1, 512, 512]}
    names = [o.name for o in session.get_outputs()]
    assert names == (["depth", "normal", "foreground"] if task == "multi" else [names[0]])
    for out, got in zip(session.get_outputs(), session.run(None, {"image": np.zeros(inp.shape, np.float32)}),
                        strict=True):
        assert out.shape == want[out.name] and list(got.shape) == want[out.name]
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["depth_sign"] == ("-1.0" if task == "depth" else "1.0")


def test_dynamic_export_declares_free_batch_and_size(multi_onnx: tuple[torch.nn.Module, Path]) -> None:
    _, path = multi_onnx
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.shape[1] == 3 and all(isinstance(d, str) for d in (inp.shape[0], inp.shape[2], inp.shape[3]))
    assert [o.name for o in session.get_outputs()] == ["depth", "normal", "foreground"]
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["tasks"] == "depth,normals,alpha" and meta["canonical_size"] == "512"


@pytest.mark.parametrize("shape", [(512, 512), (384, 512), (256, 256)])
def test_onnx_matches_pytorch(multi_onnx: tuple[torch.nn.Module, Path], shape: tuple[int, int]) -> None:
    model, path = multi_onnx
    diffs = compare_with_torch(model, path, shape, seed=1)
    assert set(diffs) == {"depth", "normal", "foreground"}
    assert max(diffs.values()) < 1e-3, diffs


def test_onnx_takes_bgr_and_outputs_at_input_size(multi_onnx: tuple[torch.nn.Module, Path]) -> None:
    model, path = multi_onnx
    rgb = torch.rand(2, 3, 384, 512, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = model(rgb)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    bgr = rgb.numpy()[:, ::-1].copy()
    depth, normal, foreground = session.run(None, {"image": bgr})
    assert depth.shape == (2, 384, 512) and normal.shape == (2, 3, 384, 512)
    np.testing.assert_allclose(depth, ref["depth"][:, 0].numpy(), atol=1e-3)  # multi-task: sign kept
    np.testing.assert_allclose(normal, ref["normals"].numpy(), atol=1e-3)
    np.testing.assert_allclose(foreground, ref["alpha"].numpy(), atol=1e-3)
    assert np.ptp(depth) > 1e-3 and np.ptp(foreground) > 1e-3  # outputs vary: the check is not vacuous
    np.testing.assert_allclose(np.linalg.norm(normal, axis=1), 1.0, atol=1e-3)
    # Feeding RGB instead of BGR must change the answer (the flip is really in the graph).
    wrong = session.run(None, {"image": rgb.numpy()})[0]
    assert np.abs(wrong - depth).max() > 1e-4


def test_wrapper_flips_channels_exactly() -> None:
    model = perturbed_small("depth")
    rgb = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        (out,) = ReleaseContract(model)(rgb.flip(1))
        assert torch.equal(out, -model(rgb)["depth"][:, 0])  # single-task depth: the release's sign


def test_export_command_from_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = perturbed_small("alpha")
    ckpt = save_checkpoint(tmp_path / "alpha.pt", model, step=0)
    out = tmp_path / "alpha.onnx"
    assert cli_main(["export", "--checkpoint", str(ckpt), "--onnx", str(out), "--size", "256"]) == 0
    assert "max abs diff" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["foreground"]
    (fg,) = session.run(None, {"image": np.random.rand(1, 3, 256, 256).astype(np.float32)})
    assert fg.shape == (1, 1, 256, 256) and fg.min() >= 0 and fg.max() <= 1
    assert cli_main(["export", "--checkpoint", str(ckpt), "--onnx", str(out), "--size", "256", "--dynamic"]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (fg,) = session.run(None, {"image": np.random.rand(2, 3, 128, 96).astype(np.float32)})
    assert fg.shape == (2, 1, 128, 96)
    assert cli_main(["export", "--checkpoint", str(ckpt), "--onnx", str(out), "--size", "100"]) == 2


@pytest.mark.parametrize("where", ["directory", "under_a_file"])
def test_unwritable_onnx_path_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, where: str) -> None:
    ckpt = save_checkpoint(tmp_path / "alpha.pt", perturbed_small("alpha"), step=0)
    (tmp_path / "file").write_text("x")
    target = tmp_path if where == "directory" else tmp_path / "file" / "m.onnx"
    assert cli_main(["export", "--checkpoint", str(ckpt), "--onnx", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--onnx" in err[0]
    assert (tmp_path / "file").read_text() == "x"

