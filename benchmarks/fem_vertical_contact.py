"""The vertical-contact assumption of the 3D slab FEM, isolated on one PSO-Spine peak (docs/validation.md, case 4).

The PSO-Spine's rounded cone (10 mm tip, 55 degree flank) on the series-modulus tissue column of validation case
4 (34.46 mm at 6.65 kPa: 11.97 mm of skin and fat at 3.25 kPa over 22.49 mm of muscle at 15 kPa, in series),
neo-Hookean, by the axisymmetric FEM with vertical contact (the surface slides freely under the tool, as in the
3D slab FEM; ``solve_axisymmetric(..., peak_flank_deg=55)``), by the FEM with contact on the true normal
(:mod:`spinerelease.contact.fem.deep`) and by the fast engine, at the per-peak loads of the 3D comparison.

Usage::

    /work/venv/bin/python benchmarks/fem_vertical_contact.py [--fine 1.0]   # about 3 minutes at 1 mm
"""

from __future__ import annotations

import argparse

from fem_deep_indentation import CASES, FLANK_DEG, TIP_MM

from spinerelease.contact.fem import Layer, solve_axisymmetric
from spinerelease.contact.fem.compare import fast_rounded_cone
from spinerelease.contact.fem.deep import indentation_curve
from spinerelease.errors import InputError

LOADS_N = [0.2, 0.4, 0.6, 0.81]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fine", type=float, default=1.0, help="FEM element size in the contact zone [mm]")
    args = ap.parse_args()
    outer = CASES["outer"]  # the default body's outer peak: skin and fat over muscle
    thickness = sum(la.thickness_mm for la in outer)
    series = thickness / sum(la.thickness_mm / la.modulus_kpa for la in outer)
    layers = [Layer("tissue", thickness, series)]
    true_normal = indentation_curve(LOADS_N, layers, tip_radius_mm=TIP_MM, flank_angle_deg=FLANK_DEG, fine_mm=args.fine)
    print(f"series column {thickness:.2f} mm at {series:.2f} kPa, FEM mesh {args.fine} mm; peak pressure [kPa]")
    print("| load [N] | vertical contact | true normal | fast engine |")
    print("|---|---|---|---|")
    for load, tn in zip(LOADS_N, true_normal.results, strict=False):
        try:
            vc = solve_axisymmetric(
                load, TIP_MM, layers, model="neo-hookean", fine_mm=args.fine, peak_flank_deg=FLANK_DEG
            )
            vertical = f"{vc.true_peak_pressure_kpa:.2f}"
        except InputError:
            vertical = "diverges"
        ref = tn.extras["facet_peak_pressure_kpa"]
        fast = fast_rounded_cone(load, layers, tip_radius_mm=TIP_MM, flank_angle_deg=FLANK_DEG).peak_pressure_kpa
        print(f"| {load:.2f} | {vertical} | {ref:.2f} | {fast:.2f} ({100 * (fast / ref - 1):+.0f} %) |", flush=True)


if __name__ == "__main__":
    main()
