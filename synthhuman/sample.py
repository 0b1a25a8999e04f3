"""RenderedSample: the arrays and metadata of one rendered sample, before and after a shard.

Every renderer (Blender, or the analytic fake used to test the pipeline) returns this, the
shard writer encodes it, and the reader decodes it back. Conventions: see ``spec.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthhuman import outputs
from synthhuman.spec import FRAMINGS


@dataclass
class Strands:
    """One hair strand family: S polylines of P points, rendered as tubes of the given radius."""

    name: str  # head, eyebrows, lashes_upper, lashes_lower, facial
    points: np.ndarray  # (S, P, 3) float32, metres (world frame while rendering, camera frame when exported)
    radius: np.ndarray  # (S, P) float32, metres

    @property
    def count(self) -> int:
        return int(self.points.shape[0])


@dataclass
class WornMesh:
    """One worn item's triangles (a garment), in the same frame as the CameraMesh holding it."""

    name: str  # the outfit slot: top, bottom, shoes
    vertices: np.ndarray  # (G, 3) float32, metres
    faces: np.ndarray  # (F, 3) int32
    vertex_normals: np.ndarray  # (G, 3) float32 unit, the shading normals


@dataclass
class CameraMesh:
    """The posed, camera-space geometry of a sample (debug export, ground-truth checks)."""

    vertices: np.ndarray  # (N, 3) float32, camera frame (x right, y up, z towards viewer), metres
    faces: np.ndarray  # (M, 3) int32 triangle indices
    vertex_normals: np.ndarray  # (N, 3) float32 unit, camera frame, the shading normals
    strands: list[Strands] = field(default_factory=list)  # hair, camera frame
    worn: list[WornMesh] = field(default_factory=list)  # garments, camera frame


@dataclass
class RenderedSample:
    """One sample: its per-pixel maps by output key (see ``synthhuman.outputs``) and metadata.

    ``maps`` holds every row of the output table the sample has (``rgb``, ``alpha``,
    ``depth``, ``normal``, and optional ones); each is also an attribute, so ``sample.depth``
    reads ``sample.maps["depth"]`` and assigning it writes the map. Shapes use H = image
    height, W = width.
    """

    key: str  # zero-padded global index
    maps: dict[str, np.ndarray]  # output key -> array; shapes, dtypes and units per output row
    meta: dict[str, Any] = field(default_factory=dict)  # spec, K, cam_to_world, asset ids, timings
    mesh: CameraMesh | None = None  # only when --export-mesh is set

    def __getattr__(self, name: str) -> np.ndarray:
        maps = self.__dict__.get("maps")  # absent while unpickling: no recursion
        if maps is not None and name in maps:
            return maps[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or map {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in outputs.OUTPUT_KEYS and "maps" in self.__dict__:
            self.maps[name] = value
        else:
            super().__setattr__(name, value)

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def K(self) -> np.ndarray:
        return np.asarray(self.meta["K"], dtype=np.float64)

    @property
    def cam_to_world(self) -> np.ndarray:
        return np.asarray(self.meta["cam_to_world"], dtype=np.float64)


def sample_framing(meta: dict[str, Any]) -> str:
    """The framing recorded in a sample's json (top level, or the SceneSpec's camera); "unknown"
    for anything else (e.g. an imported SynthHuman folder without framing information)."""
    framing = meta.get("framing")
    spec = meta.get("spec")
    if framing is None and isinstance(spec, dict):
        framing = (spec.get("camera") or {}).get("framing")
    return framing if framing in FRAMINGS else "unknown"
