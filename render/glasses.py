"""Glasses in the Blender scene: a frame mesh and a lens mesh per sample, their two materials.

Geometry comes from ``synthhuman.glasses``. The lenses are Glass (refraction and reflection in
RGB whatever the GT mode) and write their own AOVs instead of the person ``normal``: ``lens``
(coverage) and ``lens_normal`` (their smooth geometric normal), and they carry object index
``LENS_PASS_INDEX``, which Cycles writes from the first sample like Z. ``render/passes.py``
then composes the GT of lens pixels from the lens (``--transparent-gt surface``) or from a
second render with the lenses hidden (``see-through``, the default; paper A.2).
"""

from __future__ import annotations

import bpy
from synthhuman.render.materials import _fresh_material, _node
from synthhuman.render.mesh_objects import remove_mesh_objects, triangle_mesh_object
from synthhuman.render.passes import LENS_AOVS, LENS_PASS_INDEX, add_person_aovs

from synthhuman.glasses import GlassesMesh
from synthhuman.outfit import GlassesSpec


def build_frame_material() -> bpy.types.Material:
    mat = _fresh_material("synthhuman_glasses_frame")
    t = mat.node_tree
    bsdf = _node(t, "ShaderNodeBsdfPrincipled")
    bsdf.name = "frame_bsdf"
    t.links.new(bsdf.outputs["BSDF"], t.nodes["Material Output"].inputs["Surface"])
    add_person_aovs(t)
    return mat


def build_lens_material() -> bpy.types.Material:
    """Glass lenses; their GT goes through the lens AOVs (the person ``normal`` AOV gets zero)."""
    mat = _fresh_material("synthhuman_glasses_lens")
    t = mat.node_tree
    glass = _node(t, "ShaderNodeBsdfGlass", IOR=1.5, Roughness=0.0)
    glass.name = "lens_glass"
    t.links.new(glass.outputs["BSDF"], t.nodes["Material Output"].inputs["Surface"])
    zero = t.nodes.new("ShaderNodeCombineXYZ").outputs["Vector"]  # (0, 0, 0): no person normal here
    add_person_aovs(t, {"normal": zero})
    for name, (kind, build) in LENS_AOVS.items():
        node = t.nodes.new("ShaderNodeOutputAOV")
        node.aov_name = name
        t.links.new(build(t), node.inputs["Color" if kind == "COLOR" else "Value"])
    return mat


def set_glasses_materials(frame: bpy.types.Material, lens: bpy.types.Material, spec: GlassesSpec) -> None:
    bsdf = frame.node_tree.nodes["frame_bsdf"]
    metal = spec.frame_material == "metal"
    bsdf.inputs["Base Color"].default_value = (*spec.frame_color, 1.0)
    bsdf.inputs["Metallic"].default_value = 1.0 if metal else 0.0
    bsdf.inputs["Roughness"].default_value = 0.25 if metal else 0.15
    bsdf.inputs["Coat Weight"].default_value = 0.0 if metal else 0.6
    lens.node_tree.nodes["lens_glass"].inputs["Color"].default_value = (*spec.tint, 1.0)


class GlassesObjects:
    """The frame and lens objects of the current sample, replaced each sample."""

    def __init__(self, collection: bpy.types.Collection):
        self.collection = collection
        self.frame_material = build_frame_material()
        self.lens_material = build_lens_material()
        self.objects: dict[str, bpy.types.Object] = {}

    def clear(self) -> None:
        remove_mesh_objects(self.objects)
        self.objects = {}

    def update(self, glasses: GlassesMesh | None, spec: GlassesSpec) -> None:
        self.clear()
        if glasses is None:
            return
        set_glasses_materials(self.frame_material, self.lens_material, spec)
        self.objects["frame"] = triangle_mesh_object(self.collection, "glasses_frame", glasses.frame_vertices,
                                                     glasses.frame_faces, self.frame_material)
        self.objects["lenses"] = triangle_mesh_object(self.collection, "glasses_lenses", glasses.lens_vertices,
                                                      glasses.lens_faces, self.lens_material)
        self.objects["lenses"].pass_index = LENS_PASS_INDEX

    def set_lenses_hidden(self, hidden: bool) -> None:
        if "lenses" in self.objects:
            self.objects["lenses"].hide_render = hidden
