"""Tool design optimisation: peak spacing, height and tip radius of the PSO-Spine for a population.

Objective (to minimise) for a fixed sample of people, levels and steps (common random numbers, so every
candidate meets the same bodies): ``1 - pass_rate + 0.1 * mean(excess) + 0.1 * mean(spinous share)``, where a
case passes when every peak is on muscle and under the pain threshold and ``excess = max(0, ratio - 1)``; the
two small terms give the derivative-free search a slope where the pass rate is flat. Nelder-Mead (scipy) on
the continuous parameters within bounds, for each peak count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..errors import InputError
from .population import Person
from .run import evaluate, make_items

#: Bounds of the design variables (from the plausible ranges in data/tools.yaml). [mm]
BOUNDS = {"peak_spacing_mm": (40.0, 90.0), "peak_height_mm": (40.0, 100.0), "tip_radius_mm": (5.0, 20.0)}


@dataclass(frozen=True)
class DesignResult:
    """Best design found and the baseline it improves on."""

    baseline_params: dict
    best_params: dict
    baseline_pass_rate: float
    best_pass_rate: float
    baseline_objective: float
    best_objective: float
    evaluations: int
    history: list[tuple[dict, float, float]]


def score(rows: Sequence[dict]) -> tuple[float, float]:
    """(objective, pass rate) of a set of result rows."""
    if not rows:
        raise InputError("no results to score")
    ok = np.array([bool(r.get("ok")) for r in rows])
    ratio = np.array([r.get("max_threshold_ratio", 2.0) for r in rows], dtype=float)
    share = np.array([r.get("spinous_share", 1.0) for r in rows], dtype=float)
    obj = 1 - ok.mean() + 0.1 * np.clip(ratio - 1, 0, None).mean() + 0.1 * share.mean()
    return float(obj), float(ok.mean())


def optimize_design(
    people: Sequence[Person],
    levels: Sequence[str] = ("T7",),
    steps: Sequence[str] = ("lie_back",),
    n_peaks_options: Sequence[int] = (5,),
    spacing_mm: float = 3.0,
    max_evals: int = 30,
    start: dict | None = None,
    evaluate_fn: Callable = evaluate,
    progress: Callable[[int, float], None] | None = None,
) -> DesignResult:
    """Optimise the PSO-Spine's peak spacing, height and tip radius for ``people``.

    Parameters
    ----------
    people : sequence of Person
        The fixed sample (common random numbers).
    levels, steps : sequence of str
        Vertebral levels and protocol steps evaluated for every person.
    n_peaks_options : sequence of int
        Peak counts to try (each optimised separately).
    spacing_mm : float
        Grid spacing of the evaluations. [mm]
    max_evals : int
        Objective evaluations per peak count.
    start : dict, optional
        Starting parameters (default: the PSO-Spine's).
    """
    if not people:
        raise InputError("the design population is empty")
    if max_evals < 1:
        raise InputError("max_evals must be at least 1")
    from ..tools import pso_spine

    base_tool = pso_spine()
    x0 = dict(start or {k: base_tool.parameters[k] for k in BOUNDS})
    names = list(BOUNDS)
    lo = np.array([BOUNDS[k][0] for k in names])
    hi = np.array([BOUNDS[k][1] for k in names])
    history: list[tuple[dict, float, float]] = []
    cache: dict[tuple, tuple[float, float]] = {}

    def run(params: dict) -> tuple[float, float]:
        key = tuple(sorted((k, round(float(v), 3)) for k, v in params.items()))
        if key not in cache:
            rows = [evaluate_fn(it) for it in make_items(people, levels, steps, "pso-spine", spacing_mm, params)]
            cache[key] = score(rows)
            history.append((dict(params), *cache[key]))
            if progress:
                progress(len(history), cache[key][1])
        return cache[key]

    base_params = {**x0, "n_peaks": int(base_tool.parameters["n_peaks"])}
    base_obj, base_rate = run(base_params)
    best = (base_obj, base_rate, base_params)
    for n_peaks in n_peaks_options:

        def f(z: np.ndarray, n_peaks: int = n_peaks) -> float:
            x = lo + (hi - lo) * np.clip(z, 0, 1)  # unit cube -> bounds
            params = {k: float(v) for k, v in zip(names, x, strict=True)} | {"n_peaks": int(n_peaks)}
            return run(params)[0]

        z0 = (np.array([x0[k] for k in names]) - lo) / (hi - lo)
        simplex = np.vstack([z0] + [np.clip(z0 + 0.15 * np.eye(len(names))[i], 0, 1) for i in range(len(names))])
        res = optimize.minimize(
            f,
            z0,
            method="Nelder-Mead",
            options={"maxfev": max_evals, "initial_simplex": simplex, "xatol": 1e-3, "fatol": 1e-4},
        )
        x = lo + (hi - lo) * np.clip(res.x, 0, 1)
        params = {k: float(v) for k, v in zip(names, x, strict=True)} | {"n_peaks": int(n_peaks)}
        obj, rate = run(params)
        if obj < best[0]:
            best = (obj, rate, params)
    return DesignResult(base_params, best[2], base_rate, best[1], base_obj, best[0], len(history), history)


def design_figure(result: DesignResult):
    """Before/after: pass rate bars and the two tools' sections."""
    from matplotlib.figure import Figure

    from ..tools import pso_spine

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[0.6, 1])
    ax1.bar(
        ["PSO-Spine", "optimised"],
        [100 * result.baseline_pass_rate, 100 * result.best_pass_rate],
        color=["#8c8c8c", "#55a868"],
    )
    ax1.set_ylabel("% of cases on muscle and under threshold")
    ax1.set_ylim(0, 100)
    for label, p, style in (("PSO-Spine", result.baseline_params, "--"), ("optimised", result.best_params, "-")):
        t = pso_spine(spacing_mm=1.0, **p)
        iy = int(np.argmin(np.abs(t.grid.y_mm - t.peaks[0].y_mm)))
        ax2.plot(
            t.grid.x_mm,
            t.height_mm[iy],
            style,
            label=f"{label}: " + ", ".join(f"{k.replace('_mm', '')} {v:.0f}" for k, v in p.items()),
        )
    ax2.set_xlabel("x across the back [mm]")
    ax2.set_ylabel("height [mm]")
    ax2.legend(fontsize=7)
    ax2.set_title("section through the first row of peaks", fontsize=9)
    return fig
