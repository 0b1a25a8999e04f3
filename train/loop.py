"""The training loop: a short `run_step` plus hooks, after detectron2's `SimpleTrainer`.

`run_step` only fetches a batch, runs the model (bf16 autocast on CUDA), computes the loss,
and steps the optimizer. Everything else (LR schedule, checkpoints, evaluation, logging)
is a hook, so each can be tested and swapped alone. SIGINT/SIGTERM set a flag that the
loop checks between steps: the run stops at a step boundary, hooks save a checkpoint, and
`train` returns "interrupted" instead of dying mid-write.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from synthhuman.train.checkpoint import rng_state, set_rng_state, unwrap
from torch import Tensor, nn

from synthhuman.errors import UserError

LossFn = Callable[[dict[str, Tensor], dict[str, Any]], tuple[Tensor, dict[str, Tensor]]]


class TrainingInterrupted(Exception):
    """Raised inside the loop when SIGINT/SIGTERM asked it to stop at a step boundary."""


class HookBase:
    """Called by the trainer at fixed points; `self.trainer` is set by `register_hooks`."""

    trainer: SimpleTrainer

    def before_train(self) -> None: ...
    def after_train(self) -> None: ...
    def before_step(self) -> None: ...
    def after_step(self) -> None: ...
    def after_epoch(self) -> None: ...
    def on_interrupt(self) -> None: ...
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class StepResult:
    """What the last `run_step` produced, for the logging hook."""

    loss: float = float("nan")
    terms: dict[str, float] = field(default_factory=dict)
    batch_size: int = 0
    seconds: float = 0.0


class SimpleTrainer:
    """Runs `epochs` epochs of `run_step`; an epoch is `steps_per_epoch` steps or one pass.

    With `steps_per_epoch` the data iterator persists across epochs and is restarted only
    when the stream ends, so a streaming (IterableDataset) source is read continuously.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        optimizer: torch.optim.Optimizer,
        loader: Iterable[dict[str, Any]],
        *,
        epochs: int,
        steps_per_epoch: int | None = None,
        device: torch.device | str = "cpu",
        amp: bool = True,
        grad_clip: float | None = None,
        world_size: int = 1,
    ) -> None:
        self.model, self.loss_fn, self.optimizer, self.loader = model, loss_fn, optimizer, loader
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch or _loader_length(loader)
        self.device = torch.device(device)
        self.amp = amp and self.device.type == "cuda"
        self.grad_clip, self.world_size = grad_clip, world_size
        self.hooks: list[HookBase] = []
        self.step = 0  # optimizer steps done, over the whole run
        self.epoch = 0  # epochs completed
        self.step_in_epoch = 0
        self.epoch_length: int | None = self.steps_per_epoch  # learnt after one pass if unknown
        self.passes = 0  # iterators started over the loader (its epochs, for augmentation seeds)
        self.result = StepResult()
        self.stop_requested = False
        self._iter: Iterator[dict[str, Any]] | None = None

    def register_hooks(self, hooks: Iterable[HookBase]) -> None:
        for hook in hooks:
            hook.trainer = self
            self.hooks.append(hook)

    def _call(self, name: str) -> None:
        for hook in self.hooks:
            getattr(hook, name)()

    # ------------------------------------------------------------------ the loop

    def train(self) -> str:
        """Run to `epochs`; returns "finished" or "interrupted" (checkpoint already saved)."""
        self.model.train()
        outcome = "finished"
        with _stop_on_signals(self):
            try:
                self._call("before_train")
                while self.epoch < self.epochs:
                    self.run_epoch()
            except (KeyboardInterrupt, TrainingInterrupted):
                outcome = "interrupted"
                self._call("on_interrupt")
            finally:
                self._call("after_train")
        return outcome

    def run_epoch(self) -> None:
        target = self._epoch_target()
        fresh = self.steps_per_epoch is None or self._iter is None
        if fresh:
            self._iter = self._new_pass()
        while target is None or self.step_in_epoch < target:
            if self._should_stop():
                raise TrainingInterrupted
            self._call("before_step")
            try:
                self.run_step()
            except StopIteration:
                if self.steps_per_epoch is None or fresh:
                    break  # one pass done (or the source is empty: reported below)
                self._iter, fresh = self._new_pass(), True  # stream ended mid-epoch: go round
                continue
            fresh = False
            self.step += 1
            self.step_in_epoch += 1
            self._call("after_step")
        if self.step_in_epoch == 0:
            raise UserError(
                "the training data yielded no batches (empty source, or fewer samples than a batch?)"
            )
        if self.epoch_length is None:
            self.epoch_length = self.step_in_epoch
        self.epoch += 1
        self.step_in_epoch = 0
        self._call("after_epoch")

    def _new_pass(self) -> Iterator[dict[str, Any]]:
        self.passes += 1
        return iter(self.loader)

    def _epoch_target(self) -> int | None:
        """Steps in this epoch: fixed, or after a resume mid-pass, the rest of a known pass."""
        return (
            self.steps_per_epoch
            if self.steps_per_epoch is not None
            else (self.epoch_length if self.step_in_epoch > 0 else None)
        )

    def run_step(self) -> None:
        """Fetch, forward, loss, backward, step. Raises StopIteration at the end of the data."""
        start = time.perf_counter()
        assert self._iter is not None
        batch = to_device(next(self._iter), self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            pred = self.model(batch["rgb"])
        loss, terms = self.loss_fn(pred, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"loss is {loss.item()} at step {self.step}; lower the lr or check the data"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.result = StepResult(
            float(loss.detach()),
            {k: float(v.detach()) for k, v in terms.items()},
            int(batch["rgb"].shape[0]),
            time.perf_counter() - start,
        )

    def _should_stop(self) -> bool:
        """The stop flag, OR-ed over ranks so every DDP process stops at the same step."""
        if self.world_size > 1:
            flag = torch.tensor([float(self.stop_requested)], device=self.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            return bool(flag.item())
        return self.stop_requested

    # ------------------------------------------------------------------ state for checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything besides model weights that `--resume` needs to continue exactly here."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "epoch_length": self.epoch_length,
            "passes": self.passes,
            "rng": rng_state(),
            "hooks": {type(h).__name__: h.state_dict() for h in self.hooks if h.state_dict()},
        }

    def load_state_dict(self, payload: dict[str, Any]) -> None:
        unwrap(self.model).load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.step, self.epoch = int(payload["step"]), int(payload["epoch"])
        self.step_in_epoch = int(payload.get("step_in_epoch", 0))
        self.epoch_length = self.epoch_length or payload.get("epoch_length")
        self.passes = int(payload.get("passes", self.epoch))
        set_rng_state(payload["rng"])
        states = payload.get("hooks", {})
        for hook in self.hooks:
            if type(hook).__name__ in states:
                hook.load_state_dict(states[type(hook).__name__])


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Tensors to `device` (non-blocking from pinned memory); lists such as `key` stay."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}


def _loader_length(loader: Iterable[Any]) -> int | None:
    """len(loader) for map-style data; None for a stream (IterableDataset without a length)."""
    try:
        return len(loader) or None  # type: ignore[arg-type]
    except TypeError:
        return None


@contextmanager
def _stop_on_signals(trainer: SimpleTrainer) -> Iterator[None]:
    """SIGTERM and a first SIGINT ask the trainer to stop; a second SIGINT interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: Any) -> None:
        if trainer.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        trainer.stop_requested = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------------- distributed setup


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_kind: str) -> DistInfo:
    """Join the process group when launched by torchrun (RANK/WORLD_SIZE set), else single process.

    gloo on CPU, nccl on CUDA; each process then uses GPU `LOCAL_RANK`.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not torch.distributed.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank)
        torch.distributed.init_process_group(backend=backend)
    return info


def resolve_device(name: str, dist: DistInfo) -> torch.device:
    """auto -> cuda when available; with several processes, cuda means this rank's GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda was requested but no CUDA device is available")
        return torch.device("cuda", dist.local_rank)
    return torch.device("cpu")
