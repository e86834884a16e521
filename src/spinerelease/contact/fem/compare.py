"""Side-by-side comparison of the fast contact engine with the finite-element reference on axisymmetric cases.

The fast engine (:func:`spinerelease.contact.solve_contact`) is run on a square grid with the gap of the same
rigid sphere and the same tissue (homogeneous modulus and thickness), and the quantities the project relies on
are extracted from both: peak pressure, contact area, approach, force carried.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...assess import ALGOMETER_PROBE_AREA_MM2, probe_averaged_pressure
from ...errors import InputError, check_positive
from ...grid import Grid
from .axisym import FemResult, Layer, solve_axisymmetric


@dataclass(frozen=True)
class CaseMetrics:
    """Quantities compared between the two models.

    Attributes
    ----------
    force_n : float
        Force carried by the peak. [N]
    peak_pressure_kpa : float
        Largest contact pressure. [kPa]
    contact_area_mm2 : float
        Contact area. [mm^2]
    approach_mm : float
        Indentation depth from first touch. [mm]
    probe_pressure_kpa : float, optional
        Largest pressure averaged over a 1 cm^2 disc (the algometer probe the pain thresholds were measured
        with; :func:`spinerelease.assess.probe_averaged_pressure`): the quantity the verdicts use. [kPa]
    probe_centre_kpa : float, optional
        The same disc centred on the peak's axis (the origin; where the largest one is, on a round or stretched
        peak, but not on a ridge, whose contact's ends carry more). [kPa]
    """

    force_n: float
    peak_pressure_kpa: float
    contact_area_mm2: float
    approach_mm: float
    probe_pressure_kpa: float | None = None
    probe_centre_kpa: float | None = None

    @classmethod
    def from_fem(cls, res: FemResult) -> CaseMetrics:
        """Metrics of a FEM result: for the large-strain model the pressure and area the tool sees (Cauchy
        pressure, deformed contact area), which is what the fast engine's surface model and a pressure mat on
        the tool report; for the small-strain model the two configurations coincide."""
        if res.model == "neo-hookean" and res.true_pressure_kpa is not None:
            probe = axisymmetric_probe_pressure_kpa(res.r_current_mm, res.true_pressure_kpa)
            return cls(res.force_n, res.true_peak_pressure_kpa, res.contact_area_current_mm2, res.approach_mm, probe)
        probe = axisymmetric_probe_pressure_kpa(res.r_mm, res.pressure_kpa)
        return cls(res.force_n, res.peak_pressure_kpa, res.contact_area_mm2, res.approach_mm, probe)


def axisymmetric_probe_pressure_kpa(
    r_mm: np.ndarray,
    pressure_kpa: np.ndarray,
    probe_area_mm2: float = ALGOMETER_PROBE_AREA_MM2,
    samples: int = 400,
) -> float:
    """Pressure averaged over a probe disc centred on the axis of an axisymmetric contact. [kPa]

    ``F(rho) / (pi rho^2)`` with ``F(rho) = int_0^rho p(r) 2 pi r dr``, ``pi rho^2`` the probe area: the force on
    the tool inside the probe's footprint over the footprint. For the large-strain FEM ``r`` is the current
    radius and ``p`` the Cauchy pressure: a frictionless normal traction per deformed area is the vertical force
    per projected area. The largest probe average of a pressure that falls from the axis is the centred one.

    Parameters
    ----------
    r_mm : array
        Radii of the pressure samples (any order). [mm]
    pressure_kpa : array
        Pressure at those radii (linear in between, 0 beyond the last sample). [kPa]
    probe_area_mm2 : float
        Probe area (1 cm^2 algometer tip, Fischer 1987). [mm^2]
    """
    return _probe_average(r_mm, pressure_kpa, probe_area_mm2, samples, axisymmetric=True)


def _probe_average(
    r_mm: np.ndarray, pressure_kpa: np.ndarray, probe_area_mm2: float, samples: int, *, axisymmetric: bool
) -> float:
    """Force on a probe disc of radius ``rho`` centred on the contact's axis (``2 pi r`` per unit radius) or on a
    plane-strain contact's mid-plane (``2 x 2 sqrt(rho^2 - x^2)`` per unit distance, both sides), over the
    disc's area. [kPa]"""
    r = np.asarray(r_mm, dtype=float)
    p = np.asarray(pressure_kpa, dtype=float)
    if r.shape != p.shape or r.size < 2 or not (np.all(np.isfinite(r)) and np.all(np.isfinite(p))):
        raise InputError("probe average: positions and pressures must be finite arrays of the same length")
    rho = float(np.sqrt(check_positive("probe area", probe_area_mm2, "mm^2") / np.pi))
    order = np.argsort(r)
    rr = np.linspace(0.0, rho, samples)
    pp = np.interp(rr, r[order], p[order], right=0.0)
    weight = 2.0 * np.pi * rr if axisymmetric else 4.0 * np.sqrt(np.maximum(rho**2 - rr**2, 0.0))
    return float(np.trapezoid(pp * weight, rr) / (np.pi * rho**2))


