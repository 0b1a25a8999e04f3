"""Streaming training/eval data: shards or a SynthHuman folder -> padded, augmented batches.

Per sample (each stage yields the next)::

    shard URLs / layout indices      shuffled per epoch (train), split by DDP rank, then worker
    -> raw records / file reads      webdataset tar reader, or the layout reader
    -> RenderedSample                synthhuman.shards.decode_sample / read_layout_sample
    -> square S x S tensors          ONE resampling: pad to square + resize + geometric augment
    -> photometric augment (RGB)     train only
    -> batch dict                    default collate

Padding to square replicates the sides (paper 4.1) for RGB and alpha, so a body touching the
image edge continues consistently into the pad. Depth and normals are NOT extrapolated: padded
pixels are invalid (mask False, depth 0, normals 0) so no loss is computed on invented ground
truth. The same rule covers pixels uncovered by a zoom-out or shift augmentation.

Reproducibility: each sample's augmentation rng is ``sample_rng(seed, epoch, key)``; the epoch
is the number of earlier passes over the loader (or what :meth:`EpochLoader.set_epoch` set).
Eval mode: no augmentation, no shuffling, a fixed order, every sample exactly once across
workers and ranks (shards, or layout indices, are dealt round-robin).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import webdataset as wds
from synthhuman.train.augment import (
    AugmentConfig,
    apply_photometric,
    geometric_matrix,
    normal_matrix,
    sample_augmentation,
    sample_rng,
    warp_sample,
)
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from synthhuman import outputs
from synthhuman.errors import UserError
from synthhuman.formats.synthhuman_layout import (
    layout_framing,
    list_layout_indices,
    read_layout_sample,
    resolve_source,
)
from synthhuman.sample import RenderedSample, sample_framing
from synthhuman.shards import ShardIndex, decode_sample, load_index, record_crc_problem


@dataclass
class DataConfig:
    """How samples become training tensors."""

    image_size: int = 512  # S: output is S x S after padding to square and resizing
    augment: bool = True  # applied in train mode only
    shuffle_buffer: int = 256  # samples held for shuffling within a worker (train mode)
    seed: int = 0  # drives shard order, shuffle buffer and every sample's augmentation
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    # Each DDP rank streams its own part of the data (training). Off for a loader that one
    # rank uses alone to see the whole set, e.g. rank 0's evaluation during training.
    split_across_ranks: bool = True

    def __post_init__(self) -> None:
        if self.image_size < 8:
            raise ValueError(f"DataConfig.image_size = {self.image_size}: must be >= 8")


def square_padding(height: int, width: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) pad that centres an H x W image in a square; crop with it."""
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    return top, side - height - top, left, side - width - left


def pad_to_square(image: Any) -> Any:
    """Pad the short side to a square by replicating the edge pixels (paper 4.1).

    numpy arrays are (H, W) or (H, W, C); torch tensors are (..., H, W). The type is kept.
    """
    if isinstance(image, torch.Tensor):
        top, bottom, left, right = square_padding(*image.shape[-2:])
        flat = image.reshape(-1, 1, *image.shape[-2:])
        padded = F.pad(flat.float() if not flat.is_floating_point() else flat, (left, right, top, bottom), "replicate")
        return padded.to(image.dtype).reshape(*image.shape[:-2], *padded.shape[-2:])
    top, bottom, left, right = square_padding(*image.shape[:2])
    pad = [(top, bottom), (left, right)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad, mode="edge")


def square_resize_matrix(height: int, width: int, size: int) -> np.ndarray:
    """Output (size x size) pixel -> input pixel map of 'pad to square, then resize'."""
    top, _, left, _ = square_padding(height, width)
    ratio = max(height, width) / size
    return np.array([[ratio, 0, 0.5 * ratio - 0.5 - left], [0, ratio, 0.5 * ratio - 0.5 - top], [0, 0, 1]])


def to_tensors(sample: RenderedSample) -> dict[str, torch.Tensor]:
    """RenderedSample (numpy, H x W) -> channel-first float tensors at source resolution, one per
    map of the output table under its tensor name (8-bit maps scaled to [0, 1]), plus the mask
    of valid ground truth (depth > 0)."""
    def tensor(array: np.ndarray, dtype: np.dtype) -> torch.Tensor:  # decoded arrays may be read-only
        return torch.from_numpy(np.require(array, dtype=dtype, requirements=["C", "W"]))

    out = {}
    for row in outputs.present(sample.maps):
        value = tensor(sample.maps[row.key], row.dtype if row.dtype == np.uint8 else np.dtype(np.float32))
        value = value[None] if row.channels == 1 else value.permute(2, 0, 1)
        out[row.tensor] = value.float() / 255.0 if row.dtype == np.uint8 else value
    out["mask"] = out["depth"] > 0
    return out


