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
    X: np.ndarray, Y: np.ndarray, x0: float, y0: float, apex_mm: float, tip_radius_mm: float, flank_angle_deg: float
) -> tuple[np.ndarray, ...]:
    """Height of a rounded conical peak (:func:`rounded_peak_mm`) with its first and second derivatives.

    For contact on the true surface normal (:mod:`spinerelease.contact.fem.solid3d`): the sphere
    ``h = apex - R + s``, ``s = sqrt(R^2 - r^2)``, has ``grad h = -(x - x0)/s`` and Hessian
    ``-(I/s + (x - x0)(x - x0)^T / s^3)``; the cone ``h = h_t - (r - r_t) tan(a)`` has
    ``grad h = -tan(a) (x - x0)/r`` and Hessian ``-tan(a) (I/r - (x - x0)(x - x0)^T / r^3)``. The slope is
    continuous where they meet, the curvature jumps (from ``1/R`` to the cone's).

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
    on_cap = r <= r_t
    s = np.sqrt(np.clip(R * R - r * r, (R * np.cos(a)) ** 2, None))  # >= R cos(a) on the cap
    rc = np.maximum(r, r_t)  # the cone branch is used for r > r_t only
    t = np.tan(a)
    h = rounded_peak_mm(X, Y, x0, y0, apex_mm, R, flank_angle_deg)
    hx = np.where(on_cap, -dx / s, -t * dx / rc)
    hy = np.where(on_cap, -dy / s, -t * dy / rc)
    hxx = np.where(on_cap, -(1 / s + dx * dx / s**3), -t * (1 / rc - dx * dx / rc**3))
    hxy = np.where(on_cap, -dx * dy / s**3, t * dx * dy / rc**3)
    hyy = np.where(on_cap, -(1 / s + dy * dy / s**3), -t * (1 / rc - dy * dy / rc**3))
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
