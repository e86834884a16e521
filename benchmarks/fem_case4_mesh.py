"""Mesh studies for validation case 4 (issue 8; results quoted in ``docs/validation.md``).

``linear``: the linear FEM at the full load on finer meshes (does the centre-zone force converge, and to what?).
``large-strain``: the neo-Hookean and linear FEM at 3 N on finer meshes against the fast engine (is the peak
pressure difference mesh error?). Meshes are given as ``<element size mm>x<layers>``.

Usage::

    /work/venv/bin/python benchmarks/fem_case4_mesh.py linear 3.5x4 2.5x4          # about 6 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py large-strain 3.5x3 2.5x3    # about 17 minutes
"""

from __future__ import annotations

import argparse
import time

from spinerelease.contact.fem.back3d import (
    back_slab_case,
    case_metrics_fast,
    case_metrics_fem,
    solve_fast_back,
    solve_fem_back,
)


def _meshes(specs: list[str]) -> list[tuple[float, int]]:
    return [(float(a), int(b)) for a, b in (s.split("x") for s in specs)]


def linear(specs: list[str]) -> None:
    case = back_slab_case()
    fl = solve_fast_back(case, nonlinear=False)
    mf = case_metrics_fast(case, fl)
    print("fast", {k: round(v, 2) for k, v in mf["peak_force_n"].items()}, f"spinous {mf['spinous_share']:.4f}")
    for fine, layers in _meshes(specs):
        t = time.perf_counter()
        r = solve_fem_back(case, model="linear", contact_guess=fl.contact, fine_mm=fine, n_layers=layers)[-1][1]
        m = case_metrics_fem(case, r)
        print(
            f"{fine}x{layers} dofs={r.n_dofs} {time.perf_counter() - t:.0f}s",
            {k: round(v, 2) for k, v in m["peak_force_n"].items()},
            f"spinous {m['spinous_share']:.4f} peak p {m['peak_pressure_kpa']:.1f} approach {m['approach_mm']:.1f}",
        )


def large_strain(specs: list[str], load_n: float = 3.0) -> None:
    case = back_slab_case()
    for nl in (True, False):
        m = case_metrics_fast(case, solve_fast_back(case, nonlinear=nl, load_n=load_n))
        print(
            f"fast nonlinear={nl}: p={m['peak_pressure_kpa']:.2f} A={m['contact_area_mm2']:.0f} "
            f"d={m['approach_mm']:.2f}"
        )
    guess = solve_fast_back(case, nonlinear=True, load_n=1.0).contact
    for fine, layers in _meshes(specs):
        kw = {"fine_mm": fine, "n_layers": layers, "contact_guess": guess, "contact_point": "reference"}
        t = time.perf_counter()
        lin = solve_fem_back(case, model="linear", loads_n=[load_n], **kw)[-1][1]
        ml = case_metrics_fem(case, lin)
        print(
            f"{fine}x{layers} linear dofs={lin.n_dofs} p={ml['peak_pressure_kpa']:.2f} A={ml['contact_area_mm2']:.0f}"
        )
        f, r = solve_fem_back(case, model="neo-hookean", loads_n=[1.0, 2.0, load_n], max_cuts=1, **kw)[-1]
        if r is None:
            print(f"{fine}x{layers} neo-Hookean failed at {f} N")
            continue
        m = case_metrics_fem(case, r)
        print(
            f"{fine}x{layers} neo-Hookean p={m['peak_pressure_kpa']:.2f} A={m['contact_area_mm2']:.0f} "
            f"d={m['approach_mm']:.2f} strain={r.extras['max_compressive_strain']:.2f} {time.perf_counter() - t:.0f}s"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", choices=("linear", "large-strain"))
    ap.add_argument("meshes", nargs="+", help="meshes as <element size mm>x<layers>, e.g. 3.5x4")
    a = ap.parse_args()
    (linear if a.study == "linear" else large_strain)(a.meshes)
