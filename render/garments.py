"""Garments in the Blender scene: one mesh object per worn slot, one fabric material per slot.

The garments themselves are cut, bound and fitted in numpy (``synthhuman.garments``); this
module writes them into Blender. Their topology changes with the cut, so each sample gets
fresh mesh data and the previous sample's is removed (no orphans over a long shard).

Fabric is procedural, evaluated on the garment's *rest-pose* anchor coordinates (``rest_co``),
so stripes, checks, prints and weave stay on the cloth whatever the pose: a colour pattern
(stripes, gingham-like checks, blotch prints) mixes two colours, and a micro-relief per
material family (plain weave, denim twill, knit rib, leather grain) perturbs the shading
normal only. The GT normal AOV is the smooth geometric normal before that bump, as for skin.
"""

from __future__ import annotations

import bpy
import numpy as np
from synthhuman.render.materials import REST_ATTRIBUTE, _fresh_material, _link, _node
from synthhuman.render.mesh_objects import remove_mesh_objects, triangle_mesh_object, vertex_normals
from synthhuman.render.passes import add_person_aovs

from synthhuman.garments import AtlasInputs
from synthhuman.outfit import MATERIALS, PATTERNS, FabricSpec

# Per material family: (relief kind weights: weave, twill, rib, grain), relief strength.
RELIEF = {
    "cotton": ((1.0, 0.0, 0.0, 0.0), 0.25),
    "denim": ((0.0, 1.0, 0.0, 0.0), 0.45),
    "knit": ((0.0, 0.0, 1.0, 0.0), 0.5),
    "leather": ((0.0, 0.0, 0.0, 1.0), 0.3),
    "synthetic": ((0.6, 0.0, 0.0, 0.0), 0.1),
}
RELIEF_KINDS = ("weave", "twill", "rib", "grain")


def _value(tree: bpy.types.NodeTree, name: str, value: float = 0.0) -> bpy.types.NodeSocket:
    node = tree.nodes.new("ShaderNodeValue")
    node.name = name
    node.outputs["Value"].default_value = value
    return node.outputs["Value"]


def _math(tree: bpy.types.NodeTree, op: str, a, b) -> bpy.types.NodeSocket:
    node = tree.nodes.new("ShaderNodeMath")
    node.operation = op
    for i, x in enumerate((a, b)):
        if isinstance(x, bpy.types.NodeSocket):
            _link(tree, x, node.inputs[i])
        else:
            node.inputs[i].default_value = x
    return node.outputs["Value"]


def _bands(tree: bpy.types.NodeTree, coords: bpy.types.NodeSocket, axis: str, scale: bpy.types.NodeSocket,
           sharp: bool = True) -> bpy.types.NodeSocket:
    """0/1 bands across one axis of ``coords`` with period ``scale`` metres (sine, thresholded)."""
    sep = tree.nodes.new("ShaderNodeSeparateXYZ")
    _link(tree, coords, sep.inputs["Vector"])
    phase = _math(tree, "DIVIDE", sep.outputs[axis], scale)
    wave = _math(tree, "SINE", _math(tree, "MULTIPLY", phase, 2 * np.pi), 0.0)
    return _math(tree, "GREATER_THAN", wave, 0.0) if sharp else wave


