"""Deep indentation at the real load: the fast engine against the large-strain FEM with true-normal contact.

One PSO-Spine peak (rounded cone: 10 mm tip, 55 degree flank) pressed into tissue on flat bone, from light
touch up to the default body's per-peak load (56 N, docs/validation.md), by the axisymmetric neo-Hookean FEM
with frictionless contact on the deformed normal (:mod:`spinerelease.contact.fem.deep`, displacement-controlled
continuation) and by the fast engine (:func:`spinerelease.contact.solve_contact`, same gap, same tissue model).

Cases (``--case``):

* ``outer``: the default body's outer peak at T7: skin + fat (11.97 mm, 3.25 kPa) over muscle (22.49 mm,
  15 kPa), the two-layer tissue model;
* ``muscle33``: 33 mm of muscle (15 kPa), the calibration grid's thick case (docs/calibration.md);
* ``muscle20``, ``muscle10``: 20 and 10 mm of muscle;
* ``column``: the same outer peak's column as one layer at the series modulus (34.46 mm, 7.109 kPa; the back
  slab's ``material="column"``, ``back3d.back_slab_case``), the single-peak counterpart of
  ``fem_case4_mesh.py true-normal`` (stop 19: ``--case column --rezone --loads 0.25 0.5 0.8125 1.1875 1.5 2 2.5
  3 3.5 4.5 6 8``, 13 minutes).

Prints a table (FEM and fast engine per load: approach, peak pressure, contact area; the FEM's peak pressure is
the largest facet mean of the pressure on the tool, ``extras["facet_peak_pressure_kpa"]``, its largest nodal
value is kept as ``nodal_peak_pressure_kpa``) and writes
``<out>/fem_deep_<case>.json`` (``fem_deep_<case>_rezoned.json`` with ``--rezone``: the FEM rezones onto the
deformed tissue and ties the skin's midside nodes, and reaches deeper); ``--figure`` draws
``fem_deep_indentation.png`` from the JSON files (the rezoned ones where present).

Usage::

    /work/venv/bin/python benchmarks/fem_deep_indentation.py --case outer [--fine 1.0] [--out docs/figures]
    /work/venv/bin/python benchmarks/fem_deep_indentation.py --figure
    /work/venv/bin/python benchmarks/fem_deep_indentation.py --refresh-fast   # after changing the fast engine
    /work/venv/bin/python benchmarks/fem_deep_indentation.py --case column --roller --rezone   # 12 minutes

``--roller``: the foam roller's cross-section in plane strain (``geometry="plane-strain"``; line loads 0.01-3
N/mm, ``fem_deep_<case>_roller_rezoned.json``) against the fast engine's 900 mm roller read on its mid-section
(``compare.fast_cylinder``; docs/validation.md, "The foam roller").
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from spinerelease import params
from spinerelease.contact.fem import Layer
from spinerelease.contact.fem.compare import (
    axisymmetric_probe_pressure_kpa,
    fast_cylinder,
    fast_rounded_cone,
    plane_strain_probe_pressure_kpa,
)
from spinerelease.contact.fem.deep import default_fine_extent_mm, indentation_curve
from spinerelease.workflow import VALIDATED_COMPRESSION

TIP_MM = float(params.load("tools").value("pso_spine_tip_radius"))
FLANK_DEG = 55.0  # spinerelease.tools.builtin.pso_spine default
#: ``--roller``: the foam roller (spinerelease.tools.builtin.foam_roller), a cylinder across the back
ROLLER_RADIUS_MM = 0.5 * float(params.load("tools").value("foam_roller_diameter"))
#: Length of the fast engine's roller in the comparison: long enough that its mid-section is a plane-strain
#: section (on the 34.5 mm column at 1-3 N/mm its approach changes by 0.3 % from 600 to 900 mm and by 0.03 % from
#: 900 to 1200 mm; the default 305 mm roll's mid-section is 2-3 % deeper than 900 mm's). [mm]
ROLLER_LENGTH_MM = 900.0
#: the FEM's profile of the roller: the cap of the rounded cone covers |x| <= R sin(80 deg) = 0.985 R, beyond
#: which the cylinder's own slope is steeper than 80 degrees and no skin reaches
ROLLER_FLANK_DEG = 80.0
#: ``--roller`` line loads [N/mm]
ROLLER_LOADS = [0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.3, 1.6, 2.0, 2.5, 3.0]
LOADS_N = [0.3, 1.0, 3.0, 6.0, 10.0, 15.0, 20.0, 30.0, 45.0, 56.0]
#: ``--rezone``: rezone where an element's principal stretch ratio since its layout exceeds this
REZONE_DISTORTION = 3.0
CASES = {
    "outer": [Layer("skin+fat", 11.967, 3.25), Layer("muscle", 22.493, 15.0)],
    "muscle33": [Layer("muscle", 33.0, 15.0)],
    "muscle20": [Layer("muscle", 20.0, 15.0)],
    "muscle10": [Layer("muscle", 10.0, 15.0)],
    "column": [Layer("column", 34.46, 7.109)],
}


def fast_half_width_mm(tip_mm: float) -> float:
    """Half width of the fast engine's grid for a peak of tip radius ``tip_mm``: 45 mm for the PSO-Spine's peak,
    1.5 tip radii for a wide one (its contact reaches about 0.9 tip radii at a strain of 0.9). [mm]"""
    return max(45.0, 1.5 * tip_mm)


def fast_cone(load_n: float, layers: list[Layer], tip_mm: float = TIP_MM) -> dict:
    """The fast engine on one rounded cone (``compare.fast_rounded_cone``); two layers -> the two-layer model."""
    return asdict(
        fast_rounded_cone(
            load_n,
            layers,
            tip_radius_mm=tip_mm,
            flank_angle_deg=FLANK_DEG,
            half_width_mm=fast_half_width_mm(tip_mm),
        )
    )


def fast_roller(line_load_n_per_mm: float, layers: list[Layer], radius_mm: float = ROLLER_RADIUS_MM) -> dict:
    """The fast engine on a roller (``compare.fast_cylinder``; default the foam roller's radius), read on its
    mid-section (per mm)."""
    return asdict(fast_cylinder(line_load_n_per_mm, layers, radius_mm=radius_mm, length_mm=ROLLER_LENGTH_MM))


def fast_point(load: float, layers: list[Layer], tip_mm: float, roller: bool) -> dict:
    """The fast engine's side of one point: the mid-section (per mm) of a roller of radius ``tip_mm``, or one
    rounded cone."""
    return fast_roller(load, layers, tip_mm) if roller else fast_cone(load, layers, tip_mm)


def stem(case: str, tip_mm: float = TIP_MM, roller: bool = False) -> str:
    """File stem of a case's JSON: ``fem_deep_<case>``, with ``_tip<R>`` for a tip other than the PSO-Spine's,
    ``_roller`` for the foam roller's plane-strain section (``_roller<R>`` for another radius)."""
    if roller:
        return f"fem_deep_{case}_roller" + ("" if tip_mm == ROLLER_RADIUS_MM else f"{tip_mm:g}")
    return f"fem_deep_{case}" + ("" if tip_mm == TIP_MM else f"_tip{tip_mm:g}")


def run(
    case: str,
    fine: float,
    out: Path,
    loads: list[float] | None = None,
    *,
    rezone: bool = False,
    max_approach: float = 0.98,
    min_step: float = 4e-3,
    max_newton: int = 25,
    tip_mm: float | None = None,
    roller: bool = False,
) -> None:
    """One case by the FEM and the fast engine; ``roller``: a roller's cross-section in plane strain (loads per
    mm of length, areas as contact widths [mm]; ``tip_mm`` its radius, default the foam roller's)."""
    layers = CASES[case]
    suffix = "_rezoned" if rezone else ""
    if roller:
        tip_mm, flank = tip_mm or ROLLER_RADIUS_MM, ROLLER_FLANK_DEG
        loads = ROLLER_LOADS if loads is None else loads
    else:
        tip_mm, flank = tip_mm or TIP_MM, FLANK_DEG
        loads = LOADS_N if loads is None else loads
    geometry = "plane-strain" if roller else "axisymmetric"
    probe_of = plane_strain_probe_pressure_kpa if roller else axisymmetric_probe_pressure_kpa

    t0 = time.time()
    curve = indentation_curve(
        loads,
        layers,
        tip_radius_mm=tip_mm,
        flank_angle_deg=flank,
        geometry=geometry,
        fine_mm=fine,
        # a wide tip's contact reaches beyond the default fine zone
        fine_extent_mm=max(default_fine_extent_mm(sum(la.thickness_mm for la in layers)), 1.1 * tip_mm),
        log=lambda m: print(f"{time.time() - t0:6.0f} s  {m}", flush=True),
        rezone_distortion=REZONE_DISTORTION if rezone else None,
        tie_surface=rezone,
        max_approach_fraction=max_approach,
        min_step_fraction=min_step,
        max_newton=max_newton,
    )
    t_fem = time.time() - t0
    rows = []
    print(
        f"case {case}, FEM {fine} mm: {t_fem:.0f} s; {curve.stopped}; reach {curve.reach_approach_mm:.2f} mm, "
        f"{curve.reach_force_n:.2f} N"
    )
    print(
        "| load [N] | FEM d [mm] | fast d | FEM p [kPa] | fast p | FEM nodal max | FEM area [mm2] | fast area "
        "| strain | FEM 1 cm2 probe [kPa] | fast probe |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for res in curve.results:
        fa = fast_point(res.force_n, layers, tip_mm, roller)
        fem = {
            "force_n": res.force_n,
            "approach_mm": res.approach_mm,
            "peak_pressure_kpa": res.extras["facet_peak_pressure_kpa"],
            "nodal_peak_pressure_kpa": res.true_peak_pressure_kpa,
            "contact_area_mm2": res.contact_area_current_mm2,
            "nominal_peak_pressure_kpa": res.peak_pressure_kpa,
            "bone_force_n": res.bone_force_n,
            "bone_peak_pressure_kpa": res.bone_peak_pressure_kpa,
            "strain": res.max_compressive_strain,
            "converged": res.converged,
            "load_error": res.load_error,
            "peak_radius_mm": float(res.r_current_mm[int(np.argmax(res.true_pressure_kpa))]),
            "probe_pressure_kpa": probe_of(res.r_current_mm, res.true_pressure_kpa),
        }
        rows.append({"load_n": res.force_n, "fem": fem, "fast": fa})

        def pct(k, fa=fa, fem=fem):
            return f"{fa[k]:.2f} ({100 * (fa[k] / fem[k] - 1):+.0f} %)"

        print(
            f"| {res.force_n:.2f} | {fem['approach_mm']:.2f} | {pct('approach_mm')} | "
            f"{fem['peak_pressure_kpa']:.2f} | {pct('peak_pressure_kpa')} | {fem['nodal_peak_pressure_kpa']:.2f} | "
            f"{fem['contact_area_mm2']:.0f} | "
            f"{pct('contact_area_mm2')} | {fem['strain']:.2f} | {fem['probe_pressure_kpa']:.2f} | "
            f"{pct('probe_pressure_kpa')} |",
            flush=True,
        )
    # the fast engine beyond the FEM's reach, for the figure
    beyond = [
        {"load_n": L, "fast": fast_point(L, layers, tip_mm, roller)}
        for L in (LOADS_N if tip_mm == TIP_MM else loads)
        if L > curve.reach_force_n
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem(case, tip_mm, roller)}{suffix}.json").write_text(
        json.dumps(
            {
                "case": case,
                "geometry": geometry,
                "roller_length_mm": ROLLER_LENGTH_MM if roller else None,
                "tip_radius_mm": tip_mm,
                "flank_angle_deg": flank,
                "layers": [la.__dict__ for la in layers],
                "fine_mm": fine,
                "rezone_distortion": REZONE_DISTORTION if rezone else None,
                "tie_surface": rezone,
                "max_approach_fraction": max_approach,
                "min_step_fraction": min_step,
                "max_newton": max_newton,
                "rezones": curve.rezones,
                "fem_seconds": t_fem,
                "stopped": curve.stopped,
                "reach_approach_mm": curve.reach_approach_mm,
                "reach_force_n": curve.reach_force_n,
                "path": curve.path,
                "rows": rows,
                "fast_beyond": beyond,
            },
            indent=1,
        )
    )


def figure(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for case, colour in zip(CASES, ("C0", "C1", "C2", "C3", "C4"), strict=True):
        f = out / f"fem_deep_{case}_rezoned.json"  # the rezoned run reaches deepest; else the one-mesh run
        if not f.exists():
            f = out / f"fem_deep_{case}.json"
        if not f.exists():
            continue
        data = json.loads(f.read_text())
        path = np.array(data["path"])
        axes[0].plot(path[:, 0], path[:, 1], "-", color=colour, label=f"{case} FEM")
        fl = [r["fast"] for r in data["rows"]] + [r["fast"] for r in data["fast_beyond"]]
        thickness = sum(la["thickness_mm"] for la in data["layers"])
        # the fast engine's points beyond the validated compression (its tip column squeezed to a thin film)
        # are drawn with crosses
        inside = [x for x in fl if x["approach_mm"] <= VALIDATED_COMPRESSION * thickness]
        beyond = [x for x in fl if x["approach_mm"] > VALIDATED_COMPRESSION * thickness]
        for sel, marker, tag in ((inside, "o--", "fast"), (beyond, "x:", "fast, beyond validated")):
            for ax, xk, yk in ((axes[0], "approach_mm", "force_n"), (axes[1], "force_n", "peak_pressure_kpa")):
                if sel:
                    ax.plot(
                        [x[xk] for x in sel],
                        [x[yk] for x in sel],
                        marker,
                        color=colour,
                        mfc="none",
                        label=f"{case} {tag}",
                    )
        axes[1].plot(
            [r["load_n"] for r in data["rows"]],
            [r["fem"]["peak_pressure_kpa"] for r in data["rows"]],
            "-s",
            color=colour,
            label=f"{case} FEM",
        )
    axes[0].set_xlabel("approach [mm]")
    axes[0].set_ylabel("force on the peak [N]")
    axes[0].set_yscale("log")
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("force on the peak [N]")
    axes[1].set_ylabel("peak pressure [kPa]")
    for ax in axes:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle("One PSO-Spine peak, large-strain FEM (true-normal contact) vs fast engine")
    fig.tight_layout()
    fig.savefig(out / "fem_deep_indentation.png", dpi=120)
    print("wrote", out / "fem_deep_indentation.png")


def wide_figure(out: Path) -> None:
    """``fem_deep_wide.png``: the fast engine's error in approach and in the 1 cm2 probe average against the FEM's
    strain, for the wide tips (``fem_deep_<case>_tip<R>_rezoned.json``) beside the PSO-Spine's peak on the same
    column (``fem_deep_column_rezoned.json``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = [out / "fem_deep_column_rezoned.json"] + sorted(out.glob("fem_deep_*_tip*_rezoned.json"))
    files += sorted(out.glob("fem_deep_*_roller*_rezoned.json"))  # rollers' plane-strain sections
    files = [f for f in files if f.exists()]
    if len(files) < 2:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.5))
    for f in files:
        data = json.loads(f.read_text())
        tip = data.get("tip_radius_mm", TIP_MM)
        rows = [r for r in data["rows"] if r["fem"]["strain"] > 0]
        strain = np.array([r["fem"]["strain"] for r in rows])
        tissue = {"column": "34.5 mm column", "outer": "fat over muscle"}.get(data["case"], data["case"])
        thickness = sum(la["thickness_mm"] for la in data["layers"])
        # crosses: the fast engine's tip column beyond the validated compression (flagged to the user)
        beyond = np.array([r["fast"]["approach_mm"] > VALIDATED_COMPRESSION * thickness for r in rows])
        roller = data.get("geometry") == "plane-strain"
        shape = (
            ("foam roller" if tip == ROLLER_RADIUS_MM else f"roller R {tip:g} mm, held out") + " (plane strain)"
            if roller
            else f"tip {tip:g} mm"
        )
        style = ("s-." if tip == ROLLER_RADIUS_MM else "D:") if roller else "o-"
        for ax, key in ((axes[0], "approach_mm"), (axes[1], "probe_pressure_kpa")):
            err = np.array([100 * (r["fast"][key] / r["fem"][key] - 1) for r in rows])
            (line,) = ax.plot(strain[~beyond], err[~beyond], style, mfc="none", label=f"{tissue}, {shape}")
            if beyond.any():
                ax.plot(strain[beyond], err[beyond], "x", color=line.get_color())
    for ax, what in zip(axes, ("approach", "1 cm2 probe average"), strict=True):
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xlabel("FEM compressive strain under the tip [-]")
        ax.set_ylabel(f"fast engine - FEM, {what} [%]")
        ax.grid(alpha=0.3)
    axes[1].axhspan(-15, 15, color="0.9", zorder=0)
    # one legend below both panels, clear of the curves
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=7)
    fig.suptitle(
        "Wide tips (held out) and rollers (the foam roller fits the one-way confinement, R 38.1 mm held out)\n"
        "against the PSO-Spine's peak: fast engine vs rezoned FEM"
    )
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    fig.savefig(out / "fem_deep_wide.png", dpi=120)
    print("wrote", out / "fem_deep_wide.png")


def refresh_fast(out: Path) -> None:
    """Recompute the fast engine's side of every stored case (after a change to the fast engine) and print the
    comparison; the FEM side is kept."""
    files = [out / f"fem_deep_{c}{s}.json" for c in CASES for s in ("", "_rezoned", "_film", "_real_load")]
    files += sorted(f for c in CASES for f in out.glob(f"fem_deep_{c}_tip*.json"))  # wide tips
    files += sorted(f for c in CASES for f in out.glob(f"fem_deep_{c}_roller*.json"))  # the foam roller
    for f in files:
        if not f.exists():
            continue
        data = json.loads(f.read_text())
        layers, tip = CASES[data["case"]], data.get("tip_radius_mm", TIP_MM)
        roller = data.get("geometry") == "plane-strain"
        if roller:
            data["roller_length_mm"] = ROLLER_LENGTH_MM

        print(f"{f.stem} (FEM {data['fine_mm']} mm, reach {data['reach_force_n']:.2f} N)")
        for row in data["rows"]:
            row["fast"] = fast_point(row["load_n"], layers, tip, roller)
            fem, fa = row["fem"], row["fast"]
            print(
                f"  {row['load_n']:6.2f} N: p {fa['peak_pressure_kpa']:.2f} vs {fem['peak_pressure_kpa']:.2f} kPa "
                f"({100 * (fa['peak_pressure_kpa'] / fem['peak_pressure_kpa'] - 1):+.0f} %), approach "
                f"{100 * (fa['approach_mm'] / fem['approach_mm'] - 1):+.0f} %, area "
                f"{100 * (fa['contact_area_mm2'] / fem['contact_area_mm2'] - 1):+.0f} %, strain {fem['strain']:.2f}"
            )
        beyond = LOADS_N if tip == TIP_MM else [r["load_n"] for r in data["fast_beyond"]]
        data["fast_beyond"] = [
            {"load_n": L, "fast": fast_point(L, layers, tip, roller)} for L in beyond if L > data["reach_force_n"]
        ]
        f.write_text(json.dumps(data, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), default="outer")
    ap.add_argument("--fine", type=float, default=1.0, help="FEM element size in the contact zone [mm]")
    ap.add_argument(
        "--tip-radius",
        type=float,
        help="tip radius [mm] (default the PSO-Spine's; a wide one writes fem_deep_<case>_tip<R>*.json); with "
        "--roller the roller's radius (default the foam roller's; another writes fem_deep_<case>_roller<R>*.json)",
    )
    ap.add_argument("--out", type=Path, default=Path("docs/figures"))
    ap.add_argument("--figure", action="store_true", help="only draw the figure from the JSON files")
    ap.add_argument("--loads", type=float, nargs="+", help="loads to report [N] (default: 0.3 ... 56 N)")
    ap.add_argument("--refresh-fast", action="store_true", help="recompute the fast engine's side of the JSON files")
    ap.add_argument(
        "--rezone",
        action="store_true",
        help="rezone onto the deformed tissue and tie the skin's midside nodes (writes fem_deep_<case>_rezoned.json)",
    )
    ap.add_argument(
        "--roller",
        action="store_true",
        help="the foam roller's cross-section in plane strain, loads per mm (writes fem_deep_<case>_roller*.json)",
    )
    ap.add_argument("--max-newton", type=int, default=25, help="most Newton iterations of one solve")
    ap.add_argument("--min-step", type=float, default=4e-3, help="smallest approach step, fraction of thickness")
    ap.add_argument(
        "--max-approach", type=float, default=0.98, help="deepest approach, fraction of the tissue thickness"
    )
    args = ap.parse_args()
    if args.refresh_fast:
        refresh_fast(args.out)
    elif args.figure:
        figure(args.out)
        wide_figure(args.out)
    else:
        run(
            args.case,
            args.fine,
            args.out,
            args.loads,
            rezone=args.rezone,
            max_approach=args.max_approach,
            min_step=args.min_step,
            max_newton=args.max_newton,
            tip_mm=args.tip_radius,
            roller=args.roller,
        )


if __name__ == "__main__":
    main()
