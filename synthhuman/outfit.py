"""Outfits: the OutfitSpec of a sample, its config (``configs/outfit.yaml``) and its sampler.

Pure Python + numpy. An OutfitSpec holds every number a garment needs (kind, where it is cut,
how loose it sits, its folds, its fabric), so the garments can be rebuilt bit for bit from the
spec alone (geometry: ``synthhuman.garments``). Probabilities depend on the framing (a face
crop never pays for trousers) and the person ("female"/"male" and "young"/"adult"/"elder", as
for hair: ``synthhuman.hair.person_group``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from synthhuman.config_checks import (
    check_known,
    check_mapping,
    check_number,
    check_numbers,
    check_range,
    check_weights,
)
from synthhuman.errors import UserError
from synthhuman.hair import choose, group_weight_table, group_weights, person_group, uniform

SLOTS = ("top", "bottom", "shoes")
WARDROBE_ASSET = "wardrobe/procedural"  # assets_manifest id of the procedural garments and fabrics
FRAMINGS = ("face", "upper", "full")  # as synthhuman.spec.FRAMINGS (spec imports this module)
# Kinds the garment builder knows, by slot. A kind's cut parameters are read per slot.
KINDS: dict[str, tuple[str, ...]] = {
    "top": ("t_shirt", "long_sleeve", "tank", "shirt", "hoodie"),
    "bottom": ("trousers", "jeans", "shorts", "leggings", "skirt"),
    "shoes": ("sneakers", "boots", "dress_shoes"),
}
NECKLINES = ("crew", "v", "scoop")
GLASSES_SHAPES = ("round", "rectangular", "cat_eye", "aviator")
LENSES = ("clear", "tinted", "sunglasses")
FRAME_MATERIALS = ("metal", "acetate")
HEADWEAR = ("beanie", "cap", "hat", "headscarf", "helmet")
HEADWEAR_PARAMS: dict[str, tuple[float, float]] = {
    "brim_y_m": (-0.05, 0.12), "brim_tilt_deg": (-30.0, 45.0), "gap_m": (0.0015, 0.04), "looseness_m": (0.0, 0.06),
    "wrinkle_m": (0.0, 0.01), "wrinkle_wavelength_m": (0.01, 0.2), "smooth": (0, 50), "brim_m": (0.0, 0.15),
    "brim_droop": (0.0, 0.6),
}
MATERIALS = ("cotton", "denim", "knit", "leather", "synthetic")
PATTERNS = ("solid", "stripes", "checks", "print")
# Cut parameters per slot: name -> (low bound, high bound) of any value the config may give.
# Limb coordinates: arm 0 shoulder, 1 elbow, 2 wrist; leg 0 hip, 1 knee, 2 ankle, 3 toe tip.
# Heights: 0 at the crotch, 1 at the waist (spine03), 2 at the chest.
CUT_PARAMS: dict[str, dict[str, tuple[float, float]]] = {
    "top": {"sleeve": (0.0, 2.0), "hem": (-1.0, 2.0), "neck_depth_m": (0.0, 0.25), "flare": (0.0, 1.0)},
    "bottom": {"waist": (0.0, 2.0), "leg": (0.05, 2.05), "flare": (0.0, 1.5)},
    "shoes": {"collar": (0.5, 2.0), "sole_m": (0.0, 0.05)},
}
FIT_PARAMS: dict[str, tuple[float, float]] = {
    "gap_m": (0.0015, 0.02), "looseness_m": (0.0, 0.08), "wrinkle_m": (0.0, 0.02),
    "wrinkle_wavelength_m": (0.01, 0.3), "smooth": (0, 50),
}


@dataclass(frozen=True)
class FabricSpec:
    """A garment's material: shader family, pattern, colours (linear RGB) and surface."""

    material: str = "cotton"  # one of MATERIALS
    pattern: str = "solid"  # one of PATTERNS
    color: tuple[float, float, float] = (0.5, 0.5, 0.5)
    color2: tuple[float, float, float] = (0.5, 0.5, 0.5)  # stripes, checks and prints
    pattern_scale_m: float = 0.02  # stripe/check period or print motif size, on the rest body
    pattern_angle_deg: float = 0.0  # stripes: 0 horizontal
    roughness: float = 0.8
    sheen: float = 0.3  # Principled sheen weight (cloth's grazing-angle fuzz)


