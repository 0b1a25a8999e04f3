"""Hair on the posed body and in the ground truth, checked against independent geometry.

References are built here from first principles: trimesh's signed distance and closest
point on the posed mesh (not the grower's own nearest-vertex collider), and a numpy ray cast
of the exported strands as tubes (cylinders with spherical joints), read back from the
shard's ``hair.ply`` through trimesh.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import make_spec, raycast_reference

from synthhuman.hair import GroomSpec, HairColorSpec, HairSpec

pytestmark = pytest.mark.render

MEDIUM = GroomSpec(style="medium", strands=2500, length_m=0.14, length_jitter=0.2, lift=0.35, gravity=0.7,
                   clump=0.3, clumps=60, frizz_m=0.001, parting=0.3, hairline=0.1, radius_m=6e-5, points=12)
LONG = dataclasses.replace(MEDIUM, style="long_straight", length_m=0.4, gravity=0.95, points=20)
BROWS = GroomSpec(style="brows", strands=400, length_m=0.008, lift=0.15, clump=0.2, clumps=20, radius_m=4e-5, points=5)
LASHES = GroomSpec(style="upper", strands=120, length_m=0.009, lift=0.5, radius_m=4e-5, points=5)
BEARD = GroomSpec(style="beard", strands=3000, length_m=0.02, lift=0.2, gravity=0.3, clump=0.2, clumps=40,
                  curl_radius_m=0.001, curl_turns_per_m=20.0, radius_m=5e-5, points=6)
GROOM = HairSpec(head=MEDIUM, eyebrows=BROWS, lashes_upper=LASHES, facial=BEARD,
                 color=HairColorSpec("dark_brown", 0.75, 0.15, 0.0, (0.0, 0.0, 0.0), 0.3), strand_seed=11)


def haired(framing: str = "face", hair: HairSpec = GROOM, **render) -> object:
    spec = make_spec(framing)
    return dataclasses.replace(spec, hair=hair, render=dataclasses.replace(spec.render, **render))


def mesh_vertices(renderer) -> np.ndarray:
    """The posed body's vertices as the Blender mesh holds them (world, float64)."""
    out = np.empty(len(renderer.body.mesh.vertices) * 3, np.float32)
    renderer.body.mesh.vertices.foreach_get("co", out)
    return out.reshape(-1, 3).astype(np.float64)


def posed_mesh(renderer):
    import trimesh

    return trimesh.Trimesh(mesh_vertices(renderer), renderer.body.faces, process=False)


@pytest.fixture(scope="module")
def hair_gt(renderer):
    """A thick-strand groom (1.2 mm radius: every strand covers pixels, so pixel-grid rays hit it)
    rendered with --export-mesh and round-tripped through the shard codec."""
    from synthhuman.shards import decode_sample, encode_sample

    thick = dataclasses.replace(GROOM, head=dataclasses.replace(MEDIUM, strands=700, radius_m=0.0012, points=48),
                                eyebrows=GroomSpec(), lashes_upper=GroomSpec(), facial=GroomSpec())
    sample = renderer.render_sample(haired("face", thick), export_mesh=True)
    return decode_sample(encode_sample(sample)), renderer.groom


# --------------------------------------------------------------------------- on the body


