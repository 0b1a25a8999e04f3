"""Per-sample triangle mesh objects (garments, glasses): created from numpy, removed with their data.

Their topology changes from sample to sample, so they are rebuilt each sample rather than
rewritten in place like the body; removing the mesh data with the object keeps a long shard
from piling up orphans.
"""

from __future__ import annotations

import bpy
import numpy as np


def triangle_mesh_object(collection: bpy.types.Collection, name: str, vertices: np.ndarray, faces: np.ndarray,
                         material: bpy.types.Material) -> bpy.types.Object:
    """A smooth-shaded triangle mesh object with one material, linked into ``collection``."""
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(vertices))
    mesh.vertices.foreach_set("co", np.asarray(vertices, np.float32).ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", np.asarray(faces, np.int32).ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), bool))
    mesh.materials.append(material)
    mesh.update(calc_edges=True)
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    return obj


def remove_mesh_objects(objects: dict[str, bpy.types.Object]) -> None:
    """Delete these objects and their mesh data."""
    for obj in objects.values():
        data = obj.data
        bpy.data.objects.remove(obj, do_unlink=True)
        bpy.data.meshes.remove(data)


def vertex_normals(obj: bpy.types.Object) -> np.ndarray:
    """(N, 3) Blender's smooth vertex normals of a mesh object (object = world frame here)."""
    mesh = obj.data
    out = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertex_normals.foreach_get("vector", out)
    return out.reshape(-1, 3)


def vertex_positions(obj: bpy.types.Object) -> np.ndarray:
    mesh = obj.data
    out = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", out)
    return out.reshape(-1, 3)


def triangles(mesh: bpy.types.Mesh) -> np.ndarray:
    """(F, 3) int32 vertex indices of a triangle mesh, as Blender holds it (what Cycles renders)."""
    out = np.empty(len(mesh.polygons) * 3, np.int32)
    mesh.polygons.foreach_get("vertices", out)
    return out.reshape(-1, 3)
