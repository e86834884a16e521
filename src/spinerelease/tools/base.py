"""Rigid tool height fields: records and shape primitives.

A tool is a rigid height field ``z(x, y)`` (top-surface height above the floor, mm) on a regular grid whose
origin is the tool centre, plus its base footprint and a list of its peaks. ``x`` runs across the back, ``y``
along the spine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..errors import InputError, check_positive, check_range
from ..grid import Grid


@dataclass(frozen=True)
class Peak:
    """One peak (contact point) of a tool, in the tool frame.

    Attributes
    ----------
    name : str
    x_mm, y_mm : float
        Position of the apex relative to the tool centre. [mm]
    height_mm : float
        Apex height above the floor. [mm]
    tip_radius_mm : float
        Radius of curvature of the apex. [mm]
    """

    name: str
    x_mm: float
    y_mm: float
    height_mm: float
    tip_radius_mm: float


@dataclass(frozen=True)
class Tool:
    """A rigid massage tool as a height field.

    Attributes
    ----------
    name, description : str
    grid : Grid
        Local grid with the tool centre at (0, 0).
    height_mm : ndarray (ny, nx)
        Top-surface height above the floor; 0 outside the footprint. [mm]
    footprint : ndarray of bool (ny, nx)
        Where the tool exists.
    peaks : tuple of Peak
    sources : tuple of str
        Citation keys of its dimensions.
    parameters : dict
        Parameter values it was built with.
    default_offset_x_mm : float
        Lateral offset at which the tool is meant to be used (0 for tools that straddle the spine; a single
        ball is used on one side). [mm]
    """

    name: str
    description: str
    grid: Grid
    height_mm: np.ndarray = field(repr=False)
    footprint: np.ndarray = field(repr=False)
    peaks: tuple[Peak, ...]
    sources: tuple[str, ...] = ()
    parameters: dict = field(default_factory=dict)
    default_offset_x_mm: float = 0.0

    def __post_init__(self) -> None:
        if self.height_mm.shape != self.grid.shape or self.footprint.shape != self.grid.shape:
            raise InputError("tool height field and footprint must match the tool grid")
        if not np.all(np.isfinite(self.height_mm)):
            raise InputError(f"tool {self.name!r}: height field contains NaN or infinite values")
        if not self.footprint.any():
            raise InputError(f"tool {self.name!r} has an empty footprint")

    @property
    def max_height_mm(self) -> float:
        """Highest point above the floor. [mm]"""
        return float(self.height_mm[self.footprint].max())

    @property
    def size_mm(self) -> tuple[float, float]:
        """Footprint bounding box (width along x, length along y). [mm]"""
        rows = np.flatnonzero(self.footprint.any(axis=1))
        cols = np.flatnonzero(self.footprint.any(axis=0))
        d = self.grid.spacing_mm
        return ((cols[-1] - cols[0] + 1) * d, (rows[-1] - rows[0] + 1) * d)

    def _local_coords(self, grid: Grid, center_x_mm: float, center_y_mm: float) -> tuple[np.ndarray, np.ndarray]:
        X, Y = grid.mesh()
        ix = (X - center_x_mm - self.grid.x0_mm) / self.grid.spacing_mm
        iy = (Y - center_y_mm - self.grid.y0_mm) / self.grid.spacing_mm
        return iy, ix

    def height_on(self, grid: Grid, center_x_mm: float, center_y_mm: float) -> np.ndarray:
        """The tool placed with its centre at (center_x_mm, center_y_mm) of ``grid``. [mm]

        Bilinear resampling (exact where the grids align); ``-inf`` where there is no tool.
        """
        iy, ix = self._local_coords(grid, center_x_mm, center_y_mm)
        h = ndimage.map_coordinates(self.height_mm, [iy, ix], order=1, mode="constant", cval=0.0)
        inside = (
            ndimage.map_coordinates(self.footprint.astype(float), [iy, ix], order=1, mode="constant", cval=0.0) >= 0.5
        )
        return np.where(inside, h, -np.inf)

    def peak_labels_on(self, grid: Grid, center_x_mm: float, center_y_mm: float) -> np.ndarray:
        """Peak zones on ``grid``: 1..n = nearest peak (index + 1) within the tool, 0 = no tool."""
        inside = np.isfinite(self.height_on(grid, center_x_mm, center_y_mm))
        if not self.peaks:
            return inside.astype(np.int32)
        X, Y = grid.mesh()
        d2 = np.stack([(X - center_x_mm - p.x_mm) ** 2 + (Y - center_y_mm - p.y_mm) ** 2 for p in self.peaks])
        return np.where(inside, d2.argmin(axis=0) + 1, 0).astype(np.int32)


def rounded_peak_mm(
    X: np.ndarray, Y: np.ndarray, x0: float, y0: float, apex_mm: float, tip_radius_mm: float, flank_angle_deg: float
) -> np.ndarray:
    """Height of a rounded conical peak: a spherical cap of the tip radius blended tangentially into a cone.

    Parameters
    ----------
    X, Y : array
        Coordinates. [mm]
    x0, y0 : float
        Apex position. [mm]
    apex_mm : float
        Apex height. [mm]
    tip_radius_mm : float
        Radius of the spherical cap. [mm]
    flank_angle_deg : float
        Slope of the cone flank from horizontal (the cap meets the cone where their slopes match). [degrees]

    Returns
    -------
    ndarray
        Height of the peak surface (can be negative far from the apex; combine with ``np.maximum``). [mm]
    """
    R = tip_radius_mm
    a = np.radians(flank_angle_deg)
    r = np.hypot(X - x0, Y - y0)
    r_t = R * np.sin(a)  # where the sphere's slope equals tan(a)
    cap = apex_mm - (R - np.sqrt(np.clip(R * R - r * r, 0, None)))
    h_t = apex_mm - R * (1 - np.cos(a))
    cone = h_t - (r - r_t) * np.tan(a)
    return np.where(r <= r_t, cap, cone)


def rounded_peak_derivatives(
    X: np.ndarray,
    Y: np.ndarray,
    x0: float,
    y0: float,
    apex_mm: float,
    tip_radius_mm: float,
    flank_angle_deg: float,
    blend_mm: float = 0.0,
) -> tuple[np.ndarray, ...]:
    """Height of a rounded conical peak (:func:`rounded_peak_mm`) with its first and second derivatives.

    For contact on the true surface normal (:mod:`spinerelease.contact.fem.solid3d`). The peak is a radial
    profile ``h(r)``: the sphere ``h = apex - R + s``, ``s = sqrt(R^2 - r^2)`` (``h' = -r/s``,
    ``h'' = -R^2/s^3``) up to ``r_t = R sin(a)``, the cone ``h = h_t - (r - r_t) tan(a)`` beyond. Its gradient is
    ``h' e_r`` and its Hessian ``h'' e_r e_r^T + (h'/r)(I - e_r e_r^T)``. The slope is continuous where sphere and
    cone meet, the radial curvature jumps (from ``-1/(R cos^3 a)`` to 0).

    With ``blend_mm > 0`` the two are blended over ``r_t +- blend_mm`` by the quintic smoothstep
    ``S = 10 t^3 - 15 t^4 + 6 t^5`` (``h = h_sphere + S (h_cone - h_sphere)``, both continued across ``r_t``), so
    the surface is C2 there: a numerical smoothing of the contact surface, not a change of the tool (a jump in a
    rigid surface's curvature makes Newton's method for contact on it oscillate; Neto, Oliveira & Menezes 2017).
    The blend is capped at half of ``R - r_t``, so the sphere stays defined across it. The blended surface lies
    between the sphere and its tangent cone; as ``h_cone - h_sphere`` grows as ``(r - r_t)^2``, it differs from the
    sharp one by at most about ``0.01 blend^2 / (R cos^3 a)`` (6.5 um for the PSO-Spine's peak with a 1 mm blend).

    Parameters
    ----------
    X, Y : array
        Coordinates. [mm]
    x0, y0 : float
        Apex position. [mm]
    apex_mm : float
        Apex height. [mm]
    tip_radius_mm : float
        Radius of the spherical cap. [mm]
    flank_angle_deg : float
        Slope of the cone flank from horizontal. [degrees]
    blend_mm : float
        Half width of the C2 blend of cap into flank (0: the sharp construction of :func:`rounded_peak_mm`). [mm]

    Returns
    -------
    tuple of ndarray
        ``h, h_x, h_y, h_xx, h_xy, h_yy``. [mm, -, -, 1/mm, 1/mm, 1/mm]
    """
    R = tip_radius_mm
    a = np.radians(flank_angle_deg)
    dx = np.asarray(X, dtype=float) - x0
    dy = np.asarray(Y, dtype=float) - y0
    r = np.hypot(dx, dy)
    r_t = R * np.sin(a)
    t = np.tan(a)
    if not np.isfinite(blend_mm) or blend_mm < 0:
        raise InputError(f"tip blend must be a finite length >= 0 mm, got {blend_mm}")
    w = min(float(blend_mm), 0.5 * (R - r_t))
    # the sphere, continued to r_t + w (its weight is 0 beyond, where s is clipped to stay finite)
    s = np.sqrt(np.clip(R * R - r * r, R * R - (r_t + w) ** 2, None))
    hs, ps, qs = apex_mm - R + s, -r / s, -(R * R) / s**3  # h, h', h'' of the sphere
    h_t = apex_mm - R * (1 - np.cos(a))
    hc = h_t - (r - r_t) * t  # the cone, continued inwards; h' = -tan(a), h'' = 0
    if w > 0:
        z = np.clip((r - r_t + w) / (2 * w), 0.0, 1.0)
        S = z**3 * (10 - 15 * z + 6 * z * z)
        S1 = 30 * z * z * (1 - z) ** 2 / (2 * w)
        S2 = 60 * z * (1 - z) * (1 - 2 * z) / (2 * w) ** 2
    else:
        z = (r > r_t).astype(float)
        S, S1, S2 = z, np.zeros_like(r), np.zeros_like(r)
    diff, dslope = hc - hs, -t - ps
    h = hs + S * diff
    p = ps + S * dslope + S1 * diff
    q = (1 - S) * qs + 2 * S1 * dslope + S2 * diff
    on_cap = z <= 0.0  # pure sphere (r <= r_t - w): h'/r = -1/s there, also at the apex
    rr = np.where(on_cap, 1.0, r)
    p_r = np.where(on_cap, -1 / s, p / rr)  # h'/r
    m = np.where(on_cap, -1 / s**3, (q - p_r) / rr**2)  # (h'' - h'/r) / r^2 (= -1/s^3 on the sphere)
    hx, hy = p_r * dx, p_r * dy
    hxx = p_r + m * dx * dx
    hxy = m * dx * dy
    hyy = p_r + m * dy * dy
    return h, hx, hy, hxx, hxy, hyy


def ridge_coordinate(Y: np.ndarray, half_length_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """A coordinate with a straight stretch cut out: ``Y`` moved towards 0 by ``half_length_mm``, 0 in between.

    A point peak's profile read at ``(X, ridge_coordinate(Y, c)[0])`` is the same peak drawn out into a straight
    ridge of length ``2 c`` along y (a stadium-shaped blunt-ended peak: a short roller with the peak's rounded
    ends). Its derivative (1 outside the ridge, 0 along it) carries the peak's y derivatives over by the chain
    rule; the second derivative of the map is 0 (it has a kink at ``|Y| = c``, where the peak's y derivatives are
    0 on the apex line, so the profile stays C1 and its y curvature jumps from the tip's to 0).

    Parameters
    ----------
    Y : array
        Coordinate along the ridge. [mm]
    half_length_mm : float
        Half the ridge's length (>= 0). [mm]

    Returns
    -------
    tuple of ndarray
        The moved coordinate [mm] and its derivative ``dY'/dY`` [-].
    """
    if not np.isfinite(half_length_mm) or half_length_mm < 0:
        raise InputError(f"ridge half length must be a finite length >= 0 mm, got {half_length_mm}")
    Y = np.asarray(Y, dtype=float)
    outside = np.abs(Y) > half_length_mm if half_length_mm > 0 else np.ones(Y.shape, dtype=bool)  # 0: the identity
    return np.where(outside, Y - np.sign(Y) * half_length_mm, 0.0), outside.astype(float)


def ridge_peak_derivatives(
    X: np.ndarray,
    Y: np.ndarray,
    ridge_mm: float,
    bend_radius_mm: float,
    tip_radius_mm: float,
    flank_angle_deg: float,
    blend_mm: float = 0.0,
) -> tuple[np.ndarray, ...]:
    """A rounded conical peak (:func:`rounded_peak_derivatives`, apex at height 0) drawn out into a ridge, with its
    first and second derivatives: the peak's radial profile ``h(d)`` of the distance ``d`` to a line of length
    ``ridge_mm`` through the origin along y, straight or bent into a circular arc (a blunt-ended elongated peak: a
    short roller with the peak's rounded cone as its ends, whose contact is a stadium, or a banana if bent).

    Straight: ``h(X, Y')`` with ``Y'`` from :func:`ridge_coordinate`. Bent: the arc's centre is at
    ``(bend_radius_mm, 0)``; along the arc ``d = rho0 - rho`` (``rho`` the distance from the centre), so the
    gradient is ``h'(d) grad d`` and the Hessian ``h''(d) e e^T - (h'(d) / rho)(I - e e^T)`` (``e`` the unit vector
    from the centre, ``grad d = -e``); beyond the arc's ends the round peak about the nearer end.

    Parameters
    ----------
    X, Y : array
        Coordinates. [mm]
    ridge_mm : float
        Length of the apex line (0: the round peak). [mm]
    bend_radius_mm : float
        Radius of the apex line's arc (``inf``: straight; at least ``ridge_mm / pi``, a half circle). [mm]
    tip_radius_mm, flank_angle_deg, blend_mm : float
        The peak (:func:`rounded_peak_derivatives`). [mm, degrees, mm]

    Returns
    -------
    tuple of ndarray
        ``h, h_x, h_y, h_xx, h_xy, h_yy``. [mm, -, -, 1/mm, 1/mm, 1/mm]
    """
    if not np.isfinite(ridge_mm) or ridge_mm < 0:
        raise InputError(f"ridge length must be a finite length >= 0 mm, got {ridge_mm}")
    if np.isnan(bend_radius_mm) or bend_radius_mm < ridge_mm / np.pi or bend_radius_mm <= 0:
        raise InputError(
            f"ridge bend radius must be at least the ridge length / pi ({ridge_mm / np.pi:.3g} mm, a half circle), "
            f"or inf for a straight ridge, got {bend_radius_mm}"
        )
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    c = 0.5 * ridge_mm
    peak = (tip_radius_mm, flank_angle_deg, blend_mm)
    if not np.isfinite(bend_radius_mm) or c == 0:
        yr, dy = ridge_coordinate(Y, c)
        h, hx, hy, hxx, hxy, hyy = rounded_peak_derivatives(X, yr, 0.0, 0.0, 0.0, *peak)
        return h, hx, hy * dy, hxx, hxy * dy, hyy * dy
    r0 = float(bend_radius_mm)
    ex, ey = X - r0, Y
    rho = np.maximum(np.hypot(ex, ey), 1e-9 * r0)
    phi0 = c / r0
    along = np.abs(np.arctan2(ey, -ex)) <= phi0
    ux, uy = ex / rho, ey / rho
    h, hd, _, hdd, _, _ = rounded_peak_derivatives(r0 - rho, np.zeros_like(rho), 0.0, 0.0, 0.0, *peak)
    k = -hd / rho
    mid = (
        h,
        -hd * ux,
        -hd * uy,
        hdd * ux * ux + k * (1 - ux * ux),
        (hdd - k) * ux * uy,
        hdd * uy * uy + k * (1 - uy * uy),
    )
    ends = [
        rounded_peak_derivatives(X, Y, r0 * (1 - np.cos(phi0)), side * r0 * np.sin(phi0), 0.0, *peak)
        for side in (1.0, -1.0)
    ]
    end = tuple(np.where(ey >= 0, a, b) for a, b in zip(*ends, strict=True))
    return tuple(np.where(along, m, e) for m, e in zip(mid, end, strict=True))


def elongated_peak_derivatives(
    X: np.ndarray,
    Y: np.ndarray,
    tip_radius_mm: float,
    flank_angle_deg: float,
    blend_mm: float = 0.0,
    *,
    stretch: float = 1.0,
    ridge_mm: float = 0.0,
    bend_radius_mm: float = np.inf,
) -> tuple[np.ndarray, ...]:
    """An elongated rounded conical peak (apex at the origin, height 0) with its first and second derivatives, one
    of three kinds (the validation's elongated contacts, docs/validation.md, stops 32-33):

    - stretched: the round peak stretched along y, ``h(X, Y / stretch)`` (an elliptical contact);
    - a straight ridge: the apex drawn out along y, ``ridge_mm`` long (:func:`ridge_peak_derivatives`; a stadium);
    - a bent ridge: the same along x, bent into an arc of radius ``bend_radius_mm`` towards +y (a banana; it lies
      along x so that it stays symmetric about the plane x = 0, the 3D FEM's half model).

    Parameters
    ----------
    X, Y : array
        Coordinates. [mm]
    tip_radius_mm, flank_angle_deg, blend_mm : float
        The peak (:func:`rounded_peak_derivatives`). [mm, degrees, mm]
    stretch : float
        Stretch along y, 1 to 20 (not with a ridge). [-]
    ridge_mm, bend_radius_mm : float
        The ridge's length and its arc's radius (``inf``: straight). [mm]

    Returns
    -------
    tuple of ndarray
        ``h, h_x, h_y, h_xx, h_xy, h_yy``. [mm, -, -, 1/mm, 1/mm, 1/mm]
    """
    s_y = check_range("peak stretch", stretch, 1.0, 20.0, "")
    if s_y != 1.0 and ridge_mm != 0.0:
        raise InputError("an elongated peak is either stretched or drawn out into a ridge, not both")
    peak = (tip_radius_mm, flank_angle_deg, blend_mm)
    straight = bool(np.isinf(bend_radius_mm) and bend_radius_mm > 0)
    if ridge_mm != 0.0 and straight:
        return ridge_peak_derivatives(X, Y, ridge_mm, np.inf, *peak)
    if ridge_mm != 0.0:  # bent: along x, arc towards +y (the ridge function's frame with x and y swapped)
        h, hy, hx, hyy, hxy, hxx = ridge_peak_derivatives(Y, X, ridge_mm, bend_radius_mm, *peak)
        return h, hx, hy, hxx, hxy, hyy
    if not straight:
        raise InputError(f"a bend radius needs a ridge to bend (ridge length 0, bend radius {bend_radius_mm})")
    h, hx, hy, hxx, hxy, hyy = rounded_peak_derivatives(X, np.asarray(Y, dtype=float) / s_y, 0.0, 0.0, 0.0, *peak)
    return h, hx, hy / s_y, hxx, hxy / s_y, hyy / s_y**2


def ellipsoid_cap_mm(
    X: np.ndarray,
    Y: np.ndarray,
    x0: float,
    y0: float,
    apex_mm: float,
    semi_x_mm: float,
    semi_y_mm: float,
    semi_z_mm: float,
) -> np.ndarray:
    """Upper surface of an ellipsoid with its top at ``apex_mm``; -inf outside its outline. [mm]"""
    q = 1 - ((X - x0) / semi_x_mm) ** 2 - ((Y - y0) / semi_y_mm) ** 2
    return np.where(q >= 0, apex_mm - semi_z_mm + semi_z_mm * np.sqrt(np.clip(q, 0, None)), -np.inf)


def tool_grid(width_mm: float, length_mm: float, spacing_mm: float) -> Grid:
    """A grid centred on the tool with an odd number of cells each way, so a cell centre sits at (0, 0)."""
    g = Grid.centered(width_mm, length_mm, spacing_mm)
    nx, ny = g.nx | 1, g.ny | 1
    return Grid(nx, ny, spacing_mm, -(nx - 1) * spacing_mm / 2, -(ny - 1) * spacing_mm / 2)


def validate_dimension(name: str, value: float, lo: float = 0.0, hi: float = 2000.0) -> float:
    """A positive, finite tool dimension in a plausible range. [mm]"""
    v = check_positive(name, value, "mm")
    return check_range(name, v, lo, hi, "mm")
