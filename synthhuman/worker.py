"""ShardWorker: renders the samples of one shard and writes it atomically.

It owns one live renderer (one Blender scene per process), built lazily on first use so
that constructing a worker is cheap and Ray can start many. Failures are handled per
sample: a sample is tried ``max_attempts`` times and, if it still fails, recorded in the
shard index with its error. Rendering runs in the Ray actor (``distributed.py``) or
in-process (``--workers 0``); the code path is the same.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from synthhuman.config import SamplingConfig
from synthhuman.errors import RendererUnavailable, is_out_of_space, out_of_space
from synthhuman.interrupts import deferred_stop
from synthhuman.native_output import fds_redirected
from synthhuman.sample import RenderedSample, sample_framing
from synthhuman.sampling import sample_scene
from synthhuman.shards import SampleFailure, ShardWriter, encode_sample
from synthhuman.spec import SceneSpec, sample_key

RENDERERS = ("blender", "analytic")


class Renderer(Protocol):
    def render_sample(self, spec: SceneSpec, export_mesh: bool = False) -> RenderedSample: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RunSettings:
    """Everything a worker needs; shipped once per worker (plain data, picklable)."""

    out_dir: str
    seed: int
    config: SamplingConfig
    hdri_ids: tuple[str, ...]
    device: str = "cpu"
    renderer: str = "blender"
    export_mesh: bool = False
    max_attempts: int = 2
    asset_paths: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ShardTask:
    shard_id: int
    indices: range  # consecutive global indices; a range, so planning costs no memory per sample


@dataclass
class ShardResult:
    shard_id: int
    samples: int
    failures: list[SampleFailure]
    stats: dict[str, Any]


def make_renderer(settings: RunSettings) -> Renderer:
    if settings.renderer == "analytic":
        from synthhuman.analytic import AnalyticRenderer

        return AnalyticRenderer()
    from synthhuman.render.scene import BlenderRenderer  # imports bpy: only inside workers

    return BlenderRenderer(device=settings.device, asset_paths={k: Path(v) for k, v in settings.asset_paths.items()})


class ShardWorker:
    def __init__(self, settings: RunSettings):
        self.settings = settings
        self.renderer: Renderer | None = None
        self.samples_rendered = 0
        self._log: Any = None  # DIR/logs/render-<host>-<pid>.log, opened on first use

    def render_shard(self, task: ShardTask, on_sample: Callable[[int, bool], None] | None = None) -> ShardResult:
        """Render every index of ``task`` into ``shards/shard-XXXXXX.tar`` (temp name, then rename)."""
        writer = ShardWriter(Path(self.settings.out_dir) / "shards", task.shard_id)
        failures: list[SampleFailure] = []
        timings: dict[str, float] = {}
        framings: dict[str, int] = {}
        started = time.perf_counter()
        try:
            for index in task.indices:
                sample, failure = self._render_with_retries(index)
                if sample is not None:
                    writer.add(encode_sample(sample))
                    _accumulate(timings, sample.meta.get("timings", {}))
                    framing = sample_framing(sample.meta)
                    framings[framing] = framings.get(framing, 0) + 1
                else:
                    failures.append(failure)  # type: ignore[arg-type]
                self.samples_rendered += 1
                if on_sample is not None:
                    on_sample(index, sample is not None)
            ok = len(task.indices) - len(failures)
            stats = {
                "timings_mean_s": {k: v / max(ok, 1) for k, v in timings.items()},
                "framing_counts": framings,
                "wall_s": time.perf_counter() - started,
                "worker": {"pid": os.getpid(), "host": os.uname().nodename, "device": self.settings.device},
            }
            writer.commit(failures, stats)
        except BaseException as exc:
            writer.abort()
            if is_out_of_space(exc):  # every later shard would fail too: stop the run, in one line
                raise out_of_space(writer.tmp_path.parent) from None
            raise
        return ShardResult(task.shard_id, ok, failures, stats)

    def _render_with_retries(self, index: int) -> tuple[RenderedSample | None, SampleFailure | None]:
        s = self.settings
        spec = sample_scene(s.seed, index, s.config, list(s.hdri_ids))
        error = ""
        for _attempt in range(s.max_attempts):
            renderer = self._live_renderer()  # RendererUnavailable stops the run: no sample could succeed
            try:
                with deferred_stop(), self._native_output():  # Ctrl-C inside Blender would be swallowed
                    return renderer.render_sample(spec, export_mesh=s.export_mesh), None
            except Exception as exc:
                if is_out_of_space(exc):  # not this sample's fault: retrying cannot help
                    raise
                error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
                self._reset_renderer()
        return None, SampleFailure(index=index, key=sample_key(index), error=error.strip(), attempts=s.max_attempts)

    def _live_renderer(self) -> Renderer:
        if self.renderer is None:
            try:
                with self._native_output():
                    self.renderer = make_renderer(self.settings)
            except ImportError as exc:
                raise RendererUnavailable(f"the {self.settings.renderer} renderer needs {exc.name or exc}: "
                                          "install with bash scripts/install.sh") from None
        return self.renderer

    def _native_output(self) -> contextlib.AbstractContextManager[Any]:
        """Blender's, Cycles' and Warp's own prints (`Fra:` lines, CUDA probes) go to
        DIR/logs/render-<host>-<pid>.log, not the user's terminal; kept for debugging a crash."""
        if self.settings.renderer != "blender":
            return contextlib.nullcontext()
        if self._log is None:
            logs = Path(self.settings.out_dir) / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            self._log = open(logs / f"render-{os.uname().nodename}-{os.getpid()}.log", "ab")  # noqa: SIM115
        return fds_redirected(self._log)

    def _reset_renderer(self) -> None:
        """A failed render may leave the scene in a bad state: rebuild it for the retry."""
        if self.renderer is not None:
            try:
                self.renderer.close()
            finally:
                self.renderer = None

    def close(self) -> None:
        with self._native_output():
            self._reset_renderer()
        if self._log is not None:
            self._log.close()
            self._log = None


def _accumulate(total: dict[str, float], timings: dict[str, float]) -> None:
    for key, value in timings.items():
        total[key] = total.get(key, 0.0) + float(value)