def plane_strain_probe_pressure_kpa(
    x_mm: np.ndarray,
    pressure_kpa: np.ndarray,
    probe_area_mm2: float = ALGOMETER_PROBE_AREA_MM2,
    samples: int = 400,
) -> float:
    """Pressure averaged over a probe disc centred on the mid-plane of a plane-strain contact (a long tool). [kPa]

    The pressure ``p(|x|)`` does not change along the tool, so the disc of radius ``rho`` carries
    ``int_-rho^rho p(|x|) 2 sqrt(rho^2 - x^2) dx``; over the disc's area ``pi rho^2``. For the large-strain FEM
    ``x`` is the current distance from the mid-plane and ``p`` the Cauchy pressure (as
    :func:`axisymmetric_probe_pressure_kpa`).

    Parameters
    ----------
    x_mm : array
        Distances from the mid-plane of the pressure samples (any order). [mm]
    pressure_kpa : array
        Pressure there (linear in between, 0 beyond the last sample). [kPa]
    probe_area_mm2 : float
        Probe area (1 cm^2 algometer tip, Fischer 1987). [mm^2]
    """
    return _probe_average(x_mm, pressure_kpa, probe_area_mm2, samples, axisymmetric=False)


def sphere_gap_mm(grid: Grid, radius_mm: float) -> np.ndarray:
    """Initial gap of a rigid sphere touching the flat skin at the grid origin (``inf`` beyond its rim). [mm]"""
    x, y = grid.mesh()
    r2 = x**2 + y**2
    return np.where(r2 < radius_mm**2, radius_mm - np.sqrt(np.maximum(radius_mm**2 - r2, 0.0)), np.inf)


def fast_sphere(
    load_n: float,
    tip_radius_mm: float,
    modulus_kpa: float,
    thickness_mm: float | None,
    *,
    poisson: float,
    spacing_mm: float,
    half_width_mm: float | None = None,
    nonlinear: bool = True,
) -> CaseMetrics:
    """Run the fast engine on a rigid sphere pressed into homogeneous tissue (half-space or bonded layer).

    Parameters
    ----------
    load_n : float
        Force. [N]
    tip_radius_mm : float
        Sphere radius. [mm]
    modulus_kpa : float
        Tissue Young's modulus. [kPa]
    thickness_mm : float or None
        Tissue thickness over bone; ``None`` = half-space. [mm]
    poisson : float
        Poisson's ratio. [-]
    spacing_mm : float
        Grid spacing. [mm]
    half_width_mm : float, optional
        Half width of the square grid (default: the sphere radius). [mm]
    nonlinear : bool
        Use the fast engine's neo-Hookean bottoming-out stiffening.
    """
    from .. import solve_contact

    grid = _centred_grid(tip_radius_mm if half_width_mm is None else half_width_mm, spacing_mm)
    gap = sphere_gap_mm(grid, tip_radius_mm)
    res = solve_contact(gap, grid, load_n, modulus_kpa, thickness_mm, poisson=poisson, nonlinear=nonlinear)
    return _fast_metrics(res, grid)


def _centred_grid(half_width_mm: float, spacing_mm: float, half_length_mm: float | None = None) -> Grid:
    """Grid of an even number of elements each way centred on the origin (the peak's axis): square, or
    ``half_length_mm`` long in y (a roller's axis)."""
    check_positive("grid spacing", spacing_mm, "mm")
    nx = 2 * int(np.ceil(half_width_mm / spacing_mm))
    ny = nx if half_length_mm is None else 2 * int(np.ceil(half_length_mm / spacing_mm))
    return Grid(nx, ny, spacing_mm, -(nx - 1) / 2 * spacing_mm, -(ny - 1) / 2 * spacing_mm)


def _fast_tissue(layers: list[Layer]) -> tuple[float, float, dict]:
    """The fast engine's tissue for ``layers``: (deep modulus [kPa], total thickness [mm], ``solve_contact``
    keywords). One layer: the one-material bonded layer; two: the top one as ``top_layer`` over the second."""
    if len(layers) not in (1, 2):
        raise InputError("the fast engine models one layer, or a top layer over a deep one")
    kw = {"top_layer": (layers[0].thickness_mm, layers[0].modulus_kpa)} if len(layers) == 2 else {}
    return layers[-1].modulus_kpa, sum(la.thickness_mm for la in layers), kw


