"""Shard format: exact round trips, atomic writes, completeness, and both readers."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest

from synthhuman.errors import UserError
from synthhuman.sample import CameraMesh, RenderedSample
from synthhuman.shards import (
    ShardWriter,
    decode_sample,
    encode_sample,
    iter_samples,
    read_index,
)


def make_sample(index: int, rng: np.random.Generator, h: int = 12, w: int = 9) -> RenderedSample:
    normal = rng.normal(size=(h, w, 3)).astype(np.float32)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    return RenderedSample(
        key=f"{index:09d}",
        maps={
            "rgb": rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8),
            "alpha": rng.random((h, w)).astype(np.float32),
            "depth": (rng.random((h, w)) * 5).astype(np.float32),
            "normal": normal,
        },
        meta={"K": np.eye(3).tolist(), "index": index},
    )


def test_round_trip_is_exact_within_storage_precision():
    rng = np.random.default_rng(0)
    sample = make_sample(3, rng)
    back = decode_sample(encode_sample(sample))
    assert back.key == sample.key
    np.testing.assert_array_equal(back.rgb, sample.rgb)
    np.testing.assert_array_equal(back.depth, sample.depth)  # float32 EXR: bit-exact
    assert np.abs(back.alpha - sample.alpha).max() <= 0.5 / 65535 + 1e-7  # 16-bit quantisation
    assert np.abs(back.normal - sample.normal).max() < 1e-3  # float16 storage
    assert back.meta == sample.meta


def test_mesh_round_trip():
    rng = np.random.default_rng(1)
    sample = make_sample(0, rng)
    sample.mesh = CameraMesh(
        vertices=rng.random((5, 3)).astype(np.float32),
        faces=np.array([[0, 1, 2], [2, 3, 4]], dtype=np.int32),
        vertex_normals=np.tile(np.array([[0.0, 0.0, 1.0]], np.float32), (5, 1)),
    )
    back = decode_sample(encode_sample(sample))
    np.testing.assert_array_equal(back.mesh.vertices, sample.mesh.vertices)
    np.testing.assert_array_equal(back.mesh.faces, sample.mesh.faces)
    np.testing.assert_allclose(back.mesh.vertex_normals, sample.mesh.vertex_normals, atol=1e-6)


def test_mismatched_shapes_are_rejected():
    sample = make_sample(0, np.random.default_rng(2))
    sample.depth = sample.depth[:-1]
    with pytest.raises(ValueError, match="depth is"):
        encode_sample(sample)


def test_writer_is_atomic_and_indexed(tmp_path):
    rng = np.random.default_rng(3)
    writer = ShardWriter(tmp_path / "shards", 7)
    for i in range(3):
        writer.add(encode_sample(make_sample(i, rng)))
    assert writer.tmp_path.exists() and not writer.final_path.exists()
    assert read_index(writer.final_path) is None  # not complete before commit
    index = writer.commit([], {"note": 1})
    assert not writer.tmp_path.exists()
    assert read_index(writer.final_path) == index
    assert index.keys == ["000000000", "000000001", "000000002"]
    # A tar whose size disagrees with its index is not complete.
    with open(writer.final_path, "ab") as f:
        f.write(b"\0" * 512)
    assert read_index(writer.final_path) is None


def test_abort_leaves_nothing(tmp_path):
    writer = ShardWriter(tmp_path / "shards", 0)
    writer.add(encode_sample(make_sample(0, np.random.default_rng(4))))
    writer.abort()
    assert list((tmp_path / "shards").iterdir()) == []


def test_shards_are_byte_reproducible(tmp_path):
    for name in ("a", "b"):
        writer = ShardWriter(tmp_path / name, 0)
        for i in range(2):
            writer.add(encode_sample(make_sample(i, np.random.default_rng(i))))
        writer.commit([], {})
    assert (tmp_path / "a/shard-000000.tar").read_bytes() == (tmp_path / "b/shard-000000.tar").read_bytes()


def test_readable_by_tarfile_and_webdataset(tmp_path):
    import webdataset as wds

    writer = ShardWriter(tmp_path, 0)
    samples = [make_sample(i, np.random.default_rng(i)) for i in range(3)]
    for s in samples:
        writer.add(encode_sample(s))
    writer.commit([], {})
    with tarfile.open(writer.final_path) as tar:
        names = tar.getnames()
    assert "000000001.depth.exr" in names and len(names) == 15
    records = list(wds.WebDataset(str(writer.final_path), shardshuffle=False))
    assert [r["__key__"] for r in records] == [s.key for s in samples]
    decoded = decode_sample(records[1])
    np.testing.assert_array_equal(decoded.depth, samples[1].depth)
    assert [s.key for s in iter_samples(writer.final_path)] == [s.key for s in samples]


def test_corrupt_shard_is_a_one_line_user_error(tmp_path):
    writer = ShardWriter(tmp_path, 0)
    writer.add(encode_sample(make_sample(0, np.random.default_rng(0))))
    writer.commit([], {})
    data = writer.final_path.read_bytes()
    writer.final_path.write_bytes(data[:700])  # truncated inside the first member
    with pytest.raises(UserError, match="corrupt shard"):
        list(iter_samples(writer.final_path))


def test_indexed_sample_counts_need_every_index(tmp_path):
    from synthhuman.shards import count_indexed_samples

    writer = ShardWriter(tmp_path, 0)
    for i in range(3):
        writer.add(encode_sample(make_sample(i, np.random.default_rng(i))))
    writer.commit([], {})
    unfinished = ShardWriter(tmp_path, 1)
    unfinished.add(encode_sample(make_sample(9, np.random.default_rng(9))))
    assert count_indexed_samples([writer.final_path]) == 3
    assert count_indexed_samples([writer.final_path, unfinished.tmp_path]) is None  # no index yet
    assert count_indexed_samples(["pipe:cat x.tar"]) is None  # remote: unknown


def test_sample_framing_reads_the_json_or_the_spec():
    from synthhuman.sample import sample_framing

    assert sample_framing({"spec": {"camera": {"framing": "face"}}}) == "face"
    assert sample_framing({"framing": "full", "spec": None}) == "full"
    assert sample_framing({"spec": {"camera": {"framing": "selfie"}}}) == "unknown"
    assert sample_framing({}) == "unknown"


CORRUPT_EXR_DECODE = """
import numpy as np
from synthhuman.codecs import decode_exr, encode_exr
data = bytearray(encode_exr({"Y": np.add.outer(np.arange(64), np.arange(64)).astype(np.float32) / 128}))
for at in range(len(data) // 2, len(data) // 2 + 40, 3):  # inside the compressed pixel data
    data[at] ^= 0xFF
try:
    decode_exr(bytes(data))
except ValueError as exc:
    print("raised:", exc)
"""


def test_openexr_c_lines_do_not_reach_stderr():
    """Unclear message (issue 12): OpenEXR printed its own lines (stdout and stderr) for a
    corrupt EXR. They go into the one-line error instead."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", CORRUPT_EXR_DECODE], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("raised:") and "EXR_ERR_CORRUPT_CHUNK" in run.stdout
    assert len(run.stdout.splitlines()) == 1 and run.stderr == "", (run.stdout, run.stderr)