@pytest.mark.parametrize("head", [MEDIUM, LONG], ids=["medium", "long"])
def test_roots_sit_on_the_posed_scalp_and_no_strand_enters_the_body(renderer, head):
    from trimesh.proximity import ProximityQuery

    spec = haired("upper", dataclasses.replace(GROOM, head=head))
    renderer.update_scene(spec)
    mesh = posed_mesh(renderer)
    query = ProximityQuery(mesh)
    groom = renderer.groom
    head_bones = [renderer.body.bone_labels.index(b) for b in ("head", "eye.L", "eye.R")]  # lash roots touch the eyeball
    for name, strands in groom.strands.items():
        roots = strands.points[:, 0].astype(np.float64)
        _, dist, tri = query.on_surface(roots)
        assert dist.max() < 1e-3, f"{name}: a root {dist.max() * 1e3:.2f} mm off the posed skin"
        on_head = np.isin(renderer.body.dominant_bone[renderer.body.faces[tri]], head_bones).any(axis=1)
        assert on_head.mean() > (0.9 if name == "facial" else 0.99), (name, on_head.mean())  # beards reach under the jaw
        rest = strands.points[:, 1:].reshape(-1, 3).astype(np.float64)
        pick = np.random.default_rng(0).choice(len(rest), min(6000, len(rest)), replace=False)
        inside = query.signed_distance(rest[pick]) > 1e-3  # trimesh: positive inside
        assert inside.mean() < 0.005, f"{name}: {inside.mean():.2%} of strand points > 1 mm inside the body"


def test_long_hair_rests_on_the_shoulders_and_falls_below_them(renderer):
    renderer.update_scene(haired("upper", dataclasses.replace(GROOM, head=LONG)))
    tips = renderer.groom.strands["head"].points[:, -1]
    shoulders = renderer.body.bone_labels.index("shoulder01.L")
    vertices = mesh_vertices(renderer)
    shoulder_z = vertices[renderer.body.dominant_bone == shoulders, 2].max()
    assert (tips[:, 2] < shoulder_z).mean() > 0.3  # a 40 cm groom hangs past the shoulders


def test_no_strand_crosses_the_eyes(renderer):
    """Head hair frames the face: no head-hair point lies in front of an eye (within 1.5 cm of
    its axis, ahead of the eyeball); brows and lashes are allowed there."""
    renderer.update_scene(haired("face", dataclasses.replace(GROOM, head=LONG)))
    vertices = mesh_vertices(renderer)
    pts = renderer.groom.strands["head"].points.reshape(-1, 3)
    for bone in ("eye.L", "eye.R"):
        eye = vertices[renderer.body.dominant_bone == renderer.body.bone_labels.index(bone)]
        centre = eye.mean(axis=0)
        forward = eye[np.argmax((eye - centre) @ renderer.body._head_forward(vertices))] - centre
        forward /= np.linalg.norm(forward)
        ahead = (pts - centre) @ forward
        off_axis = np.linalg.norm((pts - centre) - ahead[:, None] * forward, axis=1)
        assert not np.any((ahead > 0.005) & (ahead < 0.1) & (off_axis < 0.015)), bone


def test_a_bald_spec_after_a_groomed_one_leaves_no_curves(renderer):
    import bpy

    renderer.update_scene(haired("face"))
    assert len(bpy.data.hair_curves) == len(GROOM.grooms())
    sample = renderer.render_sample(make_spec("face", width=64, height=48))
    assert len(bpy.data.hair_curves) == 0 and sample.meta["hair_strands"] == {}
    assert not any(k.startswith("hair_") for k in sample.meta["timings"])


def test_groom_is_deterministic(renderer):
    spec = haired("face")
    renderer.update_scene(spec)
    first = {k: s.points.copy() for k, s in renderer.groom.strands.items()}
    renderer.update_scene(make_spec("full"))
    renderer.update_scene(spec)
    for name, points in first.items():
        np.testing.assert_array_equal(points, renderer.groom.strands[name].points)


# --------------------------------------------------------------------------- ground truth


