"""Render passes: view layer + AOV setup, EXR output, and the table raw layers -> GT arrays.

Anti-aliasing is decided per pass (see BLENDER_NOTES.md): Combined/alpha/AOVs are averaged
over samples; the Depth (Z) pass is sample 0 only, so a silhouette pixel holds either the
foreground depth or the background (1e10), never a blend. Normals come from a COLOR AOV
that every person material writes, not from the Normal pass, so that hair (whose Normal
pass is meaningless) and clothing slot in by writing the same AOVs.

POSTPROCESS maps each key of the output table (``synthhuman.outputs``: shapes, units, frames,
values off the foreground) to the function that makes it from the raw layers; a new output
is a row there and a function here. H x W images, row 0 at the top."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
import OpenEXR
from synthhuman.render.environment import GROUND_PASS_INDEX

from synthhuman import geometry
from synthhuman.spec import SceneSpec

LAYER = "ViewLayer"


def _geometry_normal(tree: bpy.types.NodeTree) -> bpy.types.NodeSocket:
    """World-space smooth shading normal (before any bump), the GT normal of a surface."""
    return tree.nodes.new("ShaderNodeNewGeometry").outputs["Normal"]


# name -> (AOV type, source builder). Every person material calls add_person_aovs, so a new
# part (hair proxy normals, a `foreground` VALUE AOV once environment geometry exists) is
# one row here plus, for parts with a different source, an override in that material.
PERSON_AOVS: dict[str, tuple[str, Callable[[bpy.types.NodeTree], bpy.types.NodeSocket]]] = {
    "normal": ("COLOR", _geometry_normal),
}


def _one(tree: bpy.types.NodeTree) -> bpy.types.NodeSocket:
    node = tree.nodes.new("ShaderNodeValue")
    node.outputs["Value"].default_value = 1.0
    return node.outputs["Value"]


# Written by glasses lenses only (render/glasses.py): their coverage and their own normal, so
# that lens pixels can take the GT of the lens or of what is behind it (RenderSpec.transparent_gt).
LENS_AOVS: dict[str, tuple[str, Callable[[bpy.types.NodeTree], bpy.types.NodeSocket]]] = {
    "lens": ("VALUE", _one),
    "lens_normal": ("COLOR", _geometry_normal),
}
LENS_PASS_INDEX = 7  # object index of lens objects: Cycles writes IndexOB from the first sample, like Z


def add_person_aovs(tree: bpy.types.NodeTree,
                    sources: dict[str, bpy.types.NodeSocket] | None = None) -> None:
    """Add one AOV Output node per row of PERSON_AOVS; ``sources`` overrides a row's socket."""
    sources = sources or {}
    for name, (kind, build) in PERSON_AOVS.items():
        node = tree.nodes.new("ShaderNodeOutputAOV")
        node.aov_name = name
        socket = sources[name] if name in sources else build(tree)
        tree.links.new(socket, node.inputs["Color" if kind == "COLOR" else "Value"])


def configure_view_layer(view_layer: bpy.types.ViewLayer) -> None:
    """Enable Combined, Z, Environment and the person AOVs; alpha threshold 0 (see notes)."""
    view_layer.use_pass_combined = True
    view_layer.use_pass_z = True
    view_layer.use_pass_environment = True
    view_layer.use_pass_normal = False
    view_layer.use_pass_object_index = True
    view_layer.cycles.use_pass_shadow_catcher = True  # the floor's shadow ratio (render/environment.py)
    view_layer.pass_alpha_threshold = 0.0
    existing = {aov.name for aov in view_layer.aovs}
    for name, (kind, _) in {**PERSON_AOVS, **LENS_AOVS}.items():
        if name not in existing:
            aov = view_layer.aovs.add()
            aov.name, aov.type = name, kind


def configure_output(scene: bpy.types.Scene, path: Path) -> None:
    """Multilayer float32 EXR with every pass; no compositing, linear values untouched."""
    settings = scene.render.image_settings
    settings.media_type = "MULTI_LAYER_IMAGE"
    settings.file_format = "OPEN_EXR_MULTILAYER"
    settings.color_depth = "32"
    settings.exr_codec = "ZIP"
    scene.render.use_compositing = False
    scene.render.use_sequencer = False
    scene.render.filepath = str(path)
    scene.view_settings.view_transform = "Standard"  # EXR stays linear; we apply the OETF
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0


def read_exr(path: Path) -> dict[str, np.ndarray]:
    """All channels of a (multi-part) EXR as float32 (H, W) arrays keyed ``Pass.Channel``."""
    layers: dict[str, np.ndarray] = {}
    with OpenEXR.File(str(path), separate_channels=True) as f:
        for part in f.parts:
            for name, channel in part.channels.items():
                key = name[len(LAYER) + 1:] if name.startswith(LAYER + ".") else name
                layers[key] = np.asarray(channel.pixels, dtype=np.float32)
    return layers


@dataclass(frozen=True)
class PassContext:
    """What post-processing needs besides the raw layers: the spec and the resolved camera."""

    spec: SceneSpec
    cam_to_world: np.ndarray
    behind: dict[str, np.ndarray] | None = None  # layers of the render with the lenses hidden (see-through GT)
    backplate: np.ndarray | None = None  # (H, W, 3) the HDRI along each pixel ray, when there is a floor


