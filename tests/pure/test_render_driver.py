"""The render driver end to end with the analytic renderer (exact GT, no Blender):
sharding, resume after a crash, per-sample retries and failures, Ray, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from synthhuman.analytic import AnalyticRenderer
from synthhuman.cli import main
from synthhuman.manifest import DatasetManifest
from synthhuman.shards import iter_samples, list_shards, read_index

BASE = ["render", "--renderer", "analytic", "--resolution", "32x24", "--samples", "1", "--quiet"]


def render(out, *extra: str) -> int:
    return main([*BASE, "--out", str(out), *extra])


def all_keys(out) -> list[str]:
    return [s.key for p in list_shards(out) for s in iter_samples(p)]


def test_in_process_render_writes_complete_shards_and_manifest(tmp_path):
    assert render(tmp_path, "--n", "7", "--shard-size", "3", "--workers", "0") == 0
    shards = list_shards(tmp_path)
    assert [p.name for p in shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert all(read_index(p) is not None for p in shards)
    assert all_keys(tmp_path) == [f"{i:09d}" for i in range(7)]
    manifest = DatasetManifest.read(tmp_path)
    assert manifest.status == "complete" and manifest.counts == {"shards": 3, "samples": 7, "failed": 0}
    assert manifest.seed == 0 and "CC0-1.0" in manifest.licences
    assert not list(tmp_path.rglob("*.tmp"))


def test_same_seed_gives_identical_samples_and_resume_skips(tmp_path):
    assert render(tmp_path / "a", "--n", "4", "--shard-size", "2", "--workers", "0", "--seed", "5") == 0
    assert render(tmp_path / "b", "--n", "4", "--shard-size", "2", "--workers", "0", "--seed", "5") == 0
    for pa, pb in zip(list_shards(tmp_path / "a"), list_shards(tmp_path / "b"), strict=True):
        for sa, sb in zip(iter_samples(pa), iter_samples(pb), strict=True):
            np.testing.assert_array_equal(sa.rgb, sb.rgb)
            assert sa.meta["spec"] == sb.meta["spec"]
    before = {p: p.stat().st_mtime_ns for p in list_shards(tmp_path / "a")}
    assert render(tmp_path / "a", "--n", "6", "--shard-size", "2", "--workers", "0", "--seed", "5") == 0
    after = {p: p.stat().st_mtime_ns for p in list_shards(tmp_path / "a")}
    assert all(after[p] == t for p, t in before.items())  # finished shards untouched
    assert len(after) == 3 and all_keys(tmp_path / "a") == [f"{i:09d}" for i in range(6)]


CRASHING_RUN = textwrap.dedent(
    """
    import os, sys
    from synthhuman.analytic import AnalyticRenderer
    original = AnalyticRenderer.render_sample
    def render_sample(self, spec, export_mesh=False):
        if spec.index == 4:
            os._exit(9)  # a hard crash in the middle of shard 1: no cleanup runs
        return original(self, spec, export_mesh)
    AnalyticRenderer.render_sample = render_sample
    from synthhuman.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_resume_after_a_hard_crash(tmp_path):
    args = [*BASE, "--out", str(tmp_path), "--n", "8", "--shard-size", "3", "--workers", "0"]
    crashed = subprocess.run([sys.executable, "-c", CRASHING_RUN, *args], capture_output=True)
    assert crashed.returncode == 9
    assert [p.name for p in list_shards(tmp_path)] == ["shard-000000.tar"]
    assert (tmp_path / "shards/shard-000001.tar.tmp").exists()  # the half shard never got its name
    assert render(tmp_path, "--n", "8", "--shard-size", "3", "--workers", "0") == 0
    assert all_keys(tmp_path) == [f"{i:09d}" for i in range(8)]  # no duplicates, none missing
    assert not list(tmp_path.rglob("*.tmp"))