def _fast_metrics(res, grid: Grid) -> CaseMetrics:
    """The compared quantities of a fast-engine :class:`~spinerelease.contact.ContactResult`."""
    area = float(res.contact.sum() * grid.cell_area_mm2)
    probe = probe_averaged_pressure(res.pressure_kpa, grid.spacing_mm)
    x, y = grid.mesh()
    weights = np.clip(1 - np.abs(x) / grid.spacing_mm, 0, None) * np.clip(1 - np.abs(y) / grid.spacing_mm, 0, None)
    # bilinear at the origin (between cells, or on one); None if the grid does not reach it
    centre = float(np.sum(weights * probe) / np.sum(weights)) if weights.sum() > 0 else None
    pmax = float(res.pressure_kpa.max())
    return CaseMetrics(res.total_force_n, pmax, area, res.approach_mm, float(probe.max()), centre)


def compare_sphere(
    load_n: float,
    tip_radius_mm: float,
    modulus_kpa: float,
    thickness_mm: float | None,
    *,
    poisson: float = 0.49,
    model: str = "neo-hookean",
    spacing_mm: float | None = None,
    fem_fine_mm: float | None = None,
    fem_thickness_mm: float | None = None,
    domain_radius_mm: float | None = None,
) -> dict[str, object]:
    """FEM and fast-engine results for one sphere-on-tissue case.

    ``thickness_mm=None`` means a half-space for the fast engine; the FEM then uses a block of
    ``fem_thickness_mm`` (default 6 x tip radius) that approximates it.

    Returns
    -------
    dict
        ``fem`` (:class:`FemResult`), ``fem_metrics`` and ``fast_metrics`` (:class:`CaseMetrics`) and the
        relative differences ``rel_peak_pressure``, ``rel_area``, ``rel_approach`` (fast / FEM - 1).
    """
    t_fem = thickness_mm if thickness_mm is not None else (fem_thickness_mm or 6.0 * tip_radius_mm)
    fem = solve_axisymmetric(
        load_n,
        tip_radius_mm,
        [Layer("tissue", t_fem, modulus_kpa)],
        poisson=poisson,
        model=model,
        fine_mm=fem_fine_mm,
        domain_radius_mm=domain_radius_mm,
    )
    dx = spacing_mm if spacing_mm is not None else tip_radius_mm / 20
    fast = fast_sphere(
        load_n, tip_radius_mm, modulus_kpa, thickness_mm, poisson=poisson, spacing_mm=dx, nonlinear=(model != "linear")
    )
    fm = CaseMetrics.from_fem(fem)
    return {
        "fem": fem,
        "fem_metrics": fm,
        "fast_metrics": fast,
        "rel_peak_pressure": fast.peak_pressure_kpa / fm.peak_pressure_kpa - 1,
        "rel_area": fast.contact_area_mm2 / fm.contact_area_mm2 - 1,
        "rel_approach": fast.approach_mm / fm.approach_mm - 1,
        "rel_force": fast.force_n / fm.force_n - 1,
    }


def fast_rounded_cone(
    load_n: float,
    layers: list[Layer],
    *,
    tip_radius_mm: float,
    flank_angle_deg: float,
    poisson: float = 0.49,
    spacing_mm: float = 0.5,
    half_width_mm: float = 45.0,
    stretch: float = 1.0,
    ridge_mm: float = 0.0,
    bend_radius_mm: float = np.inf,
) -> CaseMetrics:
    """The fast engine on one rounded conical peak (the PSO-Spine's peak shape) pressed into layered tissue.

    One layer: the one-material bonded layer; two layers: the top one as ``top_layer`` over the second (the
    two-layer tissue model of :func:`spinerelease.contact.solve_contact`). Same inputs as
    :func:`spinerelease.contact.fem.deep.indentation_curve`, for side-by-side comparisons. ``stretch``: the peak
    stretched along y, ``h(x, y / stretch)``, on a grid as much longer in y (the 3D FEM's
    :func:`spinerelease.contact.fem.solid3d.rounded_peak_block` with the same ``stretch``). [-] ``ridge_mm``,
    ``bend_radius_mm``: instead, the apex drawn out into a ridge, straight along y or bent (along x, towards +y;
    :func:`spinerelease.tools.elongated_peak_derivatives`), the grid as much larger. [mm]
    """
    from ...tools.base import elongated_peak_derivatives
    from .. import solve_contact

    shape = {"stretch": stretch, "ridge_mm": ridge_mm, "bend_radius_mm": bend_radius_mm}
    elongated_peak_derivatives(np.zeros(1), np.zeros(1), tip_radius_mm, flank_angle_deg, **shape)  # checks
    modulus, total, kw = _fast_tissue(layers)
    if ridge_mm and np.isinf(bend_radius_mm):
        grid = _centred_grid(half_width_mm, spacing_mm, half_width_mm + 0.5 * ridge_mm)
    elif ridge_mm:  # along x: a square grid as wide as the ridge is long
        grid = _centred_grid(half_width_mm + 0.5 * ridge_mm, spacing_mm)
    else:
        grid = _centred_grid(half_width_mm, spacing_mm, half_width_mm * stretch)
    x, y = grid.mesh()
    gap = -elongated_peak_derivatives(x, y, tip_radius_mm, flank_angle_deg, **shape)[0]
    res = solve_contact(gap, grid, load_n, modulus, total, poisson=poisson, nonlinear=True, **kw)
    return _fast_metrics(res, grid)