def ray_tube_depths(strands, K: np.ndarray, shape: tuple[int, int], offsets: np.ndarray,
                    point_normals: list[np.ndarray] | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """(H, W, R) camera-Z depth of the first tube hit of each pixel's R sub-pixel rays (inf: miss).

    Tubes: each segment a cylinder of its mean radius, each point a sphere (joints and tips).
    Only segments whose projection (grown by radius and the sub-pixel spread) covers a pixel
    are tested against that pixel's rays. With ``point_normals`` (per family, (S, P, 3)) also
    returns (H, W, R, 3): each hit's normal interpolated linearly along its segment, as the
    renderer interpolates a point attribute.
    """
    h, w = shape
    out = np.full((h, w, len(offsets)), np.inf)
    hit_normal = np.zeros((h, w, len(offsets), 3))
    for f, s in enumerate(strands):
        a = s.points[:, :-1].reshape(-1, 3).astype(np.float64)
        b = s.points[:, 1:].reshape(-1, 3).astype(np.float64)
        r = 0.5 * (s.radius[:, :-1] + s.radius[:, 1:]).reshape(-1).astype(np.float64)
        if point_normals is not None:
            na = point_normals[f][:, :-1].reshape(-1, 3)
            nb = point_normals[f][:, 1:].reshape(-1, 3)
        ends = np.stack([a, b], axis=1)  # (N, 2, 3)
        z = -ends[..., 2]
        u = K[0, 0] * ends[..., 0] / z + K[0, 2]
        v = -K[1, 1] * ends[..., 1] / z + K[1, 2]
        grow = K[0, 0] * r / z.min(axis=1) + 1.0
        u0 = np.floor(u.min(axis=1) - grow).astype(int).clip(0, w - 1)
        u1 = np.floor(u.max(axis=1) + grow).astype(int).clip(0, w - 1)
        v0 = np.floor(v.min(axis=1) - grow).astype(int).clip(0, h - 1)
        v1 = np.floor(v.max(axis=1) + grow).astype(int).clip(0, h - 1)
        for seg in np.flatnonzero((z > 0).all(axis=1)):
            uu, vv = np.meshgrid(np.arange(u0[seg], u1[seg] + 1), np.arange(v0[seg], v1[seg] + 1))
            px = uu.ravel()[:, None] + 0.5 + offsets[None, :, 0]
            py = vv.ravel()[:, None] + 0.5 + offsets[None, :, 1]
            d = np.stack([(px - K[0, 2]) / K[0, 0], -(py - K[1, 2]) / K[1, 1], -np.ones_like(px)], axis=-1)
            unit_d = d / np.linalg.norm(d, axis=-1, keepdims=True)
            t = _capsule_hit(unit_d, a[seg], b[seg], r[seg])
            depth = t * np.abs(unit_d[..., 2])
            cell = out[vv.ravel(), uu.ravel()]
            closer = depth < cell
            out[vv.ravel(), uu.ravel()] = np.where(closer, depth, cell)
            if point_normals is not None and closer.any():
                axis = b[seg] - a[seg]
                hit = np.where(np.isfinite(t), t, 0.0)[..., None] * unit_d
                frac = np.clip(((hit - a[seg]) @ axis) / max(axis @ axis, 1e-18), 0, 1)[..., None]
                n = (1 - frac) * na[seg] + frac * nb[seg]
                old = hit_normal[vv.ravel(), uu.ravel()]
                hit_normal[vv.ravel(), uu.ravel()] = np.where(closer[..., None], n, old)
    return (out, hit_normal) if point_normals is not None else out


def _capsule_hit(d: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> np.ndarray:
    """Ray parameter of the first hit of rays (origin 0, unit directions d) with a capsule."""
    axis = b - a
    length = np.linalg.norm(axis)
    unit = axis / max(length, 1e-12)
    best = np.full(d.shape[:-1], np.inf)
    w = -a
    dp = d - (d @ unit)[..., None] * unit
    wp = w - (w @ unit) * unit
    qa, qb, qc = (dp * dp).sum(-1), 2 * (dp @ wp), wp @ wp - r * r
    disc = qb * qb - 4 * qa * qc
    ok = (disc >= 0) & (qa > 1e-18)
    t = np.where(ok, (-qb - np.sqrt(np.where(ok, disc, 0))) / (2 * np.where(ok, qa, 1)), np.inf)
    along = (np.where(np.isfinite(t), t, 0.0)[..., None] * d - a) @ unit
    best = np.where(ok & (t > 0) & (along >= 0) & (along <= length), t, best)
    for c in (a, b):
        dc = d @ c
        disc = dc * dc - (c @ c) + r * r
        t = np.where(disc >= 0, dc - np.sqrt(np.where(disc >= 0, disc, 0)), np.inf)
        best = np.minimum(best, np.where(t > 0, t, np.inf))
    return best


OFFSETS = np.stack(np.meshgrid(np.linspace(-0.75, 0.75, 5), np.linspace(-0.75, 0.75, 5)), -1).reshape(-1, 2)


def _blackman_harris(x: np.ndarray, width: float = 1.5) -> np.ndarray:
    """Cycles' default pixel filter (Blackman-Harris, 1.5 px wide), applied per axis."""
    p = 2 * np.pi * (x / width + 0.5)
    return 0.35875 - 0.48829 * np.cos(p) + 0.14128 * np.cos(2 * p) - 0.01168 * np.cos(3 * p)


FILTER_WEIGHTS = _blackman_harris(OFFSETS[:, 0]) * _blackman_harris(OFFSETS[:, 1])
FILTER_WEIGHTS /= FILTER_WEIGHTS.sum()


def _hair_depth_agreement(sample, strands) -> tuple[float, int]:
    """Share of hair pixels whose rendered depth is within 1 mm of a reference hit inside the
    pixel's filter footprint (hair tube or body), and how many hair pixels there are."""
    shape = sample.depth.shape
    hair = ray_tube_depths(strands, np.asarray(sample.meta["K"]), shape, OFFSETS)
    body_depth, _, body_hit = raycast_reference(sample)
    body = np.where(body_hit, body_depth, np.inf)[..., None]
    hair_pixels = np.isfinite(hair).any(-1) & (sample.depth > 0) & (np.min(hair, -1) < body[..., 0] - 0.002)
    candidates = np.concatenate([hair, np.broadcast_to(body, (*shape, 1))], axis=-1)
    err = np.min(np.abs(candidates - sample.depth[..., None]), axis=-1)
    return float((err[hair_pixels] < 1e-3).mean()), int(hair_pixels.sum())


def test_hair_depth_matches_a_ray_cast_of_the_exported_strands(hair_gt):
    hair_gt, _ = hair_gt
    assert hair_gt.mesh is not None and [s.name for s in hair_gt.mesh.strands] == ["head"]
    agree, count = _hair_depth_agreement(hair_gt, hair_gt.mesh.strands)
    assert count > 150, "too few hair pixels to judge"
    assert agree > 0.95, f"only {agree:.1%} of {count} hair pixels match the strand ray cast"


def test_hair_depth_check_catches_strands_moved_by_5_mm(hair_gt):
    """Plant the defect: the exported strands 5 mm further from the camera than rendered."""
    from synthhuman.sample import Strands

    hair_gt, _ = hair_gt
    moved = [Strands(s.name, s.points + np.array([0, 0, -0.005], np.float32), s.radius) for s in hair_gt.mesh.strands]
    agree, _ = _hair_depth_agreement(hair_gt, moved)
    assert agree < 0.6, f"{agree:.1%} of hair pixels still agree with strands moved 5 mm"


def test_rendered_hair_normals_equal_the_proxy_normals_at_the_strands(hair_gt):
    """On pixels whose whole filter footprint hits hair (thick strands: every ray of a 5x5
    sub-pixel grid hits a tube in front of the body), the rendered normal is the mean, over
    those rays, of the proxy normal at each hit (interpolated along the segment hit), rotated
    into the camera frame: the attribute -> AOV -> camera-frame path, with the renderer's own
    anti-aliasing reproduced instead of assumed away."""
    sample, groom = hair_gt
    cam_to_world = np.asarray(sample.meta["cam_to_world"])
    cam_normals = [groom.normals[s.name].astype(np.float64) @ cam_to_world[:3, :3] for s in sample.mesh.strands]
    hits, normals = ray_tube_depths(sample.mesh.strands, np.asarray(sample.meta["K"]), sample.depth.shape, OFFSETS,
                                    cam_normals)
    body_depth, _, body_hit = raycast_reference(sample)
    covered = np.isfinite(hits).all(-1) & (~body_hit | (hits.max(-1) < body_depth - 0.002)) & (sample.depth > 0)
    assert covered.sum() > 30, covered.sum()
    expected = (normals[covered] * FILTER_WEIGHTS[None, :, None]).sum(axis=1)
    expected /= np.linalg.norm(expected, axis=-1, keepdims=True)
    angle = np.degrees(np.arccos(np.clip((sample.normal[covered] * expected).sum(-1), -1, 1)))
    print(f"rendered vs proxy normal on {covered.sum()} covered hair pixels: median {np.median(angle):.2f} deg, "
          f"p90 {np.percentile(angle, 90):.2f}")
    assert np.median(angle) < 3.0
    # The check can fail: against the proxy normals left in the world frame (a missing camera
    # rotation, the defect this test exists for) the same pixels disagree by tens of degrees.
    _, world = ray_tube_depths(sample.mesh.strands, np.asarray(sample.meta["K"]), sample.depth.shape, OFFSETS,
                               [groom.normals[s.name].astype(np.float64) for s in sample.mesh.strands])
    unrotated = (world[covered] * FILTER_WEIGHTS[None, :, None]).sum(axis=1)
    unrotated /= np.linalg.norm(unrotated, axis=-1, keepdims=True)
    assert np.median(np.degrees(np.arccos(np.clip((sample.normal[covered] * unrotated).sum(-1), -1, 1)))) > 15.0


def test_alpha_is_soft_at_hair_edges(renderer):
    bald = renderer.render_sample(make_spec("face"))
    groomed = renderer.render_sample(haired("face"))

    def soft(a: np.ndarray) -> int:
        return int(((a > 0.02) & (a < 0.98)).sum())

    print(f"soft alpha pixels: groomed {soft(groomed.alpha)} ({soft(groomed.alpha) / groomed.alpha.size:.1%}), "
          f"bald {soft(bald.alpha)}")
    assert soft(groomed.alpha) > 3 * soft(bald.alpha), (soft(groomed.alpha), soft(bald.alpha))
    assert groomed.alpha.max() <= 1.0 and groomed.alpha.min() >= 0.0
    new = (groomed.alpha > 0) & (bald.alpha == 0)  # hair beyond the body's silhouette
    assert new.sum() > 20 and np.median(groomed.alpha[new]) < 0.9  # fly-aways cover partly
    assert np.all(groomed.depth[groomed.alpha == 0] == 0)


def test_hair_normals_are_the_proxy_normals_of_the_strands_hit(renderer):
    """On pixels covered by hair, the rendered normal is the proxy normal of the strand point
    there (back-projected sample-0 depth -> nearest strand point), rotated into the camera
    frame; with --hair-normals strand it is not. The proxy itself is checked in
    tests/pure/test_hair_proxy.py; this checks attribute -> AOV -> camera frame."""
    from scipy.spatial import cKDTree

    from synthhuman.geometry import backproject_depth

    dense = dataclasses.replace(GROOM, head=dataclasses.replace(MEDIUM, strands=12000))  # a proxy needs a layer
    proxy = renderer.render_sample(haired("face", dense, hair_normals="proxy"), export_mesh=True)
    groom = renderer.groom
    strand = renderer.render_sample(haired("face", dense, hair_normals="strand"))
    body_depth, _, body_hit = raycast_reference(proxy)  # the body alone, same camera
    hair = (proxy.alpha > 0.95) & (proxy.depth > 0) & (~body_hit | (proxy.depth < body_depth - 0.004))
    assert hair.sum() > 100
    cam_to_world = np.asarray(proxy.meta["cam_to_world"])
    points_cam = backproject_depth(proxy.depth, np.asarray(proxy.meta["K"]))[hair]
    points_world = points_cam @ cam_to_world[:3, :3].T + cam_to_world[:3, 3]
    every = np.concatenate([s.points.reshape(-1, 3) for s in groom.strands.values()])
    normals = np.concatenate([groom.normals[k].reshape(-1, 3) for k in groom.strands])
    dist, nearest = cKDTree(every).query(points_world)
    expected = normals[nearest] @ cam_to_world[:3, :3]  # world -> camera: R^T n, written as n R

    def median_angle(rendered: np.ndarray) -> float:
        cos = np.clip((rendered[hair] * expected).sum(-1), -1, 1)
        return float(np.degrees(np.median(np.arccos(cos))))

    pairs = hair & np.roll(hair, 1, axis=1)  # pixel and its left neighbour both hair

    def neighbour_angle(n: np.ndarray) -> float:
        cos = np.clip((n * np.roll(n, 1, axis=1)).sum(-1)[pairs], -1, 1)
        return float(np.degrees(np.median(np.arccos(cos))))

    print(f"median angle to the proxy normal: proxy mode {median_angle(proxy.normal):.1f} deg, "
          f"strand mode {median_angle(strand.normal):.1f} deg over {hair.sum()} hair pixels; median angle between "
          f"neighbouring pixels: proxy {neighbour_angle(proxy.normal):.1f} deg, strand {neighbour_angle(strand.normal):.1f} deg")
    assert np.median(dist) < 0.002
    assert neighbour_angle(proxy.normal) < 0.75 * neighbour_angle(strand.normal)  # measured 9.5 vs 15.0
    assert median_angle(proxy.normal) < 14.0  # measured 10.5: sub-pixel mixing with skin behind
    assert median_angle(strand.normal) > 1.5 * median_angle(proxy.normal)
    assert (proxy.normal[hair][:, 2] > 0).mean() > 0.95  # the visible outer shell faces the camera
    np.testing.assert_array_equal(proxy.rgb, strand.rgb)  # the switch changes the GT only
    np.testing.assert_array_equal(proxy.depth, strand.depth)


def test_a_groomed_sample_renders_the_same_bytes_in_another_process(renderer, tmp_path):
    """(seed, index) -> the same bytes with hair too: strands, proxy and render, in a fresh process."""
    import subprocess
    import sys
    from pathlib import Path

    from synthhuman.shards import encode_sample

    spec = haired("face", width_px=48, height_px=64, samples=4)
    here = encode_sample(renderer.render_sample(spec))
    script = tmp_path / "render_other.py"
    script.write_text(
        "import sys, pickle\n"
        "from synthhuman.render.scene import BlenderRenderer\n"
        "from synthhuman.shards import encode_sample\n"
        "from synthhuman.spec import SceneSpec\n"
        f"spec = SceneSpec.from_json({spec.to_json()!r})\n"
        "r = BlenderRenderer()\n"
        f"pickle.dump(encode_sample(r.render_sample(spec)), open({str(tmp_path / 'other.pkl')!r}, 'wb'))\n")
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True, cwd=Path(__file__).parent)
    import pickle

    other = pickle.loads((tmp_path / "other.pkl").read_bytes())
    for member in ("rgb.png", "alpha.png", "depth.exr", "normal.exr"):
        assert here[member] == other[member], f"{member} differs between processes"


def test_proxy_normals_face_away_from_the_skin_in_thin_layers(renderer, monkeypatch):
    """Beard and brows are layers a few millimetres thick: their proxy normals face out of the
    skin (measured 0-1% facing in). Looking them up at the points themselves, the defect the
    lookup offset fixes, leaves several times more facing in."""
    from scipy.spatial import cKDTree

    from synthhuman import groom as groom_mod

    def facing_in(spec) -> dict[str, float]:
        renderer.update_scene(spec)
        vertices = mesh_vertices(renderer)
        skin = renderer.body.vertex_normals()
        tree = cKDTree(vertices)
        out = {}
        for name in ("facial", "eyebrows"):
            points = renderer.groom.strands[name].points.reshape(-1, 3)
            _, idx = tree.query(points)
            out[name] = float(((renderer.groom.normals[name].reshape(-1, 3) * skin[idx]).sum(-1) < 0).mean())
        return out

    dense = dataclasses.replace(GROOM, facial=dataclasses.replace(BEARD, strands=9000),
                                eyebrows=dataclasses.replace(BROWS, strands=1500))
    fixed = facing_in(haired("face", dense))
    assert fixed["facial"] < 0.03 and fixed["eyebrows"] < 0.03, fixed
    monkeypatch.setattr(groom_mod, "LOOKUP_OFFSET_VOXELS", 0.0)
    planted = facing_in(haired("face", dense))
    assert planted["facial"] > 2 * fixed["facial"] + 0.02, (planted, fixed)


def test_face_framing_covers_the_groom_around_the_head(renderer, monkeypatch):
    """An afro stands centimetres off the skull: a tight face crop keeps it in the picture
    (strand points within 17 cm of the head's centre project inside the image); framing the
    skull alone (the planted defect) cuts part of it off."""
    from synthhuman.geometry import world_to_camera_points

    afro = dataclasses.replace(MEDIUM, style="coily", length_m=0.12, lift=1.0, gravity=0.0, curl_radius_m=0.004,
                               curl_turns_per_m=80.0, points=24, strands=6000)
    spec = haired("face", dataclasses.replace(GROOM, head=afro), width_px=96, height_px=128)
    spec = dataclasses.replace(spec, camera=dataclasses.replace(spec.camera, fill=0.95, offset_x=0.0, offset_y=0.0))

    def share_inside() -> float:
        K, cam_to_world, _ = renderer.update_scene(spec)
        points = renderer.groom.strands["head"].points.reshape(-1, 3).astype(np.float64)
        near = points[np.linalg.norm(points - renderer.groom.head_centre, axis=1) < 0.17]
        cam = world_to_camera_points(near, cam_to_world)
        u = K[0, 0] * cam[:, 0] / -cam[:, 2] + K[0, 2]
        v = -K[1, 1] * cam[:, 1] / -cam[:, 2] + K[1, 2]
        return float(((u >= 0) & (u < 96) & (v >= 0) & (v < 128)).mean())

    assert share_inside() > 0.99
    monkeypatch.setattr(type(renderer), "_framed_hair", lambda self, framing: np.zeros((0, 3)))
    assert share_inside() < 0.97


def test_skin_under_short_hair_takes_the_hair_colour(renderer):
    """The scalp under a buzz cut and the chin under stubble are tinted by the hair (cover
    attribute x hair albedo); the nose is not. Bald samples reset the cover to zero."""
    import bpy

    buzz = dataclasses.replace(MEDIUM, style="buzz", length_m=0.006, strands=3000, lift=0.05, gravity=0.0, points=4)
    renderer.update_scene(haired("face", dataclasses.replace(GROOM, head=buzz)))
    cover = np.zeros(len(renderer.body.mesh.vertices), np.float32)
    renderer.body.mesh.attributes["hair_cover"].data.foreach_get("value", cover)
    vertices = mesh_vertices(renderer)
    head = renderer.body.dominant_bone == renderer.body.bone_labels.index("head")
    top = head & (vertices[:, 2] > vertices[head, 2].max() - 0.02)
    nose = renderer.body._nose_id
    assert cover[top].mean() > 0.9 and cover[nose] == 0.0
    chin = head & (vertices[:, 2] < vertices[head, 2].min() + 0.03) & (cover > 0)
    assert chin.sum() > 20  # the test groom's beard
    tint = next(s for s in bpy.data.materials["synthhuman_skin"].node_tree.nodes["hair_tint"].inputs
                if s.identifier == "B_Color").default_value
    assert max(tint[:3]) < 0.5  # dark brown hair tints dark
    renderer.update_scene(make_spec("face"))
    renderer.body.mesh.attributes["hair_cover"].data.foreach_get("value", cover)
    assert not cover.any()
