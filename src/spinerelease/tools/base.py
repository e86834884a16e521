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
