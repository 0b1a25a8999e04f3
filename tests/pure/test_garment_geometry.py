"""Garment geometry primitives (issue 14), checked against analytic answers on simple meshes."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from synthhuman.garments import add_hem_strip, boundary_loops_edges, clip_by_field, subdivide
from synthhuman.sample import CameraMesh, RenderedSample, WornMesh
from synthhuman.shards import decode_sample, encode_sample


def grid(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Unit square in the z = 0 plane, n x n quads split into triangles (counter-clockwise)."""
    xs, ys = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1))
    vertices = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return vertices, faces


def area(vertices: np.ndarray, faces: np.ndarray) -> float:
    v0, v1, v2 = (vertices[faces[:, i]] for i in range(3))
    return float(0.5 * np.linalg.norm(np.cross(v1 - v0, v2 - v0), axis=1).sum())


def test_clip_cuts_exactly_along_the_zero_line():
    """A tilted line x + 0.3 y = 0.55 cuts the square; the kept part has the analytic area and
    every new boundary vertex lies on the line, not on the grid's staircase."""
    vertices, faces = grid()
    values = vertices[:, 0] + 0.3 * vertices[:, 1] - 0.55
    binding, clipped = clip_by_field(faces, values)
    cut = binding @ vertices
    # kept region: x < 0.55 - 0.3 y over y in [0, 1]: area = 0.55 - 0.15
    assert abs(area(cut, clipped) - 0.40) < 1e-9
    rim = np.unique(boundary_loops_edges(clipped))
    inner = (cut[rim, 0] > 1e-9) & (cut[rim, 1] > 1e-9) & (cut[rim, 1] < 1 - 1e-9)
    assert inner.sum() > 10
    assert np.abs(cut[rim][inner] @ np.array([1.0, 0.3, 0.0]) - 0.55).max() < 1e-12
    # winding kept: no kept triangle is flipped (a cut through a grid vertex leaves slivers of 0 area)
    n = np.cross(cut[clipped[:, 1]] - cut[clipped[:, 0]], cut[clipped[:, 2]] - cut[clipped[:, 0]])
    assert (n[:, 2] >= 0).all() and (n[:, 2] > 0).mean() > 0.95


def test_subdivision_keeps_the_surface_and_quadruples_triangles():
    vertices, faces = grid(4)
    values = vertices[:, 0] - 2.0  # everything inside
    binding, clipped = clip_by_field(faces, values)
    fine_binding, fine = subdivide(binding, clipped)
    assert len(fine) == 4 * len(clipped)
    assert abs(area(fine_binding @ vertices, fine) - 1.0) < 1e-12
    assert sp.issparse(fine_binding) and np.allclose(fine_binding.sum(axis=1), 1.0)  # affine combinations


def test_hem_strip_closes_every_cut_edge():
    """The strip along the boundary: the shell's edge vertices are copied (own normals), each
    copy with an inner twin ``thickness`` closer to the skin, one quad per cut edge."""
    vertices, faces = grid(6)
    binding, clipped = clip_by_field(faces, vertices[:, 0] - 0.5)
    g = binding.shape[0]
    offset = np.full(g, 0.01)
    b2, f2, o2, m2, edge = add_hem_strip(binding, clipped, offset, np.full(g, 0.0015), 0.003)
    assert b2.shape[0] == g + 2 * len(edge) and len(o2) == b2.shape[0] == len(m2)
    assert np.allclose(o2[edge[:, 1]], 0.007) and np.allclose(o2[edge[:, 0]], 0.01)
    shell_rim = boundary_loops_edges(clipped)
    assert sorted(edge[:, 2]) == sorted(np.unique(shell_rim))  # every edge vertex of the shell has its strip
    assert len(f2) - len(clipped) == 2 * len(shell_rim)  # one quad per cut edge
    assert (b2[edge[:, 0]] != b2[edge[:, 2]]).nnz == 0  # copies anchored where the edge is


def test_worn_meshes_round_trip_through_a_shard_record():
    vertices, faces = grid(3)
    mesh = CameraMesh(vertices.astype(np.float32), faces.astype(np.int32),
                      np.tile(np.float32([0, 0, 1]), (len(vertices), 1)),
                      worn=[WornMesh("top", vertices.astype(np.float32) + 0.01, faces.astype(np.int32),
                                     np.tile(np.float32([0, 1, 0]), (len(vertices), 1)))])
    rgb = np.zeros((4, 5, 3), np.uint8)
    sample = RenderedSample("000000001", {"rgb": rgb, "alpha": np.zeros((4, 5), np.float32),
                                          "depth": np.zeros((4, 5), np.float32),
                                          "normal": np.zeros((4, 5, 3), np.float32)}, {"spec": {}}, mesh)
    record = encode_sample(sample)
    assert "worn.top.ply" in record
    back = decode_sample(record).mesh
    assert [w.name for w in back.worn] == ["top"]
    np.testing.assert_allclose(back.worn[0].vertices, mesh.worn[0].vertices)
    np.testing.assert_array_equal(back.worn[0].faces, mesh.worn[0].faces)
    np.testing.assert_allclose(back.worn[0].vertex_normals, mesh.worn[0].vertex_normals, atol=1e-6)
