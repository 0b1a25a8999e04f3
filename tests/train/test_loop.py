"""Training loop: schedule, checkpoint/resume continuity, interrupts, config files, CLI errors."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from _david_data import make_dataset
from synthhuman.train.checkpoint import load_checkpoint
from synthhuman.train.config import TrainConfig, load_run_file, with_overrides
from synthhuman.train.engine import train_from_config
from synthhuman.train.hooks import CosineLR
from synthhuman.train.loop import HookBase, SimpleTrainer

from synthhuman.cli import main as cli_main
from synthhuman.errors import UserError

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("david") / "data", count=8, per_shard=4)


def tiny_config(dataset: Path, out: Path, **overrides) -> TrainConfig:
    base = dict(
        task="depth",
        model="small",
        data=str(dataset / "shards" / "*.tar"),
        out=str(out),
        batch_size=4,
        epochs=2,
        steps_per_epoch=2,
        lr=1e-3,
        workers=0,
        device="cpu",
        log_every=1,
        data_config={"image_size": 32, "augment": True},
    )
    return TrainConfig(**{**base, **overrides})


def final_weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


# ---------------------------------------------------------------------- schedule


def test_cosine_schedule_warmup_and_ends() -> None:
    sched = CosineLR(base_lr=1.0, min_lr=0.1, warmup_steps=4)
    assert [sched.lr_at(s, 0, 10, 10) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert sched.lr_at(4, 0, 10, 10) == pytest.approx(1.0)  # cosine starts at the peak
    mid = 4 + (100 - 4) // 2
    assert sched.lr_at(mid, 5, 10, 10) == pytest.approx(0.55)  # halfway: mean of peak and floor
    assert sched.lr_at(100, 10, 10, 10) == pytest.approx(0.1)
    # Unknown epoch length (a stream's first pass): epoch-level progress.
    assert CosineLR(1.0).lr_at(123, 1, 2, None) == pytest.approx(0.5)


# ---------------------------------------------------------------------- resume


class Interrupt(HookBase):
    """Raises KeyboardInterrupt, as Ctrl-C would, at a given step or after a given epoch."""

    def __init__(self, step: int | None = None, epoch: int | None = None) -> None:
        self.step, self.epoch = step, epoch

    def after_step(self) -> None:
        if self.trainer.step == self.step:
            raise KeyboardInterrupt

    def after_epoch(self) -> None:
        if self.trainer.epoch == self.epoch:
            raise KeyboardInterrupt


def test_resume_restores_state_and_continues_identically(dataset: Path, tmp_path: Path) -> None:
    straight = train_from_config(tiny_config(dataset, tmp_path / "a", epochs=2), progress=False)
    assert (straight.outcome, straight.step, straight.epoch) == ("finished", 4, 2)

    # Same schedule (epochs=2), stopped after epoch 1 as Ctrl-C would stop it.
    first = train_from_config(
        tiny_config(dataset, tmp_path / "b", epochs=2), progress=False, extra_hooks=[Interrupt(epoch=1)]
    )
    assert (first.outcome, first.step, first.epoch) == ("interrupted", 2, 1)
    saved = load_checkpoint(first.checkpoint)
    assert saved["step"] == 2 and saved["optimizer"]["state"], "optimizer moments must be saved"

    seen: dict[str, object] = {}

    class Inspect(HookBase):
        def before_train(self) -> None:  # runs after the restore, before any new step
            t = self.trainer
            seen["step"], seen["epoch"] = t.step, t.epoch
            seen["exp_avg"] = t.optimizer.state_dict()["state"][0]["exp_avg"].clone()

    resumed = train_from_config(
        tiny_config(dataset, tmp_path / "b", epochs=2), resume="auto", progress=False, extra_hooks=[Inspect()]
    )
    assert (seen["step"], seen["epoch"]) == (2, 1)
    assert torch.equal(seen["exp_avg"], saved["optimizer"]["state"][0]["exp_avg"])
    assert (resumed.step, resumed.epoch) == (4, 2)
    # Same data order, augmentation draws, RNG and optimizer state: the same weights as an
    # uninterrupted run of the same length.
    a, b = final_weights(straight.checkpoint), final_weights(resumed.checkpoint)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
    rows = (tmp_path / "b" / "train.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]


def test_resume_refuses_other_task(dataset: Path, tmp_path: Path) -> None:
    first = train_from_config(tiny_config(dataset, tmp_path, epochs=1), progress=False)
    with pytest.raises(UserError, match="this run is small/normals"):
        train_from_config(tiny_config(dataset, tmp_path, task="normals"), resume=str(first.checkpoint))


# ---------------------------------------------------------------------- interrupts


def test_keyboard_interrupt_saves_loadable_checkpoint(dataset: Path, tmp_path: Path) -> None:
    result = train_from_config(
        tiny_config(dataset, tmp_path, epochs=5), progress=False, extra_hooks=[Interrupt(step=3)]
    )
    assert (result.outcome, result.step) == ("interrupted", 3)
    payload = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert (payload["step"], payload["epoch"], payload["step_in_epoch"]) == (3, 1, 1)
    resumed = train_from_config(tiny_config(dataset, tmp_path, epochs=2), resume="auto", progress=False)
    assert (resumed.outcome, resumed.step, resumed.epoch) == (
        "finished",
        4,
        2,
    )  # finishes epoch 2's last step


@pytest.mark.slow
def test_sigint_to_cli_process_saves_checkpoint(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "synthhuman.cli",
        "train",
        "--task",
        "alpha",
        "--model",
        "small",
        "--data",
        str(dataset),
        "--out",
        str(out),
        "--epochs",
        "1000",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "4",
        "--image-size",
        "32",
        "--workers",
        "0",
        "--lr",
        "1e-4",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "checkpoints" / "last.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "Traceback" not in err
    payload = load_checkpoint(out / "checkpoints" / "last.pt")
    assert payload["step"] >= 2 and payload["model_config"]["task"] == "alpha"


def test_empty_stream_is_an_error_not_a_hang() -> None:
    model = torch.nn.Linear(1, 1)
    trainer = SimpleTrainer(
        model,
        lambda p, b: (p, {}),
        torch.optim.SGD(model.parameters(), lr=0.1),
        [],
        epochs=1,
        steps_per_epoch=3,
    )
    with pytest.raises(UserError, match="yielded no batches"):
        trainer.train()


# ---------------------------------------------------------------------- run files and CLI errors


def test_run_file_keys_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "run.yaml"
    good.write_text("task: normals\nlr: 1e-5\nbetas: [0.9, 0.95]\ndata_config: {image_size: 256}\n")
    cfg = with_overrides(load_run_file(good), {"lr": 3e-4, "epochs": None})
    assert (cfg.task, cfg.lr, cfg.betas, cfg.epochs) == ("normals", 3e-4, (0.9, 0.95), 100)
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: depth\nweight_decya: 0.1\n")
    with pytest.raises(UserError, match="unknown config key 'weight_decya' \\(did you mean 'weight_decay'"):
        load_run_file(bad)
    bad.write_text("batch_size: many\n")
    with pytest.raises(UserError, match="'batch_size': expected int"):
        load_run_file(bad)


def test_nested_config_keys_are_named(dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(dataset, tmp_path, data_config={"augmentation": {"flip_probability": 0.5}})
    with pytest.raises(UserError, match="data_config.augmentation.flip_probability"):
        train_from_config(cfg, progress=False)
    cfg = tiny_config(dataset, tmp_path, loss_weights={"lapp": 0.5})
    with pytest.raises(UserError, match="loss_weights.lapp"):
        train_from_config(cfg, progress=False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "--task", "segmentation", "--data", "x"],
            "config key 'task': unknown value 'segmentation'",
        ),
        (["train", "--task", "depth", "--model", "small", "--data", "/nonexistent/*.tar"], "no shards match"),
        (["export", "--checkpoint", "/nonexistent/model.pt", "--onnx", "x.onnx"], "checkpoint not found"),
        (["evaluate", "--checkpoint", "/nonexistent/model.pt", "--data", "x"], "checkpoint not found"),
    ],
)
def test_bad_input_gives_one_line_error(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("synthhuman: error:") and message in err


def test_train_help_does_not_import_torch() -> None:
    code = "import sys, synthhuman.cli as c; c.build_parser(); print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


def test_cli_train_writes_logs(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = [
        "train",
        "--task",
        "normals",
        "--model",
        "small",
        "--data",
        str(dataset),
        "--eval-data",
        str(dataset),
        "--out",
        str(tmp_path),
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "4",
        "--image-size",
        "32",
        "--workers",
        "0",
        "--no-progress",
    ]
    assert cli_main(argv) == 0
    header, *rows = (tmp_path / "train.csv").read_text().splitlines()
    assert (
        header.startswith("step,epoch,lr,loss") and "samples_per_s" in header and len(rows) == 1
    )  # log_every 20: the epoch-end row
    eval_header, eval_row = (tmp_path / "eval.csv").read_text().splitlines()
    assert "all/normals/mean" in eval_header and "face/normals/mean" in eval_header
    assert all(math.isfinite(float(v)) for v in eval_row.split(","))
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert (tmp_path / "config.yaml").exists() and (tmp_path / "checkpoints" / "epoch-0001.pt").exists()


def test_pretrained_encoder_is_loaded_or_refused(dataset: Path, tmp_path: Path) -> None:
    from synthhuman.train.engine import build_run_model
    from synthhuman.train.models import build_model

    torch.manual_seed(1)
    donor = build_model("small", "normals")
    torch.save(donor.encoder.state_dict(), tmp_path / "vit.pth")
    model = build_run_model(tiny_config(dataset, tmp_path, pretrained_encoder=str(tmp_path / "vit.pth")))
    for name, value in donor.encoder.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[name], value), name
    wider = build_model("small", "depth", dim=96)
    torch.save(wider.encoder.state_dict(), tmp_path / "wide.pth")
    with pytest.raises(UserError, match="cannot load pretrained encoder"):
        build_run_model(tiny_config(dataset, tmp_path, pretrained_encoder=str(tmp_path / "wide.pth")))
    with pytest.raises(UserError, match="pretrained encoder not found"):
        build_run_model(tiny_config(dataset, tmp_path, pretrained_encoder=str(tmp_path / "missing.pth")))


def test_ddp_epoch_length_from_shard_indexes(dataset: Path) -> None:
    from synthhuman.train.engine import count_samples, epoch_steps

    assert count_samples(str(dataset / "shards" / "*.tar")) == 8
    assert epoch_steps(TrainConfig(data=str(dataset), batch_size=2), world_size=2) == 2  # 8 / (2 ranks x 2)
    assert epoch_steps(TrainConfig(data=str(dataset), batch_size=2), world_size=1) is None  # one pass
    assert epoch_steps(TrainConfig(data="pipe:cat a.tar", steps_per_epoch=5), world_size=4) == 5
    with pytest.raises(UserError, match="needs --steps-per-epoch"):
        epoch_steps(TrainConfig(data="pipe:cat a.tar"), world_size=2)


@pytest.mark.parametrize("where", ["file", "under_file", "read_only", "empty"])
def test_unwritable_train_out_is_one_line(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Issue 12 item 13: a file, a path under a file, a read-only place or an empty --out (which
    meant the current directory) is refused in one line before any training."""
    monkeypatch.chdir(tmp_path)
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    out = {"file": a_file, "under_file": a_file / "run", "read_only": Path("/sys/synthhuman-test-run"),
           "empty": ""}[where]
    if where == "read_only" and Path(out).exists():
        pytest.skip("/sys accepts new entries here")
    argv = ["train", "--task", "depth", "--model", "small", "--data", str(dataset), "--out", str(out),
            "--epochs", "1", "--batch-size", "2", "--image-size", "32", "--workers", "0"]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("synthhuman: error:"), err
    assert ("--out is empty" if where == "empty" else "--out") in err
    assert a_file.read_text() == "keep me" and not (Path.cwd() / "checkpoints" / "last.pt").exists()


class _NotWeights:
    """Pickled by torch.save, refused by weights_only loading: what a stranger's file may hold."""


@pytest.mark.parametrize("content", ["garbage", "pickle"])
def test_a_non_checkpoint_file_is_named_not_torch_advice(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                         content: str) -> None:
    """Unclear message (issue 12): torch's error advised setting weights_only=False."""
    bad = tmp_path / "model.pt"
    if content == "garbage":
        bad.write_bytes(b"\x00not a checkpoint" * 50)
    else:
        torch.save({"x": _NotWeights()}, bad)
    assert cli_main(["evaluate", "--checkpoint", str(bad), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"synthhuman: error: {bad} is not a synthhuman checkpoint (it does not load as safe PyTorch weights)"
    assert "weights_only" not in err


def test_a_killed_run_s_half_written_checkpoint_is_removed(dataset: Path, tmp_path: Path) -> None:
    """Unclear message (issue 12): a leftover last.pt.tmp was never removed."""
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "last.pt.tmp").write_bytes(b"half")
    (out / "checkpoints" / "epoch-0001.pt.tmp").write_bytes(b"half")
    train_from_config(tiny_config(dataset, out, epochs=1), progress=False)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0001.pt", "last.pt"]