@dataclass(frozen=True)
class GarmentSpec:
    """One worn item. ``kind == "none"`` means the slot is empty; unused fields keep defaults."""

    kind: str = "none"
    sleeve: float = 0.0  # tops: sleeve end on the arm (0 = sleeveless, 1 elbow, 2 wrist)
    hem: float = 0.3  # tops: hem height (0 crotch, 1 waist)
    neckline: str = "crew"  # tops: one of NECKLINES
    neck_depth_m: float = 0.0  # tops: how far the neckline dips at the front
    waist: float = 1.0  # bottoms: waistband height (0 crotch, 1 waist)
    leg: float = 2.0  # bottoms: leg end (1 knee, 2 ankle); a skirt's hem at that height
    flare: float = 0.0  # skirts and loose tops: radius growth per metre below the ring they hang from (A-line)
    collar: float = 1.9  # shoes: top edge on the leg (2 ankle; boots lower = higher up the shin)
    sole_m: float = 0.0  # shoes: sole thickness under the foot
    gap_m: float = 0.002  # distance from the skin where the garment is tightest
    looseness_m: float = 0.0  # extra distance where it hangs loosest
    wrinkle_m: float = 0.0  # fold depth
    wrinkle_wavelength_m: float = 0.05
    smooth: int = 2  # smoothing passes: more bridges more of the body's shape (looser look)
    fabric: FabricSpec = FabricSpec()
    seed: int = 0  # folds


@dataclass(frozen=True)
class GlassesSpec:
    """A pair of glasses (``shape == "none"``: none). Sizes in metres, angles in degrees."""

    shape: str = "none"  # one of GLASSES_SHAPES
    lens: str = "clear"  # one of LENSES
    frame_material: str = "acetate"  # one of FRAME_MATERIALS
    frame_color: tuple[float, float, float] = (0.02, 0.02, 0.02)  # linear RGB
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # lens transmission colour, linear RGB
    lens_width_m: float = 0.05
    lens_height: float = 0.8  # height / width (round lenses are circles)
    bridge_m: float = 0.018
    rim_radius_m: float = 0.0015  # tube radius of rims, bridge and temples
    vertex_distance_m: float = 0.014  # cornea to lens
    wrap_deg: float = 5.0  # face-form wrap: outer edges swept back
    tilt_deg: float = 8.0  # pantoscopic tilt: bottoms towards the cheeks


@dataclass(frozen=True)
class HeadwearSpec:
    """Something worn on the head (``kind == "none"``: nothing). Heights in the head's frame:
    y up from the eye line, metres; the brim rises towards the front by ``brim_tilt_deg``."""

    kind: str = "none"  # one of HEADWEAR
    brim_y_m: float = 0.04  # height of the brim's edge above the eyes, at mid-head depth
    brim_tilt_deg: float = 15.0
    gap_m: float = 0.006  # off the scalp (room for the hair under it; a helmet's shell thickness)
    looseness_m: float = 0.0  # extra at the crown (a slouchy beanie)
    wrinkle_m: float = 0.0
    wrinkle_wavelength_m: float = 0.05
    smooth: int = 4
    brim_m: float = 0.0  # cap visor or hat brim reach
    brim_droop: float = 0.0  # how much the brim bends down, per metre of reach
    fabric: FabricSpec = FabricSpec()
    seed: int = 0


@dataclass(frozen=True)
class OutfitSpec:
    top: GarmentSpec = GarmentSpec()
    bottom: GarmentSpec = GarmentSpec()
    shoes: GarmentSpec = GarmentSpec()
    subdivisions: int = 1  # midpoint subdivisions of the cut skin (fold resolution)
    glasses: GlassesSpec = GlassesSpec()
    headwear: HeadwearSpec = HeadwearSpec()

    def worn(self) -> dict[str, GarmentSpec]:
        """The occupied slots, innermost first (shoes, bottom, top), by slot name."""
        order = ("shoes", "bottom", "top")
        return {name: g for name in order if (g := getattr(self, name)).kind != "none"}


NO_OUTFIT = OutfitSpec()


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class FabricConfig:
    roughness: tuple[float, float]
    sheen: tuple[float, float]
    patterns: dict[str, float]
    pattern_scale_m: tuple[float, float]
    palette: str


