"""The output table is the one place that defines a sample's maps: codec, loader, inspect and README read it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from synthhuman import outputs
from synthhuman.inspect import check_shapes
from synthhuman.sample import RenderedSample
from synthhuman.shards import SAMPLE_KEYS, decode_sample, encode_sample

README = Path(__file__).resolve().parents[2] / "README.md"


def _sample(h: int = 6, w: int = 5, seed: int = 0) -> RenderedSample:
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=(h, w, 3)).astype(np.float32)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    maps = {"rgb": rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "alpha": rng.random((h, w)).astype(np.float32),
            "depth": (1 + rng.random((h, w))).astype(np.float32), "normal": normal}
    return RenderedSample("000000000", maps, {"K": np.eye(3).tolist()})


def test_readme_sample_table_is_the_output_table():
    text = README.read_text()
    for row in outputs.markdown_rows():
        assert row in text, f"README's sample table lacks or differs from: {row}"


def test_every_row_round_trips_through_its_codec():
    sample = _sample()
    for row in outputs.OUTPUTS:
        array = sample.maps[row.key]
        back = row.decode(row.encode(array))
        assert back.shape == row.shape(6, 5) and back.dtype == row.dtype
        tol = {"png_srgb8": 0, "png_unit16": 1 / 65535, "exr_scalar32": 0, "exr_vector16": 1e-3}[row.codec]
        np.testing.assert_allclose(back, array, atol=tol)


def test_shard_members_come_from_the_table():
    assert SAMPLE_KEYS[:-1] == tuple(o.member for o in outputs.REQUIRED)
    record = encode_sample(_sample())
    assert set(record) == {"__key__", "json", *(o.member for o in outputs.OUTPUTS)}


def test_attribute_access_reads_and_writes_the_maps():
    sample = _sample()
    assert sample.depth is sample.maps["depth"]
    sample.depth = np.zeros((6, 5), np.float32)
    assert not sample.maps["depth"].any()
    with pytest.raises(AttributeError, match="no attribute or map 'hair'"):
        _ = sample.hair


def test_a_map_outside_the_table_is_refused_not_dropped():
    sample = _sample()
    sample.maps["hair"] = np.zeros((6, 5), np.float32)
    with pytest.raises(ValueError, match=r"\['hair'\] are not in the output table"):
        encode_sample(sample)


def test_a_missing_required_map_is_named():
    sample = _sample()
    del sample.maps["normal"]
    with pytest.raises(ValueError, match="lacks normal"):
        encode_sample(sample)
    assert "normal is missing" in check_shapes(sample)


@pytest.fixture
def hair_row(monkeypatch: pytest.MonkeyPatch) -> outputs.Output:
    """An optional coverage map added as one row, as a new scene part would add it."""
    row = outputs.Output("hairmask", "hair coverage", "png_unit16", 1, "[0, 1]", "0", tensor="hair",
                         resample="bilinear", required=False)
    table = (*outputs.OUTPUTS, row)
    monkeypatch.setattr(outputs, "OUTPUTS", table)
    monkeypatch.setattr(outputs, "BY_KEY", {o.key: o for o in table})
    monkeypatch.setattr(outputs, "OUTPUT_KEYS", tuple(o.key for o in table))
    return row


def test_one_row_adds_an_output_end_to_end(hair_row: outputs.Output):
    sample = _sample()
    without = decode_sample(encode_sample(sample))
    assert "hairmask" not in without.maps  # optional: absent samples stay valid
    sample.hairmask = np.linspace(0, 1, 30, dtype=np.float32).reshape(6, 5)
    record = encode_sample(sample)
    assert "hairmask.png" in record
    back = decode_sample(record)
    np.testing.assert_allclose(back.hairmask, sample.hairmask, atol=1 / 65535)
    assert check_shapes(back) == []
    back.hairmask = back.hairmask[:-1]
    assert check_shapes(back) == ["hairmask is (5, 5), expected (6, 5)"]
    assert any("`hairmask.png` | hair coverage (optional)" in r for r in outputs.markdown_rows())


def test_a_row_with_an_unknown_codec_fails_at_definition():
    with pytest.raises(ValueError, match="unknown codec 'jpeg'"):
        dataclasses.replace(outputs.output("alpha"), codec="jpeg")
    with pytest.raises(KeyError, match="unknown output 'hair'; known: rgb, alpha, depth, normal"):
        outputs.output("hair")


def test_a_sample_pickles_as_ray_ships_it():
    import copy
    import pickle

    sample = _sample()
    for back in (pickle.loads(pickle.dumps(sample)), copy.deepcopy(sample)):
        assert back.key == sample.key and set(back.maps) == set(sample.maps)
        np.testing.assert_array_equal(back.normal, sample.normal)
