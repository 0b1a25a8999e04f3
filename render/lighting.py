"""HDRI world lighting: one world node tree built once; per sample swap the image and set rotation/strength.

Each HDRI is loaded once and kept in a cache owned by the renderer (no module state), so a
sample only re-points the Environment Texture node at an already-loaded image datablock.
The HDRI is also the visible background: with ``film_transparent`` it lands in the
Environment pass, which the RGB post-processing adds back (see passes.py).
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from synthhuman.spec import LightingSpec


def build_world(scene: bpy.types.Scene) -> bpy.types.World:
    """Texture coordinate -> Mapping (rotation about Z) -> Environment Texture -> Background."""
    world = bpy.data.worlds.new("synthhuman_world")
    tree = world.node_tree
    for node in list(tree.nodes):
        tree.nodes.remove(node)
    coords = tree.nodes.new("ShaderNodeTexCoord")
    mapping = tree.nodes.new("ShaderNodeMapping")
    mapping.name = "hdri_mapping"
    env = tree.nodes.new("ShaderNodeTexEnvironment")
    env.name = "hdri_texture"
    background = tree.nodes.new("ShaderNodeBackground")
    background.name = "hdri_background"
    out = tree.nodes.new("ShaderNodeOutputWorld")
    tree.links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
    tree.links.new(mapping.outputs["Vector"], env.inputs["Vector"])
    tree.links.new(env.outputs["Color"], background.inputs["Color"])
    tree.links.new(background.outputs["Background"], out.inputs["Surface"])
    scene.world = world
    return world


def load_hdri(path: Path, cache: dict[Path, bpy.types.Image]) -> bpy.types.Image:
    """The image datablock for ``path``, loaded on first use only."""
    if path not in cache:
        image = bpy.data.images.load(str(path), check_existing=True)
        image.colorspace_settings.name = "Linear Rec.709"
        cache[path] = image
    return cache[path]


def apply_lighting(world: bpy.types.World, lighting: LightingSpec, image: bpy.types.Image) -> None:
    """Point the world at ``image``, rotate it about world Z and scale its radiance."""
    nodes = world.node_tree.nodes
    nodes["hdri_texture"].image = image
    nodes["hdri_mapping"].inputs["Rotation"].default_value = (0.0, 0.0, float(np.deg2rad(lighting.rotation_deg)))
    nodes["hdri_background"].inputs["Strength"].default_value = float(lighting.strength)
