"""(global seed, index) -> SceneSpec, driven by a validated :class:`SamplingConfig`.

Pure and explicitly seeded: every sample's randomness comes from
``SeedSequence([seed, index])``, so the same (seed, index) gives the same spec on any
machine, in any order, on any worker. Each scene part draws from its own child stream
(fixed position in ``STREAMS``), so adding a part later does not reshuffle the others.
"""

from __future__ import annotations

import numpy as np

from synthhuman.config import BodyConfig, CameraConfig, EnvironmentConfig, LightingConfig, SamplingConfig
from synthhuman.errors import UserError
from synthhuman.hair import sample_hair
from synthhuman.outfit import sample_outfit
from synthhuman.pose_sampling import sample_pose
from synthhuman.spec import (
    FRAMINGS,
    BodySpec,
    CameraSpec,
    EnvironmentSpec,
    LightingSpec,
    RenderSpec,
    SceneSpec,
    SkinSpec,
)

# Child-stream positions. Append new parts at the end; never reorder.
STREAMS = ("body", "pose", "lighting", "camera", "render", "hair", "outfit", "environment")
ANCESTRIES = ("african", "asian", "caucasian")


def part_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    """One independent generator per scene part, derived from (seed, index) only."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    children = np.random.SeedSequence([seed, index]).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def sample_scene(seed: int, index: int, cfg: SamplingConfig, hdri_ids: list[str]) -> SceneSpec:
    """The SceneSpec of sample ``index`` of the dataset with global ``seed``."""
    rngs = part_rngs(seed, index)
    body = sample_body(rngs["body"], cfg.body)
    camera = sample_camera(rngs["camera"], cfg.camera, cfg.framing_weights)
    return SceneSpec(
        seed=seed,
        index=index,
        body=body,
        pose=sample_pose(rngs["pose"], cfg.pose),
        lighting=sample_lighting(rngs["lighting"], cfg.lighting, hdri_ids),
        camera=camera,
        render=sample_render(rngs["render"], cfg),
        hair=sample_hair(rngs["hair"], cfg.hair, dict(body.phenotype), body.skin.melanin),
        outfit=sample_outfit(rngs["outfit"], cfg.outfit, dict(body.phenotype), camera.framing),
        environment=sample_environment(rngs["environment"], cfg.environment, camera.framing),
    )


def sample_environment(rng: np.random.Generator, cfg: EnvironmentConfig, framing: str) -> EnvironmentSpec:
    """Ground or not at this framing; both draws are made either way (fixed draw order)."""
    ground = bool(rng.random() < cfg.ground_probability[framing])
    albedo = round(float(rng.uniform(*cfg.ground_albedo)), 6)
    return EnvironmentSpec(ground=ground, ground_albedo=albedo) if ground else EnvironmentSpec()


def sample_body(rng: np.random.Generator, cfg: BodyConfig) -> BodySpec:
    phenotype = {name: round(dist.sample(rng), 6) for name, dist in sorted(cfg.phenotype.items())}
    ancestry = rng.dirichlet([cfg.ancestry_concentration] * len(ANCESTRIES))
    phenotype.update({name: round(float(w), 6) for name, w in zip(ANCESTRIES, ancestry)})
    return BodySpec(
        phenotype=tuple(phenotype.items()),
        local_changes=_sample_local_changes(rng, cfg),
        skin=_sample_skin(rng, cfg),
    )


def _sample_local_changes(rng: np.random.Generator, cfg: BodyConfig) -> tuple[tuple[str, float], ...]:
    lo, hi = cfg.local_change_count
    count = int(rng.integers(lo, hi + 1)) if cfg.local_change_names else 0
    chosen = rng.choice(len(cfg.local_change_names), size=count, replace=False) if count else []
    changes: dict[str, float] = {}
    for i in sorted(int(c) for c in chosen):
        value = round(float(np.clip(rng.normal(0.0, cfg.local_change_std), -1.0, 1.0)), 6)
        for name in expand_mirrored(cfg.local_change_names[i]):
            changes[name] = value
    return tuple(sorted(changes.items()))


def expand_mirrored(name: str) -> tuple[str, ...]:
    """``lr-cheek-volume-incr`` -> (``l-cheek-volume-incr``, ``r-cheek-volume-incr``)."""
    if name.startswith("lr-"):
        return (f"l-{name[3:]}", f"r-{name[3:]}")
    return (name,)


def _sample_skin(rng: np.random.Generator, cfg: BodyConfig) -> SkinSpec:
    values = {name: round(dist.sample(rng), 6) for name, dist in sorted(cfg.skin.items())}
    base = np.asarray(cfg.eye_colors[int(rng.integers(len(cfg.eye_colors)))], dtype=float)
    jitter = 1.0 + rng.uniform(-cfg.eye_color_jitter, cfg.eye_color_jitter, size=3)
    eye = tuple(round(float(v), 6) for v in np.clip(base * jitter, 0.0, 1.0))
    return SkinSpec(eye_color=eye, **values)  # type: ignore[arg-type]


def sample_lighting(rng: np.random.Generator, cfg: LightingConfig, hdri_ids: list[str]) -> LightingSpec:
    if not hdri_ids:
        raise UserError("no HDRI assets available: check assets_manifest/ and lighting.hdris")
    ids = sorted(hdri_ids)
    return LightingSpec(
        hdri_id=ids[int(rng.integers(len(ids)))],
        rotation_deg=round(float(rng.uniform(*cfg.rotation_deg)), 4),
        strength=round(float(2.0 ** rng.uniform(*cfg.exposure_ev)), 6),
    )


def sample_camera(rng: np.random.Generator, cfg: CameraConfig, framing_weights: dict[str, float]) -> CameraSpec:
    weights = np.array([framing_weights[f] for f in FRAMINGS], dtype=float)
    framing = FRAMINGS[int(rng.choice(len(FRAMINGS), p=weights / weights.sum()))]
    azimuth = float(rng.uniform(*cfg.azimuth_deg))
    if rng.random() < cfg.back_view_probability:
        azimuth = (azimuth + 360.0) % 360.0 - 180.0  # the same spread of angles, seen from behind
    return CameraSpec(
        framing=framing,
        focal_mm=round(float(rng.uniform(*cfg.focal_mm[framing])), 4),
        azimuth_deg=round(azimuth, 4),
        elevation_deg=round(float(rng.uniform(*cfg.elevation_deg)), 4),
        roll_deg=round(float(rng.uniform(*cfg.roll_deg)), 4),
        fill=round(float(rng.uniform(*cfg.fill[framing])), 4),
        offset_x=round(float(rng.uniform(*cfg.offset)), 4),
        offset_y=round(float(rng.uniform(*cfg.offset)), 4),
    )


def sample_render(rng: np.random.Generator, cfg: SamplingConfig) -> RenderSpec:
    return RenderSpec(
        width_px=cfg.width_px,
        height_px=cfg.height_px,
        samples=cfg.samples,
        cycles_seed=int(rng.integers(0, 2**31 - 1)),
        transparent_gt=cfg.transparent_gt,
        denoise=cfg.denoise,
        hair_normals=cfg.hair_normals,
    )


def resolve_hdri_ids(cfg: LightingConfig, available: list[str]) -> list[str]:
    """The config's HDRI choice checked against the assets manifest."""
    if cfg.hdris == "all":
        return sorted(available)
    missing = [h for h in cfg.hdris if h not in available]
    if missing:
        raise UserError(f"config key lighting.hdris names unknown asset(s): {', '.join(missing)}")
    return sorted(cfg.hdris)
