"""The render driver: plan shards, skip finished ones, render the rest on a pool of workers.

Workers are Ray actors (one per GPU on a cluster, a CPU pool here), each holding one live
Blender scene, recycled after ``recycle_every`` samples because bpy leaks memory over long
sessions. The driver ships plain settings and index ranges and gets back counts, never bpy
objects. An actor that dies takes its shard with it: the shard is re-queued on a fresh
actor (``max_shard_attempts`` times); its temp file is overwritten, never half-kept.
``workers=0`` runs the same ShardWorker in-process (debugging, tests, no Ray).
"""

from __future__ import annotations

import dataclasses
import sys
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from synthhuman.errors import UserError
from synthhuman.shards import SampleFailure, read_index, shard_bytes_changed, shard_name
from synthhuman.spec import sample_key
from synthhuman.worker import RunSettings, ShardResult, ShardTask, ShardWorker

ProgressFn = Callable[[int, bool], None]  # (index, ok) per finished sample


@dataclass
class PoolSettings:
    workers: int = 1  # 0 = in-process, no Ray
    address: str | None = None  # ray://host:port or "auto"; None starts a local Ray
    recycle_every: int = 500  # samples per actor before it is replaced
    max_shard_attempts: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0


@dataclass
class RunReport:
    shards_done: list[int] = field(default_factory=list)
    shards_skipped: list[int] = field(default_factory=list)
    shards_failed: dict[int, str] = field(default_factory=dict)
    samples: int = 0
    failures: list[SampleFailure] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)


MAX_SAMPLES = 10**9  # keys are zero-padded to 9 digits (spec.sample_key)


class ShardPlan(Sequence[ShardTask]):
    """Indices 0..n-1 in consecutive shards of `shard_size` (the last may be shorter), made on
    demand: planning 300M samples holds two integers, not 300k task objects."""

    def __init__(self, n: int, shard_size: int) -> None:
        self.n, self.shard_size = n, shard_size

    def __len__(self) -> int:
        return -(-self.n // self.shard_size)

    @overload
    def __getitem__(self, i: int) -> ShardTask: ...
    @overload
    def __getitem__(self, i: slice) -> list[ShardTask]: ...
    def __getitem__(self, i: int | slice) -> ShardTask | list[ShardTask]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        start = i * self.shard_size
        return ShardTask(shard_id=i, indices=range(start, min(start + self.shard_size, self.n)))


class TaskSubset(Sequence[ShardTask]):
    """Some shards of a plan, by id (an int64 array: 8 bytes per shard)."""

    def __init__(self, plan: Sequence[ShardTask], ids: array) -> None:
        self.plan, self.ids = plan, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self.plan[j] for j in self.ids[i]]
        return self.plan[self.ids[i]]


def plan_shards(n: int, shard_size: int) -> ShardPlan:
    """The checked plan of a run (see ShardPlan); bad --n / --shard-size are one-line errors."""
    if n <= 0:
        raise UserError(f"--n must be > 0, got {n}")
    if n > MAX_SAMPLES:
        raise UserError(f"--n must be <= {MAX_SAMPLES:,} (sample keys have 9 digits), got {n:,}")
    if shard_size <= 0:
        raise UserError(f"--shard-size must be > 0, got {shard_size}")
    return ShardPlan(n, shard_size)


def pending_tasks(out_dir: Path, tasks: Sequence[ShardTask]) -> tuple[TaskSubset, array, list[int]]:
    """Tasks whose shard is not complete with exactly the planned keys; the skipped ids; and
    the ids of finished shards whose bytes no longer match their index's sha256.

    A shard holding recorded failures is pending too: a re-run retries them (samples are a
    function of (seed, index), so re-rendering the shard reproduces the ones it had). So is a
    corrupt one (a flipped byte a size check cannot see); verifying reads every finished tar.
    Leftover ``.tmp`` files of killed runs are removed: they are never valid shards (the caller
    holds the DIR lock, so no live run owns them).
    """
    shard_dir = Path(out_dir) / "shards"
    for tmp in shard_dir.glob("*.tmp"):
        tmp.unlink()
    todo, skipped, corrupt = array("q"), array("q"), []
    for task in tasks:
        tar_path = shard_dir / f"{shard_name(task.shard_id)}.tar"
        index = read_index(tar_path)
        if index is not None and shard_bytes_changed(tar_path, index):
            corrupt.append(task.shard_id)
            index = None
        if index is not None and not index.failures and sorted(index.keys) == [sample_key(i) for i in task.indices]:
            skipped.append(task.shard_id)
        else:
            todo.append(task.shard_id)  # no index (the common case of a fresh run: no keys built)
    return TaskSubset(tasks, todo), skipped, corrupt


def run_shards(settings: RunSettings, tasks: Sequence[ShardTask], pool: PoolSettings, progress: ProgressFn) -> RunReport:
    report = RunReport()
    if pool.workers == 0:
        worker = ShardWorker(settings)
        try:
            for task in tasks:
                _record(report, worker.render_shard(task, progress))
        finally:
            worker.close()
        return report
    return _run_on_ray(settings, tasks, pool, progress, report)


def _record(report: RunReport, result: ShardResult) -> None:
    report.shards_done.append(result.shard_id)
    report.samples += result.samples
    report.failures.extend(result.failures)
    report.stats.append(result.stats)


