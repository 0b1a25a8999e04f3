"""The streaming loader: batch contract, every kind of source, worker splitting, padding rules, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from synthhuman.train.augment import AugmentConfig
from synthhuman.train.data import DataConfig, build_dataset, make_loader, pad_to_square, square_padding

from synthhuman.errors import UserError
from synthhuman.formats.synthhuman_layout import write_layout_sample
from synthhuman.sample import RenderedSample
from synthhuman.shards import ShardWriter, decode_sample, encode_sample

pytestmark = pytest.mark.train
H, W = 64, 48  # portrait 3:4, like 512 x 384
N_SHARDS, PER_SHARD = 3, 4


def portrait_person(index: int) -> RenderedSample:
    """An ellipse touching the left edge (so padding matters), soft alpha, sphere-cap depth and normals."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    a, b = 16.0, 24.0
    u, v = (xs - 10.0) / a, (ys - 32.0) / b
    rho = np.hypot(u, v)
    cap = np.sqrt(np.clip(1 - rho**2, 0, 1))
    normal = np.stack([u, -v, cap], -1)
    normal = np.where((rho < 1)[..., None], normal / np.linalg.norm(normal, axis=-1, keepdims=True), 0)
    rng = np.random.default_rng(index)
    sample = RenderedSample(
        key=f"{index:09d}",
        maps={
            "rgb": rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
            "alpha": np.clip((1 - rho) * a / 1.5 + 0.5, 0, 1).astype(np.float32),
            "depth": np.where(rho < 1, 2.0 + index - 0.3 * cap, 0).astype(np.float32),
            "normal": normal.astype(np.float32),
        },
        meta={"K": [[50.0, 0, 24], [0, 50.0, 32], [0, 0, 1]], "framing": ("face", "upper", "full")[index % 3]},
    )
    return decode_sample(encode_sample(sample))


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ds")
    for shard_id in range(N_SHARDS):
        writer = ShardWriter(root / "shards", shard_id)
        for i in range(PER_SHARD):
            writer.add(encode_sample(portrait_person(shard_id * PER_SHARD + i)))
        writer.commit([], {})
    return root


@pytest.fixture(scope="module")
def layout_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    for i in range(5):
        write_layout_sample(root, i, portrait_person(i), lossless=True)
    return root


def all_batches(source: str, workers: int = 0, train: bool = False, cfg: DataConfig | None = None) -> list[dict]:
    return list(make_loader(source, cfg or DataConfig(image_size=H), batch_size=3, num_workers=workers, train=train))


def keys_of(batches: list[dict]) -> list[str]:
    return [k for batch in batches for k in batch["key"]]


def check_batch(batch: dict, size: int) -> None:
    n = len(batch["key"])
    expected = {"rgb": (n, 3, size, size), "alpha": (n, 1, size, size), "depth": (n, 1, size, size),
                "normals": (n, 3, size, size), "mask": (n, 1, size, size)}
    for name, shape in expected.items():
        assert tuple(batch[name].shape) == shape, name
        assert batch[name].dtype == (torch.bool if name == "mask" else torch.float32), name
    for name in ("rgb", "alpha"):
        assert batch[name].min() >= 0 and batch[name].max() <= 1
    mask = batch["mask"]
    assert torch.equal(mask, batch["depth"] > 0)
    norms = batch["normals"].norm(dim=1, keepdim=True)
    torch.testing.assert_close(norms[mask], torch.ones(int(mask.sum())), atol=1e-4, rtol=0)
    assert (norms[~mask] == 0).all()
    assert set(batch["framing"]) <= {"face", "upper", "full", "unknown"}


@pytest.mark.parametrize("train", [False, True])
def test_batch_contract_from_a_dataset_dir(dataset_dir: Path, train: bool):
    batches = all_batches(str(dataset_dir), train=train)
    for batch in batches:
        check_batch(batch, H)
    assert sorted(keys_of(batches)) == [f"{i:09d}" for i in range(12)]  # 12 samples, batch 3: no partial batch


