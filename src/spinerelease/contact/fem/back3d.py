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

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from ...errors import InputError, check_choice, check_positive
from ...grid import Grid
from .solid3d import Slab3DResult, SlabContact, depth_fractions, face_mean_max, graded_axis, skin_quadrature

#: Smooth gap with derivatives: ``(x_mm, y_mm) -> (g, g_x, g_y, g_xx, g_xy, g_yy)``. [mm, -, 1/mm]
GapDerivatives = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]


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
    gap_derivatives : callable, optional
        The same initial gap as a smooth function of position with its derivatives,
        ``(x, y) -> (g, g_x, g_y, g_xx, g_xy, g_yy)`` (:func:`smooth_gap`), for contact on the true normal.
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
    gap_derivatives: GapDerivatives | None = field(default=None, repr=False)


def back_slab_case(config=None, *, tip_blend_mm: float = 0.0, crease_blend_mm: float = 0.0, **kwargs) -> BackSlabCase:
    """The fast engine's inputs for a simulation configuration (default: PSO-Spine at T7, default body).

    Mirrors :func:`spinerelease.workflow.simulate` up to the contact solve. Only symmetric states (no roll) are
    accepted, since the FEM models half the slab. ``tip_blend_mm`` blends each tip of the FEM's smooth gap into
    its flank, ``crease_blend_mm`` rounds its creases (:func:`smooth_gap`). [mm]
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
        gap_derivatives=smooth_gap(win.grid, surface, gap0, tool, cx, cy, tip_blend_mm, crease_blend_mm),
    )


def smooth_gap(
    grid: Grid,
    surface_mm: np.ndarray,
    gap0_mm: np.ndarray,
    tool,
    cx_mm: float,
    cy_mm: float,
    blend_mm: float = 0.0,
    crease_mm: float = 0.0,
):
    """The initial gap ``g0 = c - surface - tool`` as a smooth function with derivatives (for the FEM's contact on
    the true normal): the back surface by a bicubic interpolating spline of the window grid, the tool from its
    construction (:func:`spinerelease.tools.builtin.peaked_surface_derivatives`, each tip blended into its flank
    over ``+-blend_mm`` and the creases between its pieces rounded over ``crease_mm`` of height difference, so the
    gap is C2 there), ``c`` from the sampled gap (they agree on the grid cells).

    Returns ``None`` for tools without that construction. ``inf`` beyond the tool's footprint.
    """
    from scipy.interpolate import RectBivariateSpline

    from ...tools.builtin import has_peaked_surface, peaked_surface_derivatives

    if not has_peaked_surface(tool):
        return None
    if blend_mm > 0 or crease_mm > 0:
        from ... import citations

        citations.use("neto2017", *(("quilez2013",) if crease_mm > 0 else ()))
    spl = RectBivariateSpline(grid.y_mm, grid.x_mm, np.asarray(surface_mm, dtype=float), kx=3, ky=3, s=0)
    X, Y = grid.mesh()
    fin = np.isfinite(gap0_mm)
    h_cells = peaked_surface_derivatives(tool, X[fin] - cx_mm, Y[fin] - cy_mm)[0]
    c_cells = gap0_mm[fin] + surface_mm[fin] + h_cells
    c = float(np.median(c_cells))
    (rows,) = np.nonzero(tool.footprint.any(axis=1))
    (cols,) = np.nonzero(tool.footprint.any(axis=0))
    half = 0.5 * tool.grid.spacing_mm
    xlo, xhi = tool.grid.x_mm[cols[0]] - half + cx_mm, tool.grid.x_mm[cols[-1]] + half + cx_mm
    ylo, yhi = tool.grid.y_mm[rows[0]] - half + cy_mm, tool.grid.y_mm[rows[-1]] + half + cy_mm

    def gap(x_mm: np.ndarray, y_mm: np.ndarray) -> tuple[np.ndarray, ...]:
        x = np.asarray(x_mm, dtype=float)
        y = np.asarray(y_mm, dtype=float)
        h, hx, hy, hxx, hxy, hyy = peaked_surface_derivatives(tool, x - cx_mm, y - cy_mm, blend_mm, crease_mm)
        s = [spl.ev(y, x, dx=j, dy=i) for i, j in ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))]
        inside = (x >= xlo) & (x <= xhi) & (y >= ylo) & (y <= yhi)
        g = np.where(inside, c - s[0] - h, np.inf)
        return g, -s[1] - hx, -s[2] - hy, -s[3] - hxx, -s[4] - hxy, -s[5] - hyy

    return gap


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
    case: BackSlabCase,
    contact: np.ndarray,
    fine_mm: float,
    growth: float = 1.5,
    margin_mm: float = 6.0,
    peak_window_mm: float | None = None,
    apex_lines: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Mesh lines of the half slab (x >= 0): ``fine_mm`` over the expected contact zone plus a margin, growing
    outside it. ``contact`` is a guess of the contact zone on the case grid (e.g. the fast engine's).

    With ``peak_window_mm`` the fine zones are instead the bands ``+-peak_window_mm`` about each peak's x and y
    (for deep indentation under the tips, where the space between the peaks carries no load). [mm]
    With ``apex_lines`` a mesh line runs through each peak's apex in x and in y, so that a vertex sits under
    every tip (the skin stretches most there; an element straddling the apex is pulled apart first).
    """
    g = case.grid
    if not np.any(contact):
        raise InputError("the contact guess is empty")
    X, Y = g.mesh()
    if peak_window_mm is not None:
        w = check_positive("peak window", peak_window_mm, "mm")
        px, py = np.abs(case.peak_xy_mm[:, 0]), case.peak_xy_mm[:, 1]
        x_zones = [(float(v) - w, float(v) + w) for v in np.unique(px)]
        y_zones = [(float(v) - w, float(v) + w) for v in np.unique(py)]
    else:
        xs, ys = np.abs(X[contact]), Y[contact]
        x_zones = [(0.0, float(xs.max()) + margin_mm)]
        y_zones = [(float(ys.min()) - margin_mm, float(ys.max()) + margin_mm)]
    x_hi = min(-g.x_mm[0], g.x_mm[-1])
    ax = list(np.unique(np.abs(case.peak_xy_mm[:, 0]))) if apex_lines else None
    ay = list(np.unique(case.peak_xy_mm[:, 1])) if apex_lines else None
    x = graded_axis(0.0, x_hi, fine_mm, x_zones, growth, anchors_mm=ax)
    y = graded_axis(float(g.y_mm[0]), float(g.y_mm[-1]), fine_mm, y_zones, growth, anchors_mm=ay)
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
    peak_window_mm: float | None = None,
    tie_surface: bool = False,
    curvature: str = "exact",
    apex_lines: bool = False,
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
        How the large-strain model holds the skin on the tool (``solid3d.CONTACT_POINTS``; ``"normal"`` needs the
        case's smooth gap, :attr:`BackSlabCase.gap_derivatives`).
    peak_window_mm : float, optional
        Refine bands about the peaks instead of the whole contact zone (:func:`fem_mesh_lines`). [mm]
    tie_surface : bool
        Bilinear horizontal displacement on every skin face (``solid3d.SlabContact``; for the true normal).
    curvature : str
        ``"exact"`` or ``"averaged"``: the tool-curvature term of the true-normal tangent (``solid3d.SlabContact``).
    apex_lines : bool
        Mesh lines through every peak's apex (:func:`fem_mesh_lines`).
    """
    if material not in ("column", "layered"):
        raise InputError(f"material must be 'column' or 'layered', got {material!r}")
    guess = contact_guess if contact_guess is not None else np.isfinite(case.gap0_mm) & (case.gap0_mm < 40.0)
    x, y = fem_mesh_lines(case, guess, fine_mm, growth, peak_window_mm=peak_window_mm, apex_lines=apex_lines)
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
        gap_derivatives=case.gap_derivatives,
        tie_surface=tie_surface,
        curvature=curvature,
    )


def nearest_cell(grid: Grid, x_mm, y_mm) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices ``(iy, ix)`` of the grid cells nearest to the points ``(x_mm, y_mm)`` (clipped to
    the grid)."""
    ix = np.clip(np.round((np.asarray(x_mm) - grid.x0_mm) / grid.spacing_mm).astype(int), 0, grid.nx - 1)
    iy = np.clip(np.round((np.asarray(y_mm) - grid.y0_mm) / grid.spacing_mm).astype(int), 0, grid.ny - 1)
    return iy, ix


def flat_bone_case(case: BackSlabCase) -> BackSlabCase:
    """The same case on a flat bone: uniform tissue of the thickness and series modulus found under the tool's
    peaks (their largest), the tool and its load unchanged; for separating what the bone's shape does (the
    trough about the paraspinal columns, validation stops 25-26) from what the peaks do."""
    iy, ix = nearest_cell(case.grid, case.peak_xy_mm[:, 0], case.peak_xy_mm[:, 1])
    t, e = float(case.thickness_mm[iy, ix].max()), float(case.modulus_kpa[iy, ix].max())
    return replace(case, thickness_mm=np.full_like(case.thickness_mm, t), modulus_kpa=np.full_like(case.modulus_kpa, e))


def nodes_guess(prob: SlabContact, grid: Grid, contact: np.ndarray) -> np.ndarray:
    """Active-set guess on the FEM skin nodes from a contact map on the case grid (nearest cell)."""
    iy, ix = nearest_cell(grid, prob.xy_top[0], prob.xy_top[1])
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


def _probe_points(x0: float, y0: float, spacing_mm: float = 0.1) -> np.ndarray:
    """Sample points (2, n) filling the algometer probe's disc (1 cm^2) centred on (x0, y0). [mm]"""
    from ...assess import ALGOMETER_PROBE_AREA_MM2

    rad = np.sqrt(ALGOMETER_PROBE_AREA_MM2 / np.pi)
    v = np.arange(-rad, rad + spacing_mm, spacing_mm)
    X, Y = np.meshgrid(v, v)
    inside = X**2 + Y**2 <= rad * rad
    return np.stack([X[inside] + x0, Y[inside] + y0])


def peak_probe_fast(case: BackSlabCase, pressure_kpa: np.ndarray) -> dict[str, float]:
    """Mean pressure over a 1 cm^2 algometer disc centred on each peak's apex, from a pressure map on the case
    grid (each sample point reads its cell). [kPa]"""
    g = case.grid
    out = {}
    for name, (px, py) in zip(case.peak_names, case.peak_xy_mm, strict=True):
        pts = _probe_points(px, py)
        iy, ix = nearest_cell(g, pts[0], pts[1])
        out[name] = float(np.asarray(pressure_kpa)[iy, ix].mean())
    return out


def probe_pressure_fem(res: Slab3DResult, centres_mm, cauchy: bool = True, n_gauss: int = 8) -> list[float]:
    """Mean FEM contact pressure (Cauchy unless ``cauchy=False``) over a 1 cm^2 algometer disc centred on each of
    ``centres_mm`` (pairs x, y), on the skin at its current position projected onto the horizontal plane
    (mirrored about x = 0 for a symmetric model). [kPa]

    The pressure is the finite-element field, biquadratic on each 9-node skin face, integrated with
    ``n_gauss`` x ``n_gauss`` Gauss points per face (each weighted by its projected current area) over the
    points inside the disc. Interpolating the nodal values linearly instead (as up to stop 19) weights a face's
    corner nodes by 1/4 of its area where the element's own integral gives them 1/9, which reads the
    odd-even nodal pattern that the Q2 skin shows under the tips at large strain as extra pressure (the back
    slab at 37 N: 17.0 against 15.6 kPa, above the largest face mean of 16.4 kPa; see ``solid3d.face_mean_max``).
    """
    from ...assess import ALGOMETER_PROBE_AREA_MM2

    p = np.asarray(res.true_pressure_kpa if cauchy else res.pressure_kpa, dtype=float)
    xy = res.extras.get("skin_xy_current_mm")
    if xy is None:  # no horizontal displacements stored: the undeformed positions
        X, Y = np.meshgrid(res.x_mm, res.y_mm)
        xy = np.stack([X, Y])
    xq, yq, pq, wq = skin_quadrature(np.asarray(xy, dtype=float), p, n_gauss)
    if res.symmetric:
        xq, yq, pq, wq = np.concatenate([xq, -xq]), np.tile(yq, 2), np.tile(pq, 2), np.tile(wq, 2)
    rad2 = ALGOMETER_PROBE_AREA_MM2 / np.pi
    out = []
    for px, py in centres_mm:
        inside = (xq - px) ** 2 + (yq - py) ** 2 <= rad2
        out.append(float((pq[inside] * wq[inside]).sum() / max(wq[inside].sum(), 1e-300)))
    return out


def peak_probe_fem(case: BackSlabCase, res: Slab3DResult, cauchy: bool = True) -> dict[str, float]:
    """The same from a FEM result (:func:`probe_pressure_fem` on each peak's apex). [kPa]"""
    return dict(zip(case.peak_names, probe_pressure_fem(res, case.peak_xy_mm, cauchy), strict=True))


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
        "probe_pressure_kpa": peak_probe_fast(case, res.pressure_kpa),
    }