def test_failing_sample_is_retried_then_recorded(tmp_path, monkeypatch, capsys):
    calls: dict[int, int] = {}
    original = AnalyticRenderer.render_sample

    def flaky(self, spec, export_mesh=False):
        calls[spec.index] = calls.get(spec.index, 0) + 1
        if spec.index == 1 and calls[1] == 1:
            raise RuntimeError("transient")
        if spec.index == 2:
            raise RuntimeError("always broken")
        return original(self, spec, export_mesh)

    monkeypatch.setattr(AnalyticRenderer, "render_sample", flaky)
    assert render(tmp_path, "--n", "4", "--shard-size", "4", "--workers", "0") == 1
    index = read_index(list_shards(tmp_path)[0])
    assert index.keys == ["000000000", "000000001", "000000003"]
    assert [(f.key, f.attempts) for f in index.failures] == [("000000002", 2)]
    assert "always broken" in index.failures[0].error
    assert calls == {0: 1, 1: 2, 2: 2, 3: 1}
    assert "failed sample 000000002" in capsys.readouterr().err
    assert DatasetManifest.read(tmp_path).status == "incomplete"  # a recorded failure is not "complete"
    # A re-run retries recorded failures: still broken -> still exit 1, nothing lost.
    assert render(tmp_path, "--n", "4", "--shard-size", "4", "--workers", "0") == 1
    assert calls[2] == 4 and read_index(list_shards(tmp_path)[0]).keys == index.keys
    # Once the cause is gone, the re-run heals the dataset.
    monkeypatch.setattr(AnalyticRenderer, "render_sample", original)
    assert render(tmp_path, "--n", "4", "--shard-size", "4", "--workers", "0") == 0
    healed = read_index(list_shards(tmp_path)[0])
    assert healed.keys == [f"{i:09d}" for i in range(4)] and healed.failures == []
    assert DatasetManifest.read(tmp_path).status == "complete"


def test_smaller_n_is_refused_and_no_sample_is_deleted(tmp_path, capsys):
    assert render(tmp_path, "--n", "5", "--shard-size", "3", "--workers", "0") == 0
    before = {p.name: p.read_bytes() for p in list_shards(tmp_path)}
    capsys.readouterr()
    assert render(tmp_path, "--n", "4", "--shard-size", "3", "--workers", "0") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "n = 5" in err[0] and "--n 5" in err[0]
    assert {p.name: p.read_bytes() for p in list_shards(tmp_path)} == before
    assert DatasetManifest.read(tmp_path).n == 5


def test_export_mesh_changed_on_resume_is_refused(tmp_path, capsys):
    assert render(tmp_path, "--n", "2", "--shard-size", "1", "--workers", "0") == 0
    (tmp_path / "shards" / "shard-000001.index.json").unlink()  # one shard left to resume
    assert render(tmp_path, "--n", "2", "--shard-size", "1", "--workers", "0", "--export-mesh") == 2
    assert "different --export-mesh setting" in capsys.readouterr().err


def test_export_mesh_stores_the_camera_space_mesh(tmp_path):
    assert render(tmp_path, "--n", "1", "--workers", "0", "--export-mesh") == 0
    sample = next(iter_samples(list_shards(tmp_path)[0]))
    assert sample.mesh is not None and sample.mesh.faces.shape[1] == 3
    assert (sample.mesh.vertices[:, 2] < 0).all()  # in front of the camera (looking along -z)


def test_ray_pool_matches_in_process_output(tmp_path):
    pytest.importorskip("ray")
    assert render(tmp_path / "ray", "--n", "6", "--shard-size", "2", "--workers", "2") == 0
    assert render(tmp_path / "local", "--n", "6", "--shard-size", "2", "--workers", "0") == 0
    ray_samples = [s for p in list_shards(tmp_path / "ray") for s in iter_samples(p)]
    local_samples = [s for p in list_shards(tmp_path / "local") for s in iter_samples(p)]
    assert [s.key for s in ray_samples] == [s.key for s in local_samples]
    for a, b in zip(ray_samples, local_samples):
        np.testing.assert_array_equal(a.depth, b.depth)
        np.testing.assert_array_equal(a.rgb, b.rgb)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--n", "0"], "--n must be > 0"),
        (["--n", "3", "--shard-size", "0"], "--shard-size must be > 0"),
        (["--n", "3", "--resolution", "big"], "--resolution must look like"),
        (["--n", "3", "--config", "/nonexistent.yaml"], "config file not found"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, capsys, extra, message):
    assert render(tmp_path, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "shards").exists()  # refused before anything was written


def test_unwritable_out_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert render(blocker / "sub", "--n", "1", "--workers", "0") == 2
    assert "cannot write to --out" in capsys.readouterr().err


