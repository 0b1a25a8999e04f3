"""Evaluate (JSON per framing, perfect-prediction sanity, ONNX == checkpoint) and predict
(files, relighting, background replacement, point cloud), each checked by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from _david_data import make_dataset
from synthhuman.train import applications as app
from synthhuman.train.checkpoint import save_checkpoint
from synthhuman.train.data import DataConfig, make_loader
from synthhuman.train.evaluate import evaluate
from synthhuman.train.export import export_onnx
from synthhuman.train.models import build_model
from synthhuman.train.predict import OnnxBackend

from synthhuman.cli import main as cli_main
from synthhuman.codecs import decode_png, read_exr_file
from synthhuman.errors import UserError

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fabricated dataset, a perturbed small multi-task checkpoint, its ONNX export, two images."""
    root = tmp_path_factory.mktemp("pe")
    make_dataset(root / "data", count=6, per_shard=3)
    torch.manual_seed(0)
    model = build_model("small", "multi")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ckpt = save_checkpoint(root / "multi.pt", model, step=0)
    onnx_path = export_onnx(model.eval(), root / "multi.onnx", size=64)
    rng = np.random.default_rng(0)
    portrait, landscape = root / "portrait.png", root / "landscape.jpg"
    Image.fromarray(rng.integers(0, 256, (80, 60, 3), dtype=np.uint8)).save(portrait)
    Image.fromarray(rng.integers(0, 256, (50, 90, 3), dtype=np.uint8)).save(landscape, quality=95)
    return {
        "root": root,
        "data": root / "data",
        "ckpt": ckpt,
        "onnx": onnx_path,
        "portrait": portrait,
        "landscape": landscape,
    }


# ---------------------------------------------------------------------- evaluate