def case_metrics_fem(case: BackSlabCase, res: Slab3DResult, *, cauchy: bool | None = None) -> dict:
    """The same quantities from a FEM result, from its nodal contact reactions (whole, mirrored slab).

    Each skin node's reaction goes to the peak nearest to where it presses on the tool (as the fast engine's peak
    zones on the tool): its current position for the large-strain model (the frictionless skin slides along the
    tool, by up to 2 mm on the back slab at 74 N, stops 28-29), its reference position for the small-strain model and
    ``contact_point="reference"``, whose contact is taken there. Its region is that of the grid cell its tissue
    came from (reference position: the force through the skin over the spinous processes). Nodes off the midline
    stand for themselves and their mirror image, nodes on it (whose half-model reaction is half the full one)
    count twice. Peak pressure: Cauchy (per deformed area, on the tool) for the large-strain model unless
    ``cauchy=False``, nominal for the linear model.
    """
    from ...anatomy import REGIONS

    if not res.symmetric:
        raise InputError("case metrics expect the symmetric half-slab model")
    X, Y = res.extras["skin_xy_reference_mm"] if res.extras.get("rezoned") else np.meshgrid(res.x_mm, res.y_mm)
    sliding = res.model != "linear" and res.extras.get("contact_point", "current") != "reference"
    Xc, Yc = np.asarray(res.extras["skin_xy_current_mm"], dtype=float) if sliding else (X, Y)
    r = res.reaction_n
    peaks = case.peak_xy_mm
    on_axis = np.isclose(X, 0.0)
    Xc = np.where(on_axis, 0.0, Xc)  # on the symmetry plane (held there; rounding aside)
    lab = _nearest_peak(Xc.ravel(), Yc.ravel(), peaks).reshape(X.shape)
    lab_m = _nearest_peak(-Xc.ravel(), Yc.ravel(), peaks).reshape(X.shape)
    per = np.zeros(len(peaks) + 1)
    np.add.at(per, lab.ravel(), np.where(on_axis, 2 * r, r).ravel())
    np.add.at(per, lab_m.ravel(), np.where(on_axis, 0.0, r).ravel())
    g = case.grid
    iy, ix = nearest_cell(g, X, Y)
    spin = case.region[iy, ix] == REGIONS["SPINOUS"]
    total = float(res.force_n)
    spin_n = float(np.where(on_axis, 2 * r, 2 * r)[spin].sum()) - float(r[spin & on_axis].sum())
    use_cauchy = (res.model == "neo-hookean") if cauchy is None else cauchy
    # bone reaction under the spinous ridge (what the fast engine cannot give): |x| within the SPINOUS band
    bx, by = res.extras["bone_xy_mm"]
    biy, bix = nearest_cell(g, bx, by)
    b_spin = case.region[biy, bix] == REGIONS["SPINOUS"]
    rb = res.extras["bone_reaction_n"]
    b_axis = np.isclose(bx, 0.0)
    bone_spin = float((np.where(b_axis, 2 * rb, 2 * rb) - np.where(b_axis, rb, 0.0))[b_spin].sum())
    return {
        "force_n": total,
        "peak_force_n": {name: float(per[i + 1]) for i, name in enumerate(case.peak_names)},
        "peak_pressure_kpa": res.true_peak_pressure_kpa if use_cauchy else res.peak_pressure_kpa,
        "face_peak_pressure_kpa": res.true_face_peak_pressure_kpa if use_cauchy else face_mean_max(res.pressure_kpa),
        "contact_area_mm2": float(res.contact_area_current_mm2),
        "contact_area_reference_mm2": float(res.contact_area_mm2),
        "spinous_share": spin_n / total,
        "approach_mm": float(res.approach_mm),
        "bone_ridge_share": bone_spin / float(res.bone_force_n),
        "probe_pressure_kpa": peak_probe_fem(case, res, cauchy=use_cauchy),
        "skin_min_stretch": res.skin_min_stretch,
    }