def test_dir_made_with_other_settings_is_refused_and_kept(tmp_path, capsys):
    assert render(tmp_path, "--n", "2", "--workers", "0", "--seed", "1") == 0
    before = sorted(p.read_bytes() for p in list_shards(tmp_path))
    assert render(tmp_path, "--n", "2", "--workers", "0", "--seed", "2") == 2
    assert "different seed" in capsys.readouterr().err
    cfg = tmp_path / "c.yaml"
    cfg.write_text("camera:\n  roll_deg: [0.0, 1.0]\n")
    assert render(tmp_path, "--n", "2", "--workers", "0", "--seed", "1", "--config", str(cfg)) == 2
    assert "different config" in capsys.readouterr().err
    assert sorted(p.read_bytes() for p in list_shards(tmp_path)) == before
    assert json.loads((tmp_path / "dataset.json").read_text())["seed"] == 1


def test_missing_asset_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    import synthhuman.assets as assets

    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "hdris.yaml").write_text(
        '- id: hdri/gone\n  kind: hdri\n  path: manifest:gone.exr\n  licence: CC0-1.0\n'
        '  attribution: nobody\n  source: https://example.org\n  version: "1"\n  sha256: "' + "0" * 64 + '"\n'
    )
    real_load = assets.load_library
    monkeypatch.setattr(assets, "load_library", lambda manifest_dir=None: real_load(manifests))
    out = tmp_path / "out"
    assert render(out, "--n", "2", "--workers", "0") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("synthhuman: error: missing asset hdri/gone") and len(err.splitlines()) == 1
    assert not out.exists()


def test_pool_is_fitted_to_what_the_cluster_can_place():
    from synthhuman.distributed import PoolSettings, _fit_pool_to_cluster
    from synthhuman.errors import UserError

    gpu_pool = PoolSettings(workers=8, gpus_per_worker=1.0, cpus_per_worker=1.0)
    assert _fit_pool_to_cluster(gpu_pool, {"CPU": 64.0, "GPU": 4.0}).workers == 4
    assert _fit_pool_to_cluster(PoolSettings(workers=3), {"CPU": 16.0}).workers == 3
    with pytest.raises(UserError, match="cannot place one worker .* GPU 0|cannot place one worker"):
        _fit_pool_to_cluster(gpu_pool, {"CPU": 2.0})


def test_gpu_device_without_gpus_is_one_line_under_ray(tmp_path, capsys):
    pytest.importorskip("ray")
    assert render(tmp_path, "--n", "2", "--workers", "1", "--device", "cuda") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("synthhuman: error: the Ray cluster cannot place one worker (1 GPU")


def test_a_crashed_ray_worker_s_shard_is_requeued_on_a_fresh_actor(tmp_path):
    ray = pytest.importorskip("ray")
    from pathlib import Path

    ray.shutdown()
    marker = tmp_path / "crashed"
    root = str(Path(__file__).resolve().parents[2])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={
        "worker_process_setup_hook": "tests.pure.ray_crash_hook.install",
        "env_vars": {"SYNTHHUMAN_TEST_CRASH_MARKER": str(marker), "PYTHONPATH": root},
    })
    try:
        assert render(tmp_path / "out", "--n", "6", "--shard-size", "3", "--workers", "2") == 0
    finally:
        ray.shutdown()
    assert marker.exists(), "the worker never crashed: the test did not test anything"
    assert all_keys(tmp_path / "out") == [f"{i:09d}" for i in range(6)]
    assert all(read_index(p).failures == [] for p in list_shards(tmp_path / "out"))
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_ray_workers_are_recycled_after_recycle_every_samples(tmp_path):
    """bpy leaks over long sessions: an actor that rendered --recycle-every samples is replaced."""
    pytest.importorskip("ray")
    assert render(tmp_path, "--n", "8", "--shard-size", "2", "--workers", "1", "--recycle-every", "4") == 0
    pids = [read_index(p).stats["worker"]["pid"] for p in list_shards(tmp_path)]
    assert len(pids) == 4
    assert pids[0] == pids[1] and pids[2] == pids[3]  # 4 samples per process...
    assert pids[1] != pids[2]  # ...then a fresh one
    assert all_keys(tmp_path) == [f"{i:09d}" for i in range(8)]