@dataclass(frozen=True)
class KindConfig:
    slot: str
    cut: dict[str, tuple[float, float]]
    fit: dict[str, tuple[float, float]]
    necklines: dict[str, float]
    fabrics: dict[str, float]


@dataclass(frozen=True)
class GlassesConfig:
    probability: dict[str, float]  # framing -> chance
    shapes: dict[str, dict[str, float]]  # group -> shape -> weight
    lenses: dict[str, float]
    frames: dict[str, float]
    ranges: dict[str, tuple[float, float]]
    rim_radius_m: dict[str, tuple[float, float]]  # frame material -> range
    frame_palette: str
    tints: dict[str, tuple[tuple[float, float, float], ...]]  # lens -> transmission colours


GLASSES_RANGES: dict[str, tuple[float, float]] = {
    "lens_width_m": (0.03, 0.07), "lens_height": (0.4, 1.0), "bridge_m": (0.01, 0.03),
    "vertex_distance_m": (0.008, 0.03), "wrap_deg": (0.0, 20.0), "tilt_deg": (0.0, 20.0),
}


@dataclass(frozen=True)
class OutfitConfig:
    age_bands: tuple[float, float]
    subdivisions: int
    probability: dict[str, dict[str, float]]  # slot -> framing -> chance the slot is worn
    kinds: dict[str, dict[str, dict[str, float]]]  # slot -> group -> kind -> weight
    params: dict[str, KindConfig]
    fabrics: dict[str, FabricConfig]
    palettes: dict[str, tuple[tuple[float, float, float], ...]]
    glasses: GlassesConfig
    headwear_probability: dict[str, float]
    headwear_kinds: dict[str, dict[str, float]]  # group -> kind -> weight
    headwear_params: dict[str, dict[str, tuple[float, float]]]  # kind -> param -> range
    headwear_fabrics: dict[str, dict[str, float]]  # kind -> material -> weight