def prepare_sample(sample: RenderedSample, cfg: DataConfig, train: bool, epoch: int) -> dict[str, Any]:
    """One RenderedSample -> the loader's per-sample dict (see module doc for the rules)."""
    tensors = to_tensors(sample)
    size = cfg.image_size
    matrix = square_resize_matrix(sample.height, sample.width, size)
    params = None
    normal_map = None
    if train and cfg.augment:
        params = sample_augmentation(sample_rng(cfg.seed, epoch, sample.key), cfg.augmentation)
        matrix = matrix @ geometric_matrix(params, size, size)
        normal_map = normal_matrix(params)
    out: dict[str, Any] = warp_sample(tensors, matrix, (size, size), normal_map)
    if params is not None:
        out["rgb"] = apply_photometric(out["rgb"], params)
    out["key"] = sample.key
    out["framing"] = sample_framing(sample.meta)
    return out


def _worker_slot(split_across_ranks: bool = True) -> tuple[int, int, int, int]:
    """(rank, world size, worker id, worker count), as webdataset computes them; rank 0 of 1
    when the data is not split across ranks."""
    rank, world, worker, workers = wds.utils.pytorch_worker_info()
    return (rank, world, worker, workers) if split_across_ranks else (0, 1, worker, workers)


class _StreamDataset(IterableDataset):
    """Shared epoch handling and shuffling for the two sources.

    ``num_samples`` is the total over all ranks when known (no ``__len__``: a stream's
    per-rank length depends on how shards fall to ranks and workers).
    """

    num_samples: int | None = None

    def __init__(self, cfg: DataConfig, train: bool):
        super().__init__()
        self.cfg, self.train, self.epoch = cfg, train, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _epoch_rng(self, *extra: int) -> random.Random:
        return random.Random("/".join(str(v) for v in (self.cfg.seed, self.epoch) + extra))

    def _shuffle(self, items: Iterator[Any]) -> Iterator[Any]:
        """Buffer shuffle within a worker (train only): deterministic per (seed, epoch, rank, worker)."""
        if not self.train or self.cfg.shuffle_buffer <= 1:
            yield from items
            return
        rank, _, worker, _ = _worker_slot()
        rng, buffer = self._epoch_rng(rank, worker), []
        for item in items:
            buffer.append(item)
            if len(buffer) >= self.cfg.shuffle_buffer:
                yield buffer.pop(rng.randrange(len(buffer)))
        rng.shuffle(buffer)
        yield from buffer

    def _prepare(self, sample: RenderedSample) -> dict[str, Any]:
        """In the main process (num_workers=0) run single-threaded: these small per-image ops
        gain nothing from intra-op threads, and on a busy CPU the thread pool made them ~10x slower."""
        if get_worker_info() is not None:  # DataLoader workers already run with one thread
            return prepare_sample(sample, self.cfg, self.train, self.epoch)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return prepare_sample(sample, self.cfg, self.train, self.epoch)
        finally:
            torch.set_num_threads(threads)


_CORRUPT = "corrupt or unreadable shard"


def _raise_corrupt(exc: Exception) -> bool:
    """webdataset's handler: one line naming the shard. webdataset re-raises with the stream
    and URL appended to `args` (and may pass our own error back in), so read the first arg."""
    if isinstance(exc, UserError) and str(exc).startswith(_CORRUPT):
        raise exc
    first = exc.args[0] if exc.args else ""
    while isinstance(first, BaseException) and first.args:
        first = first.args[0]
    text = str(first).split(" @ <", 1)[0].splitlines()[0] if str(first) else type(exc).__name__
    if text.startswith(_CORRUPT):  # our message from the inner handler, passed back up
        text = text.split(": ", 1)[-1]
    url = next((a for a in exc.args[1:] if isinstance(a, str)), None)
    raise UserError(f"{_CORRUPT} {url}: {text}" if url else f"{_CORRUPT}: {text}")


class ShardDataset(_StreamDataset):
    """Samples streamed from WebDataset shards (our ``shards.encode_sample`` format)."""

    def __init__(self, urls: list[str], cfg: DataConfig, train: bool):
        super().__init__(cfg, train)
        self.urls = list(urls)
        self.indexes = _local_indexes(self.urls)
        # Known only when every shard has an index (none remote, none unfinished).
        self.num_samples = (sum(len(i.keys) for i in self.indexes.values())
                            if len(self.indexes) == len(self.urls) else None)

    def _checked_records(self, urls: Iterator[str]) -> Iterator[dict[str, Any]]:
        """Each shard's records, checked against its index: every member's crc32 as it is read,
        and at the shard's end the count, so a shard cut at a member boundary (which a tar
        reader ends cleanly) is an error naming it, not a silently smaller epoch."""
        for url in urls:
            index = self.indexes.get(url)
            count = 0
            for record in wds.tarfile_samples([{"url": url}], handler=_raise_corrupt):
                problem = record_crc_problem(record, index)
                if problem:
                    raise UserError(f"corrupt shard {url}: {problem}; re-run render on its DIR to repair it")
                count += 1
                yield record
            if index is not None and count != len(index.keys):
                raise UserError(f"corrupt shard {url}: read {count} of the {len(index.keys)} samples its "
                                "index lists (truncated?); re-run render on its DIR to repair it")

    def _decoded(self, records: Iterator[dict[str, Any]]) -> Iterator[RenderedSample]:
        for record in records:
            try:
                yield decode_sample(record)
            except Exception as exc:
                raise UserError(f"corrupt shard {record.get('__url__')}: sample {record.get('__key__')}: {exc}") from None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        urls = list(self.urls)
        if self.train:
            self._epoch_rng().shuffle(urls)  # same order on every rank, so ranks partition it
        by_rank = wds.split_by_node(iter(urls)) if self.cfg.split_across_ranks else iter(urls)
        shards = wds.split_by_worker(by_rank)
        for sample in self._decoded(self._shuffle(self._checked_records(shards))):
            yield self._prepare(sample)