def fast_cylinder(
    line_load_n_per_mm: float,
    layers: list[Layer],
    *,
    radius_mm: float,
    length_mm: float,
    poisson: float = 0.49,
    spacing_mm: float = 1.0,
    half_width_mm: float | None = None,
    load_tol: float = 5e-4,
    max_iter: int = 10,
) -> CaseMetrics:
    """The fast engine on a rigid cylinder of finite length (a foam roller) on layered tissue, read on its
    mid-section: the counterpart of a plane-strain FEM of the roller's cross-section
    (:func:`spinerelease.contact.fem.deep.indentation_curve` with ``geometry="plane-strain"``).

    The cylinder's axis lies along y, centred on the grid; the fast engine solves the whole (finite) roller, whose
    ends carry more than its middle, and the total load is adjusted (secant on the ratio) until the line load of
    its mid-section is ``line_load_n_per_mm``. One layer: the one-material bonded layer; two layers: the top one
    as ``top_layer`` over the second (as :func:`fast_rounded_cone`).

    Parameters
    ----------
    line_load_n_per_mm : float
        Force per mm of roller length at the mid-section. [N/mm]
    layers : list of Layer
        Tissue layers from the skin down to the bone.
    radius_mm, length_mm : float
        Cylinder radius and length. [mm]
    poisson : float
        Poisson's ratio. [-]
    spacing_mm : float
        Grid spacing. [mm]
    half_width_mm : float, optional
        Half width of the grid across the roller (default 1.5 radii). [mm]
    load_tol : float
        Relative tolerance on the mid-section line load. [-]
    max_iter : int
        Most solves.

    Returns
    -------
    CaseMetrics
        Per mm of length at the mid-section (mean of the two grid rows either side of it): ``force_n`` the line
        load [N/mm], ``peak_pressure_kpa``, ``contact_area_mm2`` the contact width [mm], ``approach_mm``, and
        ``probe_pressure_kpa`` the 1 cm2 probe average centred on the mid-section.
    """
    from .. import solve_contact

    q = check_positive("line load", line_load_n_per_mm, "N/mm")
    R = check_positive("cylinder radius", radius_mm, "mm")
    L = check_positive("cylinder length", length_mm, "mm")
    modulus, total, kw = _fast_tissue(layers)
    hw = 1.5 * R if half_width_mm is None else check_positive("grid half width", half_width_mm, "mm")
    grid = _centred_grid(hw, spacing_mm, 0.5 * L)
    x, y = grid.mesh()
    on = (np.abs(x) < R) & (np.abs(y) <= 0.5 * L)
    gap = np.where(on, R - np.sqrt(np.maximum(R**2 - x**2, 0.0)), np.inf)
    mid = [grid.ny // 2 - 1, grid.ny // 2]  # the two rows either side of the mid-section

    def mid_line_load(res) -> float:
        return float(res.pressure_kpa[mid].sum(axis=1).mean() * spacing_mm * 1e-3)

    force, res = q * L, None
    for _ in range(max_iter):
        res = solve_contact(gap, grid, force, modulus, total, poisson=poisson, nonlinear=True, initial=res, **kw)
        q_mid = mid_line_load(res)
        if abs(q_mid / q - 1.0) <= load_tol:
            break
        force *= q / q_mid
    p_mid = res.pressure_kpa[mid]
    width = float((res.contact[mid].sum(axis=1) * spacing_mm).mean())
    probe = probe_averaged_pressure(res.pressure_kpa, spacing_mm)[mid]
    return CaseMetrics(
        q_mid,
        float(p_mid.max(axis=1).mean()),
        width,
        res.approach_mm,
        float(probe.max(axis=1).mean()),
    )
