"""Fit of the fast engine's column stiffening law to the stored large-strain FEM points (docs/calibration.md).

For each candidate ``eps0:k[:eps_b]`` (onset strain, exponent in the remaining thickness, bone-bound strain) the
fast engine solves every reference point of ``tests/data/fem_deep_reference.json`` (one PSO-Spine peak on 33, 20
and 10 mm of muscle and on the default body's fat over muscle, FEM strain up to 0.93; about 0.3 s a point) and
the script prints the worst peak-pressure and approach errors, and with ``--points`` every point's.
``--deepest`` adds the FEM's one point beyond the validated range (15 N on 10 mm, strain 0.97, from
``docs/figures/fem_deep_muscle10_rezoned.json``). The law's parameters are module constants of
:mod:`spinerelease.contact.solver`, set here for each candidate.

Usage::

    /work/venv/bin/python benchmarks/fit_stiffening_law.py 0.5:0.35 0.55:0.35 0.55:0.35:0.96 [--points]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fem_deep_indentation import FLANK_DEG, TIP_MM

from spinerelease.contact import solver
from spinerelease.contact.fem import Layer
from spinerelease.contact.fem.compare import fast_rounded_cone

ROOT = Path(__file__).resolve().parents[1]


def reference_points(deepest: bool) -> list[tuple[str, list[Layer], dict]]:
    data = json.loads((ROOT / "tests" / "data" / "fem_deep_reference.json").read_text())
    pts = []
    for name, case in data["cases"].items():
        layers = [Layer(n, t, e) for n, t, e in case["layers"]]
        pts += [(name, layers, row) for row in case["rows"]]
    if deepest:
        extra = json.loads((ROOT / "docs" / "figures" / "fem_deep_muscle10_rezoned.json").read_text())
        for row in extra["rows"]:
            if row["fem"]["strain"] > 0.935:
                pts.append(("muscle10_rezoned", [Layer("muscle", 10.0, 15.0)], {"load_n": row["load_n"], **row["fem"]}))
    return pts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("candidates", nargs="+", help="eps0:k, eps0:k:eps_b or eps0:k:eps_b:n")
    ap.add_argument("--points", action="store_true", help="print every point's errors")
    ap.add_argument("--deepest", action="store_true", help="add the FEM point at strain 0.97")
    args = ap.parse_args()
    pts = reference_points(args.deepest)
    print(f"{len(pts)} FEM points")
    keep = (
        solver.STIFFENING_ONSET_STRAIN,
        solver.STIFFENING_EXPONENT,
        solver.BONE_BOUND_STRAIN,
        solver.BONE_BOUND_EXPONENT,
    )
    try:
        for cand in args.candidates:
            vals = [float(v) for v in cand.split(":")]
            solver.STIFFENING_ONSET_STRAIN, solver.STIFFENING_EXPONENT = vals[0], vals[1]
            solver.BONE_BOUND_STRAIN = vals[2] if len(vals) > 2 else solver.MAX_STRAIN  # no bound
            solver.BONE_BOUND_EXPONENT = vals[3] if len(vals) > 3 else keep[3]
            worst_p = worst_d = 0.0
            lines = []
            for name, layers, row in pts:
                fast = fast_rounded_cone(row["load_n"], layers, tip_radius_mm=TIP_MM, flank_angle_deg=FLANK_DEG)
                ep = fast.peak_pressure_kpa / row["peak_pressure_kpa"] - 1
                ed = fast.approach_mm / row["approach_mm"] - 1
                worst_p, worst_d = max(worst_p, abs(ep)), max(worst_d, abs(ed))
                lines.append(
                    f"    {name:20s} {row['load_n']:6.2f} N strain {row['strain']:.2f}: p {100 * ep:+.0f} %, "
                    f"approach {100 * ed:+.0f} %"
                )
            print(
                f"eps0 {vals[0]}, k {vals[1]}, eps_b {solver.BONE_BOUND_STRAIN}: worst peak pressure "
                f"{100 * worst_p:.0f} %, approach {100 * worst_d:.0f} %"
            )
            if args.points:
                print("\n".join(lines))
    finally:
        (
            solver.STIFFENING_ONSET_STRAIN,
            solver.STIFFENING_EXPONENT,
            solver.BONE_BOUND_STRAIN,
            solver.BONE_BOUND_EXPONENT,
        ) = keep


if __name__ == "__main__":
    main()
