"""WebDataset shards: sample <-> bytes, an atomic shard writer, its index file, and readers.

Layout of an output directory::

    DIR/dataset.json                 run manifest (see manifest.py)
    DIR/shards/shard-000000.tar      WebDataset tar: <key>.rgb.png, .alpha.png, .depth.exr, .normal.exr
                                     (one member per row of synthhuman.outputs), .json
    DIR/shards/shard-000000.index.json   keys, failures, byte size, sha256 of the tar and a crc32
                                         per member: present only once the tar is complete

A shard is written as ``.tar.tmp``, fsynced and renamed, then its index is written the
same way: a crash leaves at most a temp file, never a half shard, and a shard counts as
finished only when its index exists and agrees with the tar's size. The content hashes
catch what a size cannot (a flipped byte): resume re-renders a shard whose sha256 is wrong,
`inspect` verifies both, and training checks each member's crc32 as it reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthhuman import outputs
from synthhuman.assets import file_sha256
from synthhuman.errors import UserError, is_out_of_space, out_of_space
from synthhuman.sample import CameraMesh, RenderedSample, WornMesh
from synthhuman.strand_ply import decode_strands_ply, encode_strands_ply

SAMPLE_KEYS = (*(o.member for o in outputs.REQUIRED), "json")  # members every sample has
WORN_PREFIX = "worn."  # "worn.<slot>.ply": one garment's exported mesh (with --export-mesh)
TAR_MTIME = 0  # fixed header time keeps shards byte-reproducible


def shard_name(shard_id: int) -> str:
    return f"shard-{shard_id:06d}"


# --------------------------------------------------------------------------- one sample


def encode_sample(sample: RenderedSample) -> dict[str, bytes]:
    """RenderedSample -> {extension: bytes}; the exact inverse of :func:`decode_sample`.

    Each map is stored by its row of the output table (``synthhuman.outputs``): alpha as
    16-bit PNG (step 1.5e-5), depth float32, normals float16 (error < 5e-4), as DESIGN.md
    specifies. A map that is not in the table is refused, not dropped.
    """
    _check_arrays(sample)
    record = {"__key__": sample.key.encode()}
    for out in outputs.present(sample.maps):
        record[out.member] = out.encode(sample.maps[out.key])
    record["json"] = json.dumps(sample.meta, sort_keys=True).encode()
    if sample.mesh is not None:
        record["mesh.ply"] = encode_mesh_ply(sample.mesh)
        if sample.mesh.strands:
            record["hair.ply"] = encode_strands_ply(sample.mesh.strands)
        for item in sample.mesh.worn:
            record[f"{WORN_PREFIX}{item.name}.ply"] = encode_mesh_ply(item)
    return record


def decode_sample(record: dict[str, Any]) -> RenderedSample:
    """{extension: bytes} (from tarfile or webdataset) -> RenderedSample."""
    missing = [k for k in SAMPLE_KEYS if k not in record]
    key = _as_text(record.get("__key__", b"?"))
    if missing:
        raise ValueError(f"sample {key} lacks {', '.join(missing)}")
    maps = {out.key: out.decode(record[out.member]) for out in outputs.OUTPUTS if out.member in record}
    mesh = decode_mesh_ply(record["mesh.ply"]) if "mesh.ply" in record else None
    if mesh is not None and "hair.ply" in record:
        mesh.strands = decode_strands_ply(record["hair.ply"])
    if mesh is not None:
        for member in sorted(k for k in record if k.startswith(WORN_PREFIX) and k.endswith(".ply")):
            part = decode_mesh_ply(record[member])
            mesh.worn.append(WornMesh(member[len(WORN_PREFIX):-len(".ply")], part.vertices, part.faces,
                                      part.vertex_normals))
    return RenderedSample(key=key, maps=maps, meta=json.loads(record["json"]), mesh=mesh)


def _as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _check_arrays(sample: RenderedSample) -> None:
    unknown = sorted(set(sample.maps) - set(outputs.OUTPUT_KEYS))
    if unknown:
        raise ValueError(f"sample {sample.key}: maps {unknown} are not in the output table (synthhuman.outputs)")
    missing = [o.key for o in outputs.REQUIRED if o.key not in sample.maps]
    if missing:
        raise ValueError(f"sample {sample.key}: lacks {', '.join(missing)}")
    h, w = sample.rgb.shape[:2]
    for out in outputs.present(sample.maps):
        problem = out.shape_problem(sample.maps[out.key], h, w)
        if problem:
            raise ValueError(f"sample {sample.key}: {problem}")


def encode_mesh_ply(mesh: CameraMesh | WornMesh) -> bytes:
    """Binary PLY with vertex normals, written by trimesh."""
    import trimesh

    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, vertex_normals=mesh.vertex_normals, process=False)
    return trimesh.exchange.ply.export_ply(tm, encoding="binary", include_attributes=True, vertex_normal=True)


def decode_mesh_ply(data: bytes) -> CameraMesh:
    import trimesh

    tm = trimesh.load(io.BytesIO(data), file_type="ply", process=False)
    return CameraMesh(
        vertices=np.asarray(tm.vertices, dtype=np.float32),
        faces=np.asarray(tm.faces, dtype=np.int32),
        vertex_normals=np.asarray(tm.vertex_normals, dtype=np.float32),
    )


# --------------------------------------------------------------------------- one shard


@dataclass
class SampleFailure:
    """A sample that failed every attempt: recorded, never silently dropped."""

    index: int
    key: str
    error: str
    attempts: int


@dataclass
class ShardIndex:
    """The ``<shard>.index.json`` written beside a finished tar."""

    shard_id: int
    keys: list[str]
    failures: list[SampleFailure] = field(default_factory=list)
    tar_bytes: int = 0
    stats: dict[str, Any] = field(default_factory=dict)  # timings, framing counts, worker info
    sha256: str = ""  # of the whole tar; "" in shards written before hashes were recorded
    member_crc32: dict[str, int] = field(default_factory=dict)  # "<key>.<ext>" -> zlib.crc32

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ShardIndex:
        data = json.loads(text)
        data["failures"] = [SampleFailure(**f) for f in data.get("failures", [])]
        return cls(**data)


class ShardWriter:
    """Streams records into ``<name>.tar.tmp``; ``commit`` makes the shard visible atomically."""

    def __init__(self, shard_dir: Path, shard_id: int):
        self.shard_dir = Path(shard_dir)
        self.shard_id = shard_id
        self.final_path = self.shard_dir / f"{shard_name(shard_id)}.tar"
        self.tmp_path = self.shard_dir / f"{shard_name(shard_id)}.tar.tmp"
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(self.tmp_path, "wb")
        self._hashing = _HashingWriter(self._file)
        self._tar = tarfile.open(fileobj=self._hashing, mode="w", format=tarfile.USTAR_FORMAT)
        self.keys: list[str] = []
        self.member_crc32: dict[str, int] = {}

    def add(self, record: dict[str, bytes]) -> None:
        key = _as_text(record["__key__"])
        for ext in sorted(k for k in record if k != "__key__"):
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size = len(record[ext])
            info.mtime = TAR_MTIME
            info.mode = 0o644
            self._tar.addfile(info, io.BytesIO(record[ext]))
            self.member_crc32[info.name] = zlib.crc32(record[ext])
        self.keys.append(key)

    def commit(self, failures: list[SampleFailure], stats: dict[str, Any]) -> ShardIndex:
        """Close, fsync and rename the tar, then write its index (also atomically)."""
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.tmp_path, self.final_path)
        index = ShardIndex(self.shard_id, list(self.keys), failures, self.final_path.stat().st_size, stats,
                           self._hashing.sha256.hexdigest(), dict(self.member_crc32))
        atomic_write_text(index_path(self.final_path), index.to_json())
        return index

    def abort(self) -> None:
        """Remove the temp file, whatever state the writer is in (a full disk fails the close)."""
        for close in (self._tar.close, self._file.close):
            with contextlib.suppress(OSError):
                close()
        self.tmp_path.unlink(missing_ok=True)


class _HashingWriter:
    """A write-only file object that hashes what passes through (tarfile writes sequentially)."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return self._file.write(data)

    def tell(self) -> int:
        return self._file.tell()


