"""Grooms: the HairSpec of a sample, its config (``configs/hair.yaml``) and its sampler.

Pure Python + numpy. A HairSpec holds every number a groom needs (style, strand count,
length, lift, gravity, clumping, curl, frizz, parting, hairline, colour), so the strands can
be regrown bit for bit from the spec alone (``strand_seed`` drives root placement and
per-strand jitter; see ``synthhuman.hair_strands``). Probabilities depend on the person:
"female"/"male" from Anny's gender phenotype and "young"/"adult"/"elder" from its age.
"""

from __future__ import annotations

import dataclasses
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

HEAD_STYLES = ("buzz", "short", "medium", "long_straight", "wavy", "curly", "coily", "ponytail", "bun",
               "receding", "bald")
FACIAL_STYLES = ("none", "stubble", "moustache", "goatee", "beard")
SEXES = ("female", "male")
AGE_BANDS = ("young", "adult", "elder")
GROUPS = (*SEXES, *(f"{s}_{b}" for s in SEXES for b in AGE_BANDS))
HAIR_NORMALS = ("proxy", "strand")  # GT normals of hair: marching-cubes proxy (paper A.1) or the strands' own
DYED = "dyed"
# Parameters of a head style: name -> (low bound, high bound) of any value the config may give.
STYLE_PARAMS: dict[str, tuple[float, float]] = {
    "strands": (0, 500_000), "length_m": (0.0, 1.5), "length_jitter": (0.0, 0.9), "lift": (0.0, 1.0),
    "gravity": (0.0, 1.0), "clump": (0.0, 1.0), "clumps": (1, 5000), "curl_radius_m": (0.0, 0.05),
    "curl_turns_per_m": (0.0, 500.0), "frizz_m": (0.0, 0.02), "parting": (-1.0, 1.0), "hairline": (0.0, 1.0),
    "crown_thinning": (0.0, 1.0), "radius_m": (1e-6, 0.001),
}
INT_PARAMS = ("strands", "clumps")


@dataclass(frozen=True)
class GroomSpec:
    """One strand family on one region of the body (head hair, brows, lashes, beard).

    ``strands == 0`` means absent. Fields a family does not use keep their defaults.
    """

    style: str = "none"
    strands: int = 0
    length_m: float = 0.0
    length_jitter: float = 0.15  # relative per-strand length spread
    lift: float = 0.3  # rise off the skin before the strand bends along it (volume); lashes: tip curl
    gravity: float = 0.0  # 0: follows the skin's flow; 1: hangs straight down once free of the head
    clump: float = 0.0  # pull towards the clump guide, growing to the tip
    clumps: int = 1
    curl_radius_m: float = 0.0
    curl_turns_per_m: float = 0.0
    frizz_m: float = 0.0
    parting: float = 0.0  # head hair: parting line, -1 left .. 1 right
    hairline: float = 0.0  # head hair: recession 0 .. 1
    crown_thinning: float = 0.0
    band: float = 1.0  # brows: band height relative to the average
    radius_m: float = 4e-5  # strand radius at the root
    points: int = 8  # control points per strand


@dataclass(frozen=True)
class HairColorSpec:
    """Colour of every strand family (brows and beard share the head's pigment, as in most people)."""

    family: str = "black"  # a natural family of the config, or "dyed"
    melanin: float = 0.9  # Principled Hair BSDF Melanin
    redness: float = 0.1  # Principled Hair BSDF Melanin Redness (pheomelanin share)
    grey: float = 0.0  # fraction of white (unpigmented) strands
    dye_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)  # linear RGB, used when family == "dyed"
    roughness: float = 0.3


@dataclass(frozen=True)
class HairSpec:
    head: GroomSpec = GroomSpec()
    eyebrows: GroomSpec = GroomSpec()
    lashes_upper: GroomSpec = GroomSpec()
    lashes_lower: GroomSpec = GroomSpec()
    facial: GroomSpec = GroomSpec()
    color: HairColorSpec = HairColorSpec()
    strand_seed: int = 0  # root placement and per-strand jitter
    proxy_voxel_m: float = 0.003  # proxy-normal surface: voxel size (m) and Gaussian blur (voxels)
    proxy_blur_voxels: float = 1.5

    def grooms(self) -> dict[str, GroomSpec]:
        """The families with strands, by name."""
        return {f.name: g for f in dataclasses.fields(self) if isinstance(g := getattr(self, f.name), GroomSpec)
                and g.strands > 0}


