"""Hair strands as a PLY of polylines (the ``hair.ply`` member of ``--export-mesh`` samples).

Layout: one ``vertex`` element (x, y, z, radius in metres, camera frame; ``family`` an index
into FAMILIES) and one ``edge`` element joining consecutive points of each strand. That is
what generic tools read as polylines: ``trimesh.load`` returns a ``Path3D`` with one entity
per strand (the tests check the format with trimesh, a reader that shares no code with this
module).
"""

from __future__ import annotations

import re

import numpy as np

from synthhuman.sample import Strands

FAMILIES = ("head", "eyebrows", "lashes_upper", "lashes_lower", "facial")
_VERTEX = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("radius", "<f4"), ("family", "u1")])
_EDGE = np.dtype([("vertex1", "<i4"), ("vertex2", "<i4")])


def encode_strands_ply(strands: list[Strands]) -> bytes:
    """Binary little-endian PLY: every strand a chain of edges; a comment line per family gives
    its strand and point counts."""
    vertices, edges, comments, offset = [], [], [], 0
    for s in strands:
        if s.name not in FAMILIES:
            raise ValueError(f"unknown strand family {s.name!r} (known: {', '.join(FAMILIES)})")
        count, points = s.points.shape[:2]
        v = np.zeros(count * points, _VERTEX)
        flat = s.points.reshape(-1, 3)
        v["x"], v["y"], v["z"] = flat[:, 0], flat[:, 1], flat[:, 2]
        v["radius"] = s.radius.reshape(-1)
        v["family"] = FAMILIES.index(s.name)
        ids = offset + np.arange(count * points).reshape(count, points)
        e = np.zeros(count * (points - 1), _EDGE)
        e["vertex1"], e["vertex2"] = ids[:, :-1].ravel(), ids[:, 1:].ravel()
        vertices.append(v)
        edges.append(e)
        comments.append(f"comment strands {s.name} {count} {points}\n")
        offset += count * points
    v_all = np.concatenate(vertices) if vertices else np.zeros(0, _VERTEX)
    e_all = np.concatenate(edges) if edges else np.zeros(0, _EDGE)
    header = ("ply\nformat binary_little_endian 1.0\n" + "".join(comments)
              + f"element vertex {len(v_all)}\nproperty float x\nproperty float y\nproperty float z\n"
              "property float radius\nproperty uchar family\n"
              f"element edge {len(e_all)}\nproperty int vertex1\nproperty int vertex2\nend_header\n")
    return header.encode("ascii") + v_all.tobytes() + e_all.tobytes()


def decode_strands_ply(data: bytes) -> list[Strands]:
    """The inverse of :func:`encode_strands_ply` (numpy over the binary body: a groom has ~10^6
    points, which trimesh's polyline assembly takes minutes over; the tests read the same
    files with trimesh to check the format)."""
    counts = _family_counts(data)
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii", errors="replace")
    sizes = dict(re.findall(r"element (\w+) (\d+)", header))
    n_vertex, n_edge = int(sizes.get("vertex", -1)), int(sizes.get("edge", -1))
    if "binary_little_endian" not in header or n_vertex < 0 or n_edge < 0:
        raise ValueError("hair.ply is not a binary little-endian PLY of vertices and edges")
    if len(data) != end + n_vertex * _VERTEX.itemsize + n_edge * _EDGE.itemsize:
        raise ValueError(f"hair.ply is {len(data)} bytes, its header promises {n_vertex} vertices and {n_edge} edges")
    vertex = np.frombuffer(data, _VERTEX, count=n_vertex, offset=end)
    xyz = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=-1)
    out, offset = [], 0
    for name, (count, points) in counts.items():
        n = count * points
        if offset + n > n_vertex or not np.all(vertex["family"][offset:offset + n] == FAMILIES.index(name)):
            raise ValueError(f"hair.ply: vertices of family {name} are not where its comment says")
        out.append(Strands(name, xyz[offset:offset + n].reshape(count, points, 3).copy(),
                           vertex["radius"][offset:offset + n].reshape(count, points).copy()))
        offset += n
    if offset != n_vertex:
        raise ValueError(f"hair.ply: {n_vertex} vertices, but its family comments account for {offset}")
    expected_edges = sum(c * (p - 1) for c, p in counts.values())
    if n_edge != expected_edges:
        raise ValueError(f"hair.ply: {n_edge} edges, expected {expected_edges} for its strands")
    return out


def _family_counts(data: bytes) -> dict[str, tuple[int, int]]:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise ValueError("hair.ply is not a PLY file")
    counts = {}
    for line in data[:end].decode("ascii", errors="replace").splitlines():
        parts = line.split()
        if parts[:2] == ["comment", "strands"] and len(parts) == 5:
            counts[parts[2]] = (int(parts[3]), int(parts[4]))
    return counts