def _run_on_ray(settings: RunSettings, tasks: Sequence[ShardTask], pool: PoolSettings, progress: ProgressFn, report: RunReport) -> RunReport:
    import ray
    from ray.util.queue import Empty, Queue

    _init_ray(pool)
    pool = _fit_pool_to_cluster(pool, ray.cluster_resources())
    actor_cls = ray.remote(_RayShardWorker).options(num_cpus=pool.cpus_per_worker, num_gpus=pool.gpus_per_worker)
    events = Queue(actor_options={"num_cpus": 0})
    fresh = iter(tasks)  # never materialised: a 300M-sample plan stays lazy
    retries: deque[ShardTask] = deque()
    attempts: dict[int, int] = {}
    in_flight: dict[Any, tuple[Any, ShardTask]] = {}
    idle: list[Any] = []
    rendered: dict[Any, int] = {}
    reported: dict[int, int] = {}  # shard id -> samples the bar counted for its current attempt

    def count(shard_id: int, index: int, ok: bool) -> None:
        reported[shard_id] = reported.get(shard_id, 0) + 1
        progress(index, ok)

    try:
        upcoming = next(fresh, None)
        while upcoming is not None or retries or in_flight:
            while (upcoming is not None or retries) and len(in_flight) < pool.workers:
                actor = idle.pop() if idle else actor_cls.remote(settings, events)
                if retries:
                    task = retries.popleft()
                else:
                    task, upcoming = upcoming, next(fresh, None)
                attempts[task.shard_id] = attempts.get(task.shard_id, 0) + 1
                in_flight[actor.render_shard.remote(task)] = (actor, task)
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.5)
            _drain(events, count, Empty)
            for ref in done:
                actor, task = in_flight.pop(ref)
                try:
                    _record(report, ray.get(ref))
                    attempts.pop(task.shard_id, None)  # only shards in progress are tracked
                    reported.pop(task.shard_id, None)
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                    if isinstance(getattr(exc, "cause", None), UserError):
                        raise UserError(str(exc.cause)) from None  # e.g. no GPU: every retry would fail too
                    ray.kill(actor)
                    rendered.pop(actor, None)
                    _drain(events, count, Empty)  # what it reported before dying, then take it back
                    counted = reported.pop(task.shard_id, 0)
                    if counted and hasattr(progress, "rewind"):
                        progress.rewind(counted)  # type: ignore[attr-defined]
                    cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    if attempts[task.shard_id] < pool.max_shard_attempts:
                        retries.append(task)
                        _note(f"a render worker died on shard {task.shard_id} ({cause}); "
                              f"re-queued it (attempt {attempts[task.shard_id] + 1} of {pool.max_shard_attempts})")
                    else:
                        report.shards_failed[task.shard_id] = cause
                        _note(f"a render worker died on shard {task.shard_id} ({cause}); "
                              f"giving up on it after {pool.max_shard_attempts} attempts")
                    continue
                rendered[actor] = rendered.get(actor, 0) + len(task.indices)
                if rendered[actor] >= pool.recycle_every:
                    ray.kill(actor)  # a fresh process frees what bpy leaked
                    rendered.pop(actor)
                else:
                    idle.append(actor)
        _drain(events, count, Empty)
    finally:  # on an interrupt too: no actor outlives the run (their .tmp files go on resume)
        for actor in idle + [actor for actor, _ in in_flight.values()]:
            ray.kill(actor)
        events.shutdown()
    return report


def _note(message: str) -> None:
    """A line for the user that does not break a progress bar on the same terminal."""
    from tqdm import tqdm

    tqdm.write(f"synthhuman: {message}", file=sys.stderr)


def _fit_pool_to_cluster(pool: PoolSettings, resources: dict[str, float]) -> PoolSettings:
    """At most as many workers as the cluster can place at once.

    An actor asking for a GPU the cluster lacks waits forever, and with it the run: refuse
    with one line instead, and shrink a pool larger than the GPUs (or CPUs) available.
    """
    fits = [pool.workers]
    for resource, per_worker in (("GPU", pool.gpus_per_worker), ("CPU", pool.cpus_per_worker)):
        if per_worker > 0:
            fits.append(int(resources.get(resource, 0.0) // per_worker))
    workers = min(fits)
    if workers == 0:
        have = ", ".join(f"{k} {v:g}" for k, v in sorted(resources.items()) if k in ("CPU", "GPU")) or "none"
        raise UserError(f"the Ray cluster cannot place one worker ({pool.gpus_per_worker:g} GPU, "
                        f"{pool.cpus_per_worker:g} CPU each; it has {have}): use --device cpu or a cluster with GPUs")
    if workers < pool.workers:
        print(f"--workers {pool.workers}: the Ray cluster fits {workers}; using {workers}", file=sys.stderr)
    return dataclasses.replace(pool, workers=workers)


def _drain(events: Any, count: Callable[[int, int, bool], None], empty_exc: type) -> None:
    """Hand every (shard id, index, ok) the actors reported so far to `count`."""
    while True:
        try:
            shard_id, index, ok = events.get_nowait()
        except empty_exc:
            return
        count(shard_id, index, ok)


def _init_ray(pool: PoolSettings) -> None:
    import ray

    if ray.is_initialized():
        return
    if pool.address:
        ray.init(address=pool.address, log_to_driver=True)
    else:
        ray.init(num_cpus=max(1, int(pool.workers * pool.cpus_per_worker)), include_dashboard=False, log_to_driver=False)


class _RayShardWorker:
    """The Ray actor: a ShardWorker that reports each finished sample to the driver's queue."""

    def __init__(self, settings: RunSettings, events: Any):
        self.worker = ShardWorker(settings)
        self.events = events

    def render_shard(self, task: ShardTask) -> ShardResult:
        return self.worker.render_shard(task, lambda index, ok: self.events.put((task.shard_id, index, ok)))