def _ranges(values: dict[str, Any], key: str, allowed: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    missing = [n for n in allowed if n not in values]
    if missing:
        raise UserError(f"config key {key} lacks {', '.join(missing)}")
    return {n: check_range(values[n], f"{key}.{n}", *allowed[n]) for n in allowed}


def parse_outfit_config(raw: Any) -> OutfitConfig:
    """Validate the merged ``outfit:`` tree (errors name the key)."""
    raw = check_mapping(raw, "outfit")
    check_known(raw, ("age_bands", "subdivisions", "slots", "kinds", "fabrics", "palettes", "glasses", "headwear"),
                "outfit")
    young, elder = check_range(raw["age_bands"], "outfit.age_bands", 0, 1)
    palettes = {}
    for name, colors in check_mapping(raw["palettes"], "outfit.palettes").items():
        if not isinstance(colors, list) or not colors:
            raise UserError(f"config key outfit.palettes.{name} must be a non-empty list of linear RGB colours")
        palettes[name] = tuple(tuple(check_numbers(c, f"outfit.palettes.{name}[{i}]", 3, 0, 1))
                               for i, c in enumerate(colors))
    fabrics = {}
    raw_fabrics = check_mapping(raw["fabrics"], "outfit.fabrics")
    check_known(raw_fabrics, MATERIALS, "outfit.fabrics")
    for name, fab in raw_fabrics.items():
        key = f"outfit.fabrics.{name}"
        fab = check_mapping(fab, key)
        check_known(fab, ("roughness", "sheen", "patterns", "pattern_scale_m", "palette"), key)
        if fab.get("palette") not in palettes:
            raise UserError(f"config key {key}.palette names unknown palette {fab.get('palette')!r} "
                            f"(known: {', '.join(sorted(palettes))})")
        fabrics[name] = FabricConfig(check_range(fab["roughness"], f"{key}.roughness", 0, 1),
                                     check_range(fab["sheen"], f"{key}.sheen", 0, 1),
                                     check_weights(fab["patterns"], f"{key}.patterns", PATTERNS),
                                     check_range(fab["pattern_scale_m"], f"{key}.pattern_scale_m", 0.001, 1.0),
                                     fab["palette"])
    params = {}
    raw_kinds = check_mapping(raw["kinds"], "outfit.kinds")
    all_kinds = tuple(k for kinds in KINDS.values() for k in kinds)
    check_known(raw_kinds, all_kinds, "outfit.kinds")
    for name, values in raw_kinds.items():
        key = f"outfit.kinds.{name}"
        values = check_mapping(values, key)
        slot = next(s for s, kinds in KINDS.items() if name in kinds)
        check_known(values, (*CUT_PARAMS[slot], *FIT_PARAMS, "fabrics", *(("necklines",) if slot == "top" else ())), key)
        fab = check_weights(values.get("fabrics"), f"{key}.fabrics", MATERIALS)
        unknown = [f for f, w in fab.items() if w > 0 and f not in fabrics]
        if unknown:
            raise UserError(f"config key {key}.fabrics uses {', '.join(unknown)}, which outfit.fabrics does not define")
        necklines = check_weights(values.get("necklines", {"crew": 1.0}), f"{key}.necklines", NECKLINES)
        fit = _ranges(values, key, FIT_PARAMS)
        if any(int(v) != v for v in fit["smooth"]):
            raise UserError(f"config key {key}.smooth must hold whole numbers, got {list(fit['smooth'])}")
        params[name] = KindConfig(slot, _ranges(values, key, CUT_PARAMS[slot]), fit, necklines, fab)
    slots = check_mapping(raw["slots"], "outfit.slots")
    check_known(slots, SLOTS, "outfit.slots")
    probability, kinds = {}, {}
    for slot in SLOTS:
        key = f"outfit.slots.{slot}"
        entry = check_mapping(slots.get(slot, {}), key)
        check_known(entry, ("probability", "kinds"), key)
        prob = check_mapping(entry.get("probability", {}), f"{key}.probability")
        check_known(prob, FRAMINGS, f"{key}.probability")
        probability[slot] = {f: check_number(prob.get(f, 0.0), f"{key}.probability.{f}", 0, 1) for f in FRAMINGS}
        if any(probability[slot].values()):
            kinds[slot] = group_weight_table(entry.get("kinds"), f"{key}.kinds", KINDS[slot])
            for group, weights in kinds[slot].items():
                absent = [k for k, w in weights.items() if w > 0 and k not in params]
                if absent:
                    raise UserError(f"config key {key}.kinds.{group} uses {', '.join(absent)}, "
                                    "which outfit.kinds does not define")
        else:
            kinds[slot] = {}
    return OutfitConfig(
        age_bands=(young, elder),
        subdivisions=int(check_number(raw["subdivisions"], "outfit.subdivisions", 0, 3)),
        probability=probability, kinds=kinds, params=params, fabrics=fabrics, palettes=palettes,
        glasses=_parse_glasses(raw["glasses"], palettes),
        **_parse_headwear(raw["headwear"], fabrics),
    )


def _parse_headwear(raw: Any, fabrics: dict[str, FabricConfig]) -> dict[str, Any]:
    key = "outfit.headwear"
    raw = check_mapping(raw, key)
    check_known(raw, ("probability", "kinds", "params"), key)
    prob = check_mapping(raw["probability"], f"{key}.probability")
    check_known(prob, FRAMINGS, f"{key}.probability")
    params = check_mapping(raw["params"], f"{key}.params")
    check_known(params, HEADWEAR, f"{key}.params")
    ranges, fab = {}, {}
    for kind in HEADWEAR:
        values = check_mapping(params.get(kind, {}), f"{key}.params.{kind}")
        check_known(values, (*HEADWEAR_PARAMS, "fabrics"), f"{key}.params.{kind}")
        ranges[kind] = _ranges(values, f"{key}.params.{kind}", HEADWEAR_PARAMS)
        fab[kind] = check_weights(values.get("fabrics"), f"{key}.params.{kind}.fabrics", MATERIALS)
        unknown = [f for f, w in fab[kind].items() if w > 0 and f not in fabrics]
        if unknown:
            raise UserError(f"config key {key}.params.{kind}.fabrics uses {', '.join(unknown)}, "
                            "which outfit.fabrics does not define")
    return {"headwear_probability": {f: check_number(prob.get(f, 0.0), f"{key}.probability.{f}", 0, 1) for f in FRAMINGS},
            "headwear_kinds": group_weight_table(raw["kinds"], f"{key}.kinds", HEADWEAR),
            "headwear_params": ranges, "headwear_fabrics": fab}


def _parse_glasses(raw: Any, palettes: dict[str, Any]) -> GlassesConfig:
    key = "outfit.glasses"
    raw = check_mapping(raw, key)
    check_known(raw, ("probability", "shapes", "lenses", "frames", "rim_radius_m", "frame_palette", "tints",
                      *GLASSES_RANGES), key)
    prob = check_mapping(raw["probability"], f"{key}.probability")
    check_known(prob, FRAMINGS, f"{key}.probability")
    probability = {f: check_number(prob.get(f, 0.0), f"{key}.probability.{f}", 0, 1) for f in FRAMINGS}
    if raw.get("frame_palette") not in palettes:
        raise UserError(f"config key {key}.frame_palette names unknown palette {raw.get('frame_palette')!r}")
    rims = check_mapping(raw["rim_radius_m"], f"{key}.rim_radius_m")
    check_known(rims, FRAME_MATERIALS, f"{key}.rim_radius_m")
    tints = check_mapping(raw["tints"], f"{key}.tints")
    check_known(tints, LENSES, f"{key}.tints")
    lenses = check_weights(raw["lenses"], f"{key}.lenses", LENSES)
    parsed_tints = {}
    for lens in LENSES:
        colors = tints.get(lens, [])
        if lenses.get(lens, 0) > 0 and (not isinstance(colors, list) or not colors):
            raise UserError(f"config key {key}.tints.{lens} must list at least one colour")
        parsed_tints[lens] = tuple(tuple(check_numbers(c, f"{key}.tints.{lens}[{i}]", 3, 0, 1))
                                   for i, c in enumerate(colors))
    frames = check_weights(raw["frames"], f"{key}.frames", FRAME_MATERIALS)
    return GlassesConfig(
        probability=probability,
        shapes=group_weight_table(raw["shapes"], f"{key}.shapes", GLASSES_SHAPES),
        lenses=lenses, frames=frames,
        ranges=_ranges(raw, key, GLASSES_RANGES),
        rim_radius_m={m: check_range(rims.get(m), f"{key}.rim_radius_m.{m}", 0.0003, 0.005) for m in FRAME_MATERIALS
                      if frames.get(m, 0) > 0},
        frame_palette=raw["frame_palette"], tints=parsed_tints,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- sampling


def _color(rng: np.random.Generator, palette: tuple[tuple[float, float, float], ...]) -> tuple[float, float, float]:
    base = np.asarray(palette[int(rng.integers(len(palette)))])
    value = np.clip(base * rng.uniform(0.8, 1.2), 0.0, 1.0)  # shade variation around the palette entry
    return tuple(round(float(c), 5) for c in value)  # type: ignore[return-value]


def sample_fabric(rng: np.random.Generator, cfg: OutfitConfig, weights: dict[str, float], slot: str) -> FabricSpec:
    """Stripes run round a top (or at 90/45 degrees) and down a trouser leg."""
    material = choose(rng, weights)
    fab = cfg.fabrics[material]
    palette = cfg.palettes[fab.palette]
    color, color2 = _color(rng, palette), _color(rng, palette)
    return FabricSpec(material=material, pattern=choose(rng, fab.patterns), color=color, color2=color2,
                      pattern_scale_m=uniform(rng, fab.pattern_scale_m),
                      pattern_angle_deg=90.0 if slot == "bottom" else float(rng.choice([0.0, 90.0, 45.0], p=[0.7, 0.2, 0.1])),
                      roughness=uniform(rng, fab.roughness), sheen=uniform(rng, fab.sheen))


def sample_garment(rng: np.random.Generator, cfg: OutfitConfig, kind: str) -> GarmentSpec:
    k = cfg.params[kind]
    values: dict[str, Any] = {name: uniform(rng, bounds) for name, bounds in sorted(k.cut.items())}
    values.update({name: uniform(rng, bounds) for name, bounds in sorted(k.fit.items())})
    values["smooth"] = round(values["smooth"])
    neckline = choose(rng, k.necklines) if k.slot == "top" else "crew"
    fabric = sample_fabric(rng, cfg, k.fabrics, k.slot)
    return GarmentSpec(kind=kind, neckline=neckline, fabric=fabric, seed=int(rng.integers(0, 2**31 - 1)), **values)


def sample_outfit(rng: np.random.Generator, cfg: OutfitConfig, phenotype: dict[str, float], framing: str) -> OutfitSpec:
    """An outfit for a person with this phenotype, seen at this framing. Draw order is fixed:
    every slot draws its presence, kind and garment (even when absent) so that switching one slot
    off leaves the others' draws unchanged."""
    sex, band = person_group(phenotype, cfg.age_bands)
    worn = {}
    for slot in SLOTS:
        slot_rng = np.random.default_rng(rng.integers(0, 2**63 - 1))
        if slot_rng.random() >= cfg.probability[slot][framing]:
            continue
        kind = choose(slot_rng, group_weights(cfg.kinds[slot], sex, band))
        worn[slot] = sample_garment(slot_rng, cfg, kind)
    glasses = sample_glasses(np.random.default_rng(rng.integers(0, 2**63 - 1)), cfg, sex, band, framing)
    headwear = sample_headwear(np.random.default_rng(rng.integers(0, 2**63 - 1)), cfg, sex, band, framing)
    return OutfitSpec(subdivisions=cfg.subdivisions, glasses=glasses, headwear=headwear, **worn)


def sample_headwear(rng: np.random.Generator, cfg: OutfitConfig, sex: str, band: str, framing: str) -> HeadwearSpec:
    if rng.random() >= cfg.headwear_probability[framing]:
        return HeadwearSpec()
    kind = choose(rng, group_weights(cfg.headwear_kinds, sex, band))
    values: dict[str, Any] = {n: uniform(rng, b) for n, b in sorted(cfg.headwear_params[kind].items())}
    values["smooth"] = round(values["smooth"])
    fabric = sample_fabric(rng, cfg, cfg.headwear_fabrics[kind], "headwear")
    return HeadwearSpec(kind=kind, fabric=fabric, seed=int(rng.integers(0, 2**31 - 1)), **values)


def sample_glasses(rng: np.random.Generator, cfg: OutfitConfig, sex: str, band: str, framing: str) -> GlassesSpec:
    g = cfg.glasses
    if rng.random() >= g.probability[framing]:
        return GlassesSpec()
    shape = choose(rng, group_weights(g.shapes, sex, band))
    lens = choose(rng, g.lenses)
    material = choose(rng, g.frames)
    values = {name: uniform(rng, bounds) for name, bounds in sorted(g.ranges.items())}
    tints = g.tints[lens]
    tint = tints[int(rng.integers(len(tints)))]
    return GlassesSpec(shape=shape, lens=lens, frame_material=material,
                       frame_color=_color(rng, cfg.palettes[g.frame_palette]),
                       tint=tuple(round(float(c), 5) for c in tint),  # type: ignore[arg-type]
                       rim_radius_m=uniform(rng, g.rim_radius_m[material]), **values)


def expected_kind_counts(cfg: OutfitConfig, people: list[tuple[float, float, str]]) -> dict[str, dict[str, float]]:
    """Expected kind counts per slot ("none" for an empty slot) for these people ((gender, age,
    framing) of each sample) under the config: what ``inspect`` holds the observed outfits against."""
    out = {slot: dict.fromkeys(("none", *KINDS[slot]), 0.0) for slot in SLOTS}
    out["glasses"] = dict.fromkeys(("none", *GLASSES_SHAPES), 0.0)
    out["headwear"] = dict.fromkeys(("none", *HEADWEAR), 0.0)
    for gender, age, framing in people:
        sex, band = person_group({"gender": gender, "age": age}, cfg.age_bands)
        p = cfg.headwear_probability.get(framing, 0.0)
        out["headwear"]["none"] += 1.0 - p
        weights = group_weights(cfg.headwear_kinds, sex, band)
        for kind, w in weights.items():
            out["headwear"][kind] += p * w / sum(weights.values())
        p = cfg.glasses.probability.get(framing, 0.0)
        out["glasses"]["none"] += 1.0 - p
        weights = group_weights(cfg.glasses.shapes, sex, band)
        for shape, w in weights.items():
            out["glasses"][shape] += p * w / sum(weights.values())
        for slot in SLOTS:
            p = cfg.probability[slot].get(framing, 0.0)
            out[slot]["none"] += 1.0 - p
            if p > 0:
                weights = group_weights(cfg.kinds[slot], sex, band)
                total = sum(weights.values())
                for kind, w in weights.items():
                    out[slot][kind] += p * w / total
    return out
