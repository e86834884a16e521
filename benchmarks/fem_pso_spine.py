"""Validation of the fast contact engine against the finite-element reference (issue 8, cases 1-4).

Cases 1-3: the canonical axisymmetric cases (table and ``fem_case3_profiles.png``). Case 4: the PSO-Spine on
a 3D back slab at T7 with the default body (3D Q2-Q1 FEM of the half slab, ``spinerelease.contact.fem.back3d``)
against the fast engine on the same inputs: per-peak force, peak pressure, contact area, spinous (bone) share,
for the linear material (two meshes: refinement check) and the neo-Hookean material (load stepping up to the
highest load that converges). Writes ``fem_case4_pressure.png`` and ``fem_case4_peaks.png``.

Usage::

    /work/venv/bin/python benchmarks/fem_pso_spine.py [--out docs/figures] [--cases 123 | 4 | 1234]
"""

from __future__ import annotations

import argparse
import json
import time
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


def case4(
    out: Path,
    meshes=((5.0, 3), (3.5, 4)),
    nh_mesh=(3.5, 3),
    nh_loads=(1.0, 2.0, 3.0, 4.0, 6.0),
) -> None:
    """Case 4: the PSO-Spine on the default back at T7, FEM (half slab) against the fast engine."""
    from spinerelease.contact.fem.back3d import (
        back_slab_case,
        case_metrics_fast,
        case_metrics_fem,
        fem_pressure_on_grid,
        solve_fast_back,
        solve_fem_back,
    )

    case = back_slab_case()
    names = case.peak_names
    print(f"\ncase 4: PSO-Spine at T7, default body, load {case.load_n:.1f} N on the tool")
    rows = [
        "| material, load, mesh | model | " + " | ".join(f"{n} [N]" for n in names) + " | peak p [kPa] | "
        "area [mm2] | spinous share | approach [mm] |",
        "|---" * (len(names) + 6) + "|",
    ]

    def row(label: str, who: str, m: dict, ref: dict | None = None) -> str:
        def rel(k, v):
            return f" ({100 * (v / ref[k] - 1):+.1f} %)" if ref is not None and ref[k] else ""

        pk = " | ".join(
            f"{m['peak_force_n'][n]:.2f}"
            + (
                f" ({100 * (m['peak_force_n'][n] / ref['peak_force_n'][n] - 1):+.1f} %)"
                if ref and ref["peak_force_n"][n]
                else ""
            )
            for n in names
        )
        share = f"{100 * m['spinous_share']:.1f} %" + (
            f" ({100 * (m['spinous_share'] - ref['spinous_share']):+.1f} pp)" if ref else ""
        )
        return (
            f"| {label} | {who} | {pk} | {m['peak_pressure_kpa']:.1f}{rel('peak_pressure_kpa', m['peak_pressure_kpa'])}"
            f" | {m['contact_area_mm2']:.0f}{rel('contact_area_mm2', m['contact_area_mm2'])} | {share} | "
            f"{m['approach_mm']:.1f} |"
        )

    maps = {}
    results: dict = {"load_n": case.load_n, "linear": {}}
    fast_nl = solve_fast_back(case, nonlinear=True)
    results["fast_nonlinear_full_load"] = case_metrics_fast(case, fast_nl)
    fast_lin = solve_fast_back(case, nonlinear=False)
    mf_lin = case_metrics_fast(case, fast_lin)
    for fine, layers in meshes:
        t0 = time.perf_counter()
        res = solve_fem_back(case, model="linear", contact_guess=fast_lin.contact, fine_mm=fine, n_layers=layers)[-1][1]
        dt = time.perf_counter() - t0
        m = case_metrics_fem(case, res)
        label = f"linear, {case.load_n:.0f} N, {fine:g} mm x {layers} layers ({res.n_dofs} dofs, {dt:.0f} s)"
        rows.append(row(label, "FEM", m))
        rows.append(row(label, "fast", mf_lin, m))
        print(
            f"  linear FEM {fine} mm/{layers}: converged {res.converged}, bone/contact force "
            f"{res.bone_force_n:.3f}/{res.force_n:.3f} N, residual {res.residual:.1e}, active-set passes "
            f"{res.active_set_iterations}, ridge share of bone reaction {100 * m['bone_ridge_share']:.1f} %"
        )
        maps["linear"] = (fem_pressure_on_grid(case, res), fast_lin.pressure_kpa, m, mf_lin, case.load_n)
        results["linear"][f"{fine:g}mm_x{layers}"] = {"dofs": res.n_dofs, "seconds": dt, "fem": m, "fast": mf_lin}
    # neo-Hookean: load stepping with warm starts up to the highest load that converges, on a mesh refined
    # around the small-load contact patches; the gap is read at the skin's undeformed position, as in the
    # fast engine. The small-strain FEM on the same mesh at the same load separates mesh error from large strain.
    # (The skin held on the tool and pushed along its normal, which goes much deeper, is
    # `benchmarks/fem_case4_mesh.py true-normal`, docs/validation.md.)
    fine, layers = nh_mesh
    t0 = time.perf_counter()
    guess = solve_fast_back(case, nonlinear=True, load_n=nh_loads[0]).contact
    mesh_kw = {"fine_mm": fine, "n_layers": layers, "contact_guess": guess, "contact_point": "reference"}
    steps = solve_fem_back(case, model="neo-hookean", loads_n=list(nh_loads), max_cuts=2, **mesh_kw)
    print(f"  neo-Hookean load stepping: {time.perf_counter() - t0:.0f} s")
    done = [(f, r) for f, r in steps if r is not None]
    failed = [f for f, r in steps if r is None]
    if failed:
        top = done[-1][0] if done else 0.0
        print(f"  neo-Hookean FEM did not converge at {failed[0]:.1f} N; highest converged load {top:.2f} N")
    results["neo_hookean_failed_at_n"] = failed[0] if failed else None
    if done:
        f, r = done[-1]
        lin = solve_fem_back(case, model="linear", loads_n=[f], **mesh_kw)[-1][1]
        label = f"{f:.2f} N, {fine:g} mm x {layers} layers ({r.n_dofs} dofs)"
        m_lin, mf_lin_f = (
            case_metrics_fem(case, lin),
            case_metrics_fast(case, solve_fast_back(case, nonlinear=False, load_n=f)),
        )
        rows.append(row("linear, " + label, "FEM", m_lin))
        rows.append(row("linear, " + label, "fast", mf_lin_f, m_lin))
        fa = solve_fast_back(case, nonlinear=True, load_n=f)
        m, mf = case_metrics_fem(case, r), case_metrics_fast(case, fa)
        label = f"neo-Hookean, {label}, strain {r.extras['max_compressive_strain']:.2f}"
        rows.append(row(label, "FEM", m))
        rows.append(row(label, "fast", mf, m))
        maps["neo-hookean"] = (fem_pressure_on_grid(case, r, cauchy=True), fa.pressure_kpa, m, mf, f)
        results["neo_hookean"] = {"load_n": f, "fem": m, "fast": mf, "fem_linear": m_lin, "fast_linear": mf_lin_f}
    (out / "fem_case4_results.json").write_text(json.dumps(results, indent=1, default=float))
    print("\n".join(rows))

    g = case.grid
    fig, axes = plt.subplots(len(maps), 2, figsize=(10, 4.2 * len(maps)), squeeze=False)
    for ax_row, (model, (pf, pa, _m, _mf, f)) in zip(axes, maps.items(), strict=True):
        vmax = max(pf.max(), pa.max())
        for ax, (who, p) in zip(ax_row, (("FEM", pf), ("fast", pa)), strict=True):
            im = ax.imshow(p, origin="lower", extent=g.extent_mm, vmin=0, vmax=vmax, cmap="viridis")
            ax.set_title(f"{who} ({model}, {f:.0f} N): peak {p.max():.1f} kPa")
            ax.set_xlabel("x [mm]")
            ax.set_ylabel("y [mm]")
            fig.colorbar(im, ax=ax, label="pressure [kPa]")
    fig.tight_layout()
    fig.savefig(out / "fem_case4_pressure.png", dpi=100)
    fig, axes = plt.subplots(1, len(maps), figsize=(6 * len(maps), 4), squeeze=False)
    for ax, (model, (_, _, m, mf, f)) in zip(axes[0], maps.items(), strict=True):
        xk = np.arange(len(names))
        ax.bar(xk - 0.2, [m["peak_force_n"][n] for n in names], 0.4, label="FEM")
        ax.bar(xk + 0.2, [mf["peak_force_n"][n] for n in names], 0.4, label="fast")
        ax.set_xticks(xk, names, rotation=20)
        ax.set_ylabel("force [N]")
        ax.set_title(f"per-peak force, {model}, {f:.0f} N")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "fem_case4_peaks.png", dpi=100)


def main(out: Path, cases: str = "1234") -> None:
    out.mkdir(parents=True, exist_ok=True)
    if "4" in cases:
        case4(out)
    if not set("123") & set(cases):
        return
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
    ap.add_argument("--cases", default="1234", help="which cases to run, e.g. 4 or 123")
    a = ap.parse_args()
    main(a.out, a.cases)
