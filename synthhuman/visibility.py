"""Is the framed region actually seen? Catch cameras inside a shoulder or behind a raised arm.

``framing.resolve_camera`` places the camera so the framed region (the face, the upper body)
fills the frame, looking only at that region's points. With a face crop from behind the
shoulder, or an arm raised across the face, the rest of the body can sit between the lens and
the face, or the camera can end up inside the body: measured on 32 rendered samples, one face
crop had a sleeve 1 cm from the lens over the whole picture (depth 0.01-0.6 m) and one was
half covered by a shoulder 10 cm away. Such frames hold no usable face, and their depth, whose
error metrics divide by depth, outweighed the other 31 samples together.

The check casts rays through a grid of pixels over the region's projected box into the posed
person's meshes (body and worn items; hair is left out: hair over a face is a real photo) and
counts a ray as blocked when it hits something clearly nearer than the region's nearest point.
Pure numpy + trimesh (Embree), so it is tested without Blender; 0.06 s per view tried.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from synthhuman.geometry import project, world_to_camera_points

GRID = 12  # rays per side of the region's box
IN_FRONT_M = 0.05  # a hit this much nearer than the region's nearest point is in front of it
MAX_BLOCKED = 0.35  # more of the region's box than this blocked: the view is rejected
MIN_CLEARANCE_M = 0.08  # and the lens never closer than this to the person


@dataclass(frozen=True)
class ViewCheck:
    """What a camera sees of its framed region."""

    blocked: float  # share of the rays through the region's box stopped in front of the region
    clearance_m: float  # distance from the camera centre to the nearest vertex of the person

    @property
    def ok(self) -> bool:
        return self.blocked <= MAX_BLOCKED and self.clearance_m >= MIN_CLEARANCE_M


def check_view(cam_to_world: np.ndarray, K: np.ndarray, region_points: np.ndarray, person: trimesh.Trimesh) -> ViewCheck:
    """Rays from the camera centre through a GRID x GRID lattice over the projected box of
    ``region_points``, against the ``person`` mesh, world coordinates. The mesh keeps its ray
    intersector (an Embree scene) between calls, so build it once for all the views tried."""
    origin = cam_to_world[:3, 3]
    clearance = float(np.sqrt(((np.asarray(person.vertices) - origin) ** 2).sum(axis=1).min()))
    pc = world_to_camera_points(region_points, cam_to_world)
    pc = pc[pc[:, 2] < -1e-6]
    if not len(pc):
        return ViewCheck(1.0, clearance)
    px = project(pc, K)
    lo, hi = px.min(axis=0), px.max(axis=0)
    t = (np.arange(GRID) + 0.5) / GRID
    uu, vv = np.meshgrid(lo[0] + t * (hi[0] - lo[0]), lo[1] + t * (hi[1] - lo[1]))
    dirs_cam = np.stack([(uu.ravel() - K[0, 2]) / K[0, 0], -(vv.ravel() - K[1, 2]) / K[1, 1],
                         -np.ones(uu.size)], axis=1)
    dirs = dirs_cam @ cam_to_world[:3, :3].T
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    nearest_region = float(np.linalg.norm(region_points - origin, axis=1).min())
    locations, ray_ids, _ = person.ray.intersects_location(np.tile(origin, (len(dirs), 1)), dirs, multiple_hits=False)
    first = np.full(len(dirs), np.inf)
    first[ray_ids] = np.linalg.norm(locations - origin, axis=1)
    return ViewCheck(float((first < nearest_region - IN_FRONT_M).mean()), clearance)


def fallback_angles(azimuth_deg: float, elevation_deg: float, steps: int = 4) -> list[tuple[float, float]]:
    """The requested (azimuth, elevation) and then ``steps`` views turned stepwise towards the
    front (azimuth 0, elevation 0): where the person blocks the requested view, the first clear
    one of these is used. Deterministic, so a sample stays reproducible from (seed, index)."""
    return [(azimuth_deg * (1 - k / steps), elevation_deg * (1 - k / steps)) for k in range(steps + 1)]