def build_fabric_material(name: str) -> bpy.types.Material:
    """Principled cloth with a two-colour pattern and a material relief, parameters set per sample."""
    mat = _fresh_material(name)
    t = mat.node_tree
    out = t.nodes["Material Output"]
    bsdf = _node(t, "ShaderNodeBsdfPrincipled")
    bsdf.name = "fabric_bsdf"
    attr = t.nodes.new("ShaderNodeAttribute")
    attr.attribute_type, attr.attribute_name = "GEOMETRY", REST_ATTRIBUTE
    rotate = t.nodes.new("ShaderNodeVectorRotate")
    rotate.name = "pattern_rotation"
    rotate.rotation_type = "Y_AXIS"  # about the body's front-back axis: 0 horizontal stripes, 90 vertical
    _link(t, attr.outputs["Vector"], rotate.inputs["Vector"])
    coords = rotate.outputs["Vector"]
    scale = _value(t, "pattern_scale", 0.02)
    stripes = _bands(t, coords, "Z", scale)
    across = _bands(t, coords, "X", scale)
    checks = _math(t, "MULTIPLY", _math(t, "ADD", stripes, across), 0.5)  # gingham: 0, 0.5, 1
    blotch = _node(t, "ShaderNodeTexVoronoi")
    _link(t, coords, blotch.inputs["Vector"])
    _link(t, _math(t, "DIVIDE", 1.0, scale), blotch.inputs["Scale"])
    prints = _math(t, "LESS_THAN", blotch.outputs["Distance"], 0.3)
    pattern = _value(t, "use_stripes")
    factor = _math(t, "MULTIPLY", stripes, pattern)
    for key, source in (("use_checks", checks), ("use_print", prints)):
        factor = _math(t, "ADD", factor, _math(t, "MULTIPLY", source, _value(t, key)))
    mix = _node(t, "ShaderNodeMix")
    mix.name = "fabric_colors"
    mix.data_type = "RGBA"
    _link(t, factor, mix.inputs["Factor"])
    # Colour variation: denim fades, every cloth a little uneven.
    fade = _node(t, "ShaderNodeTexNoise", Scale=40.0, Detail=4.0)
    _link(t, attr.outputs["Vector"], fade.inputs["Vector"])
    vary = _node(t, "ShaderNodeMapRange")
    vary.name = "fabric_variation"
    _link(t, fade.outputs["Fac"], vary.inputs["Value"])
    vary.inputs["From Min"].default_value, vary.inputs["From Max"].default_value = 0.3, 0.7
    shade = _node(t, "ShaderNodeMix")
    shade.data_type, shade.blend_type = "RGBA", "MULTIPLY"
    shade.inputs["Factor"].default_value = 1.0
    _link(t, mix.outputs["Result"], shade.inputs["A"])
    _link(t, vary.outputs["Result"], shade.inputs["B"])
    _link(t, shade.outputs["Result"], bsdf.inputs["Base Color"])
    # Relief: plain weave (fine checker of bands), denim twill (diagonal bands), knit rib
    # (vertical bands), leather grain (cellular noise). Height only; GT normals ignore it.
    rest = attr.outputs["Vector"]
    weave = _math(t, "MULTIPLY", _bands(t, rest, "X", _value(t, "weave_period", 0.0012), sharp=False),
                  _bands(t, rest, "Z", _value(t, "weave_period_z", 0.0012), sharp=False))
    diag = t.nodes.new("ShaderNodeVectorRotate")
    diag.rotation_type, diag.inputs["Angle"].default_value = "Y_AXIS", np.pi / 4
    _link(t, rest, diag.inputs["Vector"])
    twill = _bands(t, diag.outputs["Vector"], "Z", _value(t, "twill_period", 0.0025), sharp=False)
    rib = _bands(t, rest, "X", _value(t, "rib_period", 0.004), sharp=False)
    grain_tex = _node(t, "ShaderNodeTexVoronoi", Scale=700.0)
    _link(t, rest, grain_tex.inputs["Vector"])
    grain = grain_tex.outputs["Distance"]
    height = None
    for kind, source in zip(RELIEF_KINDS, (weave, twill, rib, grain), strict=True):
        term = _math(t, "MULTIPLY", source, _value(t, f"relief_{kind}"))
        height = term if height is None else _math(t, "ADD", height, term)
    bump = _node(t, "ShaderNodeBump", Distance=0.0004)
    bump.name = "fabric_bump"
    _link(t, height, bump.inputs["Height"])
    _link(t, bump.outputs["Normal"], bsdf.inputs["Normal"])
    _link(t, bsdf.outputs["BSDF"], out.inputs["Surface"])
    add_person_aovs(t)
    return mat


