"""Pressure-map metrics: per-peak and per-region force, peak/mean pressure, contact area, centre of force.

These are the quantities a pressure-mapping system (e.g. a Tekscan or Novel sensor mat) reports for a
contact: peak pressure, mean pressure over the loaded area, contact area, centre of force, plus the split of
force between peaks of the tool and between anatomical regions (muscle vs bone). All functions are pure and
take plain arrays on a regular grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..contact.solver import label_forces_n
from ..errors import InputError

__all__ = ["PressureSummary", "label_forces_n", "summarize_pressure", "threshold_ratio"]

#: Cells with pressure above this count as loaded (contact area, mean pressure); 0 = every cell the contact
#: solver put in contact. A reporting choice, not a physical constant. [kPa]
DEFAULT_CONTACT_THRESHOLD_KPA = 0.0


@dataclass(frozen=True)
class PressureSummary:
    """Tekscan-style summary of one pressure map (or one part of it).

    Attributes
    ----------
    force_n : float
        Integral of pressure over the area. [N]
    peak_pressure_kpa : float
        Largest pressure. [kPa]
    mean_pressure_kpa : float
        Force divided by the loaded (contact) area, i.e. the mean over loaded cells. [kPa]
    contact_area_mm2 : float
        Area of cells with pressure above the contact threshold. [mm^2]
    center_of_force_mm : tuple of float
        Pressure-weighted centroid (x, y); NaN when unloaded. [mm]
    """

    force_n: float
    peak_pressure_kpa: float
    mean_pressure_kpa: float
    contact_area_mm2: float
    center_of_force_mm: tuple[float, float]


def summarize_pressure(
    pressure_kpa: np.ndarray,
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    cell_area_mm2: float,
    mask: np.ndarray | None = None,
    contact_threshold_kpa: float = DEFAULT_CONTACT_THRESHOLD_KPA,
) -> PressureSummary:
    """Summarize a pressure map, optionally restricted to ``mask``.

    Parameters
    ----------
    pressure_kpa : array (ny, nx)
        Contact pressure, >= 0. [kPa]
    x_mm, y_mm : array (nx,), (ny,)
        Cell-centre coordinates. [mm]
    cell_area_mm2 : float
        Area of one cell. [mm^2]
    mask : bool array (ny, nx), optional
        Cells to include (default all).
    contact_threshold_kpa : float
        Cells with pressure above this count as loaded. [kPa]

    Returns
    -------
    PressureSummary
    """
    p = np.asarray(pressure_kpa, dtype=float)
    if p.ndim != 2 or p.shape != (len(y_mm), len(x_mm)):
        raise InputError(f"pressure map shape {p.shape} does not match the grid ({len(y_mm)}, {len(x_mm)})")
    if mask is not None:
        p = np.where(mask, p, 0.0)
    loaded = p > contact_threshold_kpa
    force_kpa_mm2 = float(p.sum() * cell_area_mm2)
    force_n = force_kpa_mm2 * 1e-3
    area = float(loaded.sum() * cell_area_mm2)
    peak = float(p.max()) if p.size else 0.0
    mean = force_kpa_mm2 / area if area > 0 else 0.0
    if force_kpa_mm2 > 0:
        cx = float((p.sum(axis=0) * x_mm).sum() / p.sum())
        cy = float((p.sum(axis=1) * y_mm).sum() / p.sum())
    else:
        cx = cy = float("nan")
    return PressureSummary(force_n, peak, mean, area, (cx, cy))


def threshold_ratio(pressure_kpa: np.ndarray, threshold_kpa: np.ndarray) -> np.ndarray:
    """Pressure as a fraction of the local pressure-pain threshold (1 = at threshold). [-]"""
    t = np.asarray(threshold_kpa, dtype=float)
    if np.any(t <= 0):
        raise InputError("pain thresholds must be positive")
    return np.asarray(pressure_kpa, dtype=float) / t
