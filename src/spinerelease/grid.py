"""Regular 2-D grids shared by tools, the back and the contact solver.

Coordinates are in millimetres. ``x`` runs across the back (negative = the person's left, positive = right),
``y`` runs along the spine (0 at the T1 spinous process, increasing caudally towards the pelvis) for the back,
and is centred on the tool for a tool. Arrays on a grid have shape ``(ny, nx)`` and are indexed ``[iy, ix]``;
values live at cell centres ``x = x0_mm + ix * spacing_mm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError, check_memory, check_positive

#: Most grid points any single field may have (2-D); larger requests are refused before allocation.
MAX_GRID_POINTS = 4096 * 4096


@dataclass(frozen=True)
class Grid:
    """A regular grid of ``ny x nx`` cells of side ``spacing_mm`` whose first cell centre is (x0_mm, y0_mm)."""

    nx: int
    ny: int
    spacing_mm: float = 1.0
    x0_mm: float = 0.0
    y0_mm: float = 0.0

    def __post_init__(self) -> None:
        check_positive("grid spacing", self.spacing_mm, "mm")
        if int(self.nx) != self.nx or int(self.ny) != self.ny or self.nx < 2 or self.ny < 2:
            raise InputError(f"grid size must be whole numbers >= 2, got {self.nx} x {self.ny}")
        if self.nx * self.ny > MAX_GRID_POINTS:
            raise InputError(
                f"grid of {self.nx} x {self.ny} points is larger than the {MAX_GRID_POINTS:,} points allowed; "
                "use a coarser spacing or a smaller domain"
            )
        # the contact solver needs ~40 float64 arrays of the padded (4x) size: refuse early
        check_memory("this grid", self.nx * self.ny * 4 * 8 * 40)

    @classmethod
    def centered(
        cls, width_mm: float, length_mm: float, spacing_mm: float = 1.0, center_mm: tuple[float, float] = (0.0, 0.0)
    ) -> Grid:
        """Grid covering ``width_mm`` (x) by ``length_mm`` (y) centred on ``center_mm``."""
        check_positive("grid width", width_mm, "mm")
        check_positive("grid length", length_mm, "mm")
        check_positive("grid spacing", spacing_mm, "mm")
        nx = max(2, int(round(width_mm / spacing_mm)))
        ny = max(2, int(round(length_mm / spacing_mm)))
        if nx * ny > MAX_GRID_POINTS:
            raise InputError(
                f"a {width_mm:g} x {length_mm:g} mm grid at {spacing_mm:g} mm spacing has {nx * ny:,} points, "
                f"more than the {MAX_GRID_POINTS:,} allowed; use a coarser spacing"
            )
        x0 = center_mm[0] - (nx - 1) * spacing_mm / 2
        y0 = center_mm[1] - (ny - 1) * spacing_mm / 2
        return cls(nx=nx, ny=ny, spacing_mm=float(spacing_mm), x0_mm=x0, y0_mm=y0)

    @property
    def shape(self) -> tuple[int, int]:
        """Array shape ``(ny, nx)``."""
        return (self.ny, self.nx)

    @property
    def x_mm(self) -> np.ndarray:
        """Cell-centre x coordinates, shape ``(nx,)``. [mm]"""
        return self.x0_mm + self.spacing_mm * np.arange(self.nx)

    @property
    def y_mm(self) -> np.ndarray:
        """Cell-centre y coordinates, shape ``(ny,)``. [mm]"""
        return self.y0_mm + self.spacing_mm * np.arange(self.ny)

    @property
    def cell_area_mm2(self) -> float:
        """Area of one cell. [mm^2]"""
        return self.spacing_mm**2

    @property
    def extent_mm(self) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of the cell edges, for ``imshow(extent=...)``. [mm]"""
        h = self.spacing_mm / 2
        return (self.x0_mm - h, self.x_mm[-1] + h, self.y0_mm - h, self.y_mm[-1] + h)

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinate arrays ``(X, Y)`` of shape ``(ny, nx)``. [mm]"""
        return np.meshgrid(self.x_mm, self.y_mm)

    def shifted(self, dx_mm: float, dy_mm: float) -> Grid:
        """The same grid translated by (dx_mm, dy_mm)."""
        return Grid(self.nx, self.ny, self.spacing_mm, self.x0_mm + dx_mm, self.y0_mm + dy_mm)
