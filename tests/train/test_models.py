"""DAViD models: output contract, gradients, paper-sized costs, config and encoder-weight loading."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from synthhuman.train.models import (
    MODEL_NAMES,
    TASKS,
    build_model,
    build_model_from_config,
    load_pretrained_encoder,
)
from synthhuman.train.models.vit import resample_pos_embed
from torch.utils.flop_counter import FlopCounterMode

pytestmark = pytest.mark.train


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize("task", [*TASKS, "multi"])
def test_outputs_follow_contract(task: str) -> None:
    model = build_model("small", task)
    expected = TASKS if task == "multi" else (task,)
    assert model.tasks == expected
    out = model(torch.rand(2, 3, 64, 96))
    assert set(out) == set(expected)
    channels = {"depth": 1, "normals": 3, "alpha": 1}
    for name, y in out.items():
        assert y.shape == (2, channels[name], 64, 96)
        assert torch.isfinite(y).all()
    if "normals" in out:
        torch.testing.assert_close(out["normals"].norm(dim=1), torch.ones(2, 64, 96))
    if "alpha" in out:
        assert out["alpha"].min() >= 0 and out["alpha"].max() <= 1


def test_gradients_reach_every_parameter() -> None:
    model = build_model("small", "multi")
    out = model(torch.rand(1, 3, 64, 64))
    sum(y.square().mean() for y in out.values()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not no_grad


def test_input_size_only_changes_output_size() -> None:
    """The ViT sees a fixed square, so any multiple of 16 runs and the output follows the input."""
    model = build_model("small", "depth").eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 128))["depth"].shape == (1, 1, 32, 128)


# Released DAViD costs at 512x512: (params in millions, GMACs).
PAPER_COST = {("base", "depth"): (120, 172.4), ("large", "depth"): (340, 331.5),
              ("large", "multi"): (350, 389.9)}


@pytest.mark.parametrize(("size", "task"), list(PAPER_COST))
def test_cost_within_ten_percent_of_paper(size: str, task: str) -> None:
    with torch.device("meta"):
        model = build_model(size, task)
        x = torch.rand(1, 3, 512, 512)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    gmacs = counter.get_total_flops() / 2e9
    want_params, want_gmacs = PAPER_COST[size, task]
    assert abs(params / want_params - 1) < 0.10, params
    assert abs(gmacs / want_gmacs - 1) < 0.10, gmacs


def test_rebuild_from_config_dict() -> None:
    model = build_model("small", "alpha", features=16).eval()
    config = dataclasses.asdict(model.config)
    clone = build_model_from_config(config).eval()
    clone.load_state_dict(model.state_dict())
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(clone(x)["alpha"], model(x)["alpha"])
    assert clone.config.features == 16


def test_unknown_names_are_rejected() -> None:
    assert set(MODEL_NAMES) == {"base", "large", "small"}
    with pytest.raises(ValueError, match="size"):
        build_model("huge", "depth")
    with pytest.raises(ValueError, match="task"):
        build_model("small", "segmentation")


def test_forward_intermediates_are_block_outputs() -> None:
    vit = build_model("small", "depth").encoder
    x = torch.rand(1, 3, 64, 64)
    feats = vit.forward_intermediates(x, [1, -1], return_prefix_tokens=True)
    tokens = torch.cat([vit.cls_token, vit.patch_embed(x)], dim=1) + vit.pos_embed
    for block in vit.blocks:
        tokens = block(tokens)
    grid, cls = feats[-1]
    assert len(feats) == 2 and grid.shape == (1, 64, 4, 4)
    torch.testing.assert_close(cls, tokens[:, :1])
    torch.testing.assert_close(grid[0, :, 1, 2], tokens[0, 1 + 1 * 4 + 2])
    plain = vit.forward_intermediates(x, [1, -1])
    torch.testing.assert_close(plain[1], grid)
    assert plain[0].shape == (1, 64, 4, 4)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_pretrained_encoder_round_trip(tmp_path, suffix: str) -> None:
    source = build_model("small", "depth")
    state = {f"module.{k}": v.clone() for k, v in source.encoder.state_dict().items()}
    state["module.head.weight"] = torch.zeros(10, 64)  # a classifier a timm checkpoint carries
    path = tmp_path / f"vit{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({"model": state}, path)
    target = build_model("small", "depth")
    target.load_state_dict({k: v for k, v in source.state_dict().items() if not k.startswith("encoder.")},
                           strict=False)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(target(x)["depth"], source(x)["depth"])
        unused = load_pretrained_encoder(target, path)
        torch.testing.assert_close(target(x)["depth"], source(x)["depth"])
    assert unused == ["module.head.weight"]


def test_pretrained_encoder_resamples_pos_embed(tmp_path) -> None:
    big = build_model("small", "depth", encoder_size=128).encoder  # 8x8 grid
    torch.save(big.state_dict(), tmp_path / "vit.pth")
    model = build_model("small", "depth")  # 4x4 grid
    load_pretrained_encoder(model, tmp_path / "vit.pth")
    assert model.encoder.pos_embed.shape == (1, 17, 64)
    torch.testing.assert_close(model.encoder.pos_embed[:, 0], big.pos_embed[:, 0])
    torch.testing.assert_close(model.encoder.blocks[0].attn.qkv.weight, big.blocks[0].attn.qkv.weight)
    ramp = torch.ones(1, 1 + 64, 3)
    torch.testing.assert_close(resample_pos_embed(ramp, 4), torch.ones(1, 17, 3))


def test_pretrained_encoder_shape_mismatch_is_explained(tmp_path) -> None:
    other = build_model("small", "depth", dim=32).encoder
    torch.save(other.state_dict(), tmp_path / "vit.pth")
    with pytest.raises(ValueError, match="shape mismatches"):
        load_pretrained_encoder(build_model("small", "depth"), tmp_path / "vit.pth")
    deit3 = dict(build_model("small", "depth").encoder.state_dict())
    deit3["blocks.0.ls1.gamma"] = torch.ones(64)  # layer scale: silently dropping it would be wrong
    torch.save(deit3, tmp_path / "deit3.pth")
    with pytest.raises(ValueError, match="ls1.gamma"):
        load_pretrained_encoder(build_model("small", "depth"), tmp_path / "deit3.pth")
    torch.save({"cls_token": torch.zeros(1, 1, 64)}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="missing keys"):
        load_pretrained_encoder(build_model("small", "depth"), tmp_path / "partial.pth")


def test_onnx_export_matches_torch_at_any_size(tmp_path) -> None:
    """Exported once with dynamic H, W; onnxruntime agrees at square and non-square sizes."""
    ort = pytest.importorskip("onnxruntime")
    import warnings

    model = build_model("small", "multi").eval()
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, (torch.rand(1, 3, 64, 64),), str(tmp_path / "m.onnx"), dynamo=False,
                          input_names=["image"], output_names=list(model.tasks), opset_version=17,
                          dynamic_axes={name: axes for name in ("image", *model.tasks)})
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for h, w in [(64, 64), (48, 80)]:
        x = torch.rand(1, 3, h, w)
        with torch.no_grad():
            ref = model(x)
        for name, y in zip(model.tasks, session.run(None, {"image": x.numpy()}), strict=True):
            assert y.shape == (1, ref[name].shape[1], h, w)
            assert abs(y - ref[name].numpy()).max() < 1e-3


def test_plane_head_adds_a_per_image_tilt() -> None:
    """depth_plane: each image gets its own a*x + b*y, read from the decoder map (issue 18:
    a translation-equivariant decoder has no product of a per-image slope and a coordinate)."""
    from synthhuman.train.models.heads import PlaneHead

    plane = PlaneHead(4)
    d = torch.rand(2, 4, 8, 8)
    assert plane(d, (16, 16)).abs().max() == 0  # starts at zero: a new model is the plain head
    with torch.no_grad():
        plane.slope.weight.zero_()
        plane.slope.weight[0, 0] = 1.0  # a = mean of channel 0, b = mean of channel 1
        plane.slope.weight[1, 1] = 1.0
        plane.weight.weight.zero_()  # uniform attention
    d[0, 0], d[0, 1], d[1, 0], d[1, 1] = 0.5, 0.0, 0.0, -2.0
    out = plane(d, (16, 16))
    xs = torch.linspace(-1, 1, 16)
    torch.testing.assert_close(out[0, 0], 0.5 * xs.view(1, -1).expand(16, 16))
    torch.testing.assert_close(out[1, 0], -2.0 * xs.view(-1, 1).expand(16, 16))
    model = build_model("small", "multi", depth_plane=True)
    assert model.heads["depth"].plane is not None and model.heads["normals"].plane is None
    assert build_model("small", "depth").heads["depth"].plane is None


def test_a_plane_term_without_a_depth_head_is_refused() -> None:
    """depth_plane used to be ignored silently on a normals- or alpha-only model."""
    with pytest.raises(ValueError, match="depth_plane is a depth head option, but task 'normals'"):
        build_model("small", "normals", depth_plane=True)
    assert build_model("small", "depth", depth_plane=True).heads["depth"].plane is not None
