"""Calibration of the fast engine's large-strain stiffening against the neo-Hookean FEM (issue 8).

For a rigid sphere of the PSO-Spine tip radius (10 mm) pressed into a muscle layer (E = 15 kPa, nu = 0.49) of
thickness 5-33 mm bonded to bone, under 0.1-1.5 N, it solves the axisymmetric large-strain FEM
(:mod:`spinerelease.contact.fem`) and the fast engine with several stiffening onset strains ``eps0``
(:func:`spinerelease.contact.solver.calibrated_stiffening`), and prints the errors of the fast engine in peak
pressure (against the Cauchy pressure on the tool), approach and contact area, with the worst case per
``eps0``. The FEM runs take about 10 minutes; ``--fem-json`` reuses saved ones (written by ``--save``).

Usage::

    python benchmarks/calibrate_stiffening.py [--eps0 0 0.1 0.2 0.3] [--save fem.json | --fem-json fem.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from spinerelease.contact import solver
from spinerelease.contact.fem import Layer, solve_axisymmetric
from spinerelease.contact.fem.compare import fast_sphere

TIP_MM, MODULUS_KPA, POISSON = 10.0, 15.0, 0.49
THICKNESSES_MM = (5.0, 10.0, 20.0, 33.0)
LOADS_N = (0.1, 0.3, 0.8, 1.5)


def fem_cases() -> list[dict]:
    rows = []
    for t in THICKNESSES_MM:
        for f in LOADS_N:
            r = solve_axisymmetric(f, TIP_MM, [Layer("muscle", t, MODULUS_KPA)], poisson=POISSON, fine_mm=0.5)
            rows.append(
                {
                    "t": t,
                    "F": f,
                    "conv": bool(r.converged),
                    "p_nom": r.peak_pressure_kpa,
                    "p_true": r.true_peak_pressure_kpa,
                    "a_nom": r.contact_area_mm2,
                    "a_cur": r.contact_area_current_mm2,
                    "d": r.approach_mm,
                    "strain": r.max_compressive_strain,
                }
            )
            print(f"FEM t={t:g} mm F={f:g} N: d={r.approach_mm:.3f} mm, p={r.true_peak_pressure_kpa:.2f} kPa")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eps0", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3])
    ap.add_argument("--fem-json")
    ap.add_argument("--save")
    args = ap.parse_args()
    rows = json.load(open(args.fem_json)) if args.fem_json else fem_cases()
    if args.save:
        json.dump(rows, open(args.save, "w"), indent=1)
    rows = [r for r in rows if r["conv"]]
    keep = solver.STIFFENING_ONSET_STRAIN
    table = {}
    try:
        for e0 in args.eps0:
            solver.STIFFENING_ONSET_STRAIN = e0
            table[e0] = []
            for r in rows:
                fast = fast_sphere(r["F"], TIP_MM, MODULUS_KPA, r["t"], poisson=POISSON, spacing_mm=0.5)
                table[e0].append(
                    (
                        fast.peak_pressure_kpa / r["p_true"] - 1,
                        fast.approach_mm / r["d"] - 1,
                        fast.contact_area_mm2 / r["a_cur"] - 1,
                    )
                )
    finally:
        solver.STIFFENING_ONSET_STRAIN = keep
    head = " | ".join(f"eps0={e0:g}: p / d / A" for e0 in args.eps0)
    print(f"\n| t [mm] | F [N] | d/R | u/t | FEM p [kPa] | {head} |")
    print("|" + "---|" * (5 + len(args.eps0)))
    for i, r in enumerate(rows):
        cells = " | ".join("{:+.0%} / {:+.0%} / {:+.0%}".format(*table[e0][i]) for e0 in args.eps0)
        print(f"| {r['t']:g} | {r['F']:g} | {r['d'] / TIP_MM:.2f} | {r['strain']:.2f} | {r['p_true']:.2f} | {cells} |")
    worst = " | ".join("{:.0%} / {:.0%} / {:.0%}".format(*np.abs(np.array(table[e0])).max(axis=0)) for e0 in args.eps0)
    print(f"| worst | | | | | {worst} |")


if __name__ == "__main__":
    main()