def test_absurd_n_is_refused_and_a_large_plan_is_small(capsys):
    import tracemalloc

    from synthhuman.distributed import plan_shards

    assert main([*BASE, "--out", "unused", "--n", "99999999999999999999", "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--n must be <=" in err[0]
    tracemalloc.start()
    tasks = plan_shards(300_000_000, 1000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(tasks) == 300_000 and list(tasks[-1].indices)[-1] == 299_999_999
    assert tasks[7].indices == range(7000, 8000) and tasks[-1].shard_id == 299_999
    assert peak < 100e3  # lazy: eager tuples of every index needed ~12 GB, a list of ranges ~80 MB


def test_resume_planning_of_300m_samples_stays_small(tmp_path):
    """Issue 12 item 14: what a fresh 300M-sample run holds to know its pending shards. Measured
    in a fresh process: in this one, threads left by earlier tests allocate during the window."""
    code = textwrap.dedent(
        f"""
        import tracemalloc
        from pathlib import Path
        from synthhuman.distributed import pending_tasks, plan_shards
        out = Path({str(tmp_path)!r})
        (out / "shards").mkdir()
        tracemalloc.start()
        todo, skipped, corrupt = pending_tasks(out, plan_shards(300_000_000, 10_000))
        peak = tracemalloc.get_traced_memory()[1]
        assert len(todo) == 30_000 and len(skipped) == 0 and corrupt == []
        assert todo[-1].indices == range(299_990_000, 300_000_000)
        print(peak)
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) < 4e6  # ~2 MB measured: 8 bytes per pending shard id, no sample keys for absent shards


def flip_byte_in_member(tar_path, suffix: str) -> str:
    """Flip one byte in the middle of the first member ending in `suffix`; the tar stays valid."""
    import tarfile

    with tarfile.open(tar_path) as tar:
        member = next(m for m in tar if m.name.endswith(suffix))
    data = bytearray(tar_path.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0x01
    tar_path.write_bytes(bytes(data))
    return member.name


def test_a_flipped_byte_is_found_by_inspect_and_repaired_by_resume(tmp_path, capsys):
    """Issue 12 item 5: sizes cannot see a flipped byte; the recorded hashes can."""
    from synthhuman.inspect import inspect_dataset

    assert render(tmp_path, "--n", "6", "--shard-size", "3", "--workers", "0") == 0
    shard = list_shards(tmp_path)[0]
    original = list(iter_samples(shard))
    index = read_index(shard)
    assert len(index.sha256) == 64 and len(index.member_crc32) == 3 * 5  # 5 members per sample
    name = flip_byte_in_member(shard, ".depth.exr")
    assert read_index(shard) is not None  # the size still agrees: only the hash can tell
    problems = inspect_dataset(tmp_path, progress=False).problems
    assert f"shard-000000 / {name.split('.')[0]}: member {name} fails its crc32 (bytes changed after writing)" in problems
    assert any("sha256 differs" in p for p in problems)
    capsys.readouterr()
    assert render(tmp_path, "--n", "6", "--shard-size", "3", "--workers", "0") == 0
    assert "shard 0: its bytes differ from its index's sha256" in capsys.readouterr().err
    for again, before in zip(iter_samples(shard), original, strict=True):  # re-rendered from (seed, index)
        assert again.key == before.key
        np.testing.assert_array_equal(again.depth, before.depth)
    assert inspect_dataset(tmp_path, progress=False).problems == []


SLOW_RAY_RUN = textwrap.dedent(
    """
    import sys, ray
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, runtime_env={
        "worker_process_setup_hook": "tests.pure.ray_slow_hook.install",
        "env_vars": {"PYTHONPATH": sys.argv[1]}})
    from synthhuman.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


def wait_for_first_shard(out, proc, timeout_s: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not list((out / "shards").glob("*.index.json")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no shard finished in time"
        time.sleep(0.1)


def test_sigterm_stops_a_ray_render_with_130_and_keeps_finished_shards(tmp_path):
    """Issue 12 item 7: SIGTERM (a scheduler's stop) is handled like Ctrl-C: one clear line,
    exit 130, no Ray stack dump, finished shards kept, and the re-run completes."""
    import signal
    from pathlib import Path

    pytest.importorskip("ray")
    root = str(Path(__file__).resolve().parents[2])
    out = tmp_path / "out"
    args = [*BASE, "--out", str(out), "--n", "20", "--shard-size", "2", "--workers", "1"]
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RAY_RUN, root, *args], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_first_shard(out, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("synthhuman: interrupted; finished shards are kept"), err
    assert "Traceback" not in err and "Stack" not in err, err
    finished = list_shards(out)
    assert finished and len(finished) < 10 and all(read_index(p) is not None for p in finished)
    assert render(out, "--n", "20", "--shard-size", "2", "--workers", "0") == 0
    assert all_keys(out) == [f"{i:09d}" for i in range(20)]


SLOW_RUN = textwrap.dedent(
    """
    import sys, time
    from synthhuman.analytic import AnalyticRenderer
    original = AnalyticRenderer.render_sample
    def render_sample(self, spec, export_mesh=False):
        time.sleep(0.3)
        return original(self, spec, export_mesh)
    AnalyticRenderer.render_sample = render_sample
    from synthhuman.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_second_render_into_a_busy_dir_is_refused_and_a_dead_run_s_lock_is_not(tmp_path, capsys):
    """Issue 12 item 8: two renders into one DIR deleted each other's temp files. A second one
    is now refused in one line naming the holder; a SIGKILLed holder leaves .lock behind, and
    the next run takes it anyway (flock dies with its process)."""
    import os
    import signal

    out = tmp_path / "out"
    args = [*BASE, "--out", str(out), "--n", "40", "--shard-size", "2", "--workers", "0"]
    first = subprocess.Popen([sys.executable, "-c", SLOW_RUN, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    wait_for_first_shard(out, first)
    capsys.readouterr()
    assert render(out, "--n", "40", "--shard-size", "2", "--workers", "0") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"is in use by another render (pid {first.pid} on " in err[0], err
    assert first.poll() is None  # the refused run touched nothing of the running one
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert (out / ".lock").exists()  # left behind by the killed run: stale
    assert render(out, "--n", "40", "--shard-size", "2", "--workers", "0") == 0
    assert all_keys(out) == [f"{i:09d}" for i in range(40)]
    assert not (out / ".lock").exists() and os.listdir(out / "shards")


@pytest.fixture
def small_fs(tmp_path):
    """A 1 MiB tmpfs (room for ~3 shards of 2 samples at 256x192), remountable larger; needs
    mount privileges (root in CI's container), else skipped."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_full_disk_stops_the_run_in_one_line_and_the_rerun_completes(small_fs, workers, capsys):
    """Issue 12 item 11: a full disk gave chained tracebacks, a leftover .tar.tmp (abort raised in
    close), 34 futile Ray actor restarts and a crash writing the manifest. Now: one line, exit 2,
    no temp file, finished shards intact; after freeing space the same command completes."""
    if workers != "0":
        pytest.importorskip("ray")
    out = small_fs / "out"
    args = ["--n", "16", "--shard-size", "2", "--workers", workers, "--resolution", "256x192"]
    assert main(["render", "--renderer", "analytic", "--samples", "1", "--quiet", "--out", str(out), *args]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[-1].startswith("synthhuman: error: no space left on the device writing "), err
    assert not any("Traceback" in line for line in err)
    assert not list(out.rglob("*.tmp")), list(out.rglob("*.tmp"))
    finished = list_shards(out)
    assert 1 <= len(finished) < 8 and all(read_index(p, verify=True) is not None for p in finished)
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_fs)], check=True)
    assert main(["render", "--renderer", "analytic", "--samples", "1", "--quiet", "--out", str(out), *args]) == 0
    assert all_keys(out) == [f"{i:09d}" for i in range(16)]


def test_empty_out_is_refused_not_the_current_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*BASE, "--out", "", "--n", "2", "--workers", "0"]) == 2
    assert "--out is empty" in capsys.readouterr().err
    assert not (tmp_path / "shards").exists() and not (tmp_path / "dataset.json").exists()


def test_a_dead_ray_worker_is_announced_and_not_double_counted(tmp_path, capsys):
    """Unclear message (issue 12): after an actor died the bar counted its shard twice (8/6) and
    nothing said a worker had died."""
    pytest.importorskip("ray")
    import re

    import ray

    ray.shutdown()
    root = str(Path(__file__).resolve().parents[2])
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, runtime_env={
        "worker_process_setup_hook": "tests.pure.ray_crash_hook.install",
        "env_vars": {"SYNTHHUMAN_TEST_CRASH_MARKER": str(tmp_path / "crashed"), "PYTHONPATH": root},
    })
    try:
        args = [a for a in BASE if a != "--quiet"]
        assert main([*args, "--out", str(tmp_path / "out"), "--n", "6", "--shard-size", "3", "--workers", "1"]) == 0
    finally:
        ray.shutdown()
    err = capsys.readouterr().err
    assert "synthhuman: a render worker died on shard 1 (" in err and "re-queued it (attempt 2 of" in err
    counts = [int(n) for n in re.findall(r"\| *(\d+)/6 \[", err)]
    assert counts and max(counts) == 6 and counts[-1] == 6, counts