def fem_pressure_on_grid(case: BackSlabCase, res: Slab3DResult, cauchy: bool = False) -> np.ndarray:
    """FEM contact pressure resampled (bilinearly, mirrored about x = 0) onto the case grid, at the skin's
    undeformed positions (on a rezoned mesh, piecewise linearly between its nodes' material points). [kPa]"""
    p = res.true_pressure_kpa if cauchy else res.pressure_kpa
    X, Y = case.grid.mesh()
    pts = np.stack([Y.ravel(), np.abs(X).ravel()], axis=1)
    if res.extras.get("rezoned"):
        from scipy.interpolate import LinearNDInterpolator

        ref = np.asarray(res.extras["skin_xy_reference_mm"], dtype=float)
        f = LinearNDInterpolator(np.stack([ref[1].ravel(), ref[0].ravel()], axis=1), p.ravel(), fill_value=0.0)
        return f(pts).reshape(X.shape)
    f = RegularGridInterpolator((res.y_mm, res.x_mm), p, bounds_error=False, fill_value=0.0)
    return f(pts).reshape(X.shape)


#: Growth of the load increment after a converged step, once a step has been halved (adaptive load stepping:
#: the run goes on with the increment that worked instead of trying the full step again)
GROWTH = 1.5

#: Newton iterations allowed when a rezoned mesh is brought to equilibrium at the load it was laid at (the
#: transferred skin starts off equilibrium: 24 iterations on the back slab at 38 N, stop 22)
REZONE_MAX_NEWTON = 40


