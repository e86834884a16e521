"""Built-in parametric tools: PSO-Spine, PSO-Rite, foam roller, lacrosse ball, peanut ball, therapist thumbs.

Every dimension default comes from ``data/tools.yaml`` (value, plausible range, source); every function
takes the dimensions as parameters so designers can change them. Coordinates: x across the back, y along the
spine, origin at the tool centre; heights above the floor.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import params
from ..errors import InputError, check_range
from .base import (
    Peak,
    Tool,
    ellipsoid_cap_mm,
    rounded_peak_derivatives,
    rounded_peak_mm,
    tool_grid,
    validate_dimension,
)


def _p(key: str) -> float:
    return float(params.load("tools").value(key))


def _src(*keys: str) -> tuple[str, ...]:
    ps = params.load("tools")
    out: list[str] = []
    for k in keys:
        for s in ps.get(k).source.split("+"):
            if s not in out:
                out.append(s)
    return tuple(out)


def pso_spine(
    spacing_mm: float = 1.0,
    peak_height_mm: float | None = None,
    peak_spacing_mm: float | None = None,
    tip_radius_mm: float | None = None,
    row_spacing_mm: float | None = None,
    center_relief_mm: float | None = None,
    n_peaks: int = 5,
    flank_angle_deg: float = 55.0,
    base_height_mm: float = 25.0,
) -> Tool:
    """The PSO-Spine: a rigid block with a stable base and rounded peaks either side of a central relief.

    Layout (``n_peaks = 5``): two pairs of peaks at x = +-peak_spacing/2 (on the paraspinal muscle columns),
    one pair above the other at y = +-row_spacing/2, and a fifth, lower central peak in the channel
    (``center_relief_mm`` below the side peaks) so no full-height peak sits on the spinous processes.
    ``n_peaks = 4`` drops the central peak; ``n_peaks = 6`` or more adds rows of side pairs (even) or keeps
    the central peak (odd).

    Parameters
    ----------
    spacing_mm : float
        Grid spacing. [mm]
    peak_height_mm : float, optional
        Apex height of the side peaks above the floor (default from ``tools.yaml``). [mm]
    peak_spacing_mm : float, optional
        Distance across the back between left and right peaks (default 2 x lateral offset). [mm]
    tip_radius_mm : float, optional
        Apex radius of curvature. [mm]
    row_spacing_mm : float, optional
        Distance along the spine between rows of side peaks. [mm]
    center_relief_mm : float, optional
        How much lower the central peak is than the side peaks. [mm]
    n_peaks : int
        Number of peaks, 2..9.
    flank_angle_deg : float
        Flank slope of the peaks from horizontal. [degrees]
    base_height_mm : float
        Height of the flat base block. [mm]

    Notes
    -----
    The manufacturer publishes the concept (five rounded peaks, stable base, central relief) but no
    dimensions; peak positions are matched to the paraspinal columns (Bogduk 2005) and the other figures are
    estimates exposed as parameters (see ``data/tools.yaml``).
    """
    h = validate_dimension("peak height", peak_height_mm or _p("pso_spine_peak_height"), 10, 300)
    sp = validate_dimension("peak spacing", peak_spacing_mm or 2 * _p("pso_spine_peak_lateral_offset"), 10, 300)
    R = validate_dimension("tip radius", tip_radius_mm or _p("pso_spine_tip_radius"), 1, 100)
    rs = validate_dimension("row spacing", row_spacing_mm or _p("pso_spine_row_spacing"), 5, 300)
    relief = validate_dimension(
        "central relief", center_relief_mm if center_relief_mm is not None else _p("pso_spine_center_relief"), 0.0, 300
    )
    fa = check_range("flank angle", flank_angle_deg, 20, 80, "degrees")
    bh = validate_dimension("base height", base_height_mm, 1, 300)
    if int(n_peaks) != n_peaks or not 2 <= n_peaks <= 9:
        raise InputError(f"number of peaks must be a whole number from 2 to 9, got {n_peaks}")
    if bh >= h:
        raise InputError(f"base height ({bh:g} mm) must be below the peak height ({h:g} mm)")
    n_pairs = n_peaks // 2
    has_center = n_peaks % 2 == 1
    ys = (np.arange(n_pairs) - (n_pairs - 1) / 2) * rs
    peaks: list[Peak] = []
    for j, y in enumerate(ys):
        row = "upper" if (n_pairs == 2 and j == 0) else "lower" if (n_pairs == 2 and j == 1) else f"row{j + 1}"
        peaks.append(Peak(f"{row} left", -sp / 2, float(y), h, R))
        peaks.append(Peak(f"{row} right", sp / 2, float(y), h, R))
    if has_center:
        if relief >= h - bh:
            raise InputError("central relief must leave the central peak above the base")
        peaks.append(Peak("centre", 0.0, 0.0, h - relief, R))
    reach = (h - bh) / np.tan(np.radians(fa)) + R
    width = sp + 2 * reach + 10
    length = (float(np.ptp(ys)) if len(ys) else 0.0) + 2 * reach + 10
    tool = _assemble(
        "pso-spine",
        "PSO-Spine: block with rounded peaks either side of a central relief for the spine",
        spacing_mm,
        width,
        length,
        bh,
        peaks,
        fa,
        _src(
            "pso_spine_peak_height",
            "pso_spine_tip_radius",
            "pso_spine_peak_lateral_offset",
            "pso_spine_row_spacing",
            "pso_spine_center_relief",
        ),
        dict(
            peak_height_mm=h,
            peak_spacing_mm=sp,
            tip_radius_mm=R,
            row_spacing_mm=rs,
            center_relief_mm=relief,
            n_peaks=n_peaks,
            flank_angle_deg=fa,
            base_height_mm=bh,
        ),
    )
    return tool


def pso_rite(
    spacing_mm: float = 1.0,
    peak_height_mm: float | None = None,
    peak_spacing_mm: float | None = None,
    tip_radius_mm: float | None = None,
    flank_angle_deg: float = 60.0,
    base_height_mm: float = 30.0,
) -> Tool:
    """The PSO-Rite: two deep, concentrated peaks either side of a central groove (made for the psoas).

    Parameters as :func:`pso_spine` (two peaks at y = 0). Defaults from ``data/tools.yaml``.
    """
    h = validate_dimension("peak height", peak_height_mm or _p("pso_rite_peak_height"), 10, 300)
    sp = validate_dimension("peak spacing", peak_spacing_mm or 2 * _p("pso_rite_peak_lateral_offset"), 10, 300)
    R = validate_dimension("tip radius", tip_radius_mm or _p("pso_rite_tip_radius"), 1, 100)
    fa = check_range("flank angle", flank_angle_deg, 20, 80, "degrees")
    bh = validate_dimension("base height", base_height_mm, 1, 300)
    if bh >= h:
        raise InputError(f"base height ({bh:g} mm) must be below the peak height ({h:g} mm)")
    peaks = [Peak("left", -sp / 2, 0.0, h, R), Peak("right", sp / 2, 0.0, h, R)]
    reach = (h - bh) / np.tan(np.radians(fa)) + R
    return _assemble(
        "pso-rite",
        "PSO-Rite: two deep, concentrated peaks (psoas tool)",
        spacing_mm,
        sp + 2 * reach + 10,
        2 * reach + 10,
        bh,
        peaks,
        fa,
        _src("pso_rite_peak_height", "pso_rite_tip_radius", "pso_rite_peak_lateral_offset"),
        dict(peak_height_mm=h, peak_spacing_mm=sp, tip_radius_mm=R, flank_angle_deg=fa, base_height_mm=bh),
    )


def _assemble(
    name: str,
    description: str,
    spacing_mm: float,
    width_mm: float,
    length_mm: float,
    base_mm: float,
    peaks: list[Peak],
    flank_angle_deg: float,
    sources: tuple[str, ...],
    parameters: dict,
) -> Tool:
    grid = tool_grid(width_mm, length_mm, spacing_mm)
    X, Y = grid.mesh()
    z = np.full(grid.shape, base_mm)
    for pk in peaks:
        z = np.maximum(z, rounded_peak_mm(X, Y, pk.x_mm, pk.y_mm, pk.height_mm, pk.tip_radius_mm, flank_angle_deg))
    foot = np.ones(grid.shape, dtype=bool)
    return Tool(name, description, grid, z, foot, tuple(peaks), sources, parameters)


def has_peaked_surface(tool: Tool) -> bool:
    """Whether ``tool`` was built by :func:`_assemble` (a flat base with rounded conical peaks), so that
    :func:`peaked_surface_derivatives` gives its surface exactly."""
    return bool(tool.peaks) and {"flank_angle_deg", "base_height_mm"} <= set(tool.parameters)


def peaked_surface_derivatives(
    tool: Tool, x_mm: np.ndarray, y_mm: np.ndarray, blend_mm: float = 0.0, crease_mm: float = 0.0
) -> tuple[np.ndarray, ...]:
    """Height of a tool built as a flat base with rounded conical peaks (PSO-Spine, PSO-Rite) and its
    derivatives, in the tool frame, from the same construction as its height field (``max(base, peaks)``,
    :func:`rounded_peak_derivatives`); for contact on the true normal (``contact.fem``). ``blend_mm`` blends each
    tip into its flank so the surface is C2 there (see :func:`rounded_peak_derivatives`). [mm]

    ``crease_mm > 0`` replaces the ``max`` by a C2 smooth maximum (:func:`smooth_max_derivatives`) over that
    height difference, rounding the creases where two peaks' flanks meet or a flank meets the base (the surface
    rises by at most ``crease_mm / 6`` on a crease). [mm]

    Returns
    -------
    tuple of ndarray
        ``h, h_x, h_y, h_xx, h_xy, h_yy`` [mm, -, -, 1/mm, 1/mm, 1/mm], the shape of ``x_mm``.
    """
    if not has_peaked_surface(tool):
        raise InputError(f"tool {tool.name!r} is not a base with rounded conical peaks; no smooth surface")
    if not np.isfinite(crease_mm) or crease_mm < 0:
        raise InputError(f"crease rounding must be a finite height >= 0 mm, got {crease_mm}")
    par = tool.parameters
    x = np.asarray(x_mm, dtype=float)
    y = np.asarray(y_mm, dtype=float)
    out = [np.full(x.shape, float(par["base_height_mm"]))] + [np.zeros(x.shape) for _ in range(5)]
    for pk in tool.peaks:
        d = rounded_peak_derivatives(
            x, y, pk.x_mm, pk.y_mm, pk.height_mm, pk.tip_radius_mm, par["flank_angle_deg"], blend_mm
        )
        if crease_mm > 0:
            out = list(smooth_max_derivatives(out, d, crease_mm))
        else:
            higher = d[0] > out[0]
            out = [np.where(higher, new, old) for new, old in zip(d, out, strict=True)]
    return tuple(out)


def smooth_max_derivatives(a: tuple, b: tuple, k_mm: float) -> tuple[np.ndarray, ...]:
    """C2 smooth maximum of two surfaces with their derivatives.

    ``max(a, b) + k/6 (1 - |a - b|/k)^3`` where ``|a - b| < k`` (the cubic polynomial smooth minimum of
    Quilez 2013, with the sign turned): equal to ``max(a, b)`` where the surfaces are ``k`` or more apart, at
    most ``k/6`` above it on the crease itself. As ``(a + b)/2 + psi(a - b)`` with ``psi' = sign(d)/2
    (1 - (1 - |d|/k)^2)`` and ``psi'' = (1 - |d|/k)/k`` (both 0 at ``|d| = k``), its gradient is
    ``(grad a + grad b)/2 + psi' (grad a - grad b)`` and its Hessian ``(H_a + H_b)/2 + psi' (H_a - H_b) + psi''
    (grad a - grad b)(grad a - grad b)^T``.

    Parameters
    ----------
    a, b : tuple of ndarray
        ``(h, h_x, h_y, h_xx, h_xy, h_yy)`` of each surface. [mm, -, -, 1/mm, 1/mm, 1/mm]
    k_mm : float
        Height difference over which they are blended. [mm]

    Returns
    -------
    tuple of ndarray
        ``h, h_x, h_y, h_xx, h_xy, h_yy`` of the smooth maximum.
    """
    d = a[0] - b[0]
    m = np.clip(1.0 - np.abs(d) / k_mm, 0.0, None)
    s = np.sign(d)
    p1 = 0.5 * s * (1.0 - m * m)  # psi'
    p2 = m / k_mm  # psi''
    gx, gy, hxx, hxy, hyy = (0.5 * (u + v) + p1 * (u - v) for u, v in zip(a[1:], b[1:], strict=True))
    ex, ey = a[1] - b[1], a[2] - b[2]
    h = np.maximum(a[0], b[0]) + k_mm / 6.0 * m**3
    return h, gx, gy, hxx + p2 * ex * ex, hxy + p2 * ex * ey, hyy + p2 * ey * ey


def foam_roller(spacing_mm: float = 1.0, diameter_mm: float | None = None, length_mm: float | None = None) -> Tool:
    """A cylindrical foam roller lying across the back (axis along x). Rigid (a firm roller).

    Parameters
    ----------
    diameter_mm : float, optional
        Default 152.4 mm (6 in). [mm]
    length_mm : float, optional
        Default 305 mm (12 in). [mm]
    """
    d = validate_dimension("roller diameter", diameter_mm or _p("foam_roller_diameter"), 20, 400)
    L = validate_dimension("roller length", length_mm or _p("foam_roller_length"), 20, 1500)
    grid = tool_grid(L, d, spacing_mm)
    X, Y = grid.mesh()
    R = d / 2
    z = R + np.sqrt(np.clip(R * R - Y * Y, 0, None))
    foot = np.abs(Y) <= R
    return Tool(
        "foam-roller",
        "Foam roller (cylinder across the back)",
        grid,
        np.where(foot, z, 0.0),
        foot,
        (Peak("roller", 0.0, 0.0, d, R),),
        _src("foam_roller_diameter", "foam_roller_length"),
        dict(diameter_mm=d, length_mm=L),
    )


def _balls(
    name: str,
    description: str,
    spacing_mm: float,
    d: float,
    xs: list[float],
    names: list[str],
    sources: tuple[str, ...],
    offset: float,
) -> Tool:
    R = d / 2
    width = (max(xs) - min(xs)) + d + 2 * spacing_mm
    grid = tool_grid(width, d + 2 * spacing_mm, spacing_mm)
    X, Y = grid.mesh()
    z = np.full(grid.shape, -np.inf)
    for x0 in xs:
        q = R * R - (X - x0) ** 2 - Y**2
        z = np.maximum(z, np.where(q >= 0, R + np.sqrt(np.clip(q, 0, None)), -np.inf))
    foot = np.isfinite(z)
    peaks = tuple(Peak(n, x0, 0.0, d, R) for n, x0 in zip(names, xs, strict=True))
    return Tool(
        name,
        description,
        grid,
        np.where(foot, z, 0.0),
        foot,
        peaks,
        sources,
        dict(diameter_mm=d),
        default_offset_x_mm=offset,
    )


def lacrosse_ball(spacing_mm: float = 1.0, diameter_mm: float | None = None, offset_x_mm: float | None = None) -> Tool:
    """A lacrosse ball (rigid sphere), used on one side of the spine (default on the right erector column)."""
    d = validate_dimension("ball diameter", diameter_mm or _p("lacrosse_ball_diameter"), 10, 300)
    off = offset_x_mm if offset_x_mm is not None else _p("pso_spine_peak_lateral_offset")
    return _balls(
        "lacrosse-ball",
        "Lacrosse ball (one side of the spine)",
        spacing_mm,
        d,
        [0.0],
        ["ball"],
        _src("lacrosse_ball_diameter", "pso_spine_peak_lateral_offset"),
        float(off),
    )


def peanut_ball(
    spacing_mm: float = 1.0, diameter_mm: float | None = None, center_distance_mm: float | None = None
) -> Tool:
    """Peanut / double ball: two lacrosse-size balls joined, straddling the spine.

    ``center_distance_mm`` defaults to one diameter (two balls touching), as when two lacrosse balls are taped
    together.
    """
    d = validate_dimension("ball diameter", diameter_mm or _p("lacrosse_ball_diameter"), 10, 300)
    c = validate_dimension("ball centre distance", center_distance_mm or d, 0.5 * d, 4 * d)
    return _balls(
        "peanut-ball",
        "Peanut / double ball straddling the spine",
        spacing_mm,
        d,
        [-c / 2, c / 2],
        ["left", "right"],
        _src("lacrosse_ball_diameter"),
        0.0,
    )


def therapist_hands(
    spacing_mm: float = 1.0,
    thumb_breadth_mm: float | None = None,
    thumb_length_mm: float | None = None,
    lateral_offset_mm: float | None = None,
) -> Tool:
    """A therapist's two thumbs pressing either side of the spine (reference for the PSO-Spine).

    Each thumb tip is the upper half of an ellipsoid (breadth across the back, length along the spine, depth
    half the breadth). The thumbs are treated as rigid, which overestimates peak pressure compared with a
    real thumb pulp (stated limitation).
    """
    b = validate_dimension("thumb breadth", thumb_breadth_mm or _p("thumb_breadth"), 5, 60)
    L = validate_dimension("thumb length", thumb_length_mm or _p("thumb_distal_length"), 5, 80)
    off = validate_dimension("thumb offset", lateral_offset_mm or _p("thumb_lateral_offset"), 5, 100)
    apex = 40.0  # height of the thumb tips in the tool frame (arbitrary: only relative heights matter)
    grid = tool_grid(2 * off + b + 4 * spacing_mm, L + 4 * spacing_mm, spacing_mm)
    X, Y = grid.mesh()
    z = np.maximum(
        ellipsoid_cap_mm(X, Y, -off, 0.0, apex, b / 2, L / 2, b / 2),
        ellipsoid_cap_mm(X, Y, off, 0.0, apex, b / 2, L / 2, b / 2),
    )
    foot = np.isfinite(z)
    r_tip = (b / 2) ** 2 / (b / 2)  # apex curvature radius across: a^2/c with c = a
    peaks = (Peak("left thumb", -off, 0.0, apex, r_tip), Peak("right thumb", off, 0.0, apex, r_tip))
    return Tool(
        "therapist-hands",
        "Therapist's two thumbs either side of the spine (reference)",
        grid,
        np.where(foot, z, 0.0),
        foot,
        peaks,
        _src("thumb_breadth", "thumb_distal_length", "thumb_lateral_offset"),
        dict(thumb_breadth_mm=b, thumb_length_mm=L, lateral_offset_mm=off),
    )


BUILTIN: dict[str, Callable[..., Tool]] = {
    "pso-spine": pso_spine,
    "pso-rite": pso_rite,
    "foam-roller": foam_roller,
    "lacrosse-ball": lacrosse_ball,
    "peanut-ball": peanut_ball,
    "therapist-hands": therapist_hands,
}


def list_tools() -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in tool."""
    return [(n, (f.__doc__ or "").strip().splitlines()[0]) for n, f in BUILTIN.items()]


def get_tool(name: str, spacing_mm: float = 1.0, **parameters: float) -> Tool:
    """A built-in tool by name, with optional parameters of its function."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in BUILTIN:
        raise InputError(f"unknown tool {name!r}; built-in tools: {', '.join(BUILTIN)}")
    func = BUILTIN[key]
    import inspect

    allowed = set(inspect.signature(func).parameters) - {"spacing_mm"}
    bad = set(parameters) - allowed
    if bad:
        raise InputError(
            f"tool {key!r} has no parameter(s) {', '.join(sorted(bad))}; parameters: {', '.join(sorted(allowed))}"
        )
    return func(spacing_mm=spacing_mm, **parameters)
