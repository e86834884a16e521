"""Turn workflow results into JSON-ready dicts for the API and the pages (no physics here).

Every float goes through :func:`num`, so a NaN (e.g. the centre of force of an unloaded peak) becomes ``null``
instead of invalid JSON. Maps are sent as nested lists on their grid (row ``j`` = y, column ``i`` = x, values
at cell centres ``x0_mm + i * spacing_mm``), reduced by block maximum when they are larger than
:data:`MAX_MAP_SIDE` so the page stays responsive (peaks are kept by the maximum).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..anatomy import REGION_NAMES, Body, make_back
from ..posture import breathing_cycle

#: Largest side (cells) of a map sent to the browser.
MAX_MAP_SIDE = 200
#: Grid spacing of the whole-back outline drawn behind the pressure map. [mm]
OUTLINE_SPACING_MM = 5.0


def num(x: Any, digits: int = 4) -> float | None:
    """A finite float rounded to ``digits`` significant decimals, or None."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return round(v, digits)


def _block(a: np.ndarray, k: int, how: str) -> np.ndarray:
    if k <= 1:
        return a
    if how != "max":
        return a[::k, ::k]
    ny, nx = a.shape
    b = np.pad(a, ((0, (-ny) % k), (0, (-nx) % k)), constant_values=0)
    return b.reshape(b.shape[0] // k, k, b.shape[1] // k, k).max(axis=(1, 3))


def grid_map(grid, layers: dict[str, tuple[np.ndarray, str, int]]) -> dict[str, Any]:
    """Maps on ``grid`` as nested lists, reduced to at most :data:`MAX_MAP_SIDE` cells a side.

    ``layers`` maps a name to ``(array, "max" | "sample", decimals)``.
    """
    k = max(1, math.ceil(max(grid.nx, grid.ny) / MAX_MAP_SIDE))
    out: dict[str, Any] = {
        "x0_mm": num(grid.x0_mm + (k - 1) * grid.spacing_mm / 2),
        "y0_mm": num(grid.y0_mm + (k - 1) * grid.spacing_mm / 2),
        "spacing_mm": num(grid.spacing_mm * k),
    }
    for name, (arr, how, dec) in layers.items():
        a = _block(np.asarray(arr), k, how)
        if dec == 0:
            out[name] = a.astype(int).tolist()
        else:
            out[name] = np.round(np.where(np.isfinite(a), a, 0.0), dec).tolist()
        out["ny"], out["nx"] = a.shape
    return out


def back_outline(body: Body) -> dict[str, Any]:
    """Region map of the whole back (coarse) and the vertebral levels, for drawing behind the pressure map."""
    back = make_back(body, spacing_mm=OUTLINE_SPACING_MM)
    d = grid_map(back.grid, {"region": (back.region, "sample", 0)})
    d["levels_mm"] = {k: num(v, 1) for k, v in back.levels_mm.items()}
    return d


def region_names() -> dict[str, str]:
    return {str(k): v for k, v in REGION_NAMES.items()}


def result_dict(res, advice=None, tool_id: str | None = None, outline: bool = True) -> dict[str, Any]:
    """A :class:`~spinerelease.workflow.SimulationResult` (and optional advice) as a JSON-ready dict.

    ``tool_id`` replaces the tool reference in the echoed config (an uploaded tool's server path never leaves
    the server).
    """
    a = res.assessment
    s = a.summary
    cfg = res.config
    w = res.back
    tool = res.tool
    cx, cy = res.tool_center_mm
    d: dict[str, Any] = {
        "config": {
            "stature_cm": cfg.stature_cm,
            "mass_kg": cfg.mass_kg,
            "sex": cfg.sex,
            "body_fat_pct": num(res.body.body_fat, 2),
            "age_years": cfg.age_years,
            "tool": tool_id or cfg.tool,
            "level": cfg.level,
            "offset_x_mm": num(cx, 2),
            "offset_y_mm": cfg.offset_y_mm,
            "step": cfg.step,
            "forearm_support": cfg.forearm_support,
            "roll_deg": cfg.roll_deg,
            "spacing_mm": cfg.spacing_mm,
            "tissue_model": cfg.tissue_model,
        },
        "tool": {
            "name": tool.name,
            "description": tool.description,
            "peaks": [{"name": p.name, "x_mm": num(cx + p.x_mm, 2), "y_mm": num(cy + p.y_mm, 2)} for p in tool.peaks],
        },
        "tool_center_mm": [num(cx, 2), num(cy, 2)],
        "load": {
            "force_n": num(res.load.force_n),
            "forearms_n": num(res.load.forearms_n),
            "head_n": num(res.load.head_n),
            "pelvis_n": num(res.load.pelvis_n),
            "shoulders_n": num(res.load.shoulders_n),
            "moment_y_nmm": num(res.load.moment_y_nmm),
        },
        "summary": {
            "force_n": num(s.force_n),
            "peak_pressure_kpa": num(s.peak_pressure_kpa),
            "probe_peak_kpa": num(a.probe_peak_kpa),
            "mean_pressure_kpa": num(s.mean_pressure_kpa),
            "contact_area_mm2": num(s.contact_area_mm2),
            "center_of_force_mm": [num(c, 2) for c in s.center_of_force_mm],
            "max_indentation_mm": num(float(np.max(res.contact.displacement_mm))),
        },
        "muscle_force_n": num(a.muscle_force_n),
        "bone_force_n": num(a.bone_force_n),
        "spinous_share": num(a.spinous_share),
        "max_threshold_ratio": num(a.max_threshold_ratio),
        "threshold_margin": num(a.threshold_margin),
        "max_compression": num(a.max_compression),
        "validated_compression": num(a.validated_compression),
        "beyond_validated": list(a.beyond_validated),
        "verdict": a.verdict,
        "verdict_ok": a.verdict.startswith("on "),
        "region_forces_n": {k: num(v) for k, v in a.region_forces_n.items()},
        "peaks": [
            {
                "name": p.name,
                "force_n": num(p.summary.force_n),
                "peak_pressure_kpa": num(p.summary.peak_pressure_kpa),
                "mean_pressure_kpa": num(p.summary.mean_pressure_kpa),
                "contact_area_mm2": num(p.summary.contact_area_mm2),
                "threshold_ratio": num(p.max_threshold_ratio),
                "on_bone_share": num(p.on_bone_share),
                "max_compression": num(p.max_compression),
            }
            for p in a.peaks
        ],
        "map": grid_map(
            w.grid,
            {
                "pressure_kpa": (res.contact.pressure_kpa, "max", 1),
                "region": (w.region, "sample", 0),
                "peak": (res.peak_labels, "sample", 0),
            },
        ),
        "converged": bool(res.contact.converged),
        "references": list(res.references),
        "advice": None,
    }
    if advice is not None:
        d["advice"] = {
            "messages": list(advice.messages),
            "shift_x_mm": num(advice.shift_x_mm),
            "shift_y_mm": num(advice.shift_y_mm),
            "forearm_support": num(advice.forearm_support),
        }
    if outline:
        d["outline"] = back_outline(res.body)
    return d


def step_summary(res) -> dict[str, Any]:
    """Short summary of one protocol step's result."""
    a = res.assessment
    return {
        "step": res.config.step,
        "force_n": num(a.summary.force_n),
        "peak_pressure_kpa": num(a.summary.peak_pressure_kpa),
        "probe_peak_kpa": num(a.probe_peak_kpa),
        "max_threshold_ratio": num(a.max_threshold_ratio),
        "spinous_share": num(a.spinous_share),
        "verdict": a.verdict,
    }


def protocol_dict(pr, tool_id: str | None = None, breathing_samples: int = 12) -> dict[str, Any]:
    """A :class:`~spinerelease.workflow.ProtocolResult` as a JSON-ready dict (with the breathing series)."""
    from ..posture import get_step

    steps = []
    for r in pr.steps:
        d = step_summary(r)
        d["title"] = get_step(r.config.step).title
        steps.append(d)
    main = next((r for r in pr.steps if r.config.step == "lie_back"), pr.steps[0] if pr.steps else None)
    out: dict[str, Any] = {
        "steps": steps,
        "breathing": None,
        "lie_back": result_dict(main, tool_id=tool_id) if main is not None else None,
    }
    b = pr.breathing
    if b is not None and pr.steps:
        cyc = breathing_cycle(pr.steps[0].body, n_samples=len(b.t_s))
        out["breathing"] = {
            "t_s": [num(v) for v in b.t_s],
            "force_n": [num(v) for v in b.force_n],
            "peak_pressure_kpa": [num(v) for v in b.peak_pressure_kpa],
            "max_threshold_ratio": [num(v) for v in b.max_threshold_ratio],
            "spinous_share": [num(v) for v in b.spinous_share],
            "lung_volume_l": [num(v) for v in cyc.lung_volume_l],
            "rib_expansion_mm": [num(v) for v in cyc.rib_expansion_mm],
        }
    return out


def comparison_dict(cmp, tool_a_id: str, tool_b_id: str) -> dict[str, Any]:
    """A :class:`~spinerelease.workflow.Comparison` as a JSON-ready dict."""
    a = result_dict(cmp.a, tool_id=tool_a_id)
    b = result_dict(cmp.b, tool_id=tool_b_id, outline=False)
    b["outline"] = a["outline"]
    return {
        "a": a,
        "b": b,
        "claims": [{"text": c.text, "supported": bool(c.supported), "evidence": c.evidence} for c in cmp.claims],
    }