def _stack(layers: dict[str, np.ndarray], name: str, channels: str) -> np.ndarray:
    return np.stack([layers[f"{name}.{c}"] for c in channels], axis=-1)


def _ground_first(layers: dict[str, np.ndarray]) -> np.ndarray:
    """Pixels whose first sample hit the floor (render/environment.py)."""
    index = layers.get("Object Index.X")
    return np.zeros(layers["Combined.A"].shape, bool) if index is None else np.rint(index) == GROUND_PASS_INDEX


def rgb_from_layers(layers: dict[str, np.ndarray], ctx: PassContext) -> np.ndarray:
    """Linear combined + premultiplied environment = the opaque render; then the sRGB OETF.

    With a floor, its pixels (and their neighbours, where a silhouette's samples hit both the
    person and the floor) are the person over the HDRI seen along the ray times the Shadow
    Catcher pass: the HDRI's ground with the person's shadow on it. Elsewhere nothing changes."""
    combined = _stack(layers, "Combined", "RGB")
    linear = combined + _stack(layers, "Environment", "RGB")
    if ctx.backplate is not None:
        from scipy.ndimage import binary_dilation

        floor = binary_dilation(_ground_first(layers), np.ones((3, 3), bool))[..., None]
        cover = 1.0 - np.clip(layers["Combined.A"], 0.0, 1.0)[..., None]
        on_floor = combined + cover * ctx.backplate * _stack(layers, "Shadow Catcher", "RGB")
        linear = np.where(floor, on_floor, linear)
    return geometry.linear_to_srgb8(linear)


def _lens(layers: dict[str, np.ndarray]) -> np.ndarray:
    """Per pixel, the share of samples whose camera ray met a lens first (0 without glasses)."""
    return np.clip(layers.get("lens.X", np.zeros_like(layers["Combined.A"])), 0.0, 1.0)


def _lens_first(layers: dict[str, np.ndarray]) -> np.ndarray:
    """Pixels whose first sample hit a lens (the sample Z and object index come from)."""
    index = layers.get("Object Index.X")
    return np.zeros(layers["Combined.A"].shape, bool) if index is None else np.rint(index) == LENS_PASS_INDEX


def _see_through(ctx: PassContext) -> bool:
    return ctx.behind is not None and ctx.spec.render.transparent_gt == "see-through"


def alpha_from_layers(layers: dict[str, np.ndarray], ctx: PassContext) -> np.ndarray:
    """Film coverage; lenses count as foreground wherever they are (glass over the background
    would otherwise read as partly transparent)."""
    return np.clip(np.maximum(layers["Combined.A"], _lens(layers)), 0.0, 1.0).astype(np.float32)


def depth_from_layers(layers: dict[str, np.ndarray], ctx: PassContext) -> np.ndarray:
    """First-sample Z where the first sample hit the person (not the floor); on lens pixels,
    ``see-through`` takes what is behind the lens (the render without lenses) where the person
    is there, ``surface`` keeps the lens."""
    alpha = alpha_from_layers(layers, ctx)
    depth = np.where(_ground_first(layers), 0.0, geometry.depth_from_z_pass(layers["Depth.Z"], alpha))
    if _see_through(ctx):
        behind = geometry.depth_from_z_pass(ctx.behind["Depth.Z"], ctx.behind["Combined.A"])
        behind = np.where(_ground_first(ctx.behind), 0.0, behind)
        depth = np.where(_lens_first(layers) & (behind > 0), behind, depth)
    return depth.astype(np.float32)


def normal_from_layers(layers: dict[str, np.ndarray], ctx: PassContext) -> np.ndarray:
    """Sample-mean world normal, renormalised, rotated into the camera frame. Lenses write no
    person normal: their share of the pixel takes the lens normal (``surface``) or, where the
    person is behind them, the normal there (``see-through``)."""
    aov = _stack(layers, "normal", "RGBA")
    coverage = aov[..., 3:]
    total = np.where(coverage > 0, aov[..., :3] / np.maximum(coverage, 1e-12), 0.0)  # mean: as without glasses
    lens = _lens(layers)[..., None]
    if lens.any():
        total = aov[..., :3]  # sums over the pixel's samples; the lens share is added below
        lens_aov = _stack(layers, "lens_normal", "RGBA")
        other = np.where(lens_aov[..., 3:] > 0, lens_aov[..., :3] / np.maximum(lens_aov[..., 3:], 1e-12), 0.0)
        if _see_through(ctx):
            behind = _stack(ctx.behind, "normal", "RGBA")
            seen = behind[..., 3:] > 0
            other = np.where(seen, behind[..., :3] / np.maximum(behind[..., 3:], 1e-12), other)
        total = total + lens * other
    n_cam = geometry.world_to_camera_normals(total, ctx.cam_to_world)
    fg = (alpha_from_layers(layers, ctx) > 0)[..., None]
    return np.where(fg, geometry.normalize_or_zero(n_cam), 0.0).astype(np.float32)


POSTPROCESS: dict[str, Callable[[dict[str, np.ndarray], PassContext], np.ndarray]] = {
    "rgb": rgb_from_layers,
    "alpha": alpha_from_layers,
    "depth": depth_from_layers,
    "normal": normal_from_layers,
}
