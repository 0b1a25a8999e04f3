"""Our EXRs read correctly with OpenCV, the way users and the DAViD release's viewer open them.

`cv2.imread` returns EXR colour channels in B, G, R order, reads X/Y/Z-named channels as one
grey channel and a lone Z as zeros, so these tests call cv2 itself rather than our reading of
its behaviour: the layout's normals must come back as x, y, z in channels 0, 1, 2 (the
release's `visualize_normal_maps` order) and depth as centimetres; a shard's members, written
to disk, as metres and x, y, z.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # cv2 reads EXR only with this set

import cv2
import numpy as np

from synthhuman.codecs import encode_exr
from synthhuman.formats.synthhuman_layout import read_layout_sample, write_layout_sample
from synthhuman.inspect import check_storage
from synthhuman.shards import decode_sample, encode_sample
from tests.pure.test_synthhuman_layout import analytic_person


def cv2_read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"cv2 could not read {path}"
    return image.astype(np.float64)


def test_cv2_reads_layout_normals_as_xyz_and_depth_as_centimetres(tmp_path: Path):
    sample = analytic_person(4)
    write_layout_sample(tmp_path, 4, sample)
    normal = cv2_read(tmp_path / "normal_0000004.exr")
    assert normal.shape == (*sample.depth.shape, 3)
    np.testing.assert_allclose(normal, sample.normal, atol=1e-3)  # channel 0 = x (right), 2 = z (to camera)
    fg = sample.depth > 0
    assert normal[fg, 2].min() > 0  # a camera-facing surface: z, not x, in the last channel
    depth_cm = cv2_read(tmp_path / "depth_0000004.exr")
    assert depth_cm.shape == sample.depth.shape
    np.testing.assert_allclose(depth_cm[fg], sample.depth[fg] * 100, atol=0.5)
    assert np.all(depth_cm[~fg] == 65504)


def test_cv2_reads_lossless_layout_depth_in_centimetres(tmp_path: Path):
    sample = analytic_person(5)
    write_layout_sample(tmp_path, 5, sample, lossless=True)
    depth_cm = cv2_read(tmp_path / "depth_0000005.exr")
    fg = sample.depth > 0
    np.testing.assert_allclose(depth_cm[fg], sample.depth[fg] * 100, rtol=1e-6)


def test_release_style_file_reads_as_the_viewer_reads_it(tmp_path: Path):
    """A file with x in B, y in G, z in R (what cv2 returns as x, y, z) reads as those normals."""
    sample = analytic_person(6)
    write_layout_sample(tmp_path, 6, sample)
    n = sample.normal
    (tmp_path / "normal_0000006.exr").write_bytes(
        encode_exr({"R": n[..., 2], "G": n[..., 1], "B": n[..., 0]}, "float16"))
    viewer = cv2_read(tmp_path / "normal_0000006.exr")  # what visualize_normal_maps gets
    ours = read_layout_sample(tmp_path, 6).normal
    np.testing.assert_allclose(ours, viewer, atol=0)
    np.testing.assert_allclose(ours, n, atol=1e-3)


def test_cv2_reads_shard_members_as_metres_and_xyz(tmp_path: Path):
    sample = analytic_person(7)
    record = encode_sample(sample)
    for name in ("depth.exr", "normal.exr"):
        (tmp_path / name).write_bytes(record[name])
    np.testing.assert_array_equal(cv2_read(tmp_path / "depth.exr"), sample.depth)
    np.testing.assert_allclose(cv2_read(tmp_path / "normal.exr"), sample.normal, atol=1e-3)


def test_shards_of_earlier_versions_still_decode_and_inspect(tmp_path: Path):
    """Before the cv2-friendly names, shards stored depth in Z and normals in X, Y, Z."""
    sample = analytic_person(8)
    record = encode_sample(sample)
    n = sample.normal
    record["depth.exr"] = encode_exr({"Z": sample.depth}, "float32")
    record["normal.exr"] = encode_exr({"X": n[..., 0], "Y": n[..., 1], "Z": n[..., 2]}, "float16")
    back = decode_sample(record)
    np.testing.assert_array_equal(back.depth, sample.depth)
    np.testing.assert_array_equal(back.normal, sample.normal)
    assert check_storage(record) == []
    assert check_storage(encode_sample(sample)) == []
