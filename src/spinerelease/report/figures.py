"""Matplotlib figures of simulation results (pressure maps over the anatomy, per-peak bars, time series).

Every function returns a :class:`matplotlib.figure.Figure` built with the object-oriented API (no pyplot
state), so figures can be made in threads and worker processes; :func:`save_png` writes one to disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from ..workflow import BreathingSeries, ProtocolResult, SimulationResult

#: Region colours for the anatomy underlay (index = region code of spinerelease.anatomy.REGIONS).
REGION_COLOURS = [
    "#f2f2f2",
    "#8c8c8c",
    "#f4b6a6",
    "#f4b6a6",
    "#e88a7a",
    "#e88a7a",
    "#d9d2b6",
    "#d9d2b6",
    "#c8c0e0",
    "#c8c0e0",
]


def pressure_map(res: SimulationResult, ax=None, title: str | None = None) -> Figure:
    """Pressure map over the anatomy of the back window, with peaks and spinous processes marked."""
    from ..anatomy import REGIONS

    fig = None
    if ax is None:
        fig = Figure(figsize=(6.4, 5.6), layout="constrained")
        ax = fig.add_subplot()
    g = res.back.grid
    ext = g.extent_mm
    ax.imshow(
        res.back.region,
        origin="lower",
        extent=ext,
        cmap=ListedColormap(REGION_COLOURS),
        vmin=-0.5,
        vmax=len(REGION_COLOURS) - 0.5,
        interpolation="nearest",
    )
    p = np.ma.masked_less_equal(res.contact.pressure_kpa, 0.0)
    im = ax.imshow(p, origin="lower", extent=ext, cmap="inferno", interpolation="nearest")
    cb = (fig or ax.figure).colorbar(im, ax=ax, shrink=0.85)
    cb.set_label("contact pressure [kPa]")
    X, Y = g.mesh()
    ax.contour(X, Y, res.back.region == REGIONS["SPINOUS"], levels=[0.5], colors="#1f77b4", linewidths=1.2)
    tool_edge = np.isfinite(res.tool_height_mm).astype(float)
    ax.contour(X, Y, tool_edge, levels=[0.5], colors="#2ca02c", linewidths=0.8, linestyles="--")
    cx, cy = res.tool_center_mm
    for pk in res.tool.peaks:
        ax.plot(cx + pk.x_mm, cy + pk.y_mm, marker="+", color="#2ca02c", ms=9, mew=1.5)
    for lvl, y in res.back.levels_mm.items():
        if ext[2] <= y <= ext[3]:
            ax.plot(0, y, "o", color="#1f77b4", ms=4)
            ax.annotate(lvl, (0, y), xytext=(4, 0), textcoords="offset points", fontsize=7, color="#1f77b4")
    ax.set_xlabel("x across the back [mm] (left < 0 < right)")
    ax.set_ylabel("y along the spine [mm] (caudal up)")
    ax.set_aspect("equal")
    ax.set_title(
        title or f"{res.tool.name} at {res.config.level}, step '{res.config.step}': {res.assessment.verdict}",
        fontsize=9,
    )
    return fig if fig is not None else ax.figure


def peak_bars(res: SimulationResult) -> Figure:
    """Per-peak force and probe-averaged pressure as a fraction of the pain threshold."""
    a = res.assessment
    names = [p.name for p in a.peaks]
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.bar(names, [p.summary.force_n for p in a.peaks], color="#4c72b0")
    ax1.set_ylabel("force [N]")
    ax1.set_title("force per peak", fontsize=9)
    ax2.bar(names, [100 * p.max_threshold_ratio for p in a.peaks], color="#dd8452")
    ax2.axhline(100, color="k", ls="--", lw=1)
    ax2.set_ylabel("% of pain threshold")
    ax2.set_title("probe-averaged pressure vs threshold", fontsize=9)
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    return fig


def breathing_series(series: BreathingSeries) -> Figure:
    """Force and peak pressure over the breathing cycle."""
    fig = Figure(figsize=(6.4, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(series.t_s, series.force_n, "-o", ms=3, color="#4c72b0", label="force on tool")
    ax.set_xlabel("time [s]")
    ax.set_ylabel("force [N]", color="#4c72b0")
    ax2 = ax.twinx()
    ax2.plot(series.t_s, series.peak_pressure_kpa, "-s", ms=3, color="#c44e52", label="peak pressure")
    ax2.set_ylabel("peak pressure [kPa]", color="#c44e52")
    ax.set_title("deep breathing cycle", fontsize=9)
    return fig


def protocol_steps(proto: ProtocolResult) -> Figure:
    """Force on the tool and % of pain threshold for each loaded protocol step."""
    keys = [r.config.step for r in proto.steps]
    fig = Figure(figsize=(6.4, 3.0), layout="constrained")
    ax = fig.add_subplot()
    xs = np.arange(len(keys))
    ax.bar(xs - 0.2, [r.contact.total_force_n for r in proto.steps], 0.4, color="#4c72b0", label="force [N]")
    ax.bar(
        xs + 0.2,
        [100 * r.assessment.max_threshold_ratio for r in proto.steps],
        0.4,
        color="#dd8452",
        label="% of pain threshold",
    )
    ax.axhline(100, color="k", ls="--", lw=1)
    ax.set_xticks(xs, keys, fontsize=8)
    ax.legend(fontsize=8)
    ax.set_title("protocol steps", fontsize=9)
    return fig


def comparison_maps(a: SimulationResult, b: SimulationResult) -> Figure:
    """Two pressure maps side by side on a common colour scale."""
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, r in zip(axes, (a, b), strict=True):
        pressure_map(
            r,
            ax=ax,
            title=f"{r.tool.name}: peak {r.assessment.summary.peak_pressure_kpa:.0f} kPa, "
            f"{r.assessment.spinous_share:.1%} on spinous processes",
        )
    return fig


def save_png(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG to ``path`` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def tool_figure(tool) -> Figure:
    """Top view of a tool's height field and sections through its peaks."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax0, ax1, ax2 = fig.subplots(1, 3, width_ratios=[1.3, 1, 1])
    h = np.ma.masked_where(~tool.footprint, tool.height_mm)
    im = ax0.imshow(h, origin="lower", extent=tool.grid.extent_mm, cmap="viridis")
    fig.colorbar(im, ax=ax0, shrink=0.8).set_label("height above floor [mm]")
    for p in tool.peaks:
        ax0.plot(p.x_mm, p.y_mm, "r+", ms=8)
    ax0.set_title(f"{tool.name}: top view", fontsize=9)
    ax0.set_xlabel("x across the back [mm]")
    ax0.set_ylabel("y along the spine [mm]")
    y0 = tool.peaks[0].y_mm if tool.peaks else 0.0
    iy = int(np.argmin(np.abs(tool.grid.y_mm - y0)))
    ax1.plot(tool.grid.x_mm, np.where(tool.footprint[iy], tool.height_mm[iy], np.nan))
    ax1.set_title(f"section across, y = {y0:.0f} mm", fontsize=9)
    ax1.set_xlabel("x [mm]")
    ax1.set_ylabel("height [mm]")
    x0 = tool.peaks[0].x_mm if tool.peaks else 0.0
    ix = int(np.argmin(np.abs(tool.grid.x_mm - x0)))
    ax2.plot(tool.grid.y_mm, np.where(tool.footprint[:, ix], tool.height_mm[:, ix], np.nan))
    ax2.set_title(f"section along, x = {x0:.0f} mm", fontsize=9)
    ax2.set_xlabel("y [mm]")
    for ax in (ax1, ax2):
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    return fig


