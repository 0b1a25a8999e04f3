"""Hair in the Blender scene: one Curves object per strand family, one Principled Hair material.

The strands themselves are grown in numpy (``synthhuman.hair_strands``) and their proxy
normals computed there too (``synthhuman.hair_proxy``); this module only writes them into
Blender. Strand counts change from sample to sample, so each sample gets fresh Curves data
and the previous sample's is removed (no orphans pile up over a long shard). Curves render
as ``THICK_LINEAR`` tubes: a polyline of radius-r cones is exactly what an independent ray
cast of the exported strands checks, and per-point attributes interpolate linearly along it
(BLENDER_NOTES.md "Hair curves").

The material writes the person AOVs like every person material: its ``normal`` is the
per-point ``hair_normal`` attribute (proxy normals, paper A.1) or, with
``--hair-normals strand``, the curve's own shading normal.
"""

from __future__ import annotations

import bpy
import numpy as np
from synthhuman.render import passes

from synthhuman.hair import DYED, HairColorSpec
from synthhuman.sample import Strands

NORMAL_ATTRIBUTE = "hair_normal"  # per point, world frame: the proxy normal
GREY_ATTRIBUTE = "hair_grey"  # per strand: 1 for an unpigmented (white) strand
MATERIAL_NAME = "synthhuman_hair"


# Absorption per unit of eu- and pheomelanin (Chiang et al. 2016, as in Cycles' Principled Hair).
_EUMELANIN = np.array([0.419, 0.697, 1.37])
_PHEOMELANIN = np.array([0.187, 0.4, 1.05])


def hair_albedo(color: HairColorSpec) -> tuple[float, float, float]:
    """Linear RGB that a groom of this colour roughly looks like in bulk: the tint the skin takes
    under it (scalp, stubble shadow). Not the strands' BSDF: that is Principled Hair itself."""
    if color.family == DYED:
        return tuple(float(c) for c in color.dye_rgb)  # type: ignore[return-value]
    amount = -np.log(max(1.0 - color.melanin, 1e-4))
    sigma = amount * ((1 - color.redness) * _EUMELANIN + color.redness * _PHEOMELANIN)
    pigmented = 0.8 * np.exp(-2.0 * sigma)
    bulk = (1.0 - color.grey) * pigmented + color.grey * 0.8  # grey = the share of white strands
    return tuple(float(c) for c in bulk)  # type: ignore[return-value]


def configure_curves(scene: bpy.types.Scene) -> None:
    scene.cycles_curves.shape = "THICK_LINEAR"
    scene.cycles_curves.subdivisions = 2


def build_hair_material() -> bpy.types.Material:
    """Principled Hair (Chiang) with melanin, its dyed twin, grey strands, and the person AOVs."""
    mat = bpy.data.materials.new(MATERIAL_NAME)  # Blender 5 materials always have a node tree
    tree = mat.node_tree
    tree.nodes.clear()
    out = tree.nodes.new("ShaderNodeOutputMaterial")
    natural = tree.nodes.new("ShaderNodeBsdfHairPrincipled")
    natural.name = "natural"
    natural.parametrization = "MELANIN"
    dyed = tree.nodes.new("ShaderNodeBsdfHairPrincipled")
    dyed.name = "dyed"
    dyed.parametrization = "COLOR"
    grey = tree.nodes.new("ShaderNodeAttribute")
    grey.attribute_type = "GEOMETRY"
    grey.attribute_name = GREY_ATTRIBUTE
    pigment = tree.nodes.new("ShaderNodeMath")  # melanin * (1 - grey): white strands keep no pigment
    pigment.name = "pigment"
    pigment.operation = "MULTIPLY"
    keep = tree.nodes.new("ShaderNodeMath")
    keep.operation = "SUBTRACT"
    keep.inputs[0].default_value = 1.0
    tree.links.new(grey.outputs["Fac"], keep.inputs[1])
    tree.links.new(keep.outputs["Value"], pigment.inputs[1])
    tree.links.new(pigment.outputs["Value"], natural.inputs["Melanin"])
    mix = tree.nodes.new("ShaderNodeMixShader")
    mix.name = "dye_mix"
    tree.links.new(natural.outputs["BSDF"], mix.inputs[1])
    tree.links.new(dyed.outputs["BSDF"], mix.inputs[2])
    tree.links.new(mix.outputs["Shader"], out.inputs["Surface"])
    for node in (natural, dyed):
        node.inputs["Random Roughness"].default_value = 0.15
        node.inputs["Coat"].default_value = 0.1
    natural.inputs["Random Color"].default_value = 0.12
    proxy = tree.nodes.new("ShaderNodeAttribute")
    proxy.attribute_type = "GEOMETRY"
    proxy.attribute_name = NORMAL_ATTRIBUTE
    choose = tree.nodes.new("ShaderNodeMix")  # 1: proxy normal attribute; 0: the curve's own normal
    choose.name = "normal_source"
    choose.data_type = "VECTOR"
    geometry_normal = tree.nodes.new("ShaderNodeNewGeometry").outputs["Normal"]
    vector_in = {s.identifier: s for s in choose.inputs}  # "A"/"B" name one socket per data type
    tree.links.new(geometry_normal, vector_in["A_Vector"])
    tree.links.new(proxy.outputs["Vector"], vector_in["B_Vector"])
    result = next(s for s in choose.outputs if s.identifier == "Result_Vector")
    passes.add_person_aovs(tree, {"normal": result})
    return mat


