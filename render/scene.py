"""BlenderRenderer: the live Blender scene of one worker; build once, per sample update and render.

``render_sample`` reads top to bottom: pose the body, write it into the mesh, set skin,
lighting and camera, render one Cycles frame to a multilayer EXR, post-process the layers.
Everything built here (mesh, materials, world, HDRI images) is reused across samples;
nothing is created per sample, so nothing is orphaned.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy
import numpy as np
from synthhuman.render import body as body_mod
from synthhuman.render import camera as camera_mod
from synthhuman.render import hair as hair_mod
from synthhuman.render import lighting, materials, passes

from synthhuman import geometry
from synthhuman.assets import load_library
from synthhuman.errors import RendererUnavailable
from synthhuman.framing import resolve_camera
from synthhuman.groom import NO_GROOM, Groom, make_groom
from synthhuman.hair_strands import HeadAtlas, atlas_inputs, build_atlas, hair_cover
from synthhuman.sample import CameraMesh, RenderedSample, Strands
from synthhuman.spec import SceneSpec

WALK_PREFIX = "walk:"
DEVICES = ("cpu", "cuda", "optix")


FRAMED_HAIR_M = 0.17  # face framing covers hair within this of the head's centre
WALK_ASSET = "motion/walk"  # assets_manifest id of the bundled walk cycle


class BlenderRenderer:
    """One Blender scene + Anny model per process. Not thread-safe (bpy is not)."""

    def __init__(self, device: str = "cpu", asset_paths: dict[str, Path] | None = None):
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.scene = bpy.context.scene
        # Asset id -> file: the caller's resolved paths (the render command passes the manifest's),
        # else the assets manifest itself, so there is one place that knows where assets live.
        self.asset_paths = {k: Path(v) for k, v in (asset_paths or {}).items()}
        self._library = load_library()
        self._tmpdir = Path(tempfile.mkdtemp(prefix="synthhuman_render_"))
        _configure_cycles(self.scene, device)
        passes.configure_view_layer(self.scene.view_layers[0])
        passes.configure_output(self.scene, self._tmpdir / "frame.exr")
        self.skin = materials.build_skin_material()
        self.eyes = materials.build_eye_material()
        self.body = body_mod.AnnyBody(self.scene.collection, [self.skin, self.eyes])
        self.world = lighting.build_world(self.scene)
        self.camera = camera_mod.build_camera(self.scene)
        self.walk_clip = body_mod.load_walk_clip(self.asset_path(WALK_ASSET))
        self._hdri_cache: dict[Path, bpy.types.Image] = {}
        hair_mod.configure_curves(self.scene)
        self.hair_material = hair_mod.build_hair_material()
        self.hair = hair_mod.HairObjects(self.scene.collection, self.hair_material)
        self.groom: Groom = NO_GROOM  # the current sample's
        self._atlas: HeadAtlas | None = None

    @property
    def atlas(self) -> HeadAtlas:
        """Hair regions on Anny's template, built on first use (0.2 s) so bald renders skip it."""
        if self._atlas is None:
            self._atlas = build_atlas(atlas_inputs(self.body.model))
        return self._atlas

    def asset_path(self, asset_id: str) -> Path:
        """The file of an asset id; an unknown or missing asset is a one-line UserError."""
        return self.asset_paths[asset_id] if asset_id in self.asset_paths else self._library.path(asset_id)

    def _base_rotations(self, base_pose: str) -> dict[str, np.ndarray]:
        if base_pose == "rest":
            return {}
        if base_pose.startswith(WALK_PREFIX):
            frame = float(base_pose[len(WALK_PREFIX):])
            return body_mod.clip_rotations(self.walk_clip, frame, self.body.bone_labels, self.body.reference_rot)
        raise ValueError(f"PoseSpec.base_pose must be 'rest' or 'walk:<frame>', got {base_pose!r}")

    def update_scene(self, spec: SceneSpec) -> tuple[np.ndarray, np.ndarray, body_mod.PosedBody]:
        """Apply a spec to the live scene; returns (K, cam_to_world, posed body)."""
        posed = self.body.pose(spec.body, spec.pose, self._base_rotations(spec.pose.base_pose))
        self.body.update_mesh(posed.vertices)
        self._update_hair(spec, posed)
        materials.set_skin(self.skin, spec.body.skin, hair_mod.hair_albedo(spec.hair.color))
        materials.set_eyes(self.eyes, spec.body.skin)
        hdri = lighting.load_hdri(self.asset_path(spec.lighting.hdri_id), self._hdri_cache)
        lighting.apply_lighting(self.world, spec.lighting, hdri)
        r = spec.render
        self.scene.render.resolution_x, self.scene.render.resolution_y = r.width_px, r.height_px
        self.scene.cycles.samples = r.samples
        self.scene.cycles.seed = r.cycles_seed
        self.scene.cycles.use_denoising = r.denoise  # the Combined pass only: GT passes stay exact
        region = self.body.region_points(posed, spec.camera.framing)
        if self.groom.count and spec.camera.framing != "full":  # the framed region covers the groom too
            region = np.concatenate([region, self._framed_hair(spec.camera.framing)])
        yaw, pitch = (self.body.head_facing(posed) if spec.camera.framing == "face"
                      else (spec.pose.root_yaw_deg, 0.0))
        K, cam_to_world = resolve_camera(spec.camera, region, r.width_px, r.height_px,
                                         facing_yaw_deg=yaw, facing_pitch_deg=pitch)
        camera_mod.set_camera(self.scene, self.camera, K, cam_to_world)
        return K, cam_to_world, posed

    def _update_hair(self, spec: SceneSpec, posed: body_mod.PosedBody) -> None:
        if not spec.hair.grooms():
            self.groom = NO_GROOM
            self.hair.clear()
            self.body.set_hair_cover(np.zeros(len(self.body.mesh.vertices)))
            return
        self.body.set_hair_cover(hair_cover(spec.hair, self.atlas, len(self.body.mesh.vertices)))
        proxy = spec.render.hair_normals == "proxy"
        self.groom = make_groom(spec.hair, self.atlas, posed.vertices, self.body.vertex_normals().astype(np.float64),
                                proxy=proxy)
        self.hair.update(self.groom.strands, self.groom.normals, self.groom.grey)
        hair_mod.set_hair_color(self.hair_material, spec.hair.color, proxy)

    def _framed_hair(self, framing: str) -> np.ndarray:
        """Strand points the framing must include: head hair and beard around the head (their
        middles and tips within FRAMED_HAIR_M of the head's centre: a groom's volume, not the
        lengths of long hair hanging down the back, which would turn a face crop into a bust).
        Upper-body framing covers every 7th point of the whole groom."""
        if framing == "upper":
            return self.groom.points()[::7].astype(np.float64)
        centre = self.groom.head_centre
        parts = [s.points[:, [s.points.shape[1] // 2, -1]].reshape(-1, 3) for name, s in self.groom.strands.items()
                 if name in ("head", "facial")]
        points = np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, 3))
        return points[np.linalg.norm(points - centre, axis=1) < FRAMED_HAIR_M]

    def render_layers(self) -> dict[str, np.ndarray]:
        """One Cycles render of the current scene -> raw EXR layers."""
        bpy.ops.render.render(write_still=True, scene=self.scene.name)
        return passes.read_exr(Path(self.scene.render.filepath))

    def render_sample(self, spec: SceneSpec, export_mesh: bool = False) -> RenderedSample:
        t0 = time.perf_counter()
        K, cam_to_world, posed = self.update_scene(spec)
        t1 = time.perf_counter()
        bpy.ops.render.render(write_still=True, scene=self.scene.name)
        t2 = time.perf_counter()
        layers = passes.read_exr(Path(self.scene.render.filepath))
        ctx = passes.PassContext(spec, cam_to_world)
        arrays = {key: fn(layers, ctx) for key, fn in passes.POSTPROCESS.items()}
        mesh = self.camera_mesh(posed, cam_to_world) if export_mesh else None
        t3 = time.perf_counter()
        meta = {
            "spec": spec.to_dict(),
            "K": K.tolist(),
            "cam_to_world": cam_to_world.tolist(),
            "asset_ids": [spec.lighting.hdri_id],
            "timings": {"scene_update_s": t1 - t0, "render_s": t2 - t1, "readback_s": t3 - t2,
                        **{f"hair_{k}": v for k, v in self.groom.timings.items()}},
            "hair_strands": {name: s.count for name, s in self.groom.strands.items()},
            "blender_version": bpy.app.version_string,
            "anny_version": _anny_version(),
        }
        return RenderedSample(key=spec.key, maps=arrays, meta=meta, mesh=mesh)

    def camera_mesh(self, posed: body_mod.PosedBody, cam_to_world: np.ndarray) -> CameraMesh:
        """The rendered triangles and Blender's own smooth normals, in the camera frame."""
        n_world = self.body.vertex_normals()
        strands = [Strands(s.name, geometry.world_to_camera_points(s.points.reshape(-1, 3), cam_to_world)
                           .reshape(s.points.shape).astype(np.float32), s.radius.copy())
                   for s in self.groom.strands.values()]
        return CameraMesh(
            vertices=geometry.world_to_camera_points(posed.vertices.astype(np.float32), cam_to_world).astype(np.float32),
            faces=self.body.faces.copy(),
            vertex_normals=geometry.world_to_camera_normals(n_world, cam_to_world).astype(np.float32),
            strands=strands,
        )

    def close(self) -> None:
        """Free Blender data and the temporary output folder; the renderer is unusable afterwards."""
        self.hair.clear()
        bpy.ops.wm.read_factory_settings(use_empty=True)
        bpy.data.orphans_purge(do_recursive=True)
        shutil.rmtree(self._tmpdir, ignore_errors=True)


