"""Case 4 of the validation (issue 8): the PSO-Spine on a 3D back slab, fast engine against the 3D FEM.

:func:`back_slab_case` builds, exactly as :func:`spinerelease.simulate` does, the inputs the fast engine gets
for a body, tool placement and protocol step: the back window (tissue thickness, per-column modulus, region
labels with the spinous processes), the tool's initial gap and peak zones, and the load on the tool.
:func:`solve_fem_back` runs the 3D finite-element slab (:mod:`.solid3d`) on the same inputs (half slab, using
the symmetry about the midline), :func:`solve_fast_back` the fast engine, and :func:`case_metrics` extracts
from either the quantities compared: force per peak, peak pressure, contact area and the share of the force
that goes through the skin over the spinous processes (bone).

Units: mm, kPa, N.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from ...errors import InputError, check_choice, check_positive
from ...grid import Grid
from .solid3d import Slab3DResult, SlabContact, depth_fractions, graded_axis


@dataclass(frozen=True)
class BackSlabCase:
    """Inputs shared by the fast engine and the FEM for one tool placement on the back.

    Attributes
    ----------
    grid : Grid
        Back window grid (x across the back, 0 on the midline; y along the spine). [mm]
    gap0_mm : ndarray
        Initial gap between the tool and the undeformed skin (``inf`` where there is no tool). [mm]
    thickness_mm : ndarray
        Soft-tissue thickness from skin to bone. [mm]
    modulus_kpa : ndarray
        Per-column Young's modulus (fat and muscle in series). [kPa]
    region : ndarray of int
        Anatomical region labels (``spinerelease.anatomy.REGIONS``).
    peak_labels : ndarray of int
        Peak zones (1..n = nearest peak, 0 = no tool).
    peak_names : tuple of str
    peak_xy_mm : ndarray, shape (n, 2)
        Peak apex positions on the window grid. [mm]
    load_n : float
        Force on the tool. [N]
    fat_thickness_mm : ndarray
        Subcutaneous fat thickness (for the layered material variant). [mm]
    skin_thickness_mm : float
        Skin thickness. [mm]
    layers_modulus_kpa : ndarray
        Modulus field below the top layer in the two-layer tissue model (muscle). [kPa]
    top_layer : (float, float)
        Thickness and modulus of the top layer (skin and fat) in the two-layer tissue model
        (:meth:`spinerelease.anatomy.Back.tissue_layers`). [mm, kPa]
    """

    grid: Grid
    gap0_mm: np.ndarray
    thickness_mm: np.ndarray
    modulus_kpa: np.ndarray
    region: np.ndarray
    peak_labels: np.ndarray
    peak_names: tuple[str, ...]
    peak_xy_mm: np.ndarray
    load_n: float
    fat_thickness_mm: np.ndarray
    skin_thickness_mm: float
    layers_modulus_kpa: np.ndarray
    top_layer: tuple[float, float]


def back_slab_case(config=None, **kwargs) -> BackSlabCase:
    """The fast engine's inputs for a simulation configuration (default: PSO-Spine at T7, default body).

    Mirrors :func:`spinerelease.workflow.simulate` up to the contact solve. Only symmetric states (no roll) are
    accepted, since the FEM models half the slab.
    """
    from ...posture import tool_load
    from ...workflow import SimulationConfig, initial_gap_mm, level_pitch, place

    cfg = replace(config or SimulationConfig(), **kwargs) if kwargs else (config or SimulationConfig())
    _, tool, win, (cx, cy) = place(cfg)
    step = cfg.protocol_step()
    if step.roll_deg != 0 or abs(cx) > 1e-9:
        raise InputError("the 3D back-slab comparison needs a state symmetric about the midline (no roll or offset)")
    th = tool.height_on(win.grid, cx, cy)
    labels = tool.peak_labels_on(win.grid, cx, cy)
    surface = level_pitch(win.surface_mm, np.isfinite(th))
    gap0 = initial_gap_mm(surface, th)
    tool_top = float(np.nanmax(np.where(np.isfinite(th), th, np.nan)))
    load = tool_load(win.body, cy, step, levels_mm=win.levels_mm, tool_height_mm=tool_top)
    layers_modulus, top = win.tissue_layers()
    return BackSlabCase(
        grid=win.grid,
        gap0_mm=gap0,
        thickness_mm=win.tissue_thickness_mm,
        modulus_kpa=win.tissue_modulus_kpa,
        region=win.region,
        peak_labels=labels,
        peak_names=tuple(p.name for p in tool.peaks),
        peak_xy_mm=np.array([[cx + p.x_mm, cy + p.y_mm] for p in tool.peaks]),
        load_n=float(load.force_n),
        fat_thickness_mm=win.fat_thickness_mm,
        skin_thickness_mm=win.skin_thickness_mm,
        layers_modulus_kpa=layers_modulus,
        top_layer=top,
    )


def grid_field(grid: Grid, values: np.ndarray, mirror: bool = True):
    """Bilinear interpolant ``f(x, y)`` of a cell-centred grid field (nearest value beyond the outer cells).

    With ``mirror`` the field is read at ``-|x|``... no: at ``x`` if that lies on the grid, else at ``-x``
    (the window need not be exactly symmetric at its edges).
    """
    vals = np.asarray(values, dtype=float)
    interp = RegularGridInterpolator((grid.y_mm, grid.x_mm), vals, bounds_error=False, fill_value=None)
    xlo, xhi = grid.x_mm[0], grid.x_mm[-1]
    ylo, yhi = grid.y_mm[0], grid.y_mm[-1]

    def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if mirror:
            x = np.where((x > xhi) & (-x >= xlo), -x, x)
        pts = np.stack([np.clip(y, ylo, yhi).ravel(), np.clip(x, xlo, xhi).ravel()], axis=1)
        return interp(pts).reshape(x.shape)

    return f


def gap_field(grid: Grid, gap0_mm: np.ndarray):
    """Interpolant of the tool gap: bilinear inside the tool, ``inf`` wherever a neighbouring cell has no tool."""
    g = np.asarray(gap0_mm, dtype=float)
    big = 1.0e6
    f = grid_field(grid, np.where(np.isfinite(g), g, big))

    def gap(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        v = f(x, y)
        return np.where(v < 0.5 * big, v, np.inf)

    return gap


def layered_modulus(case: BackSlabCase, fat_kpa: float | None = None, muscle_kpa: float | None = None):
    """Skin/fat/muscle variant of the modulus field: fat modulus from the skin down to the bottom of the fat,
    muscle modulus below (the anatomy's column modulus is these two in series; skin is lumped with fat, as the
    anatomy neglects it). Moduli default to ``data/tissue.yaml`` (fat: Samani 2007; muscle: Creze 2018). [kPa]
    """
    from ... import params

    t = params.load("tissue")
    ef = float(t.value("fat_modulus")) if fat_kpa is None else check_positive("fat modulus", fat_kpa, "kPa")
    em = float(t.value("muscle_modulus")) if muscle_kpa is None else check_positive("muscle modulus", muscle_kpa)
    fat = grid_field(case.grid, case.fat_thickness_mm + case.skin_thickness_mm)

    def modulus(x: np.ndarray, y: np.ndarray, depth: np.ndarray) -> np.ndarray:
        return np.where(depth <= fat(x, y), ef, em)

    return modulus


def fem_mesh_lines(
    case: BackSlabCase, contact: np.ndarray, fine_mm: float, growth: float = 1.5, margin_mm: float = 6.0
) -> tuple[np.ndarray, np.ndarray]:
    """Mesh lines of the half slab (x >= 0): ``fine_mm`` over the expected contact zone plus a margin, growing
    outside it. ``contact`` is a guess of the contact zone on the case grid (e.g. the fast engine's)."""
    g = case.grid
    if not np.any(contact):
        raise InputError("the contact guess is empty")
    X, Y = g.mesh()
    xs, ys = np.abs(X[contact]), Y[contact]
    x_zone = (0.0, float(xs.max()) + margin_mm)
    y_zone = (float(ys.min()) - margin_mm, float(ys.max()) + margin_mm)
    x_hi = min(-g.x_mm[0], g.x_mm[-1])
    x = graded_axis(0.0, x_hi, fine_mm, [x_zone], growth)
    y = graded_axis(float(g.y_mm[0]), float(g.y_mm[-1]), fine_mm, [y_zone], growth)
    return x, y


def build_fem_back(
    case: BackSlabCase,
    *,
    model: str = "linear",
    fine_mm: float = 4.0,
    n_layers: int = 4,
    top_fraction: float = 0.4,
    growth: float = 1.5,
    contact_guess: np.ndarray | None = None,
    material: str = "column",
    poisson: float = 0.49,
    contact_point: str = "current",
) -> SlabContact:
    """The half back slab (x >= 0) meshed for the FEM, with the fast engine's inputs.

    Parameters
    ----------
    case : BackSlabCase
    model : str
        ``"linear"`` or ``"neo-hookean"``.
    fine_mm : float
        Element size over the contact zone. [mm]
    n_layers : int
        Element layers through the tissue thickness.
    top_fraction : float
        Thickness of the skin-side element layer relative to a uniform layer. [-]
    growth : float
        Element growth factor outside the contact zone. [-]
    contact_guess : array of bool, optional
        Expected contact zone on the case grid (default: where the gap is below 40 mm).
    material : str
        ``"column"`` (the fast engine's per-column modulus) or ``"layered"`` (fat over muscle).
    poisson : float
        Poisson's ratio. [-]
    contact_point : str
        Where the large-strain model reads the tool gap (``solid3d.CONTACT_POINTS``).
    """
    if material not in ("column", "layered"):
        raise InputError(f"material must be 'column' or 'layered', got {material!r}")
    guess = contact_guess if contact_guess is not None else np.isfinite(case.gap0_mm) & (case.gap0_mm < 40.0)
    x, y = fem_mesh_lines(case, guess, fine_mm, growth)
    thick = grid_field(case.grid, case.thickness_mm)
    if material == "column":
        col = grid_field(case.grid, case.modulus_kpa)

        def modulus(xx, yy, depth):
            return col(xx, yy)
    else:
        modulus = layered_modulus(case)
    return SlabContact(
        x,
        y,
        depth_fractions(n_layers, top_fraction),
        thick,
        modulus,
        gap_field(case.grid, case.gap0_mm),
        poisson=poisson,
        model=model,
        symmetric=True,
        contact_point=contact_point,
    )


def nodes_guess(prob: SlabContact, grid: Grid, contact: np.ndarray) -> np.ndarray:
    """Active-set guess on the FEM skin nodes from a contact map on the case grid (nearest cell)."""
    ix = np.clip(np.round((prob.xy_top[0] - grid.x0_mm) / grid.spacing_mm).astype(int), 0, grid.nx - 1)
    iy = np.clip(np.round((prob.xy_top[1] - grid.y0_mm) / grid.spacing_mm).astype(int), 0, grid.ny - 1)
    return np.asarray(contact)[iy, ix].reshape(prob.top_shape)


def solve_fast_back(
    case: BackSlabCase, *, nonlinear: bool, load_n: float | None = None, tissue: str = "column", **kwargs
):
    """The fast engine on the case (``nonlinear``: with its large-strain column stiffening).

    ``tissue="column"``: the per-column series modulus (what the FEM's ``material="column"`` models);
    ``"layers"``: skin and fat over muscle as two bonded layers (``top_layer``; the FEM's ``"layered"``), as
    :func:`spinerelease.workflow.simulate` gives them (:meth:`spinerelease.anatomy.Back.tissue_layers`).
    """
    from ...workflow import TISSUE_MODELS
    from ..solver import solve_contact

    load = case.load_n if load_n is None else load_n
    if check_choice("tissue", tissue, TISSUE_MODELS) == "column":
        modulus, top = case.modulus_kpa, None
    else:
        modulus, top = case.layers_modulus_kpa, case.top_layer
    return solve_contact(
        case.gap0_mm,
        case.grid,
        load,
        modulus,
        case.thickness_mm,
        roll_deg=0.0,
        nonlinear=nonlinear,
        top_layer=top,
        **kwargs,
    )


def _nearest_peak(x: np.ndarray, y: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    d2 = (x[None] - peaks[:, 0, None]) ** 2 + (y[None] - peaks[:, 1, None]) ** 2
    return d2.argmin(axis=0) + 1


def case_metrics_fast(case: BackSlabCase, res) -> dict:
    """Per-peak force, peak pressure, contact area and spinous (bone) share of a fast-engine result."""
    from ...anatomy import REGIONS
    from ..solver import label_forces_n

    cell = case.grid.cell_area_mm2
    per = label_forces_n(res.pressure_kpa, case.peak_labels, cell)
    reg = label_forces_n(res.pressure_kpa, case.region, cell)
    total = float(res.total_force_n)
    return {
        "force_n": total,
        "peak_force_n": {name: per.get(i + 1, 0.0) for i, name in enumerate(case.peak_names)},
        "peak_pressure_kpa": float(res.pressure_kpa.max()),
        "contact_area_mm2": float(res.contact.sum() * cell),
        "spinous_share": reg.get(REGIONS["SPINOUS"], 0.0) / total,
        "approach_mm": float(res.approach_mm),
    }


def case_metrics_fem(case: BackSlabCase, res: Slab3DResult, *, cauchy: bool | None = None) -> dict:
    """The same quantities from a FEM result, from its nodal contact reactions (whole, mirrored slab).

    Each skin node belongs to the nearest peak (as the fast engine's peak zones) and to the anatomical region of
    the grid cell it lies in; nodes off the midline stand for themselves and their mirror image, nodes on it
    (whose half-model reaction is half the full one) count twice. Peak pressure: Cauchy (per deformed area, on
    the tool) for the large-strain model unless ``cauchy=False``, nominal for the linear model.
    """
    from ...anatomy import REGIONS

    if not res.symmetric:
        raise InputError("case metrics expect the symmetric half-slab model")
    X, Y = np.meshgrid(res.x_mm, res.y_mm)
    r = res.reaction_n
    peaks = case.peak_xy_mm
    lab = _nearest_peak(X.ravel(), Y.ravel(), peaks).reshape(X.shape)
    lab_m = _nearest_peak(-X.ravel(), Y.ravel(), peaks).reshape(X.shape)
    on_axis = np.isclose(X, 0.0)
    per = np.zeros(len(peaks) + 1)
    np.add.at(per, lab.ravel(), np.where(on_axis, 2 * r, r).ravel())
    np.add.at(per, lab_m.ravel(), np.where(on_axis, 0.0, r).ravel())
    g = case.grid
    ix = np.clip(np.round((X - g.x0_mm) / g.spacing_mm).astype(int), 0, g.nx - 1)
    iy = np.clip(np.round((Y - g.y0_mm) / g.spacing_mm).astype(int), 0, g.ny - 1)
    spin = case.region[iy, ix] == REGIONS["SPINOUS"]
    total = float(res.force_n)
    spin_n = float(np.where(on_axis, 2 * r, 2 * r)[spin].sum()) - float(r[spin & on_axis].sum())
    use_cauchy = (res.model == "neo-hookean") if cauchy is None else cauchy
    # bone reaction under the spinous ridge (what the fast engine cannot give): |x| within the SPINOUS band
    bx, by = res.extras["bone_xy_mm"]
    bix = np.clip(np.round((bx - g.x0_mm) / g.spacing_mm).astype(int), 0, g.nx - 1)
    biy = np.clip(np.round((by - g.y0_mm) / g.spacing_mm).astype(int), 0, g.ny - 1)
    b_spin = case.region[biy, bix] == REGIONS["SPINOUS"]
    rb = res.extras["bone_reaction_n"]
    b_axis = np.isclose(bx, 0.0)
    bone_spin = float((np.where(b_axis, 2 * rb, 2 * rb) - np.where(b_axis, rb, 0.0))[b_spin].sum())
    return {
        "force_n": total,
        "peak_force_n": {name: float(per[i + 1]) for i, name in enumerate(case.peak_names)},
        "peak_pressure_kpa": res.true_peak_pressure_kpa if use_cauchy else res.peak_pressure_kpa,
        "contact_area_mm2": float(res.contact_area_mm2),
        "spinous_share": spin_n / total,
        "approach_mm": float(res.approach_mm),
        "bone_ridge_share": bone_spin / float(res.bone_force_n),
    }


def fem_pressure_on_grid(case: BackSlabCase, res: Slab3DResult, cauchy: bool = False) -> np.ndarray:
    """FEM contact pressure resampled (bilinearly, mirrored about x = 0) onto the case grid. [kPa]"""
    p = res.true_pressure_kpa if cauchy else res.pressure_kpa
    f = RegularGridInterpolator((res.y_mm, res.x_mm), p, bounds_error=False, fill_value=0.0)
    X, Y = case.grid.mesh()
    return f(np.stack([Y.ravel(), np.abs(X).ravel()], axis=1)).reshape(X.shape)


def solve_fem_back(
    case: BackSlabCase,
    *,
    model: str = "linear",
    loads_n: list[float] | None = None,
    contact_guess: np.ndarray | None = None,
    verbose: bool = False,
    max_cuts: int = 3,
    **mesh_kwargs,
) -> list[tuple[float, Slab3DResult | None]]:
    """Solve the half back slab under increasing loads (warm-started); stops at the first load that fails.

    Parameters
    ----------
    case : BackSlabCase
    model : str
        ``"linear"`` or ``"neo-hookean"``.
    loads_n : list of float, optional
        Increasing total loads on the tool (default: the case load only). [N]
    contact_guess : array of bool, optional
        Initial active-set guess on the case grid (e.g. the fast engine's contact map).
    verbose : bool
        Print the active-set iterations.
    max_cuts : int
        Most halvings of a failing load increment (the last converged intermediate load is reported).
    **mesh_kwargs
        Passed to :func:`build_fem_back`.

    Returns
    -------
    list of (load [N], Slab3DResult or None)
        One entry per converged load; on failure the highest converged intermediate load (if new) and then
        ``(load, None)`` for the load that could not be reached (last entry).
    """
    from .solid3d import _Diverged

    loads = [case.load_n] if loads_n is None else [check_positive("load", f, "N") for f in loads_n]
    prob = build_fem_back(case, model=model, contact_guess=contact_guess, **mesh_kwargs)
    prob.verbose = verbose
    out: list[tuple[float, Slab3DResult | None]] = []
    guess = nodes_guess(prob, case.grid, contact_guess) if contact_guess is not None else None
    last = 0.0
    for k, f in enumerate(loads):
        target, cuts = f, 0
        while True:  # adaptive load stepping: halve the increment when a step fails
            saved = (prob.x.copy(), prob.approach, prob.active.copy())
            try:
                ok = prob.solve(0.5 * target, initial_active=guess if (k == 0 and last == 0.0) else None)
            except _Diverged:
                ok = False
            if ok:
                last = target
                if target >= f:
                    break
                target = f
                continue
            prob.x, prob.approach, prob.active = saved
            cuts += 1
            if cuts > max_cuts:
                break
            target = 0.5 * (last + target)
            if verbose:
                print(f"  step failed; trying {target:.1f} N", flush=True)
        if last < f:
            out.append((f, None))
            if last > 0 and (not out[:-1] or out[-2][0] != last):
                out.insert(-1, (last, prob.result(True)))
            break
        out.append((f, prob.result(True)))
    return out
