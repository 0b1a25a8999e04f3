"""Shared render fixtures: one BlenderRenderer per test session, hand-built SceneSpecs."""

from __future__ import annotations

import numpy as np
import pytest

from synthhuman.spec import BodySpec, CameraSpec, LightingSpec, PoseSpec, RenderSpec, SceneSpec, SkinSpec

TEST_WIDTH, TEST_HEIGHT, TEST_SAMPLES = 72, 96, 8


def make_spec(framing: str = "upper", *, width: int = TEST_WIDTH, height: int = TEST_HEIGHT,
              samples: int = TEST_SAMPLES, azimuth_deg: float = 15.0, base_pose: str = "rest",
              hdri_id: str = "hdri/city", index: int = 0) -> SceneSpec:
    """A plausible hand-made spec (the lead's sampler produces these in the pipeline)."""
    return SceneSpec(
        seed=1234,
        index=index,
        body=BodySpec(
            phenotype=(("gender", 0.3), ("age", 0.5), ("muscle", 0.6), ("weight", 0.5), ("height", 0.55)),
            local_changes=(("nose-scale-vert-incr", 0.3),),
            skin=SkinSpec(melanin=0.35, hemoglobin=0.4, roughness=0.45, subsurface_scale_m=0.004,
                          eye_color=(0.12, 0.25, 0.35)),
        ),
        pose=PoseSpec(
            base_pose=base_pose,
            bone_euler_deg=(("lowerarm01.L", (40.0, 0.0, 0.0)), ("neck01", (0.0, 0.0, 10.0)),
                            ("upperarm01.R", (-20.0, 0.0, 10.0))),
            root_yaw_deg=-20.0,
            facial_actions=(("jawOpen", 0.3), ("mouthSmileLeft", 0.6), ("mouthSmileRight", 0.6)),
        ),
        lighting=LightingSpec(hdri_id=hdri_id, rotation_deg=40.0, strength=1.0),
        camera=CameraSpec(framing=framing, focal_mm=50.0, azimuth_deg=azimuth_deg, elevation_deg=5.0,
                          roll_deg=3.0, fill=0.8, offset_x=0.05, offset_y=-0.05),
        render=RenderSpec(width_px=width, height_px=height, samples=samples, cycles_seed=7),
    )


@pytest.fixture(scope="session")
def renderer():
    """Built once: the Anny model and Blender scene cost seconds."""
    from synthhuman.render.scene import BlenderRenderer

    r = BlenderRenderer(device="cpu")
    yield r
    r.close()


def raycast_reference(sample) -> tuple:
    """Independent GT: embree ray cast of the exported camera-space mesh (body and any worn
    garments) through pixel centres.

    Returns (depth (H, W), normals (H, W, 3), hit mask (H, W)). The normals come from the
    camera-space triangles alone (`geometric_vertex_normals`), never from the exported vertex
    normals: those pass through the same world -> camera rotation as the rendered normal pass,
    so a mirrored or swapped camera frame would agree with itself (it once did).
    """
    import numpy as np
    import trimesh

    from synthhuman.geometry import pixel_rays

    see_through = sample.meta["spec"]["render"].get("transparent_gt", "see-through") == "see-through"
    worn = [w for w in sample.mesh.worn if not (see_through and w.name == "glasses_lenses")]  # GT looks through them
    parts = [(sample.mesh.vertices, sample.mesh.faces), *((w.vertices, w.faces) for w in worn)]
    offsets = np.cumsum([0] + [len(v) for v, _ in parts])
    vertices = np.concatenate([v for v, _ in parts]).astype(np.float64)
    faces = np.concatenate([f + o for (_, f), o in zip(parts, offsets, strict=False)])
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    h, w = sample.alpha.shape
    dirs = pixel_rays(sample.K, w, h).reshape(-1, 3)
    origins = np.zeros_like(dirs)
    tri, ray, loc = mesh.ray.intersects_id(origins, dirs, multiple_hits=False, return_locations=True)
    depth = np.zeros(h * w)
    depth[ray] = -loc[:, 2]
    bary = trimesh.triangles.points_to_barycentric(mesh.triangles[tri], loc)
    vn = geometric_vertex_normals(vertices, faces)[faces[tri]]  # parts share no vertices: each its own normals
    n = (bary[:, :, None] * vn).sum(axis=1)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    # Cloth is an open surface seen from either side (the inside of a skirt, a fold turned over):
    # there the visible side's normal is the GT. The body keeps its outward normal, whatever the
    # camera, so a flipped camera frame still shows on it.
    on_cloth = tri >= len(sample.mesh.faces)
    back = on_cloth & ((n * dirs[ray]).sum(axis=1) > 0)
    n[back] = -n[back]
    normals = np.zeros((h * w, 3))
    normals[ray] = n
    hit = np.zeros(h * w, bool)
    hit[ray] = True
    return depth.reshape(h, w), normals.reshape(h, w, 3), hit.reshape(h, w)


def geometric_vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Smooth normals from first principles: area-weighted sum of the triangles' cross products.

    (v1 - v0) x (v2 - v0) with Anny's counter-clockwise winding points out of the body, so no
    orientation is taken from the camera either; a flipped z shows as well as a mirrored x.
    """
    v0, v1, v2 = (vertices[faces[:, i]] for i in range(3))
    face_n = np.cross(v1 - v0, v2 - v0)  # length = 2 x area: the sum is area weighted
    out = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(out, faces[:, i], face_n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-20)


def normal_errors_deg(sample) -> np.ndarray:
    """Angles between the rendered normals and the first-principles reference, interior pixels."""
    _, normals, hit = raycast_reference(sample)
    mask = interior_mask(sample, hit)
    cos = np.clip((sample.normal * normals).sum(-1)[mask], -1.0, 1.0)
    return np.degrees(np.arccos(cos))


def interior_mask(sample, hit) -> np.ndarray:
    """Pixels with alpha == 1 whose 3x3 neighbourhood is all ray-cast hits (no silhouette nearby)."""
    from scipy.ndimage import binary_erosion

    return (sample.alpha >= 1.0) & binary_erosion(hit, np.ones((3, 3), bool), border_value=0)


@pytest.fixture(scope="session")
def rendered(renderer):
    """One sample per framing with the exported mesh, rendered once for the whole session."""
    return {framing: renderer.render_sample(make_spec(framing), export_mesh=True)
            for framing in ("face", "upper", "full")}
