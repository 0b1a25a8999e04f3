"""SceneSpec: the frozen, JSON-serialisable description of one sample.

A SceneSpec is the contract between sampling (pure Python) and rendering (Blender): it is
what the Ray driver ships to a worker, what each sample stores in its ``json``, and all that
is needed to re-render that one sample alone. Data flows one way, spec to Blender.

Conventions (stated once, tested in ``tests/pure/test_geometry.py``):

* World: Anny's frame, Z up, metres; the body stands on the XY plane, facing -Y.
* Camera frame (``cam_to_world``): x right, y up, z towards the viewer (the camera looks
  along -z). This is Blender's camera-object frame.
* Depth: camera-space Z along the optical axis, in metres, positive in front of the
  camera; 0 where there is no foreground.
* Normals: unit vectors in the camera frame above (z towards the camera); 0 off the
  foreground.
* Images: row 0 is the top row; intrinsics K are in pixels with the principal point at
  the image centre ``((W)/2, (H)/2)`` in pixel-edge coordinates (pixel centres at +0.5).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from synthhuman.hair import HAIR_NORMALS, NO_HAIR, HairSpec
from synthhuman.outfit import NO_OUTFIT, FabricSpec, GarmentSpec, OutfitSpec

SCHEMA_VERSION = 1
FRAMINGS = ("face", "upper", "full")
TRANSPARENT_GT_MODES = ("see-through", "surface")

# (name, value) pairs rather than dicts: hashable, ordered, and they survive JSON unchanged.
NamedValues = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class SkinSpec:
    """Procedural skin appearance (Anny ships no albedo textures; see render/materials.py)."""

    melanin: float  # 0 (very light) .. 1 (very dark): eumelanin concentration driving albedo
    hemoglobin: float  # 0 .. 1: blood redness mixed into the albedo
    roughness: float  # Principled roughness of the skin surface
    subsurface_scale_m: float  # mean free path scale of subsurface scattering, metres
    eye_color: tuple[float, float, float]  # iris base colour, linear RGB in [0, 1]


@dataclass(frozen=True)
class BodySpec:
    """Identity and shape of the Anny body."""

    phenotype: NamedValues  # Anny phenotype name -> value in [0, 1] (gender, age, ...)
    local_changes: NamedValues  # Anny local change name -> value in [-1, 1]; absent = 0
    skin: SkinSpec


@dataclass(frozen=True)
class PoseSpec:
    """Body pose and facial expression.

    The pose is a base pose (``rest`` or a frame of a bundled motion clip) plus per-bone
    rotation offsets sampled within joint limits.
    """

    base_pose: str  # "rest" or "<clip>:<frame>", e.g. "walk:12"
    bone_euler_deg: tuple[tuple[str, tuple[float, float, float]], ...]  # bone -> XYZ Euler, bone-local
    root_yaw_deg: float  # rotation of the whole body about world Z
    facial_actions: NamedValues  # Anny (ARKit-style) face unit -> weight in [0, 1]


@dataclass(frozen=True)
class LightingSpec:
    """Image-based lighting; the HDRI is also the visible background."""

    hdri_id: str  # asset id from assets_manifest (kind "hdri")
    rotation_deg: float  # rotation of the environment about world Z
    strength: float  # multiplier on the HDRI radiance (2 ** exposure_ev)


@dataclass(frozen=True)
class EnvironmentSpec:
    """What the person stands in. ``ground``: a floor at z = 0 under the HDRI that shows the
    HDRI's own ground, catches the person's shadow and bounces light back (a Cycles shadow
    catcher); without it the person floats in front of the HDRI."""

    ground: bool = False
    ground_albedo: float = 0.25  # grey diffuse reflectance of the floor: what it bounces onto the person


NO_ENVIRONMENT = EnvironmentSpec()


@dataclass(frozen=True)
class CameraSpec:
    """Camera framing relative to the posed subject.

    The absolute camera pose is resolved at render time against the posed body
    (``synthhuman.framing.resolve_camera``) and stored in the sample's json as
    ``cam_to_world`` and ``K``: framing depends on geometry the sampler never sees.
    """

    framing: str  # one of FRAMINGS: which body region fills the frame
    focal_mm: float  # focal length for a 36 mm-wide sensor (35 mm equivalent)
    azimuth_deg: float  # around the subject; 0 = in front of the body
    elevation_deg: float  # above (+) or below (-) the framed region's centre
    roll_deg: float  # rotation about the optical axis
    fill: float  # fraction of the image height the framed region's extent occupies
    offset_x: float  # framed region's centre offset, fraction of half-width (-1 .. 1)
    offset_y: float  # framed region's centre offset, fraction of half-height (-1 .. 1)


@dataclass(frozen=True)
class RenderSpec:
    """Cycles settings that change pixels (the device does not belong here)."""

    width_px: int
    height_px: int
    samples: int  # Cycles samples per pixel (fixed: no adaptive sampling)
    cycles_seed: int  # Cycles noise seed, derived from (global seed, index)
    transparent_gt: str = "see-through"  # one of TRANSPARENT_GT_MODES
    denoise: bool = True  # OpenImageDenoise on the RGB only; GT passes are never denoised
    hair_normals: str = "proxy"  # one of HAIR_NORMALS: GT normals of hair from the proxy or the strands


@dataclass(frozen=True)
class SceneSpec:
    """Everything that defines one sample. Later parts (outfit, environment) are added as fields."""

    seed: int  # global dataset seed
    index: int  # global sample index; (seed, index) -> this spec, always
    body: BodySpec
    pose: PoseSpec
    lighting: LightingSpec
    camera: CameraSpec
    render: RenderSpec
    hair: HairSpec = NO_HAIR  # absent in specs written before hair existed: those are bald
    outfit: OutfitSpec = NO_OUTFIT  # absent in specs written before clothing existed: those are nude
    environment: EnvironmentSpec = NO_ENVIRONMENT  # absent before environments existed: no ground
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> str:
        """WebDataset ``__key__``: the zero-padded global index."""
        return sample_key(self.index)

    def to_dict(self) -> dict[str, Any]:
        return _to_jsonable(dataclasses.asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneSpec:
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(f"SceneSpec schema_version {version} is not supported (expected {SCHEMA_VERSION})")
        return _from_plain(cls, data)

    @classmethod
    def from_json(cls, text: str) -> SceneSpec:
        return cls.from_dict(json.loads(text))


def sample_key(index: int) -> str:
    """Zero-padded key: 9 digits keep lexicographic order up to a billion samples."""
    return f"{index:09d}"


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, float):
        return float(value)
    return value


T = TypeVar("T")


def _from_plain(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a (nested) frozen dataclass from plain JSON values, tuples for sequences."""
    hints = _field_types(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        kwargs[f.name] = _convert(hints[f.name], data[f.name])
    unknown = set(data) - set(hints)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
    return cls(**kwargs)


def _field_types(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def _convert(tp: Any, value: Any) -> Any:
    import typing

    if dataclasses.is_dataclass(tp):
        return _from_plain(tp, value)
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if tp is float:
        return float(value)
    if tp is int:
        return int(value)
    if tp is bool:
        return bool(value)
    return value


__all__ = [
    "FRAMINGS",
    "HAIR_NORMALS",
    "SCHEMA_VERSION",
    "TRANSPARENT_GT_MODES",
    "BodySpec",
    "CameraSpec",
    "FabricSpec",
    "GarmentSpec",
    "HairSpec",
    "LightingSpec",
    "NamedValues",
    "OutfitSpec",
    "PoseSpec",
    "RenderSpec",
    "SceneSpec",
    "SkinSpec",
    "sample_key",
]
