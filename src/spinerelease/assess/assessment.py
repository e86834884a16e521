"""Assessment of one contact solution: where the force goes, how it compares with pain thresholds, verdict.

The pressure-pain threshold (PPT) of algometry studies is the *mean pressure under a probe* (usually a 1 cm^2
flat disc) at which pressure first becomes painful. A boundary-element pressure map resolves much finer
detail than the probe, so comparing a single 1 mm^2 cell with the PPT would be inconsistent with how the
threshold was measured. :func:`probe_averaged_pressure` therefore averages the pressure over a disc of the
probe's area centred on every cell, and the threshold ratio uses that average (the unaveraged peak is reported
as well).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..errors import InputError, check_positive
from .metrics import PressureSummary, label_forces_n, summarize_pressure

#: Default probe area of pressure algometers (1 cm^2 flat rubber tip, e.g. Fischer 1987). [mm^2]
ALGOMETER_PROBE_AREA_MM2 = 100.0

#: Default tolerated share of the tool's force on the spinous processes before the verdict says "on bone".
#: A design tolerance chosen for this tool (the PSO-Spine's aim is no load on the spinous processes), not a
#: physiological constant; a parameter of :func:`assess`. [-]
DEFAULT_MAX_BONE_SHARE = 0.05

VERDICT_OK = "on muscle, within tolerance"
VERDICT_TOO_MUCH = "too much pressure"
VERDICT_ON_BONE = "peak on bone"


@dataclass(frozen=True)
class PeakAssessment:
    """Metrics of one peak of the tool (the tool area nearest to that peak)."""

    name: str
    summary: PressureSummary
    region_forces_n: dict[str, float]
    max_threshold_ratio: float
    on_bone_share: float
    max_compression: float = float("nan")


@dataclass(frozen=True)
class Assessment:
    """Everything :func:`assess` computes for one contact solution.

    Attributes
    ----------
    summary : PressureSummary
        Whole-tool summary (force, peak and mean pressure, contact area, centre of force).
    peaks : tuple of PeakAssessment
        Per-peak metrics, in the tool's peak order.
    region_forces_n : dict
        Force per anatomical region name. [N]
    muscle_force_n, bone_force_n, spinous_force_n : float
        Force on muscle regions, on all bony regions, on the spinous processes. [N]
    spinous_share : float
        spinous_force_n / total force. [-]
    probe_peak_kpa : float
        Largest probe-averaged pressure (comparable with algometer thresholds). [kPa]
    max_threshold_ratio : float
        Largest ratio of probe-averaged pressure to the local pressure-pain threshold. [-]
    threshold_margin : float
        1 - max_threshold_ratio (positive = below threshold everywhere). [-]
    verdict : str
        One of ``VERDICT_OK``, ``VERDICT_TOO_MUCH``, ``VERDICT_ON_BONE``.
    advice : list of str
        Advice sentences (filled with computed corrections by :mod:`spinerelease.assess.advice`).
    max_compression : float
        Largest tissue compression (indentation over tissue thickness) under the tool; nan if not given. [-]
    validated_compression : float
        Compression up to which the contact engine is checked against the finite-element reference; nan if not
        given. [-]
    beyond_validated : tuple of str
        Names of the peaks under which the compression exceeds ``validated_compression`` (the tissue is squeezed
        to a thin film over the bone; pressures there are outside the validated range).
    """

    summary: PressureSummary
    peaks: tuple[PeakAssessment, ...]
    region_forces_n: dict[str, float]
    muscle_force_n: float
    bone_force_n: float
    spinous_force_n: float
    spinous_share: float
    probe_peak_kpa: float
    max_threshold_ratio: float
    threshold_margin: float
    verdict: str
    advice: list[str] = field(default_factory=list)
    ratio_map: np.ndarray | None = field(default=None, repr=False, compare=False)
    max_compression: float = float("nan")
    validated_compression: float = float("nan")
    beyond_validated: tuple[str, ...] = ()

    @property
    def on_bone(self) -> bool:
        return self.verdict == VERDICT_ON_BONE

    @property
    def too_much(self) -> bool:
        return self.max_threshold_ratio > 1.0


def probe_averaged_pressure(
    pressure_kpa: np.ndarray, spacing_mm: float, probe_area_mm2: float = ALGOMETER_PROBE_AREA_MM2
) -> np.ndarray:
    """Mean pressure over a flat circular probe of ``probe_area_mm2`` centred on every cell. [kPa]

    Parameters
    ----------
    pressure_kpa : array (ny, nx)
        Pressure map. [kPa]
    spacing_mm : float
        Grid spacing. [mm]
    probe_area_mm2 : float
        Probe face area; algometers use 1 cm^2 = 100 mm^2 (Fischer 1987). [mm^2]

    Notes
    -----
    The disc is rasterized on the grid; its weights are normalized so a uniform pressure is unchanged. Cells
    outside the map count as zero pressure (the map covers the whole tool).

    References
    ----------
    Fischer AA (1987). Pressure algometry over normal muscles. Standard values, validity and repeatability of
    pain threshold measurements. Pain 30, 115-126.
    """
    check_positive("grid spacing", spacing_mm, "mm")
    check_positive("probe area", probe_area_mm2, "mm^2")
    radius = np.sqrt(probe_area_mm2 / np.pi) / spacing_mm
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = (xx**2 + yy**2 <= radius**2).astype(float)
    disc /= disc.sum()
    return ndimage.convolve(np.asarray(pressure_kpa, dtype=float), disc, mode="constant", cval=0.0)


def assess(
    pressure_kpa: np.ndarray,
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    region: np.ndarray,
    threshold_kpa: np.ndarray,
    peak_labels: np.ndarray,
    peak_names: list[str] | tuple[str, ...],
    region_names: dict[int, str],
    muscle_regions: tuple[int, ...],
    bone_regions: tuple[int, ...],
    spinous_region: int,
    *,
    probe_area_mm2: float = ALGOMETER_PROBE_AREA_MM2,
    max_bone_share: float = DEFAULT_MAX_BONE_SHARE,
    compression: np.ndarray | None = None,
    validated_compression: float | None = None,
) -> Assessment:
    """Assess a pressure map on the back: per-peak and per-region force, threshold ratio and verdict.

    Parameters
    ----------
    pressure_kpa : array (ny, nx)
        Contact pressure. [kPa]
    x_mm, y_mm : array
        Cell-centre coordinates of the grid. [mm]
    region : int array (ny, nx)
        Anatomical region codes (:data:`spinerelease.anatomy.REGIONS`).
    threshold_kpa : array (ny, nx)
        Pressure-pain threshold at each cell. [kPa]
    peak_labels : int array (ny, nx)
        1..n = zone of peak n-1 of the tool, 0 = no tool.
    peak_names : sequence of str
        Names of the tool's peaks.
    region_names : dict
        Region code -> human name.
    muscle_regions, bone_regions : tuple of int
        Codes of muscle and bony regions.
    spinous_region : int
        Code of the spinous-process region.
    probe_area_mm2 : float
        Algometer probe area used for the threshold comparison. [mm^2]
    max_bone_share : float
        Share of force on the spinous processes above which the verdict is "peak on bone". [-]
    compression : array (ny, nx), optional
        Tissue compression, indentation over tissue thickness, at each cell. [-]
    validated_compression : float, optional
        Compression up to which the contact model is validated; peaks beyond it are listed in
        ``Assessment.beyond_validated``. [-]

    Returns
    -------
    Assessment
    """
    p = np.asarray(pressure_kpa, dtype=float)
    if np.any(~np.isfinite(p)) or np.any(p < 0):
        raise InputError("pressure map must be finite and non-negative")
    comp = None if compression is None else np.asarray(compression, dtype=float)
    if comp is not None and (comp.shape != p.shape or np.any(~np.isfinite(comp))):
        raise InputError("compression map must be finite and match the pressure map")
    v_comp = float("nan") if validated_compression is None else float(validated_compression)
    for name, a in (("region map", region), ("threshold map", threshold_kpa), ("peak label map", peak_labels)):
        if np.shape(a) != p.shape:
            raise InputError(f"{name} shape {np.shape(a)} does not match pressure map {p.shape}")
    dx = float(x_mm[1] - x_mm[0])
    cell = dx * dx
    summary = summarize_pressure(p, x_mm, y_mm, cell)
    total = summary.force_n
    by_region = label_forces_n(p, region, cell)
    region_forces = {region_names.get(k, str(k)): v for k, v in by_region.items() if v > 0}
    muscle = sum(v for k, v in by_region.items() if k in muscle_regions)
    bone = sum(v for k, v in by_region.items() if k in bone_regions)
    spinous = by_region.get(spinous_region, 0.0)
    share = spinous / total if total > 0 else 0.0

    probe = probe_averaged_pressure(p, dx, probe_area_mm2)
    ratio = probe / np.asarray(threshold_kpa, dtype=float)
    max_ratio = float(ratio.max()) if ratio.size else 0.0

    peaks = []
    for i, name in enumerate(peak_names, start=1):
        m = np.asarray(peak_labels) == i
        s = summarize_pressure(p, x_mm, y_mm, cell, mask=m)
        pr = label_forces_n(np.where(m, p, 0.0), region, cell)
        pf = {region_names.get(k, str(k)): v for k, v in pr.items() if v > 0}
        ps = pr.get(spinous_region, 0.0) / s.force_n if s.force_n > 0 else 0.0
        pc = float(comp[m].max()) if comp is not None and m.any() else float("nan")
        peaks.append(PeakAssessment(name, s, pf, float(ratio[m].max()) if m.any() else 0.0, ps, pc))
    beyond = tuple(pk.name for pk in peaks if pk.max_compression > v_comp)

    if share > max_bone_share:
        verdict = VERDICT_ON_BONE
    elif max_ratio > 1.0:
        verdict = VERDICT_TOO_MUCH
    else:
        verdict = VERDICT_OK
    return Assessment(
        summary=summary,
        peaks=tuple(peaks),
        region_forces_n=region_forces,
        muscle_force_n=muscle,
        bone_force_n=bone,
        spinous_force_n=spinous,
        spinous_share=share,
        probe_peak_kpa=float(probe.max()) if probe.size else 0.0,
        max_threshold_ratio=max_ratio,
        threshold_margin=1.0 - max_ratio,
        verdict=verdict,
        ratio_map=ratio,
        max_compression=float(comp.max()) if comp is not None and comp.size else float("nan"),
        validated_compression=v_comp,
        beyond_validated=beyond,
    )