def set_hair_color(mat: bpy.types.Material, color: HairColorSpec, proxy_normals: bool) -> None:
    nodes = mat.node_tree.nodes
    nodes["pigment"].inputs[0].default_value = color.melanin
    natural, dyed = nodes["natural"], nodes["dyed"]
    natural.inputs["Melanin Redness"].default_value = color.redness
    for node in (natural, dyed):
        node.inputs["Roughness"].default_value = color.roughness
    dyed.inputs["Color"].default_value = (*color.dye_rgb, 1.0)
    nodes["dye_mix"].inputs["Fac"].default_value = 1.0 if color.family == DYED else 0.0
    factor = next(s for s in nodes["normal_source"].inputs if s.identifier == "Factor_Float")
    factor.default_value = 1.0 if proxy_normals else 0.0


class HairObjects:
    """The Curves objects of the current sample, replaced by ``update`` each sample."""

    def __init__(self, collection: bpy.types.Collection, material: bpy.types.Material):
        self.collection = collection
        self.material = material
        self.objects: list[bpy.types.Object] = []

    def clear(self) -> None:
        for obj in self.objects:
            data = obj.data
            bpy.data.objects.remove(obj, do_unlink=True)
            bpy.data.hair_curves.remove(data)
        self.objects = []

    def update(self, families: dict[str, Strands], normals: dict[str, np.ndarray], grey: dict[str, np.ndarray]) -> None:
        """Replace the hair with these strand families (world frame) and per-point normals."""
        self.clear()
        for name, strands in families.items():
            self.objects.append(self._curves_object(name, strands, normals[name], grey[name]))

    def _curves_object(self, name: str, strands: Strands, normals: np.ndarray, grey: np.ndarray) -> bpy.types.Object:
        s, p, _ = strands.points.shape
        data = bpy.data.hair_curves.new(f"hair_{name}")
        data.add_curves([p] * s)
        data.position_data.foreach_set("vector", strands.points.astype(np.float32).ravel())
        radius = data.attributes.new("radius", "FLOAT", "POINT")
        radius.data.foreach_set("value", strands.radius.astype(np.float32).ravel())
        normal = data.attributes.new(NORMAL_ATTRIBUTE, "FLOAT_VECTOR", "POINT")
        normal.data.foreach_set("vector", normals.astype(np.float32).ravel())
        white = data.attributes.new(GREY_ATTRIBUTE, "FLOAT", "CURVE")
        white.data.foreach_set("value", grey.astype(np.float32).ravel())
        data.materials.append(self.material)
        obj = bpy.data.objects.new(f"hair_{name}", data)
        self.collection.objects.link(obj)
        return obj
