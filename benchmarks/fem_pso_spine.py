"""Validation of the fast contact engine against the finite-element reference (issue 8, cases 1-3).

Runs the canonical axisymmetric cases, prints the comparison table used in ``docs/validation.md`` and writes
pressure-profile figures to ``docs/figures/``. Case 4 (the whole PSO-Spine on a 3D back slab at T7) is not
implemented yet: the FEM here is axisymmetric (one rounded peak over flat bone).

Usage::

    /work/venv/bin/python benchmarks/fem_pso_spine.py [--out docs/figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from spinerelease import params  # noqa: E402
from spinerelease.contact import solve_contact  # noqa: E402
from spinerelease.contact.fem import Layer, hertz_sphere, solve_axisymmetric, thin_layer_sphere  # noqa: E402
from spinerelease.contact.fem.compare import compare_sphere, fast_sphere, sphere_gap_mm  # noqa: E402
from spinerelease.grid import Grid  # noqa: E402

TIP_MM = float(params.load("tools").value("pso_spine_tip_radius"))


def _row(case: str, fem_f, fem_p, fem_a, fast_f, fast_p, fast_a, ref_p=None, ref_a=None) -> str:
    def pct(x, y):
        return f"{100 * (x / y - 1):+.1f} %"

    ref = f"{ref_p:.2f} / {ref_a:.1f}" if ref_p is not None else "-"
    return (
        f"| {case} | {fem_f:.3f} | {fem_p:.2f} | {fem_a:.1f} | {ref} | {fast_p:.2f} ({pct(fast_p, fem_p)}) | "
        f"{fast_a:.1f} ({pct(fast_a, fem_a)}) | {pct(fast_f, fem_f)} |"
    )


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    E = float(params.load("tissue").value("muscle_modulus"))
    rows = [
        "| case | FEM force [N] | FEM peak p [kPa] | FEM area [mm2] | analytic p / area | fast peak p | "
        "fast area | fast force |",
        "|---|---|---|---|---|---|---|---|",
    ]
    # (1) Hertz
    fem = solve_axisymmetric(
        0.05,
        TIP_MM,
        [Layer("block", 60.0, 15.0)],
        poisson=0.4999,
        model="linear",
        domain_radius_mm=60.0,
        fine_mm=0.25,
        fine_extent_mm=5.0,
    )
    hz = hertz_sphere(0.05, TIP_MM, 15.0, 0.4999)
    fast = fast_sphere(0.05, TIP_MM, 15.0, None, poisson=0.4999, spacing_mm=0.25, half_width_mm=5.0, nonlinear=False)
    rows.append(
        _row(
            "1 Hertz (linear)",
            fem.force_n,
            fem.peak_pressure_kpa,
            fem.contact_area_mm2,
            fast.force_n,
            fast.peak_pressure_kpa,
            fast.contact_area_mm2,
            hz["peak_pressure_kpa"],
            hz["contact_area_mm2"],
        )
    )
    # (2) thin layer
    ref = thin_layer_sphere(314.0, 800.0, 15.0, 1.0)
    a = ref["contact_radius_mm"]
    fem = solve_axisymmetric(
        314.0,
        800.0,
        [Layer("layer", 1.0, 15.0)],
        poisson=0.49999,
        model="linear",
        domain_radius_mm=2.5 * a,
        fine_mm=0.25,
        fine_extent_mm=1.4 * a,
        growth=1.3,
    )
    fast = fast_sphere(314.0, 800.0, 15.0, 1.0, poisson=0.49999, spacing_mm=0.5, half_width_mm=1.3 * a, nonlinear=False)
    rows.append(
        _row(
            "2 thin layer h=1, R=800 (linear)",
            fem.force_n,
            fem.peak_pressure_kpa,
            fem.contact_area_mm2,
            fast.force_n,
            fast.peak_pressure_kpa,
            fast.contact_area_mm2,
            ref["peak_pressure_kpa"],
            ref["contact_area_mm2"],
        )
    )
    # (3) one peak over thick vs thin tissue
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, (site, t) in zip(axes, (("paraspinal 33 mm", 33.0), ("spinous 5 mm", 5.0)), strict=True):
        for model, ls in (("linear", "--"), ("neo-hookean", "-")):
            c = compare_sphere(0.3, TIP_MM, E, t, poisson=0.49, model=model, fem_fine_mm=1.0)
            f, fm, fa = c["fem"], c["fem_metrics"], c["fast_metrics"]
            rows.append(
                _row(
                    f"3 {site} ({model})",
                    fm.force_n,
                    fm.peak_pressure_kpa,
                    fm.contact_area_mm2,
                    fa.force_n,
                    fa.peak_pressure_kpa,
                    fa.contact_area_mm2,
                )
            )
            ax.plot(f.r_mm, f.pressure_kpa, "k" + ls, label=f"FEM {model}")
            g = Grid(64, 64, 0.5, -15.75, -15.75)
            res = solve_contact(sphere_gap_mm(g, TIP_MM), g, 0.3, E, t, poisson=0.49, nonlinear=model != "linear")
            iy = np.argmin(np.abs(g.y_mm))
            ax.plot(g.x_mm[g.x_mm >= 0], res.pressure_kpa[iy, g.x_mm >= 0], "r" + ls, label=f"fast {model}")
        ax.set_title(f"0.3 N on a {TIP_MM:.0f} mm tip, {site}, E = {E:.0f} kPa")
        ax.set_xlim(0, 10)
        ax.set_xlabel("r [mm]")
        ax.legend()
    axes[0].set_ylabel("contact pressure [kPa]")
    fig.tight_layout()
    fig.savefig(out / "fem_case3_profiles.png", dpi=110)
    print("\n".join(rows))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "figures")
    main(ap.parse_args().out)