def set_fabric(mat: bpy.types.Material, fabric: FabricSpec) -> None:
    """Per-sample fabric parameters (no node changes)."""
    if fabric.material not in MATERIALS or fabric.pattern not in PATTERNS:
        raise ValueError(f"unknown fabric {fabric.material!r} / pattern {fabric.pattern!r}")
    nodes = mat.node_tree.nodes
    bsdf = nodes["fabric_bsdf"]
    bsdf.inputs["Roughness"].default_value = fabric.roughness
    bsdf.inputs["Sheen Weight"].default_value = fabric.sheen
    bsdf.inputs["Sheen Roughness"].default_value = 0.5
    bsdf.inputs["Sheen Tint"].default_value = (*fabric.color, 1.0)
    colors = nodes["fabric_colors"]
    colors.inputs["A"].default_value = (*fabric.color, 1.0)
    colors.inputs["B"].default_value = (*fabric.color2, 1.0)
    nodes["pattern_scale"].outputs["Value"].default_value = fabric.pattern_scale_m
    nodes["pattern_rotation"].inputs["Angle"].default_value = np.radians(fabric.pattern_angle_deg)
    for pattern in PATTERNS[1:]:
        key = {"stripes": "use_stripes", "checks": "use_checks", "print": "use_print"}[pattern]
        nodes[key].outputs["Value"].default_value = 1.0 if fabric.pattern == pattern else 0.0
    denim = fabric.material == "denim"
    vary = nodes["fabric_variation"]
    vary.inputs["To Min"].default_value, vary.inputs["To Max"].default_value = (0.8, 1.25) if denim else (0.93, 1.05)
    weights, strength = RELIEF[fabric.material]
    for kind, w in zip(RELIEF_KINDS, weights, strict=True):
        nodes[f"relief_{kind}"].outputs["Value"].default_value = w
    nodes["fabric_bump"].inputs["Strength"].default_value = strength


class GarmentObjects:
    """The garment mesh objects of the current sample, one per slot, replaced each sample."""

    def __init__(self, collection: bpy.types.Collection, materials: dict[str, bpy.types.Material]):
        self.collection = collection
        self.materials = materials
        self.objects: dict[str, bpy.types.Object] = {}

    def clear(self) -> None:
        remove_mesh_objects(self.objects)
        self.objects = {}

    def update(self, garments: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        """Replace the garments with these: slot -> (vertices (G, 3) world, faces (F, 3), rest (G, 3))."""
        self.clear()
        for slot, (vertices, faces, rest) in garments.items():
            obj = triangle_mesh_object(self.collection, f"garment_{slot}", vertices, faces, self.materials[slot])
            attr = obj.data.attributes.new(REST_ATTRIBUTE, "FLOAT_VECTOR", "POINT")
            attr.data.foreach_set("vector", rest.astype(np.float32).ravel())
            self.objects[slot] = obj

    def vertex_normals(self, slot: str) -> np.ndarray:
        """Blender's smooth vertex normals of a garment (world), what Cycles shades and the AOV writes."""
        return vertex_normals(self.objects[slot])


def atlas_inputs(model) -> AtlasInputs:
    """The garment atlas inputs of an ``anny.Anny`` model: its rest pose at the default phenotype."""
    import torch

    with torch.no_grad():
        rest = model.forward()
    return AtlasInputs(
        template=rest["vertices"][0].cpu().numpy().astype(np.float64),
        faces=model.faces.cpu().numpy().astype(np.int64),
        bone_labels=tuple(model.bone_labels),
        bone_weights=model.vertex_bone_weights.cpu().numpy(),
        bone_indices=model.vertex_bone_indices.cpu().numpy(),
        bone_heads=rest["bone_poses"][0, :, :3, 3].cpu().numpy().astype(np.float64),
    )