class LayoutDataset(_StreamDataset):
    """Samples read from a folder in the public SynthHuman layout."""

    def __init__(self, folder: str, cfg: DataConfig, train: bool):
        super().__init__(cfg, train)
        self.folder = folder
        self.indices = list_layout_indices(folder)
        self.framing = layout_framing(folder, self.indices)
        self.num_samples = len(self.indices)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        indices = list(self.indices)
        if self.train:
            self._epoch_rng().shuffle(indices)
        rank, world, worker, workers = _worker_slot(self.cfg.split_across_ranks)
        mine = indices[rank * workers + worker :: world * workers]
        for index in self._shuffle(iter(mine)):
            yield self._prepare(read_layout_sample(self.folder, index, self.framing[index]))


def _local_indexes(urls: list[str]) -> dict[str, ShardIndex]:
    """Index files of local shards; a tar whose size disagrees with its index is refused here."""
    out = {}
    for url in urls:
        if _is_remote(url) or not Path(url).is_file():
            continue
        index = load_index(Path(url))
        if index is None:
            continue
        size = Path(url).stat().st_size
        if index.tar_bytes and index.tar_bytes != size:
            raise UserError(f"corrupt shard {url}: {size} bytes where its index records {index.tar_bytes} "
                            "(truncated or overwritten); re-run render on its DIR to repair it")
        out[url] = index
    return out


def _is_remote(url: str) -> bool:
    return "://" in url or url.startswith("pipe:")


def _check_local_shards(urls: list[str]) -> None:
    """Fail early, in one line, on a local shard that is not a tar at all."""
    import tarfile

    for url in urls:
        if _is_remote(url) or not Path(url).exists():
            continue
        if not tarfile.is_tarfile(url):
            raise UserError(f"corrupt shard {url}: not a tar file")


def build_dataset(source: str, cfg: DataConfig, train: bool) -> _StreamDataset:
    """An IterableDataset over ``source`` (shard glob / brace pattern / URL / dataset DIR / layout folder)."""
    resolved = resolve_source(str(source))
    if resolved.kind == "layout":
        return LayoutDataset(resolved.paths[0], cfg, train)
    _check_local_shards(list(resolved.paths))
    return ShardDataset(list(resolved.paths), cfg, train)


class EpochLoader(DataLoader):
    """A DataLoader that advances its dataset's epoch on every pass and raises one-line UserErrors.

    Workers are re-created per pass (no persistent workers), so the epoch set here in the
    main process reaches every worker's copy of the dataset.
    """

    def __init__(self, dataset: _StreamDataset, **kwargs: Any):
        super().__init__(dataset, **kwargs)
        self._next_epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass use ``epoch`` (e.g. when resuming); later passes count up from it."""
        self._next_epoch = int(epoch)

    def __iter__(self) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        self.dataset.set_epoch(self._next_epoch)  # type: ignore[attr-defined]
        self._next_epoch += 1
        batches = 0
        try:
            for batch in super().__iter__():
                batches += 1
                yield batch
        except UserError as exc:  # re-raised from a worker with its traceback in the message
            lines = [line for line in str(exc).splitlines() if line.strip()]
            raise UserError(lines[-1].split("UserError: ", 1)[-1] if lines else "data loading failed") from None
        total = getattr(self.dataset, "num_samples", None)
        if batches == 0 and self.drop_last and self.num_workers > 1 and total and total >= (self.batch_size or 1):
            # Each worker batches its own shards and drops its partial batch: say so, not "too few samples".
            raise UserError(f"no full batch of {self.batch_size}: the {total} samples are split over "
                            f"{self.num_workers} loader workers, and each drops its last partial batch; "
                            "use fewer --workers or a smaller --batch-size")


def make_loader(source: str, cfg: DataConfig, batch_size: int, num_workers: int, train: bool) -> EpochLoader:
    """Batches of the dict described in the module doc. Train mode drops the last partial batch."""
    dataset = build_dataset(source, cfg, train)
    if isinstance(dataset, ShardDataset):
        num_workers = min(num_workers, len(dataset.urls))  # a worker gets whole shards: extras sit idle
    return EpochLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        drop_last=train,
        pin_memory=torch.cuda.is_available(),
    )


__all__ = ["DataConfig", "EpochLoader", "build_dataset", "make_loader", "pad_to_square", "square_padding"]