def test_every_kind_of_source_yields_the_same_samples(dataset_dir: Path, layout_dir: Path):
    shards = dataset_dir / "shards"
    assert build_dataset(str(dataset_dir), DataConfig(), train=False).num_samples == 12  # from the index files
    by_dir = keys_of(all_batches(str(dataset_dir)))
    assert by_dir == [f"{i:09d}" for i in range(12)]
    assert keys_of(all_batches(f"{shards}/*.tar")) == by_dir
    assert keys_of(all_batches(f"{shards}/shard-{{000000..000002}}.tar")) == by_dir
    assert keys_of(all_batches(f"pipe:cat {shards}/shard-000001.tar")) == by_dir[4:8]
    layout = all_batches(str(layout_dir))
    check_batch(layout[0], H)
    assert keys_of(layout) == [f"{i:09d}" for i in range(5)]


def test_layout_folder_and_shards_give_the_same_tensors(dataset_dir: Path, layout_dir: Path):
    from_shards, from_layout = all_batches(str(dataset_dir))[0], all_batches(str(layout_dir))[0]
    for name in ("rgb", "alpha", "depth", "normals", "mask"):
        assert torch.equal(from_shards[name], from_layout[name]), name  # lossless layout: identical


def test_two_workers_neither_duplicate_nor_drop_in_eval(dataset_dir: Path, layout_dir: Path):
    for source, count in ((str(dataset_dir), 12), (str(layout_dir), 5)):
        first = keys_of(all_batches(source, workers=2))
        assert sorted(first) == sorted(set(first)) and len(first) == count
        assert keys_of(all_batches(source, workers=2)) == first  # deterministic order


def test_eval_pads_by_replicating_rgb_and_alpha_and_invalidates_padded_gt(dataset_dir: Path):
    batch = all_batches(str(dataset_dir))[0]
    sample = portrait_person(0)
    left = (H - W) // 2
    rgb = torch.from_numpy(pad_to_square(sample.rgb)).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(batch["rgb"][0], rgb, atol=1e-4, rtol=0)
    torch.testing.assert_close(batch["alpha"][0, 0], torch.from_numpy(pad_to_square(sample.alpha)), atol=1e-4, rtol=0)
    assert batch["alpha"][0, 0, :, :left].max() > 0.9  # the body touches the left edge: alpha continues
    assert not batch["mask"][0, 0, :, :left].any() and not batch["mask"][0, 0, :, left + W :].any()
    inner = batch["depth"][0, 0, :, left : left + W]
    assert torch.equal(inner, torch.from_numpy(sample.depth))


def test_resize_to_a_smaller_image_size(dataset_dir: Path):
    batch = all_batches(str(dataset_dir), cfg=DataConfig(image_size=32))[0]
    check_batch(batch, 32)
    assert not batch["mask"][:, :, :, :4].any()  # pad of 8 source px = 4 output px stays invalid


def test_pad_to_square_replicates_the_sides():
    image = np.arange(4 * 2 * 3, dtype=np.uint8).reshape(4, 2, 3)
    padded = pad_to_square(image)
    assert padded.shape == (4, 4, 3) and square_padding(4, 2) == (0, 0, 1, 1)
    np.testing.assert_array_equal(padded[:, 0], image[:, 0])
    np.testing.assert_array_equal(padded[:, 1:3], image)
    np.testing.assert_array_equal(padded[:, 3], image[:, 1])
    wide = torch.arange(10.0).reshape(1, 2, 5)
    out = pad_to_square(wide)
    assert out.shape == (1, 5, 5) and square_padding(2, 5) == (1, 2, 0, 0)
    assert torch.equal(out[0, 0], wide[0, 0]) and torch.equal(out[0, 3], wide[0, 1]) and torch.equal(out[0, 4], wide[0, 1])


def test_training_is_reproducible_and_epochs_differ(dataset_dir: Path):
    cfg = DataConfig(image_size=H, seed=5, shuffle_buffer=4)
    loader_a = make_loader(str(dataset_dir), cfg, batch_size=3, num_workers=0, train=True)
    loader_b = make_loader(str(dataset_dir), cfg, batch_size=3, num_workers=2, train=True)
    epoch0_a = {k: v for batch in loader_a for k, v in zip(batch["key"], batch["rgb"], strict=True)}
    epoch0_b = {k: v for batch in loader_b for k, v in zip(batch["key"], batch["rgb"], strict=True)}
    assert sorted(epoch0_a) == [f"{i:09d}" for i in range(12)]
    common = set(epoch0_a) & set(epoch0_b)  # each worker drops its own last partial batch in train mode
    assert len(common) >= 6
    for key in common:  # per-sample rng: the worker count does not matter
        assert torch.equal(epoch0_a[key], epoch0_b[key]), key
    epoch1 = {k: v for batch in loader_a for k, v in zip(batch["key"], batch["rgb"], strict=True)}
    assert not all(torch.equal(epoch0_a[k], epoch1[k]) for k in epoch1)
    loader_a.set_epoch(0)
    again = {k: v for batch in loader_a for k, v in zip(batch["key"], batch["rgb"], strict=True)}
    assert all(torch.equal(epoch0_a[k], again[k]) for k in again)