def back_figure(back) -> Figure:
    """Region map with vertebral levels, soft-tissue thickness map, and the sagittal surface profile."""
    fig = Figure(figsize=(11, 6), layout="constrained")
    ax0, ax1, ax2 = fig.subplots(1, 3, width_ratios=[1, 1, 0.6])
    ext = back.grid.extent_mm
    ax0.imshow(
        back.region,
        origin="lower",
        extent=ext,
        cmap=ListedColormap(REGION_COLOURS),
        vmin=-0.5,
        vmax=len(REGION_COLOURS) - 0.5,
        interpolation="nearest",
    )
    for lvl, y in back.levels_mm.items():
        ax0.axhline(y, color="k", lw=0.3)
        ax0.annotate(lvl, (ext[1], y), xytext=(2, 0), textcoords="offset points", fontsize=6, va="center")
    ax0.set_title("regions (grey: spinous processes, red: muscles,\nbeige: ribs, lilac: scapulae)", fontsize=8)
    im = ax1.imshow(back.tissue_thickness_mm, origin="lower", extent=ext, cmap="magma")
    fig.colorbar(im, ax=ax1, shrink=0.7).set_label("soft tissue over bone [mm]")
    ax1.set_title("tissue thickness", fontsize=9)
    for ax in (ax0, ax1):
        ax.set_xlabel("x [mm]")
        ax.set_ylabel("y along the spine [mm]")
        ax.invert_yaxis()
    ix = int(np.argmin(np.abs(back.grid.x_mm - 30)))
    ax2.plot(back.surface_mm[:, ix], back.grid.y_mm)
    ax2.invert_yaxis()
    ax2.set_xlabel("posterior protrusion [mm]")
    ax2.set_title("sagittal profile\n(x = 30 mm)", fontsize=8)
    b = back.body
    fig.suptitle(f"back: {b.stature_cm:.0f} cm, {b.mass_kg:.0f} kg, {b.sex}, body fat {b.body_fat:.0f} %", fontsize=10)
    return fig


def history_figure(sessions) -> Figure:
    """Mean pain per session over time and sessions per ISO week (coach history)."""
    from ..coach.session import sessions_per_week

    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    pts = [(s.started_at, s.mean_pain) for s in sessions if s.mean_pain is not None]
    if pts:
        ax1.plot([p[0] for p in pts], [p[1] for p in pts], "-o", ms=4)
    ax1.set_ylim(0, 10)
    ax1.set_ylabel("mean pain (0-10)")
    ax1.set_title("pain per session", fontsize=9)
    ax1.tick_params(axis="x", labelrotation=30, labelsize=7)
    weeks = sessions_per_week(sessions)
    ax2.bar(list(weeks), list(weeks.values()), color="#55a868")
    ax2.set_ylabel("sessions")
    ax2.set_title("consistency: sessions per week", fontsize=9)
    ax2.tick_params(axis="x", labelrotation=30, labelsize=7)
    return fig