def shard_bytes_changed(tar_path: Path, index: ShardIndex) -> bool:
    """The tar's sha256 is not the one its index recorded (False for shards written unhashed)."""
    return bool(index.sha256) and file_sha256(tar_path) != index.sha256


def record_crc_problem(record: dict[str, Any], index: ShardIndex | None) -> str | None:
    """The first member of a record whose crc32 is not the recorded one, or None.

    Cheap enough to run on every sample read (zlib's crc32 runs at GB/s); unhashed indexes pass.
    """
    if index is None or not index.member_crc32:
        return None
    key = _as_text(record["__key__"])
    for ext, value in record.items():
        if ext.startswith("__") or not isinstance(value, bytes):
            continue
        name = f"{key}.{ext}"
        expected = index.member_crc32.get(name)
        if expected is None:
            return f"member {name} is not in its index"
        if zlib.crc32(value) != expected:
            return f"member {name} fails its crc32 (bytes changed after writing)"
    return None


def index_path(tar_path: Path) -> Path:
    return Path(str(tar_path)[: -len(".tar")] + ".index.json")


def atomic_write_text(path: Path, text: str) -> None:
    """Write `path` via `path.tmp`; on failure the temp file is removed (a full disk: OutOfSpace)."""
    tmp = Path(f"{path}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if is_out_of_space(exc):
            raise out_of_space(path) from None
        raise


def load_index(tar_path: Path) -> ShardIndex | None:
    """The shard's index file as written, whatever the tar now holds; None if absent or unreadable."""
    ipath = index_path(tar_path)
    if not ipath.exists():
        return None
    try:
        return ShardIndex.from_json(ipath.read_text())
    except (ValueError, TypeError, KeyError):
        return None


def read_index(tar_path: Path, verify: bool = False) -> ShardIndex | None:
    """The shard's index if the shard is complete (index present, tar size agrees), else None.

    With `verify`, the tar's sha256 must also match (it reads the whole tar).
    """
    index = load_index(tar_path)
    if index is None or not Path(tar_path).exists():
        return None
    if index.tar_bytes != Path(tar_path).stat().st_size:
        return None
    if verify and shard_bytes_changed(Path(tar_path), index):
        return None
    return index


def count_indexed_samples(paths: list[str] | list[Path]) -> int | None:
    """Samples held by local shards, from their index files; None when any is remote or unfinished."""
    total = 0
    for path in paths:
        index = read_index(Path(path)) if Path(path).is_file() else None
        if index is None:
            return None
        total += len(index.keys)
    return total


def iter_records(tar_path: Path) -> Iterator[dict[str, bytes]]:
    """Group a shard's tar members by key, in file order (plain ``tarfile``, no webdataset)."""
    current: dict[str, bytes] = {}
    try:
        with tarfile.open(tar_path, "r") as tar:
            for member in tar:
                key, _, ext = member.name.partition(".")
                if current and current["__key__"] != key.encode():
                    yield current
                    current = {}
                current.setdefault("__key__", key.encode())
                current[ext] = tar.extractfile(member).read()  # type: ignore[union-attr]
    except (tarfile.TarError, OSError) as exc:
        raise UserError(f"corrupt shard {tar_path}: {exc}") from None
    if current:
        yield current


def iter_samples(tar_path: Path) -> Iterator[RenderedSample]:
    for record in iter_records(tar_path):
        try:
            yield decode_sample(record)
        except Exception as exc:
            raise UserError(f"corrupt shard {tar_path}: sample {_as_text(record['__key__'])}: {exc}") from None


def list_shards(out_dir: Path) -> list[Path]:
    return sorted((Path(out_dir) / "shards").glob("shard-*.tar"))