def test_bad_sources_are_one_line_user_errors(tmp_path: Path):
    with pytest.raises(UserError, match="no shards match"):
        build_dataset(str(tmp_path / "missing-*.tar"), DataConfig(), train=False)
    with pytest.raises(UserError, match="no shards"):
        build_dataset(str(tmp_path), DataConfig(), train=False)
    (tmp_path / "bad.tar").write_bytes(b"not a tar file at all" * 40)
    with pytest.raises(UserError, match="corrupt shard"):
        build_dataset(str(tmp_path / "*.tar"), DataConfig(), train=False)


def test_truncated_shard_fails_with_one_line_in_workers(dataset_dir: Path, tmp_path: Path):
    data = (dataset_dir / "shards" / "shard-000000.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2 + 100])
    with pytest.raises(UserError) as info:
        all_batches(str(tmp_path / "cut.tar"), workers=1)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"corrupt or unreadable shard {tmp_path / 'cut.tar'}: ")
    assert message.count("corrupt") == 1 and "BufferedReader" not in message  # no tuple repr, said once


def _copy_dataset(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_shard_cut_at_a_member_boundary_is_not_a_smaller_epoch(dataset_dir: Path, tmp_path: Path):
    """Issue 12 item 6: a tar cut after its first sample reads cleanly; its index says otherwise."""
    import tarfile

    root = _copy_dataset(dataset_dir, tmp_path / "ds")
    tar_path = root / "shards" / "shard-000001.tar"
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
    first_key = members[0].name.split(".")[0]
    boundary = next(m.offset for m in members if not m.name.startswith(first_key))
    tar_path.write_bytes(tar_path.read_bytes()[:boundary] + b"\0" * 1024)  # a clean end of archive
    with pytest.raises(UserError, match=r"shard-000001.tar: \d+ bytes where its index records") as info:
        all_batches(str(root), workers=0)
    assert "\n" not in str(info.value)
    # An index that agrees with the cut size (say, rewritten by hand): the count still differs.
    import json

    from synthhuman.shards import index_path

    ipath = index_path(tar_path)
    ipath.write_text(json.dumps({**json.loads(ipath.read_text()), "tar_bytes": tar_path.stat().st_size}))
    with pytest.raises(UserError, match=f"read 1 of the {PER_SHARD} samples its index lists"):
        all_batches(str(root), workers=1)


def test_a_flipped_byte_fails_training_by_crc(dataset_dir: Path, tmp_path: Path):
    """Issue 12 item 5: a flipped byte that still decodes must not reach the model."""
    import tarfile

    root = _copy_dataset(dataset_dir, tmp_path / "ds")
    tar_path = root / "shards" / "shard-000000.tar"
    with tarfile.open(tar_path) as tar:
        member = next(m for m in tar if m.name.endswith(".json"))
    data = bytearray(tar_path.read_bytes())
    at = member.offset_data + data[member.offset_data:member.offset_data + member.size].index(b"0")
    data[at:at + 1] = b"1"  # a digit for a digit: still valid JSON, a different number
    tar_path.write_bytes(bytes(data))
    with pytest.raises(UserError, match=f"member {member.name} fails its crc32"):
        all_batches(str(root), workers=0)


def test_train_geometry_composes_with_padding(dataset_dir: Path):
    """Flip-only training batches equal the mirrored eval batches: pad, resize and augment share one map."""
    probs = {name: 0.0 for name in AugmentConfig.__dataclass_fields__ if name.endswith("_prob")}
    flip_only = DataConfig(image_size=H, shuffle_buffer=1, augmentation=AugmentConfig(**{**probs, "flip_prob": 1.0}))
    batches = all_batches(str(dataset_dir), train=True, cfg=flip_only)
    train = {key: i for i, key in enumerate(keys_of(batches))}
    flipped = {name: torch.cat([b[name] for b in batches]) for name in ("rgb", "alpha", "depth", "normals", "mask")}
    evaluated = all_batches(str(dataset_dir))[0]
    for row, key in enumerate(evaluated["key"]):
        got = {name: value[train[key]] for name, value in flipped.items()}
        torch.testing.assert_close(got["rgb"], evaluated["rgb"][row].flip(-1), atol=1e-4, rtol=0)
        torch.testing.assert_close(got["alpha"], evaluated["alpha"][row].flip(-1), atol=1e-4, rtol=0)
        assert torch.equal(got["mask"], evaluated["mask"][row].flip(-1))
        assert torch.equal(got["depth"], evaluated["depth"][row].flip(-1))
        mirrored = evaluated["normals"][row].flip(-1) * torch.tensor([-1.0, 1.0, 1.0]).view(3, 1, 1)
        torch.testing.assert_close(got["normals"], mirrored, atol=1e-5, rtol=0)


def test_ranks_split_training_data_but_an_unsplit_loader_sees_everything(dataset_dir: Path, layout_dir: Path,
                                                                         monkeypatch: pytest.MonkeyPatch):
    """Under DDP each rank streams its part; rank 0's evaluation loader must still see the whole set."""
    for source, count in ((str(dataset_dir), 12), (str(layout_dir), 5)):
        parts = []
        for rank in (0, 1):
            monkeypatch.setenv("RANK", str(rank))
            monkeypatch.setenv("WORLD_SIZE", "2")
            parts.append(set(keys_of(all_batches(source))))
            whole = keys_of(all_batches(source, cfg=DataConfig(image_size=H, augment=False, split_across_ranks=False)))
            assert len(whole) == count and len(set(whole)) == count
        assert parts[0].isdisjoint(parts[1]) and len(parts[0] | parts[1]) == count


def test_no_full_batch_per_worker_is_explained(tmp_path: Path):
    """Unclear message (issue 12): 8 samples in shards of 3, 3, 2, batch 4, 3 workers: every
    worker holds under a batch. Say that, not 'fewer samples than a batch?'."""
    for shard_id, count in enumerate((3, 3, 2)):
        writer = ShardWriter(tmp_path / "shards", shard_id)
        for i in range(count):
            writer.add(encode_sample(portrait_person(shard_id * 3 + i)))
        writer.commit([], {})
    loader = make_loader(str(tmp_path), DataConfig(image_size=H), batch_size=4, num_workers=3, train=True)
    with pytest.raises(UserError, match="split over 3 loader workers, and each drops its last partial batch"):
        list(loader)
    assert make_loader(str(tmp_path), DataConfig(image_size=H), 4, 8, True).num_workers == 3  # one per shard


def test_an_added_output_row_reaches_the_loader_and_moves_with_the_image(monkeypatch):
    """A bilinear optional row (a coverage map) is turned into a tensor and warped like alpha."""
    from synthhuman.train.augment import warp_sample
    from synthhuman.train.data import to_tensors

    from synthhuman import outputs

    row = outputs.Output("hairmask", "hair coverage", "png_unit16", 1, "[0, 1]", "0", tensor="hair",
                         resample="bilinear", required=False)
    table = (*outputs.OUTPUTS, row)
    monkeypatch.setattr(outputs, "OUTPUTS", table)
    monkeypatch.setattr(outputs, "OUTPUT_KEYS", tuple(o.key for o in table))
    sample = portrait_person(0)
    sample.maps["hairmask"] = sample.alpha.copy()  # same values as alpha: must warp identically
    tensors = to_tensors(sample)
    assert tensors["hair"].shape == tensors["alpha"].shape
    flip = np.array([[-1.0, 0, W - 1], [0, 1, 0], [0, 0, 1]])
    out = warp_sample(tensors, flip, (H, W), np.diag([-1.0, 1, 1]))
    assert torch.equal(out["hair"], out["alpha"])
    torch.testing.assert_close(out["alpha"], torch.flip(tensors["alpha"], dims=[-1]), atol=1e-5, rtol=0)