@contextmanager
def opaque_film(scene: bpy.types.Scene) -> Iterator[None]:
    """Temporarily render the background into Combined (film_transparent off), then restore."""
    previous = scene.render.film_transparent
    scene.render.film_transparent = False
    try:
        yield
    finally:
        scene.render.film_transparent = previous


def _configure_cycles(scene: bpy.types.Scene, device: str) -> None:
    """Fixed-sample Cycles, no adaptive sampling, transparent film; denoising is set per sample."""
    scene.render.engine = "CYCLES"
    scene.render.film_transparent = True
    scene.render.resolution_percentage = 100
    scene.render.use_persistent_data = False
    cycles = scene.cycles
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False  # per sample from RenderSpec.denoise
    cycles.denoiser = "OPENIMAGEDENOISE"  # deterministic on the CPU; runs on the Combined pass only
    cycles.use_animated_seed = False
    cycles.max_bounces = 8
    cycles.transparent_max_bounces = 8
    if device == "cpu":
        cycles.device = "CPU"
        return
    prefs = bpy.context.preferences.addons["cycles"].preferences
    prefs.compute_device_type = device.upper()
    prefs.get_devices()
    chosen = [dev for dev in prefs.devices if dev.type == device.upper()]
    if not chosen:
        # Cycles would otherwise render on the CPU without a word: an unnoticed 50x slowdown.
        seen = ", ".join(sorted({f"{d.type} {d.name}" for d in prefs.devices})) or "none"
        raise RendererUnavailable(f"--device {device}: Blender finds no {device.upper()} device (devices seen: "
                                  f"{seen}); check the driver and CUDA_VISIBLE_DEVICES, or use --device cpu")
    for dev in prefs.devices:
        dev.use = dev.type == device.upper()
    cycles.device = "GPU"


def _anny_version() -> str:
    import anny

    return anny.__version__
