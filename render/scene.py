"""BlenderRenderer: the live Blender scene of one worker; build once, per sample update and render.

``render_sample`` reads top to bottom: pose the body, write it into the mesh, set skin,
lighting and camera, render one Cycles frame to a multilayer EXR, post-process the layers.
Everything built here (mesh, materials, world, HDRI images) is reused across samples;
nothing is created per sample, so nothing is orphaned.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy
import numpy as np
import trimesh
from synthhuman.render import body as body_mod
from synthhuman.render import camera as camera_mod
from synthhuman.render import environment as environment_mod
from synthhuman.render import garments as garments_mod
from synthhuman.render import glasses as glasses_mod
from synthhuman.render import hair as hair_mod
from synthhuman.render import lighting, materials, passes
from synthhuman.render.mesh_objects import triangles, vertex_normals, vertex_positions

from synthhuman import geometry
from synthhuman.assets import load_library
from synthhuman.backplate import camera_ray_directions, equirect_lookup
from synthhuman.errors import RendererUnavailable
from synthhuman.framing import resolve_camera
from synthhuman.garments import BodyAtlas, build_body_atlas, build_outfit
from synthhuman.glasses import GlassesMesh, build_glasses
from synthhuman.groom import NO_GROOM, Groom, make_groom
from synthhuman.hair_strands import HeadAtlas, atlas_inputs, build_atlas, hair_cover, head_frame
from synthhuman.headwear import add_plate, build_headwear, compress_hair
from synthhuman.outfit import SLOTS, WARDROBE_ASSET
from synthhuman.sample import CameraMesh, RenderedSample, Strands, WornMesh
from synthhuman.spec import SceneSpec
from synthhuman.visibility import check_view, fallback_angles

WALK_PREFIX = "walk:"
DEVICES = ("cpu", "cuda", "optix")


FRAMED_HAIR_M = 0.17  # face framing covers hair within this of the head's centre
MIN_CAMERA_HEIGHT_M = 0.2  # with a floor, the lens stays this far above it
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
        self._hdri_pixels: dict[Path, np.ndarray] = {}  # for the floor's backplate, read on first use
        self.ground = environment_mod.build_ground(self.scene.collection)
        hair_mod.configure_curves(self.scene)
        self.hair_material = hair_mod.build_hair_material()
        self.hair = hair_mod.HairObjects(self.scene.collection, self.hair_material)
        self.groom: Groom = NO_GROOM  # the current sample's
        self._atlas: HeadAtlas | None = None
        self.fabrics = {slot: garments_mod.build_fabric_material(f"synthhuman_fabric_{slot}")
                        for slot in (*SLOTS, "headwear")}
        self.garments = garments_mod.GarmentObjects(self.scene.collection, self.fabrics)
        self.worn: dict[str, np.ndarray] = {}  # slot -> the current sample's garment vertices (world)
        self._worn_faces: dict[str, np.ndarray] = {}  # slot -> its triangles (what the view check casts against)
        self.view: dict = {}  # the camera angles used and what the view check measured (sample meta)
        self._outfit_timings: dict[str, float] = {}
        self._garment_atlas: BodyAtlas | None = None
        self._head_local: np.ndarray | None = None
        self._crown: np.ndarray | None = None  # the current headwear's fitted crown (world), hair stays under it
        self.glasses = glasses_mod.GlassesObjects(self.scene.collection)
        self.glasses_mesh: GlassesMesh | None = None
        self._eye_ids = np.flatnonzero(np.isin(self.body.dominant_bone, [self.body.bone_labels.index(b)
                                                                        for b in body_mod.EYE_BONES]))

    @property
    def atlas(self) -> HeadAtlas:
        """Hair regions on Anny's template, built on first use (0.2 s) so bald renders skip it."""
        if self._atlas is None:
            self._atlas = build_atlas(atlas_inputs(self.body.model))
        return self._atlas

    @property
    def garment_atlas(self) -> BodyAtlas:
        """Garment coordinates on Anny's template, built on first use (0.1 s) so nude renders skip it."""
        if self._garment_atlas is None:
            self._garment_atlas = build_body_atlas(garments_mod.atlas_inputs(self.body.model))
        return self._garment_atlas

    @property
    def head_local(self) -> np.ndarray:
        """The garment template's vertices in the head's own frame (what headwear fields are cut in)."""
        if self._head_local is None:
            frame = head_frame(self.atlas, self.garment_atlas.template)
            self._head_local = (self.garment_atlas.template - frame.origin) @ frame.axes / frame.scale
        return self._head_local

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
        posed = self._update_outfit(spec, posed)
        self._update_hair(spec, posed)
        self._update_glasses(spec, posed)
        materials.set_skin(self.skin, spec.body.skin, hair_mod.hair_albedo(spec.hair.color))
        materials.set_eyes(self.eyes, spec.body.skin)
        hdri_path = self.asset_path(spec.lighting.hdri_id)
        hdri = lighting.load_hdri(hdri_path, self._hdri_cache)
        lighting.apply_lighting(self.world, spec.lighting, hdri)
        environment_mod.apply_environment(self.ground, spec.environment)
        if spec.environment.ground and hdri_path not in self._hdri_pixels:
            self._hdri_pixels[hdri_path] = environment_mod.hdri_pixels(hdri)
        r = spec.render
        self.scene.render.resolution_x, self.scene.render.resolution_y = r.width_px, r.height_px
        self.scene.cycles.samples = r.samples
        self.scene.cycles.seed = r.cycles_seed
        self.scene.cycles.use_denoising = r.denoise  # the Combined pass only: GT passes stay exact
        region = self.body.region_points(posed, spec.camera.framing)
        if self.worn and spec.camera.framing == "full":  # soles and loose cloth widen the frame
            region = np.concatenate([region, *(v[::8] for v in self.worn.values())])
        if "headwear" in self.worn and spec.camera.framing != "full":  # and the headwear
            region = np.concatenate([region, self.worn["headwear"][::4]])
        if self.groom.count and spec.camera.framing != "full":  # the framed region covers the groom too
            region = np.concatenate([region, self._framed_hair(spec.camera.framing)])
        yaw, pitch = (self.body.head_facing(posed) if spec.camera.framing == "face"
                      else (spec.pose.root_yaw_deg, 0.0))
        K, cam_to_world = self._place_camera(spec, region, posed, yaw, pitch)
        camera_mod.set_camera(self.scene, self.camera, K, cam_to_world)
        return K, cam_to_world, posed

    def _place_camera(self, spec: SceneSpec, region: np.ndarray, posed: body_mod.PosedBody,
                      yaw: float, pitch: float) -> tuple[np.ndarray, np.ndarray]:
        """The requested camera, or where the person blocks it (a shoulder or raised arm in front
        of a face crop, the lens inside a sleeve) the first clear view turned towards the front
        (``synthhuman.visibility``). ``self.view`` records what was used, for the sample's meta."""
        c, r = spec.camera, spec.render
        candidates = [(c.azimuth_deg, c.elevation_deg)]
        if c.framing != "full":  # a full-body region is the whole person: nothing of it stands in front
            candidates = fallback_angles(c.azimuth_deg, c.elevation_deg)
            parts = [(posed.vertices, self.body.faces), *((v, self._worn_faces[n]) for n, v in self.worn.items())]
            offsets = np.cumsum([0, *(len(v) for v, _ in parts)])
            vertices = np.concatenate([v for v, _ in parts])
            faces = np.concatenate([f + o for (_, f), o in zip(parts, offsets, strict=False)])
            person = trimesh.Trimesh(vertices, faces, process=False)
        for azimuth, elevation in candidates:
            camera = dataclasses.replace(c, azimuth_deg=azimuth, elevation_deg=elevation)
            K, cam_to_world = resolve_camera(camera, region, r.width_px, r.height_px,
                                             facing_yaw_deg=yaw, facing_pitch_deg=pitch)
            while spec.environment.ground and cam_to_world[2, 3] < MIN_CAMERA_HEIGHT_M and camera.elevation_deg < 80:
                # a low camera far from a full body would stand under the floor: raise it
                elevation = camera.elevation_deg + 2.0
                camera = dataclasses.replace(camera, elevation_deg=elevation)
                K, cam_to_world = resolve_camera(camera, region, r.width_px, r.height_px,
                                                 facing_yaw_deg=yaw, facing_pitch_deg=pitch)
            if c.framing == "full":
                self.view = {"azimuth_deg": azimuth, "elevation_deg": elevation, "turned": False}
                break
            view = check_view(cam_to_world, K, region, person)
            self.view = {"azimuth_deg": azimuth, "elevation_deg": elevation, "blocked": round(view.blocked, 4),
                         "clearance_m": round(view.clearance_m, 4), "clear": view.ok,
                         "turned": (azimuth, elevation) != candidates[0]}
            if view.ok:
                break
        return K, cam_to_world

    def _update_outfit(self, spec: SceneSpec, posed: body_mod.PosedBody) -> body_mod.PosedBody:
        """Cut, fit and write this sample's garments; with soles the body stands on them, so the
        returned posed body (and the Blender mesh) is lifted until the lowest point is at z = 0."""
        worn = spec.outfit.worn()
        hat = spec.outfit.headwear
        self._crown = None
        if not worn and hat.kind == "none":
            self.garments.clear()
            self.worn, self._outfit_timings = {}, {}
            return posed
        t0 = time.perf_counter()
        meshes = build_outfit(spec.outfit, self.garment_atlas)
        crown = build_headwear(hat, self.garment_atlas, self.head_local, spec.outfit.subdivisions) if hat.kind != "none" else None
        t1 = time.perf_counter()
        normals = self.body.vertex_normals().astype(np.float64)
        fitted = {name: mesh.fit(posed.vertices, normals) for name, mesh in meshes.items()}
        low = min([float(v[:, 2].min()) for v in fitted.values()], default=0.0)
        if low < 0.0:
            lift = np.array([0.0, 0.0, -low])
            posed = body_mod.PosedBody(posed.vertices + lift, posed.bone_heads + lift)
            self.body.update_mesh(posed.vertices)
            fitted = {name: v + lift for name, v in fitted.items()}
        parts = {name: (fitted[name], meshes[name].faces, meshes[name].rest) for name in meshes}
        fabrics = {name: g.fabric for name, g in worn.items()}
        if crown is not None:
            self._crown = crown.fit(posed.vertices, normals)
            frame = head_frame(self.atlas, posed.vertices)
            vertices, faces = add_plate(self._crown, crown.faces, self._crown, crown.faces, frame, hat)
            rest = np.concatenate([crown.rest, ((vertices[len(crown.rest):] - frame.origin) @ frame.axes
                                                / frame.scale).astype(np.float32)])
            parts["headwear"] = (vertices, faces, rest)
            fitted["headwear"] = vertices
            fabrics["headwear"] = hat.fabric
        self.garments.update(parts)
        self._worn_faces = {name: np.asarray(p[1]) for name, p in parts.items()}
        for name, fabric in fabrics.items():
            garments_mod.set_fabric(self.fabrics[name], fabric)
        self.worn = fitted
        self._outfit_timings = {"build_s": t1 - t0, "fit_s": time.perf_counter() - t1}
        return posed

    def _update_glasses(self, spec: SceneSpec, posed: body_mod.PosedBody) -> None:
        """Build this sample's glasses on the posed head (or remove the last sample's)."""
        g = spec.outfit.glasses
        if g.shape == "none":
            self.glasses.update(None, g)
            self.glasses_mesh = None
            return
        frame = head_frame(self.atlas, posed.vertices)

        def local(points: np.ndarray) -> np.ndarray:
            return (points - frame.origin) @ frame.axes / frame.scale

        eyes = local(posed.vertices[self._eye_ids])
        corneas = np.stack([side[np.argmax(side[:, 2])] for side in (eyes[eyes[:, 0] > 0], eyes[eyes[:, 0] <= 0])])
        ears = local(posed.vertices[np.unique(self.atlas.faces[self.atlas.ear_faces])])
        lashes = spec.hair.lashes_upper
        reach = 0.8 * lashes.length_m if lashes.strands else 0.0
        self.glasses_mesh = build_glasses(g, frame, local(posed.vertices[self.atlas.fit_ids]), corneas, ears, reach)
        self.glasses.update(self.glasses_mesh, g)

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
        self._hair_under_headwear(spec)
        self.hair.update(self.groom.strands, self.groom.normals, self.groom.grey)
        hair_mod.set_hair_color(self.hair_material, spec.hair.color, proxy)

    def _hair_under_headwear(self, spec: SceneSpec) -> None:
        """Head hair stays under the headwear: a headscarf hides all of it; any other crown
        presses the strands it covers flat under itself."""
        if self._crown is None or "head" not in self.groom.strands:
            return
        if spec.outfit.headwear.kind == "headscarf":
            for table in (self.groom.strands, self.groom.normals, self.groom.grey):
                table.pop("head", None)
            return
        head = self.groom.strands["head"]
        obj = self.garments.objects["headwear"]
        head.points = compress_hair(head.points, self.worn["headwear"], triangles(obj.data), self.groom.head_centre)

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
        behind = None
        if self.glasses_mesh is not None and spec.render.transparent_gt == "see-through":
            with behind_lenses(self.scene, self.glasses, self._tmpdir / "behind.exr"):
                bpy.ops.render.render(write_still=True, scene=self.scene.name)
                behind = passes.read_exr(Path(self.scene.render.filepath))
        t_behind = time.perf_counter()
        backplate = None
        if spec.environment.ground:
            r = spec.render
            backplate = equirect_lookup(self._hdri_pixels[self.asset_path(spec.lighting.hdri_id)],
                                        camera_ray_directions(K, cam_to_world, r.width_px, r.height_px),
                                        spec.lighting.rotation_deg, spec.lighting.strength)
        ctx = passes.PassContext(spec, cam_to_world, behind, backplate)
        arrays = {key: fn(layers, ctx) for key, fn in passes.POSTPROCESS.items()}
        mesh = self.camera_mesh(posed, cam_to_world) if export_mesh else None
        t3 = time.perf_counter()
        meta = {
            "spec": spec.to_dict(),
            "K": K.tolist(),
            "cam_to_world": cam_to_world.tolist(),
            "asset_ids": [spec.lighting.hdri_id, *([WARDROBE_ASSET] if self.worn else [])],
            "timings": {"scene_update_s": t1 - t0, "render_s": t2 - t1, "readback_s": t3 - t_behind,
                        **({"behind_lenses_render_s": t_behind - t2} if behind is not None else {}),
                        **{f"hair_{k}": v for k, v in self.groom.timings.items()},
                        **{f"outfit_{k}": v for k, v in self._outfit_timings.items()}},
            "view": self.view,
            "hair_strands": {name: s.count for name, s in self.groom.strands.items()},
            "outfit_triangles": {name: len(obj.data.polygons) for name, obj in self.garments.objects.items()},
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
        worn = [WornMesh(name, geometry.world_to_camera_points(v, cam_to_world).astype(np.float32),
                         triangles(self.garments.objects[name].data),
                         geometry.world_to_camera_normals(self.garments.vertex_normals(name), cam_to_world)
                         .astype(np.float32))
                for name, v in self.worn.items()]
        if self.glasses_mesh is not None:
            for name, obj in self.glasses.objects.items():
                worn.append(WornMesh(f"glasses_{name}",
                                     geometry.world_to_camera_points(vertex_positions(obj), cam_to_world).astype(np.float32),
                                     triangles(obj.data),
                                     geometry.world_to_camera_normals(vertex_normals(obj), cam_to_world).astype(np.float32)))
        return CameraMesh(
            vertices=geometry.world_to_camera_points(posed.vertices.astype(np.float32), cam_to_world).astype(np.float32),
            faces=self.body.faces.copy(),
            vertex_normals=geometry.world_to_camera_normals(n_world, cam_to_world).astype(np.float32),
            strands=strands,
            worn=worn,
        )

    def close(self) -> None:
        """Free Blender data and the temporary output folder; the renderer is unusable afterwards."""
        self.hair.clear()
        self.garments.clear()
        self.glasses.clear()
        bpy.ops.wm.read_factory_settings(use_empty=True)
        bpy.data.orphans_purge(do_recursive=True)
        shutil.rmtree(self._tmpdir, ignore_errors=True)


@contextmanager
def behind_lenses(scene: bpy.types.Scene, glasses: glasses_mod.GlassesObjects, path: Path) -> Iterator[None]:
    """The scene for the see-through GT render: lenses hidden, no bounces (only first hits,
    AOVs and Z matter), no denoising, its own output file; restored afterwards."""
    saved = (scene.render.filepath, scene.cycles.max_bounces, scene.cycles.use_denoising)
    glasses.set_lenses_hidden(True)
    scene.render.filepath, scene.cycles.max_bounces, scene.cycles.use_denoising = str(path), 0, False
    try:
        yield
    finally:
        glasses.set_lenses_hidden(False)
        scene.render.filepath, scene.cycles.max_bounces, scene.cycles.use_denoising = saved


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
