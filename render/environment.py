"""The floor under the person: a Cycles shadow catcher at z = 0 (issue 15, HDRI scenes).

Measured in bpy 5.0.1 (WARDROBE_NOTES, and re-checked here): with a transparent film the
catcher leaves the film alpha exactly that of the person alone (max difference 0.0), blocks
the Environment pass where it is hit, and writes the ratio of the light it receives with and
without the person into the Shadow Catcher pass (1 = unshadowed). The floor's RGB is then the
HDRI seen along each pixel ray (``backplate``) times that ratio, composited under the person
in ``passes.rgb_from_layers``; depth ignores it through its object index.

The plane is built once and switched per sample (hidden from rendering when the spec has no
ground), so a sample without a ground renders exactly as before environments existed.
"""

from __future__ import annotations

import bpy
import numpy as np

from synthhuman.spec import EnvironmentSpec

GROUND_PASS_INDEX = 3  # object index of the floor: Cycles writes IndexOB from the first sample, like Z
GROUND_HALF_SIZE_M = 40.0  # beyond it rays reach the HDRI itself, which shows the same ground


def build_ground(collection: bpy.types.Collection) -> bpy.types.Object:
    """A square shadow-catcher plane at z = 0 with a grey diffuse material (its bounce light)."""
    s = GROUND_HALF_SIZE_M
    mesh = bpy.data.meshes.new("synthhuman_ground")
    mesh.from_pydata([(-s, -s, 0.0), (s, -s, 0.0), (s, s, 0.0), (-s, s, 0.0)], [], [(0, 1, 2, 3)])
    material = bpy.data.materials.new("synthhuman_ground")
    material.use_nodes = True
    bsdf = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.name = "ground_bsdf"
    bsdf.inputs["Roughness"].default_value = 1.0
    mesh.materials.append(material)
    ground = bpy.data.objects.new("synthhuman_ground", mesh)
    ground.is_shadow_catcher = True
    ground.pass_index = GROUND_PASS_INDEX
    collection.objects.link(ground)
    return ground


def apply_environment(ground: bpy.types.Object, env: EnvironmentSpec) -> None:
    ground.hide_render = not env.ground
    bsdf = ground.active_material.node_tree.nodes["ground_bsdf"]
    a = float(env.ground_albedo)
    bsdf.inputs["Base Color"].default_value = (a, a, a, 1.0)


def hdri_pixels(image: bpy.types.Image) -> np.ndarray:
    """(H, W, 3) float32 linear RGB of an HDRI datablock, row 0 at the top (Blender stores
    bottom-up)."""
    w, h = image.size
    flat = np.empty(w * h * image.channels, np.float32)
    image.pixels.foreach_get(flat)
    return flat.reshape(h, w, image.channels)[::-1, :, :3].copy()