def solve_fem_back(
    case: BackSlabCase,
    *,
    model: str = "linear",
    loads_n: list[float] | None = None,
    contact_guess: np.ndarray | None = None,
    verbose: bool | int = False,
    max_cuts: int = 3,
    on_load: Callable[[float, Slab3DResult], None] | None = None,
    checkpoint: str | Path | None = None,
    rezone: bool = False,
    max_rezones: int = 20,
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
    verbose : bool or int
        Print the active-set iterations (``True``), and the Newton iterations too (2).
    max_cuts : int
        Most halvings of a failing load increment in a row (the last converged intermediate load is reported). Once
        a step has been halved, each next increment is 1.5 times the last converged one (``GROWTH``), capped at the
        next requested load; until then the run steps from requested load to requested load.
    on_load : callable, optional
        Called as ``on_load(load_n, result)`` after each requested load converges (for long runs that save as
        they go).
    checkpoint : str or Path, optional
        ``.npz`` file holding the state (displacements, approach, active set) after the last converged load. It is
        rewritten after each load (via a temporary file, so an interrupted write never loses the previous one).
        If it exists and matches the mesh, the run resumes from it and loads up to its load are skipped (they
        are not in the returned list).
    rezone : bool
        When a load step fails although it was halved already, lay a fresh mesh over the last converged state
        (:func:`.rezone3d.rezone_slab`), bring it to equilibrium at that load, and try the step again before
        halving it further (once per converged state; large-strain model only). If the new mesh does not reach
        equilibrium, the old mesh and its state are kept. A step that fails only because it is long is halved as
        before.
    max_rezones : int
        Most rezonings in the run.
    **mesh_kwargs
        Passed to :func:`build_fem_back`.

    Returns
    -------
    list of (load [N], Slab3DResult or None)
        One entry per converged load; on failure the highest converged intermediate load (if new) and then
        ``(load, None)`` for the load that could not be reached (last entry).
    """
    from .rezone3d import rezone_slab
    from .solid3d import _Diverged

    loads = [case.load_n] if loads_n is None else [check_positive("load", f, "N") for f in loads_n]
    prob = build_fem_back(case, model=model, contact_guess=contact_guess, **mesh_kwargs)
    prob.verbose = verbose
    out: list[tuple[float, Slab3DResult | None]] = []
    guess = nodes_guess(prob, case.grid, contact_guess) if contact_guess is not None else None
    last, rezoned_at = 0.0, None
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        last, prob = _load_checkpoint(prob, checkpoint)
        if verbose and last > 0:
            print(f"  resuming from {checkpoint} at {last} N", flush=True)
    step = np.inf  # the largest load increment to try: once a step has failed, 1.5x the last one that converged
    for k, f in enumerate(loads):
        if f <= last:
            continue
        target, cuts = min(f, last + step), 0
        while True:  # adaptive load stepping
            saved = (prob.x.copy(), prob.approach, prob.active.copy())
            reason = "the active set did not settle"
            try:
                ok = prob.solve(0.5 * target, initial_active=guess if (k == 0 and last == 0.0) else None)
            except _Diverged as exc:
                ok, reason = False, str(exc)
            if ok:
                if cuts > 0 or np.isfinite(step):  # stepping below the requested loads since a step failed
                    step = GROWTH * (target - last)
                last, cuts = target, 0
                if target >= f:
                    break
                target = min(f, last + step)
                continue
            prob.x, prob.approach, prob.active = saved
            if rezone and cuts >= 1 and last > 0 and rezoned_at != last and prob.rezones < max_rezones:
                rezoned_at = last
                # the new mesh is first brought to equilibrium at the last converged load (the transfer perturbs
                # the skin); if it does not get there, the old mesh and its converged state are kept
                try:
                    new = rezone_slab(prob)
                    settled = new.solve(0.5 * last, max_newton=REZONE_MAX_NEWTON)
                    why = "its active set did not settle"
                except _Diverged as exc:
                    settled, why = False, str(exc)
                if settled:
                    prob = new
                    if verbose:
                        print(f"  step failed ({reason}); rezoned at {last:g} N (mesh {prob.rezones})", flush=True)
                    continue
                if verbose:
                    print(f"  step failed ({reason}); rezoning at {last:g} N failed ({why})", flush=True)
            cuts += 1
            if cuts > max_cuts:
                break
            target = 0.5 * (last + target)
            if verbose:
                print(f"  step failed ({reason}); trying {target:.2f} N", flush=True)
        if last < f:
            out.append((f, None))
            if last > 0 and (not out[:-1] or out[-2][0] != last):
                out.insert(-1, (last, prob.result(True)))
                if checkpoint is not None:  # the state is back at the highest converged intermediate load
                    _save_checkpoint(prob, checkpoint, last)
            break
        out.append((f, prob.result(True)))
        if checkpoint is not None:
            _save_checkpoint(prob, checkpoint, f)
        if on_load is not None:
            on_load(f, out[-1][1])
    return out


def _save_checkpoint(prob, path: Path, load_n: float) -> None:
    """Write the solver state after a converged load (with a rezoned mesh's reference nodes and layout); the old
    file is replaced only once the new one is complete."""
    tmp = path.with_name(path.stem + ".tmp.npz")
    extra = {}
    if prob.rezoned:
        lx, ly, lf = prob.layout
        extra = {"reference": prob.mesh.doflocs, "rezones": prob.rezones, "layout_x": lx, "layout_y": ly}
        extra["layout_fractions"] = lf
    conv = prob._converged
    if len(conv) == 2 and conv[1][0] == 0.5 * load_n and np.array_equal(conv[1][1], prob.x):
        # the converged state before this one, on the same mesh: a resumed run's predictor starts from both
        extra |= {"x_previous": conv[0][1], "approach_previous": conv[0][2], "load_previous": 2.0 * conv[0][0]}
    np.savez(tmp, x=prob.x, approach=prob.approach, active=prob.active, load_n=load_n, n=prob.n, **extra)
    tmp.replace(path)


def _load_checkpoint(prob, path: Path):
    """Restore the solver state from :func:`_save_checkpoint`.

    Returns ``(load [N], problem)``: the load is 0 when there is no file; the problem is ``prob`` itself, or,
    for a state on a rezoned mesh, a new problem like ``prob`` on that mesh (:func:`.rezone3d.with_reference`).
    """
    from .rezone3d import with_reference
    from .solid3d import _Diverged

    if not path.exists():
        return 0.0, prob
    try:
        with np.load(path) as z:
            n, x, active = int(z["n"]), z["x"], z["active"]
            approach, load_n = float(z["approach"]), float(z["load_n"])
            reference = z["reference"] if "reference" in z.files else None
            layout = (
                tuple(np.asarray(z[k], dtype=float) for k in ("layout_x", "layout_y", "layout_fractions"))
                if "layout_x" in z.files
                else None
            )
            rezones = int(z["rezones"]) if "rezones" in z.files else 0
            previous = (
                (0.5 * float(z["load_previous"]), z["x_previous"], float(z["approach_previous"]))
                if "x_previous" in z.files
                else None
            )
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"checkpoint {path} cannot be read ({exc}); move it away to start afresh") from exc
    if layout is not None and all(
        a.shape == b.shape and np.allclose(a, b, rtol=0.0, atol=1e-12) for a, b in zip(layout, prob.layout, strict=True)
    ):
        layout = None  # the run's own layout
    if reference is not None:
        if reference.ndim != 2 or reference.shape[0] != 3:
            raise InputError(f"checkpoint {path} holds a rezoned mesh of another shape; move it away to start afresh")
        try:
            prob = with_reference(prob, reference, layout)
        except _Diverged as exc:
            raise InputError(f"checkpoint {path}: {exc}; move it away to start afresh") from None
        prob.rezones = rezones
    if n != prob.n or x.shape != prob.x.shape or active.shape != prob.active.shape:
        raise InputError(
            f"checkpoint {path} is for a mesh with {n} unknowns, this mesh has {prob.n}; move it away to start afresh"
        )
    prob.x, prob.approach, prob.active = x.copy(), approach, active.astype(bool)
    if previous is not None and previous[1].shape == x.shape and prob.model_name != "linear":
        prob._converged = [previous, (0.5 * load_n, x.copy(), approach)]
    return load_n, prob
