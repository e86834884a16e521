"""Fit of the fast engine's column stiffening law to the stored large-strain FEM points (docs/calibration.md).

For each candidate ``eps0:k[:eps_b[:n[:c]]]`` (onset strain, exponent in the remaining thickness, film (bone-bound)
strain and exponent, lateral averaging width in tissue thicknesses) the fast engine solves every reference point
of ``tests/data/fem_deep_reference.json``: the tip pressure of one PSO-Spine peak on 33, 20 and 10 mm of muscle
and on the default body's fat over muscle (FEM strain up to 0.93, and into the film up to 0.99 in the ``*_film``
cases) and the 1 cm^2 probe averages (about 0.3 s a point). It prints the worst errors of the peak pressure (up to
strain 0.93 and in the film separately), of the probe average and of the approach, and with ``--points`` every
point's; probe points whose note starts with "held out" (the PSO-Rite's peak, the back slab's column) are
reported apart. The law's parameters are module constants of :mod:`spinerelease.contact.solver`, set here for each
candidate. Stop 17's fit (``0.55:0.5:0.96:1:0.14``): peak -9.4..+4.7 % to strain 0.93, probe -5.1..+4.4 %.

Usage::

    /work/venv/bin/python benchmarks/fit_stiffening_law.py 0.55:0.35:0.96:3:0 0.55:0.5:0.96:1:0.14 [--points]
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
#: The law's module constants, in the order of a candidate's fields.
CONSTANTS = (
    "STIFFENING_ONSET_STRAIN",
    "STIFFENING_EXPONENT",
    "BONE_BOUND_STRAIN",
    "BONE_BOUND_EXPONENT",
    "STIFFENING_SPREAD_THICKNESSES",
)


def reference_points() -> tuple[list[tuple[str, list[Layer], dict]], list[tuple[str, list[Layer], dict]]]:
    """The stored peak-pressure points and probe-average points."""
    data = json.loads((ROOT / "tests" / "data" / "fem_deep_reference.json").read_text())
    peaks = []
    for name, case in data["cases"].items():
        layers = [Layer(n, t, e) for n, t, e in case["layers"]]
        shape = {
            "tip_radius_mm": case.get("tip_radius_mm", TIP_MM),
            "flank_angle_deg": case.get("flank_angle_deg", FLANK_DEG),
        }
        peaks += [(name, layers, {**shape, **row}) for row in case["rows"]]
    probes = []
    for row in data["probe"]["rows"]:
        layers = [Layer(n, t, e) for n, t, e in row["layers"]]
        probes.append(
            (
                f"probe {layers[0].name} {layers[0].thickness_mm:.0f} mm" + (" 2 layers" if len(layers) > 1 else ""),
                layers,
                row,
            )
        )
    return peaks, probes


def evaluate(peaks: list, probes: list) -> tuple[dict[str, float], list[str]]:
    """Worst errors of the present law, and one line per point."""
    worst = {"peak to 0.93": 0.0, "peak in the film": 0.0, "probe": 0.0, "approach": 0.0}
    lines = []
    for name, layers, row in peaks:
        fast = fast_rounded_cone(
            row["load_n"], layers, tip_radius_mm=row["tip_radius_mm"], flank_angle_deg=row["flank_angle_deg"]
        )
        ep = fast.peak_pressure_kpa / row["peak_pressure_kpa"] - 1
        ed = fast.approach_mm / row["approach_mm"] - 1
        key = "peak to 0.93" if row["strain"] <= 0.935 else "peak in the film"
        worst[key] = max(worst[key], abs(ep))
        worst["approach"] = max(worst["approach"], abs(ed))
        lines.append(
            f"    {name:22s} {row['load_n']:6.2f} N strain {row['strain']:.2f}: p {100 * ep:+.1f} %, "
            f"approach {100 * ed:+.1f} %"
        )
    for name, layers, row in probes:
        fast = fast_rounded_cone(
            row["load_n"],
            layers,
            tip_radius_mm=row.get("tip_radius_mm", TIP_MM),
            flank_angle_deg=row.get("flank_angle_deg", FLANK_DEG),
        )
        e = fast.probe_pressure_kpa / row["probe_kpa"] - 1
        key = "held-out probe" if row.get("note", "").startswith("held out") else "probe"
        worst[key] = max(worst.get(key, 0.0), abs(e))
        lines.append(
            f"    {name:22s} {row['load_n']:6.2f} N strain {row['strain']:.2f}: probe {100 * e:+.1f} %"
            + (" (held out)" if key != "probe" else "")
        )
    return worst, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("candidates", nargs="+", help="eps0:k, eps0:k:eps_b, eps0:k:eps_b:n or eps0:k:eps_b:n:c")
    ap.add_argument("--points", action="store_true", help="print every point's errors")
    args = ap.parse_args()
    peaks, probes = reference_points()
    print(f"{len(peaks)} FEM peak points, {len(probes)} probe points")
    keep = {k: getattr(solver, k) for k in CONSTANTS}
    try:
        for cand in args.candidates:
            vals = [float(v) for v in cand.split(":")]
            for k, v in zip(CONSTANTS, vals, strict=False):
                setattr(solver, k, v)
            if len(vals) == 2:
                solver.BONE_BOUND_STRAIN = solver.MAX_STRAIN  # no film term
            worst, lines = evaluate(peaks, probes)
            print(f"{cand}: worst " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in worst.items()))
            if args.points:
                print("\n".join(lines))
            for k, v in keep.items():
                setattr(solver, k, v)
    finally:
        for k, v in keep.items():
            setattr(solver, k, v)


if __name__ == "__main__":
    main()