def test_evaluate_writes_json_per_framing(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    out = files["root"] / "eval.json"
    argv = [
        "evaluate",
        "--checkpoint",
        str(files["ckpt"]),
        "--data",
        str(files["data"]),
        "--out",
        str(out),
        "--image-size",
        "64",
        "--batch-size",
        "4",
    ]
    assert cli_main(argv) == 0
    table = capsys.readouterr().out
    assert "normals" in table and "face" in table
    report = json.loads(out.read_text())
    assert report["tasks"] == ["depth", "normals", "alpha"]
    for task, names in {
        "depth": ("rmse", "absrel", "delta1"),
        "normals": ("mean", "within_30"),
        "alpha": ("sad", "mse", "grad", "conn"),
    }.items():
        groups = report["metrics"][task]
        assert set(groups) == {"all", "face", "upper", "full"}
        assert (
            groups["all"]["images"] == 6 and sum(groups[g]["images"] for g in ("face", "upper", "full")) == 6
        )
        assert all(math.isfinite(groups["all"][n]) for n in names)
    assert report["metrics"]["normals"]["all"]["mean"] > 1.0  # a random model is not perfect


def test_perfect_prediction_scores_zero_error(files: dict[str, Path]) -> None:
    """Ground truth fed back as the prediction, and depth under any positive affine map of it
    (relative depth), gives zero error: the metrics' alignment and masks are consistent."""
    loader = make_loader(str(files["data"]), DataConfig(image_size=64, augment=False), 3, 0, train=False)
    batches = list(loader)
    pending = iter(batches)

    def oracle(rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        batch = next(pending)
        assert torch.equal(batch["rgb"], rgb)
        return {"depth": 0.5 * batch["depth"] + 3.0, "normals": batch["normals"], "alpha": batch["alpha"]}

    summary = evaluate(oracle, batches, ("depth", "normals", "alpha"))
    d, n, a = (summary[t]["all"] for t in ("depth", "normals", "alpha"))
    assert d["images"] == 6 and d["rmse"] < 1e-5 and d["absrel"] < 1e-5 and d["delta1"] == 1.0
    assert n["mean"] < 0.1 and n["within_11.25"] == 100.0
    assert a["sad"] == 0 and a["mse"] == 0 and a["grad"] == 0 and a["conn"] == 0


def test_onnx_evaluation_matches_checkpoint(files: dict[str, Path], tmp_path: Path) -> None:
    reports = {}
    for kind in ("checkpoint", "onnx"):
        out = tmp_path / f"{kind}.json"
        argv = [
            "evaluate",
            f"--{kind}",
            str(files["ckpt" if kind == "checkpoint" else "onnx"]),
            "--data",
            str(files["data"] / "shards" / "*.tar"),
            "--out",
            str(out),
            "--image-size",
            "64",
        ]
        assert cli_main(argv) == 0
        reports[kind] = json.loads(out.read_text())["metrics"]
    for task in ("depth", "normals", "alpha"):
        for name, value in reports["checkpoint"][task]["all"].items():
            assert reports["onnx"][task]["all"][name] == pytest.approx(value, rel=1e-3, abs=1e-4), (
                task,
                name,
            )


# ---------------------------------------------------------------------- applications by hand


def test_relight_is_lambert_plus_ambient() -> None:
    normals = np.array([[[0, 0, 1], [1, 0, 0], [0, -1, 0], [0.6, 0, 0.8]]], dtype=np.float32)  # (1,4,3)
    rgb = np.full((1, 4, 3), 0.8, dtype=np.float32)
    out = app.relight(rgb, normals, np.array([0.0, 0.0, 2.0]), ambient=0.2)
    # n.l = 1, 0, 0 (facing away is clamped, not negative), 0.8
    expected = 0.8 * np.array([0.2 + 0.8 * 1, 0.2, 0.2, 0.2 + 0.8 * 0.8])
    np.testing.assert_allclose(out[0, :, 0], expected, atol=1e-6)
    half = app.relight(rgb, normals, np.array([0.0, 0.0, 1.0]), 0.2, alpha=np.full((1, 4), 0.5, np.float32))
    np.testing.assert_allclose(half[0, :, 1], 0.5 * expected + 0.5 * 0.8, atol=1e-6)


def test_background_replacement_and_colour_parsing(tmp_path: Path) -> None:
    fg = np.full((2, 3, 3), [1.0, 0.0, 0.0], dtype=np.float32)
    alpha = np.array([[0, 0.25, 1], [1, 0.5, 0]], dtype=np.float32)
    bg = app.load_background("0,0,255", 2, 3)
    out = app.replace_background(fg, alpha, bg)
    np.testing.assert_allclose(out[..., 0], alpha)
    np.testing.assert_allclose(out[..., 2], 1 - alpha)
    np.testing.assert_allclose(app.load_background("#00ff00", 1, 1)[0, 0], [0, 1, 0])
    Image.fromarray(np.full((10, 10, 3), 255, np.uint8)).save(tmp_path / "white.png")
    assert app.load_background(str(tmp_path / "white.png"), 4, 5).shape == (4, 5, 3)
    with pytest.raises(UserError, match="neither an image file nor a colour"):
        app.load_background("not-a-colour", 2, 2)


def test_point_cloud_backprojection() -> None:
    K = app.intrinsics_from_fov(4, 6, 90.0)  # f = 3 px
    assert K[0, 0] == pytest.approx(3.0) and (K[0, 2], K[1, 2]) == (3.0, 2.0)
    relative = np.tile(np.arange(6, dtype=np.float32), (4, 1))  # 0..5 left to right
    mask = np.zeros((4, 6), bool)
    mask[1:3, 1:5] = True
    metric = app.depth_to_metric(relative, mask, near_m=2.0, range_m=0.4)
    assert metric[mask].min() == pytest.approx(2.0) and metric[mask].max() == pytest.approx(2.4)
    points, colours = app.point_cloud(metric, mask, K, np.zeros((4, 6, 3)))
    assert points.shape == (8, 3) and colours.shape == (8, 3)
    # pixel (u=1, v=1): centre (1.5, 1.5); z = 2.0 -> x = (1.5-3)/3*2 = -1, y up = -(1.5-2)/3*2 = 1/3
    np.testing.assert_allclose(points[0], [-1.0, 1 / 3, -2.0], atol=1e-6)


# ---------------------------------------------------------------------- predict end to end


def test_predict_writes_maps_and_applications(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pred"
    argv = [
        "predict",
        "--checkpoint",
        str(files["ckpt"]),
        str(files["portrait"]),
        str(files["landscape"]),
        "--out",
        str(out),
        "--light-dir",
        "0,0,1",
        "--ambient",
        "0.3",
        "--background",
        "0,0,255",
        "--size",
        "64",
    ]
    assert cli_main(argv) == 0
    for stem, (h, w) in {"portrait": (80, 60), "landscape": (50, 90)}.items():
        names = {p.name.removeprefix(f"{stem}_") for p in out.glob(f"{stem}_*")}
        assert names == {
            "depth.exr",
            "depth.png",
            "normal.exr",
            "normal.png",
            "alpha.png",
            "relit.png",
            "composite.png",
            "points.ply",
        }
        rgb = np.asarray(Image.open(files[stem]).convert("RGB"), dtype=np.float64) / 255
        alpha = decode_png((out / f"{stem}_alpha.png").read_bytes()).astype(np.float64) / 65535
        exr = read_exr_file(str(out / f"{stem}_normal.exr"))
        normals = np.stack([exr["B"], exr["G"], exr["R"]], axis=-1).astype(np.float64)  # x, y, z
        assert (
            alpha.shape == (h, w)
            and normals.shape == (h, w, 3)
            and read_exr_file(str(out / f"{stem}_depth.exr"))["Y"].shape == (h, w)
        )
        # Relit = Lambert + ambient, light straight from the camera: n.l = n_z.
        shading = 0.3 + 0.7 * np.clip(normals[..., 2], 0, None)
        lit = alpha[..., None] * np.clip(rgb * shading[..., None], 0, 1) + (1 - alpha[..., None]) * rgb
        relit = np.asarray(Image.open(out / f"{stem}_relit.png"), dtype=np.float64) / 255
        assert np.abs(relit - lit).max() <= 1.01 / 255
        composite = np.asarray(Image.open(out / f"{stem}_composite.png"), dtype=np.float64) / 255
        expected = alpha[..., None] * rgb + (1 - alpha[..., None]) * np.array([0, 0, 1.0])
        assert np.abs(composite - expected).max() <= 1.01 / 255
        import trimesh

        cloud = trimesh.load(out / f"{stem}_points.ply")
        assert len(cloud.vertices) == int((alpha > 0.5).sum()) > 0
    assert json.loads((out / "predict.json").read_text())["tasks"] == ["depth", "normals", "alpha"]


def test_predict_with_onnx_matches_checkpoint(files: dict[str, Path], tmp_path: Path) -> None:
    for kind in ("checkpoint", "onnx"):
        argv = [
            "predict",
            f"--{kind}",
            str(files["ckpt" if kind == "checkpoint" else "onnx"]),
            str(files["portrait"]),
            "--out",
            str(tmp_path / kind),
            "--size",
            "64",
        ]
        assert cli_main(argv) == 0
    a, b = (read_exr_file(str(tmp_path / k / "portrait_depth.exr"))["Y"] for k in ("checkpoint", "onnx"))
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_release_style_single_output_needs_a_task(files: dict[str, Path], tmp_path: Path) -> None:
    """A third-party file without our metadata and with an uninformative output name."""
    import onnx

    proto = onnx.load(str(files["onnx"]))
    del proto.metadata_props[:]
    keep = proto.graph.output[1]  # the normals output only
    del proto.graph.output[:]
    proto.graph.output.append(keep)
    old = keep.name
    for node in proto.graph.node:
        node.output[:] = ["output" if o == old else o for o in node.output]
    proto.graph.output[0].name = "output"
    path = tmp_path / "release_like.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(UserError, match="pass --task"):
        OnnxBackend(path)
    backend = OnnxBackend(path, task="normals")
    out = backend(np.random.rand(1, 3, 64, 64).astype(np.float32))
    assert backend.tasks == ("normals",) and out["normals"].shape == (1, 3, 64, 64)


def test_predict_bad_inputs_are_one_line(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    depth_ckpt = save_checkpoint(tmp_path / "depth.pt", build_model("small", "depth"), step=0)
    cases = [
        (
            [
                "predict",
                "--checkpoint",
                str(tmp_path / "missing.pt"),
                str(files["portrait"]),
                "--out",
                str(tmp_path),
            ],
            "checkpoint not found",
        ),
        (
            [
                "predict",
                "--checkpoint",
                str(depth_ckpt),
                str(files["portrait"]),
                "--out",
                str(tmp_path),
                "--background",
                "red",
            ],
            "--background needs a model that predicts alpha",
        ),
        (
            ["predict", "--checkpoint", str(depth_ckpt), str(tmp_path / "nope.png"), "--out", str(tmp_path)],
            "cannot read image",
        ),
        (
            [
                "predict",
                "--checkpoint",
                str(depth_ckpt),
                str(files["portrait"]),
                "--out",
                str(tmp_path),
                "--light-dir",
                "0,0",
            ],
            "--light-dir expects",
        ),
        (
            ["evaluate", "--onnx", str(tmp_path / "missing.onnx"), "--data", str(files["data"])],
            "ONNX file not found",
        ),
        (
            ["evaluate", "--checkpoint", str(depth_ckpt), "--data", str(tmp_path / "empty" / "*.tar")],
            "no shards match",
        ),
    ]
    for argv, message in cases:
        assert cli_main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err


def test_evaluate_onnx_with_a_release_shaped_file(files: dict[str, Path], tmp_path: Path) -> None:
    """Fixed batch 1 and a fixed input size other than the data's: evaluate batches per image
    and resizes, instead of a raw onnxruntime shape error."""
    torch.manual_seed(1)
    path = export_onnx(build_model("small", "multi").eval(), tmp_path / "release_shaped.onnx", size=96)
    out = tmp_path / "eval.json"
    argv = ["evaluate", "--onnx", str(path), "--data", str(files["data"] / "shards" / "*.tar"),
            "--out", str(out), "--image-size", "64", "--batch-size", "4"]
    assert cli_main(argv) == 0
    metrics = json.loads(out.read_text())["metrics"]
    for task in ("depth", "normals", "alpha"):
        assert metrics[task]["all"]["images"] == 6, (task, metrics[task]["all"])


def test_onnx_backend_undoes_the_release_depth_sign(tmp_path: Path) -> None:
    """Single-task depth is exported negated (the release's sign); our backend returns our own."""
    torch.manual_seed(2)
    model = build_model("small", "depth").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = export_onnx(model, tmp_path / "depth.onnx", size=64)
    rgb = np.random.default_rng(3).random((3, 3, 64, 64), dtype=np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(rgb))["depth"].numpy()
    got = OnnxBackend(path)(rgb)["depth"]
    assert np.ptp(want) > 1e-3
    np.testing.assert_allclose(got, want, atol=1e-4)
