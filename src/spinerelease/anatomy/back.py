"""Parametric back: vertebral levels, spinal curves, regions, soft-tissue thickness and stiffness.

The back is described on a grid in the back frame (x across, 0 on the midline; y along the spine, 0 at the T1
spinous process, caudal positive). Across x the model has, from the midline outwards: the spinous processes
(bone under skin, fat and the supraspinous ligament), the multifidus in the laminar gutter, the erector
spinae, and laterally the ribs (thoracic levels) and the scapulae (upper thoracic levels). The soft-tissue
thickness is the distance from skin to bone; the surface combines the sagittal curves (kyphosis/lordosis),
the transverse convexity of the trunk and the paraspinal muscle bulge. All numbers come from
``data/anatomy.yaml`` and ``data/tissue.yaml``; lengths scale isometrically with stature (assumption).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .. import citations, params
from ..errors import InputError, check_positive
from ..grid import Grid
from .body import Body

REGIONS = {
    "OTHER": 0,
    "SPINOUS": 1,
    "MULTIFIDUS_L": 2,
    "MULTIFIDUS_R": 3,
    "ERECTOR_L": 4,
    "ERECTOR_R": 5,
    "RIB_L": 6,
    "RIB_R": 7,
    "SCAPULA_L": 8,
    "SCAPULA_R": 9,
}
OTHER, SPINOUS, MULTIFIDUS_L, MULTIFIDUS_R, ERECTOR_L, ERECTOR_R, RIB_L, RIB_R, SCAPULA_L, SCAPULA_R = range(10)
MUSCLE_REGIONS = (MULTIFIDUS_L, MULTIFIDUS_R, ERECTOR_L, ERECTOR_R)
BONE_REGIONS = (SPINOUS, RIB_L, RIB_R, SCAPULA_L, SCAPULA_R)
REGION_NAMES = {
    OTHER: "other soft tissue",
    SPINOUS: "spinous processes (bone)",
    MULTIFIDUS_L: "left multifidus",
    MULTIFIDUS_R: "right multifidus",
    ERECTOR_L: "left erector spinae",
    ERECTOR_R: "right erector spinae",
    RIB_L: "left ribs",
    RIB_R: "right ribs",
    SCAPULA_L: "left scapula",
    SCAPULA_R: "right scapula",
}
LEVELS = tuple([f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)])


@dataclass(frozen=True)
class Back:
    """Fields of the back on a grid (see module docstring for the frame)."""

    body: Body
    grid: Grid
    surface_mm: np.ndarray = field(repr=False)
    region: np.ndarray = field(repr=False)
    tissue_thickness_mm: np.ndarray = field(repr=False)
    tissue_modulus_kpa: np.ndarray = field(repr=False)
    fat_thickness_mm: np.ndarray = field(repr=False)
    levels_mm: dict[str, float]
    sources: tuple[str, ...] = ()
    #: Skin thickness (lumped with the fat in the two-layer tissue model). [mm]
    skin_thickness_mm: float = 0.0
    #: Young's moduli of subcutaneous fat and of muscle (``tissue_modulus_kpa`` is the two in series). [kPa]
    fat_modulus_kpa: float = float("nan")
    muscle_modulus_kpa: float = float("nan")

    def tissue_layers(self) -> tuple[np.ndarray, tuple[float, float]]:
        """The tissue as two layers over bone: the deep (muscle) modulus field and the top layer.

        Returns ``(modulus_kpa, (top_thickness_mm, top_modulus_kpa))`` for
        :func:`spinerelease.contact.solve_contact` (``top_layer``): skin and subcutaneous fat (uniform over the
        back in this model) with the fat's modulus, over muscle (and, on the midline, the supraspinous
        ligament) with the muscle's modulus.
        """
        if not (np.isfinite(self.fat_modulus_kpa) and np.isfinite(self.muscle_modulus_kpa)):
            raise InputError("this back has no fat and muscle moduli: use the one-material (column) tissue model")
        fat = self.fat_thickness_mm
        if float(np.ptp(fat)) > 1e-6 * max(float(np.max(fat)), 1.0):
            raise InputError("the two-layer tissue model needs a uniform fat thickness over the window")
        top = float(np.mean(fat)) + float(self.skin_thickness_mm)
        return np.full(self.grid.shape, float(self.muscle_modulus_kpa)), (top, float(self.fat_modulus_kpa))

    def level_y(self, level: str) -> float:
        """y of the spinous process of ``level`` (T1..L5). [mm]"""
        key = str(level).strip().upper()
        if key not in self.levels_mm:
            raise InputError(f"unknown vertebral level {level!r}; valid levels: {', '.join(LEVELS)}")
        return self.levels_mm[key]

    def window(self, center_x_mm: float, center_y_mm: float, width_mm: float, length_mm: float) -> Back:
        """The part of the back within a rectangle centred on (center_x_mm, center_y_mm)."""
        check_positive("window width", width_mm, "mm")
        check_positive("window length", length_mm, "mm")
        g = self.grid
        d = g.spacing_mm
        i0 = int(np.floor((center_x_mm - width_mm / 2 - g.x0_mm) / d))
        j0 = int(np.floor((center_y_mm - length_mm / 2 - g.y0_mm) / d))
        nx = int(np.ceil(width_mm / d)) + 1
        ny = int(np.ceil(length_mm / d)) + 1
        if i0 < 0 or j0 < 0 or i0 + nx > g.nx or j0 + ny > g.ny:
            raise InputError(
                f"a {width_mm:.0f} x {length_mm:.0f} mm window at ({center_x_mm:.0f}, "
                f"{center_y_mm:.0f}) mm extends beyond the modelled back; move the tool towards "
                "the middle of the back"
            )
        sl = (slice(j0, j0 + ny), slice(i0, i0 + nx))
        sub = Grid(nx, ny, d, g.x0_mm + i0 * d, g.y0_mm + j0 * d)
        return replace(
            self,
            grid=sub,
            surface_mm=self.surface_mm[sl],
            region=self.region[sl],
            tissue_thickness_mm=self.tissue_thickness_mm[sl],
            tissue_modulus_kpa=self.tissue_modulus_kpa[sl],
            fat_thickness_mm=self.fat_thickness_mm[sl],
        )

    def region_at(self, x_mm: float, y_mm: float) -> int:
        """Region code at a point."""
        g = self.grid
        i = int(round((x_mm - g.x0_mm) / g.spacing_mm))
        j = int(round((y_mm - g.y0_mm) / g.spacing_mm))
        if not (0 <= i < g.nx and 0 <= j < g.ny):
            raise InputError(f"point ({x_mm:g}, {y_mm:g}) mm is outside the back grid")
        return int(self.region[j, i])


def _smoothstep(x: np.ndarray, a: float, b: float) -> np.ndarray:
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def vertebral_levels_mm(stature_cm: float) -> dict[str, float]:
    """y of each spinous process (T1 = 0), from per-level heights scaled with stature. [mm]

    References
    ----------
    Panjabi MM et al. (1991) Spine 16, 888-901; Panjabi MM et al. (1992) Spine 17, 299-306; de Leva P (1996)
    J Biomech 29, 1223-1230 (reference stature).
    """
    a = params.load("anatomy")
    h = np.asarray(a.value("level_heights"), dtype=float)
    scale = stature_cm * 10.0 / float(a.value("reference_stature"))
    y = np.concatenate([[0.0], np.cumsum(h[:-1])]) * scale
    return {lvl: float(v) for lvl, v in zip(LEVELS, y, strict=True)}


def sagittal_profile_mm(y_mm: np.ndarray, levels: dict[str, float]) -> np.ndarray:
    """Posterior protrusion of the back along the spine from the kyphosis and lordosis angles. [mm]

    Curvature is uniform over T4-T12 (kyphosis, convex posteriorly) and L1-L5 (lordosis, concave), with
    smooth transitions; the profile is the double integral of the curvature (small-angle).

    References
    ----------
    Fon GT, Pitt MJ, Thies AC (1980) AJR 134, 979-983; Bernhardt M, Bridwell KH (1989) Spine 14, 717-721.
    """
    a = params.load("anatomy")
    kyph = np.radians(float(a.value("thoracic_kyphosis")))
    lord = np.radians(float(a.value("lumbar_lordosis")))
    y4, y12, yl1, yl5 = levels["T4"], levels["T12"], levels["L1"], levels["L5"]
    kappa = (kyph / (y12 - y4)) * _smoothstep(y_mm, y4 - 20, y4 + 20) * (1 - _smoothstep(y_mm, y12 - 20, y12 + 20))
    kappa -= (lord / (yl5 - yl1)) * _smoothstep(y_mm, yl1 - 20, yl1 + 20) * (1 - _smoothstep(y_mm, yl5, yl5 + 40))
    dy = np.gradient(y_mm) if len(y_mm) > 1 else np.ones(1)
    slope = np.cumsum(kappa * dy)
    z = -np.cumsum(slope * dy)  # protrusion decreases away from the apex of a convex curve
    return z - z.max()


def make_back(body: Body, spacing_mm: float = 1.0, grid: Grid | None = None) -> Back:
    """Build the parametric back of ``body``.

    Parameters
    ----------
    body : Body
    spacing_mm : float
        Grid spacing (ignored when ``grid`` is given). [mm]
    grid : Grid, optional
        Grid in the back frame; default x -200..200 mm, y -60 mm .. L5 + 100 mm.

    Returns
    -------
    Back
    """
    if not isinstance(body, Body):
        raise InputError("make_back needs a Body")
    a = params.load("anatomy")
    t = params.load("tissue")
    levels = vertebral_levels_mm(body.stature_cm)
    s = body.stature_cm * 10.0 / float(a.value("reference_stature"))
    if grid is None:
        check_positive("grid spacing", spacing_mm, "mm")
        y_end = levels["L5"] + 100.0
        ny = int(np.ceil((y_end + 60.0) / spacing_mm)) + 1
        nx = int(np.ceil(400.0 / spacing_mm)) + 1
        grid = Grid(nx, ny, spacing_mm, -200.0, -60.0)
    X, Y = grid.mesh()
    ax = np.abs(X)
    y = grid.y_mm

    # lumbar weight: 0 in the thoracic region, 1 in the lumbar region (smooth across T12-L1)
    lum = _smoothstep(Y, levels["T12"], levels["L1"] + 10)
    thor = 1.0 - lum

    sp_w = float(a.value("spinous_halfwidth")) * s
    mf_edge = (
        float(a.value("multifidus_lateral_edge_thoracic")) * thor
        + float(a.value("multifidus_lateral_edge_lumbar")) * lum
    ) * s
    es_edge = float(a.value("erector_lateral_edge")) * s
    rib_x = float(a.value("rib_angle_lateral")) * s
    scap_x = float(a.value("scapula_medial_border")) * s
    m_thick = (float(a.value("muscle_thickness_thoracic")) * thor + float(a.value("muscle_thickness_lumbar")) * lum) * s
    bulge = float(a.value("muscle_bulge_lumbar")) * lum * s

    # subcutaneous fat and skin
    fat = float(a.value("fat_per_bodyfat")) * body.body_fat * np.ones_like(X)
    skin = float(a.value("skin_thickness"))
    lig = float(a.value("supraspinous_ligament_thickness"))

    # bone surface depth below the spinous-process tip plane (positive = anterior): laminar gutter, then ribs
    gutter = _smoothstep(ax, sp_w, sp_w + 8.0 * s)
    bone_depth = (m_thick - bulge) * gutter
    # thoracic ribs rise again towards the rib angles; lumbar: deep tissue, capped at the muscle depth
    rib_rise = thor * _smoothstep(ax, es_edge * 0.75, rib_x + 10 * s)
    bone_depth = bone_depth * (1 - 0.6 * rib_rise)
    # muscle thickness over bone: fills the gutter, thins over the ribs laterally
    muscle = bone_depth + bulge * gutter
    muscle = muscle * (1 - _smoothstep(ax, es_edge, es_edge + 25 * s))
    thickness = skin + fat + np.where(ax < sp_w, lig, 0.0) * (1 - gutter) + muscle
    thickness = np.maximum(thickness, skin + 1.0)

    # surface: skin above bone, plus sagittal curves and transverse convexity of the trunk
    half_b = float(a.value("chest_breadth")) * s / 2
    half_d = float(a.value("chest_depth")) * s / 2
    r_trans = half_b**2 / half_d  # radius of curvature of an ellipse at the end of its minor axis
    surface = -bone_depth + thickness - X**2 / (2 * r_trans)
    surface = surface + sagittal_profile_mm(y, levels)[:, None]

    # regions
    region = np.full(grid.shape, OTHER, dtype=np.int8)
    right = X > 0
    region[(ax <= es_edge)] = np.where(right, ERECTOR_R, ERECTOR_L)[(ax <= es_edge)]
    mf = ax <= mf_edge
    region[mf] = np.where(right, MULTIFIDUS_R, MULTIFIDUS_L)[mf]
    ribs = (thor > 0.5) & (ax > es_edge) & (Y <= levels["T12"] + 10)
    region[ribs] = np.where(right, RIB_R, RIB_L)[ribs]
    scap = (ax >= scap_x) & (Y >= levels["T2"]) & (Y <= levels["T7"])
    region[scap] = np.where(right, SCAPULA_R, SCAPULA_L)[scap]
    region[ax <= sp_w] = SPINOUS
    # over bony prominences laterally the cover is thin: ribs/scapula get skin + fat + a thin muscle layer
    bony_lat = np.isin(region, (RIB_L, RIB_R, SCAPULA_L, SCAPULA_R))
    thickness = np.where(bony_lat, np.minimum(thickness, skin + fat + 0.35 * m_thick), thickness)

    # tissue column modulus: fat and muscle in series over their thicknesses (skin neglected: thin)
    e_fat = float(t.value("fat_modulus"))
    e_mus = float(t.value("muscle_modulus"))
    soft = thickness - skin
    fat_part = np.minimum(fat, soft)
    mus_part = np.clip(soft - fat_part, 0, None)
    modulus = soft / (fat_part / e_fat + mus_part / e_mus + 1e-12)
    modulus = np.where(soft > 0, modulus, e_fat)
    citations.use("deleva1996")
    srcs = tuple(dict.fromkeys(k.strip() for ps in (a, t) for p in ps.parameters.values() for k in p.source.split("+")))
    return Back(
        body=body,
        grid=grid,
        surface_mm=surface,
        region=region,
        tissue_thickness_mm=thickness,
        tissue_modulus_kpa=modulus,
        fat_thickness_mm=fat,
        levels_mm=levels,
        sources=srcs,
        skin_thickness_mm=skin,
        fat_modulus_kpa=e_fat,
        muscle_modulus_kpa=e_mus,
    )