NO_HAIR = HairSpec()


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ColorFamily:
    weight: float
    melanin: tuple[float, float]
    redness: tuple[float, float]
    max_skin_melanin: float  # absent for darker skin (a blond family on very dark skin is rare)


@dataclass(frozen=True)
class HairConfig:
    age_bands: tuple[float, float]
    strand_scale: float
    head_probability: float
    head_styles: dict[str, dict[str, float]]  # group -> style -> weight
    head_params: dict[str, dict[str, tuple[float, float]]]  # style -> param -> range (defaults merged)
    head_points: dict[str, int]
    families: dict[str, ColorFamily]
    grey: dict[str, tuple[float, float]]
    dyed_probability: float
    dyes: tuple[tuple[float, float, float], ...]
    roughness: tuple[float, float]
    eyebrows: dict[str, Any]
    eyelashes: dict[str, Any]
    facial_styles: dict[str, dict[str, float]]
    facial_params: dict[str, dict[str, tuple[float, float]]]
    facial_curl: dict[str, tuple[float, float]]
    facial_probability: float
    proxy_voxel_m: float
    proxy_blur_voxels: float


def group_weight_table(table: Any, key: str, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """group -> name -> weight; every group's weights >= 0 and not all 0; sex groups required."""
    table = check_mapping(table, key)
    check_known(table, GROUPS, key)
    missing = [s for s in SEXES if s not in table]
    if missing:
        raise UserError(f"config key {key} lacks group(s) {', '.join(missing)} (the fallback of every age band)")
    return {group: check_weights(weights, f"{key}.{group}", names) for group, weights in table.items()}


def _param_ranges(values: Any, key: str, base: dict[str, tuple[float, float]] | None = None,
                  allowed: tuple[str, ...] = tuple(STYLE_PARAMS)) -> dict[str, tuple[float, float]]:
    values = check_mapping(values, key)
    check_known(values, (*allowed, "points"), key)
    out = dict(base or {})
    for name, value in values.items():
        if name == "points":
            continue
        lo, hi = STYLE_PARAMS[name]
        out[name] = check_range(value, f"{key}.{name}", lo, hi)
        if name in INT_PARAMS and any(int(v) != v for v in out[name]):
            raise UserError(f"config key {key}.{name} must hold whole numbers, got {value!r}")
    return out


def _points(values: dict[str, Any], key: str, default: int) -> int:
    value = values.get("points", default)
    return int(check_number(value, f"{key}.points", 2, 64))


def parse_hair_config(raw: Any) -> HairConfig:
    """Validate the merged `hair:` tree (errors name the key)."""
    raw = check_mapping(raw, "hair")
    check_known(raw, ("age_bands", "strand_scale", "head", "color", "eyebrows", "eyelashes", "facial", "proxy"), "hair")
    proxy = check_mapping(raw["proxy"], "hair.proxy")
    check_known(proxy, ("voxel_m", "blur_voxels"), "hair.proxy")
    young, elder = check_range(raw["age_bands"], "hair.age_bands", 0, 1)
    head = check_mapping(raw["head"], "hair.head")
    check_known(head, ("probability", "styles", "defaults", "params"), "hair.head")
    defaults = _param_ranges(head["defaults"], "hair.head.defaults")
    missing = sorted(set(STYLE_PARAMS) - set(defaults))
    if missing:
        raise UserError(f"config key hair.head.defaults lacks {', '.join(missing)}")
    default_points = _points(head["defaults"], "hair.head.defaults", 16)
    params = check_mapping(head["params"], "hair.head.params")
    check_known(params, HEAD_STYLES, "hair.head.params")
    head_params = {s: _param_ranges(params.get(s, {}), f"hair.head.params.{s}", defaults) for s in HEAD_STYLES}
    head_points = {s: _points(params.get(s, {}), f"hair.head.params.{s}", default_points) for s in HEAD_STYLES}
    color = check_mapping(raw["color"], "hair.color")
    check_known(color, ("families", "grey", "dyed_probability", "dyes", "roughness"), "hair.color")
    families = {}
    for name, fam in check_mapping(color["families"], "hair.color.families").items():
        key = f"hair.color.families.{name}"
        fam = check_mapping(fam, key)
        check_known(fam, ("weight", "melanin", "redness", "max_skin_melanin"), key)
        families[name] = ColorFamily(check_number(fam["weight"], f"{key}.weight", 0, 1e6),
                                     check_range(fam["melanin"], f"{key}.melanin", 0, 1),
                                     check_range(fam["redness"], f"{key}.redness", 0, 1),
                                     check_number(fam.get("max_skin_melanin", 1.0), f"{key}.max_skin_melanin", 0, 1))
    if DYED in families:
        raise UserError(f"config key hair.color.families: {DYED!r} is reserved for dyed colours")
    if not families or sum(f.weight for f in families.values()) <= 0:
        raise UserError("config key hair.color.families: at least one family weight must be > 0")
    grey = check_mapping(color["grey"], "hair.color.grey")
    check_known(grey, AGE_BANDS, "hair.color.grey")
    dyes = tuple(tuple(check_numbers(c, f"hair.color.dyes[{i}]", 3, 0, 1)) for i, c in enumerate(color["dyes"]))
    dyed = check_number(color["dyed_probability"], "hair.color.dyed_probability", 0, 1)
    if dyed > 0 and not dyes:
        raise UserError("config key hair.color.dyes must list at least one colour when dyed_probability > 0")
    facial = check_mapping(raw["facial"], "hair.facial")
    check_known(facial, ("probability", "styles", "params", "curl_turns_per_m", "curl_radius_m", "radius_m"), "hair.facial")
    fparams = check_mapping(facial["params"], "hair.facial.params")
    check_known(fparams, FACIAL_STYLES[1:], "hair.facial.params")
    facial_params = {}
    for s in FACIAL_STYLES[1:]:
        if s not in fparams:
            raise UserError(f"config key hair.facial.params lacks {s}")
        facial_params[s] = _param_ranges(fparams[s], f"hair.facial.params.{s}", allowed=("strands", "length_m"))
        if set(facial_params[s]) != {"strands", "length_m"}:
            raise UserError(f"config key hair.facial.params.{s} needs strands and length_m")
    return HairConfig(
        age_bands=(young, elder),
        strand_scale=check_number(raw["strand_scale"], "hair.strand_scale", 0, 100),
        head_probability=check_number(head["probability"], "hair.head.probability", 0, 1),
        head_styles=group_weight_table(head["styles"], "hair.head.styles", HEAD_STYLES),
        head_params=head_params,
        head_points=head_points,
        families=families,
        grey={b: check_range(grey.get(b, [0, 0]), f"hair.color.grey.{b}", 0, 1) for b in AGE_BANDS},
        dyed_probability=dyed,
        dyes=dyes,  # type: ignore[arg-type]
        roughness=check_range(color["roughness"], "hair.color.roughness", 0, 1),
        eyebrows=_parse_simple(raw["eyebrows"], "hair.eyebrows",
                               {"strands": (0, 100_000), "length_m": (0, 0.05), "thickness": (0.1, 3),
                                "radius_m": (1e-6, 1e-3)}),
        eyelashes=_parse_simple(raw["eyelashes"], "hair.eyelashes",
                                {"upper_strands": (0, 2000), "lower_strands": (0, 2000),
                                 "upper_length_m": (0, 0.03), "lower_length_m": (0, 0.03), "curl": (0, 1),
                                 "radius_m": (1e-6, 1e-3)}),
        facial_styles=group_weight_table(facial["styles"], "hair.facial.styles", FACIAL_STYLES),
        facial_params=facial_params,
        facial_curl={"curl_turns_per_m": check_range(facial["curl_turns_per_m"], "hair.facial.curl_turns_per_m", 0, 500),
                     "curl_radius_m": check_range(facial["curl_radius_m"], "hair.facial.curl_radius_m", 0, 0.05),
                     "radius_m": check_range(facial["radius_m"], "hair.facial.radius_m", 1e-6, 1e-3)},
        facial_probability=check_number(facial["probability"], "hair.facial.probability", 0, 1),
        proxy_voxel_m=check_number(proxy["voxel_m"], "hair.proxy.voxel_m", 0.0005, 0.02),
        proxy_blur_voxels=check_number(proxy["blur_voxels"], "hair.proxy.blur_voxels", 0.0, 10.0),
    )


def _parse_simple(values: Any, key: str, ranges: dict[str, tuple[float, float]]) -> dict[str, Any]:
    values = check_mapping(values, key)
    check_known(values, ("probability", *ranges), key)
    missing = [k for k in ("probability", *ranges) if k not in values]
    if missing:
        raise UserError(f"config key {key} lacks {', '.join(missing)}")
    out: dict[str, Any] = {"probability": check_number(values["probability"], f"{key}.probability", 0, 1)}
    out.update({k: check_range(values[k], f"{key}.{k}", *b) for k, b in ranges.items()})
    return out


# --------------------------------------------------------------------------- sampling


def person_group(phenotype: dict[str, float], age_bands: tuple[float, float]) -> tuple[str, str]:
    """(sex, age band) of a body from its Anny phenotype."""
    sex = "male" if phenotype.get("gender", 0.5) >= 0.5 else "female"
    age = phenotype.get("age", 0.5)
    band = "young" if age < age_bands[0] else ("adult" if age < age_bands[1] else "elder")
    return sex, band


def group_weights(table: dict[str, dict[str, float]], sex: str, band: str) -> dict[str, float]:
    """The weights that apply to (sex, band): the "<sex>_<band>" table, else the "<sex>" one."""
    return table.get(f"{sex}_{band}", table[sex])


def choose(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = sorted(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return round(float(rng.uniform(*bounds)), 6)


def _count(rng: np.random.Generator, bounds: tuple[float, float], scale: float) -> int:
    return round(rng.uniform(*bounds) * scale)


def sample_hair(rng: np.random.Generator, cfg: HairConfig, phenotype: dict[str, float],
                skin_melanin: float) -> HairSpec:
    """A groom for a person with this phenotype and skin. Draw order is fixed: keep it so."""
    sex, band = person_group(phenotype, cfg.age_bands)
    strand_seed = int(rng.integers(0, 2**31 - 1))
    style = choose(rng, group_weights(cfg.head_styles, sex, band))
    has_head = rng.random() < cfg.head_probability
    head = _sample_head(rng, cfg, style) if has_head else GroomSpec(style="bald")
    color = _sample_color(rng, cfg, band, skin_melanin)
    brows = _sample_brows(rng, cfg)
    upper, lower = _sample_lashes(rng, cfg)
    facial_style = choose(rng, group_weights(cfg.facial_styles, sex, band))
    facial = _sample_facial(rng, cfg, facial_style if rng.random() < cfg.facial_probability else "none")
    return HairSpec(head=head, eyebrows=brows, lashes_upper=upper, lashes_lower=lower, facial=facial, color=color,
                    strand_seed=strand_seed, proxy_voxel_m=cfg.proxy_voxel_m, proxy_blur_voxels=cfg.proxy_blur_voxels)


def _sample_head(rng: np.random.Generator, cfg: HairConfig, style: str) -> GroomSpec:
    ranges = cfg.head_params[style]
    values: dict[str, Any] = {}
    for name in sorted(STYLE_PARAMS):
        if name in INT_PARAMS:
            values[name] = _count(rng, ranges[name], cfg.strand_scale if name == "strands" else 1.0)
        else:
            values[name] = uniform(rng, ranges[name])
    values["clumps"] = max(1, values["clumps"])
    return GroomSpec(style=style, points=cfg.head_points[style], **values)


def _sample_color(rng: np.random.Generator, cfg: HairConfig, band: str, skin_melanin: float) -> HairColorSpec:
    grey = uniform(rng, cfg.grey[band])
    roughness = uniform(rng, cfg.roughness)
    dyed = band != "young" and cfg.dyes and rng.random() < cfg.dyed_probability
    weights = {n: f.weight for n, f in cfg.families.items() if skin_melanin <= f.max_skin_melanin}
    family = choose(rng, weights or {n: f.weight for n, f in cfg.families.items()})
    fam = cfg.families[family]
    melanin, redness = uniform(rng, fam.melanin), uniform(rng, fam.redness)
    if dyed:
        dye = cfg.dyes[int(rng.integers(len(cfg.dyes)))]
        return HairColorSpec(DYED, melanin, redness, grey, tuple(round(float(c), 6) for c in dye), roughness)  # type: ignore[arg-type]
    return HairColorSpec(family, melanin, redness, grey, (0.0, 0.0, 0.0), roughness)


def _sample_brows(rng: np.random.Generator, cfg: HairConfig) -> GroomSpec:
    b = cfg.eyebrows
    if rng.random() >= b["probability"]:
        return GroomSpec(style="none")
    return GroomSpec(style="brows", strands=_count(rng, b["strands"], cfg.strand_scale),
                     length_m=uniform(rng, b["length_m"]), band=uniform(rng, b["thickness"]),
                     radius_m=uniform(rng, b["radius_m"]), lift=0.15, clump=0.2, clumps=40, frizz_m=0.0004,
                     points=5)


def _sample_lashes(rng: np.random.Generator, cfg: HairConfig) -> tuple[GroomSpec, GroomSpec]:
    e = cfg.eyelashes
    if rng.random() >= e["probability"]:
        return GroomSpec(style="none"), GroomSpec(style="none")
    curl, radius = uniform(rng, e["curl"]), uniform(rng, e["radius_m"])
    # Lashes are few: scaled at most down to a visible minimum, never to nothing.
    scale = max(cfg.strand_scale, 0.25) if cfg.strand_scale > 0 else 0.0
    upper = GroomSpec(style="upper", strands=2 * _count(rng, e["upper_strands"], scale),
                      length_m=uniform(rng, e["upper_length_m"]), lift=curl, radius_m=radius, points=5)
    lower = GroomSpec(style="lower", strands=2 * _count(rng, e["lower_strands"], scale),
                      length_m=uniform(rng, e["lower_length_m"]), lift=curl, radius_m=radius, points=4)
    return upper, lower


def _sample_facial(rng: np.random.Generator, cfg: HairConfig, style: str) -> GroomSpec:
    if style == "none":
        return GroomSpec(style="none")
    p = cfg.facial_params[style]
    c = cfg.facial_curl
    return GroomSpec(style=style, strands=_count(rng, p["strands"], cfg.strand_scale),
                     length_m=uniform(rng, p["length_m"]), curl_turns_per_m=uniform(rng, c["curl_turns_per_m"]),
                     curl_radius_m=uniform(rng, c["curl_radius_m"]), radius_m=uniform(rng, c["radius_m"]),
                     lift=0.2, gravity=0.3, clump=0.2, clumps=80, frizz_m=0.0005, points=4 if style == "stubble" else 6)


# --------------------------------------------------------------------------- distribution


def expected_style_counts(cfg: HairConfig, people: list[tuple[float, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Expected head-style and facial-style counts for these people ((gender, age) phenotypes)
    under the config: what ``inspect`` holds the observed grooms against."""
    head: dict[str, float] = dict.fromkeys(HEAD_STYLES, 0.0)
    facial: dict[str, float] = dict.fromkeys(FACIAL_STYLES, 0.0)
    for gender, age in people:
        sex, band = person_group({"gender": gender, "age": age}, cfg.age_bands)
        for table, out, keep, off in ((cfg.head_styles, head, cfg.head_probability, "bald"),
                                      (cfg.facial_styles, facial, cfg.facial_probability, "none")):
            weights = group_weights(table, sex, band)
            total = sum(weights.values())
            for style, w in weights.items():
                out[style] += keep * w / total
            out[off] += 1.0 - keep
    return head, facial
