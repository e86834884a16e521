"""Mesh studies for validation case 4 (issue 8; results quoted in ``docs/validation.md``).

``linear``: the linear FEM at the full load on finer meshes (does the centre-zone force converge, and to what?).
``large-strain``: the neo-Hookean and linear FEM at 3 N on finer meshes against the fast engine (is the peak
pressure difference mesh error?). ``holdout``: the linear FEM at the full load for the default body at T7 and
L3 (which fit ``solver.RIDGE_SPREAD_THICKNESSES``) and a 163 cm, 60 kg woman at T7 (held out), against the fast
engine with the earlier bin coupling, the spectral coupling, and the spectral coupling with the ridge
correction; writes ``tests/data/fem_back_linear_reference.json`` (the numbers ``tests/test_layered.py`` checks).
``tissue-layers``: the linear FEM with fat over muscle (``material="layered"``) for the same three bodies,
against the fast engine with one series modulus per column and with two layers (its default); at T7 also the
FEM with the series modulus; writes ``tests/data/fem_back_layered_reference.json``. ``large-strain-layers``: the
neo-Hookean FEM with fat over muscle at the highest load it converges at, against the two-layer fast engine.
``true-normal`` / ``true-normal-layers``: the neo-Hookean FEM with the skin held on the tool surface and pushed
along its normal (``contact_point="normal"``), mesh refined in 16 mm bands about the peaks, load-stepped as far
as it converges, against the fast engine at every load (series modulus / fat over muscle); writes
``docs/figures/fem_case4_true_normal_{column,layered}.json`` after every load (``pip install .[fem-mkl]`` for
faster solves; ``--checkpoint F`` resumes a long run, ``--states DIR`` keeps every load's state).
``remeasure`` / ``remeasure-layers``: the FEM metrics of those tables measured again from saved states
(``--states DIR``); ``remeasure-states``: the same for the apex-line rezoned run's table from its states (folders
joined by ``:``; stop 29, the peak zones by where the skin presses on the tool). ``rezone-check``: the FEM's
mesh error at saved states of the rezoned run: each rezoned onto the same layout and onto one with lines
halved about the outer peaks, solved again at its load (stop 24; ``--variants deep`` / ``refined-deep`` halve
the element layers through the thickness, stop 25).
``margin-check``: the unrezoned true-normal run on the default window and on a wider one (``--margins``), to see
whether the FEM's box with rollers on its sides stiffens it (stop 25; ``--rezone`` takes it into large strain,
stop 27).
``trough-check``: a two-peak tool on the slab and on a flat bone of the outer columns' thickness, to see whether
the bone's trough about the outer peaks stiffens the FEM (stop 25); ``--margins`` runs it on a wider window
(stop 27).
``trough-linear``: the same two-peak tool, slab and flat bone, by the linear FEM on each mesh against the fast
engine's linear operator; writes ``tests/data/fem_back_trough_linear.json`` (the fit of the fast engine's trough
confinement, stop 26). ``refresh-fast``: the fast-engine columns of the stored tables solved again with the present
code, the stop-25 engine kept beside them (stop 26).
``skin-stretch``: the smallest in-plane stretch of the FEM's skin in saved states of the true-normal run, against
the onset of creasing (stop 28). ``pile-up``: at saved states, the fast engine at the FEM's approach: the contact
force in rings about the outer apexes and the skin's height beside the contact (stop 28). ``skin-figure``: both
as ``docs/figures/fem_case4_skin.png``. ``column-block``: one rounded peak on the back's thick column in 3D on
blocks of several widths against the axisymmetric FEM (is the 3D FEM right, and what does its box do? stop 28).
``elongated-block``: the same peak stretched along y, an elongated contact in 3D, against the fast engine with and
without its one-way confinement term, or (``--ridges``, ``--bend``) drawn out into a straight or bent ridge with
blunt ends (stop 33); writes ``tests/data/fem_elongated_block_reference.json`` (stop 32);
``elongated-figure`` draws it as ``docs/figures/fem_case4_elongated_block.png``.
``block-check``: the 3D slab on the true normal, with and without the tied skin, against the
axisymmetric true-normal FEM on one peak.
Meshes are given as ``<element size mm>x<layers>``.

Usage::

    /work/venv/bin/python benchmarks/fem_case4_mesh.py linear 3.5x4 2.5x4          # about 6 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py large-strain 3.5x3 2.5x3    # about 17 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py holdout 3.5x4                # about 5 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py tissue-layers 3.5x4          # about 7 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py large-strain-layers 3.5x3    # about 10 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py tissue-layers-figure         # seconds (reads the FEM data)
    /work/venv/bin/python benchmarks/fem_case4_mesh.py true-normal-figure           # seconds (reads the FEM data)
    /work/venv/bin/python benchmarks/fem_case4_mesh.py block-check 2.5x3           # about 3 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py true-normal 2.5x4           # about 1-2 hours
    /work/venv/bin/python benchmarks/fem_case4_mesh.py true-normal-layers 2.5x4    # about 1-2 hours
    /work/venv/bin/python benchmarks/fem_case4_mesh.py remeasure 2.5x4 --states DIR  # seconds per state
    /work/venv/bin/python benchmarks/fem_case4_mesh.py remeasure-states 2.5x4 --tip-blend 1 --crease-blend 1 \
        --states DIR1:DIR2   # seconds per state
    /work/venv/bin/python benchmarks/fem_case4_mesh.py true-normal 2.5x4 --apex-lines --rezone --tip-blend 1 \
        --crease-blend 1 --max-cuts 4 --checkpoint F --states DIR --loads 40 42 44 ...
        # rezones when a halved step fails; with the C2 tool surface the rezoned mesh re-converges at 38 N (stop 22),
        # and with the inertia-corrected Newton step the run reaches 64 N (stop 23; 1-10 minutes per load beyond
        # 38 N, resumed from a saved state)
    /work/venv/bin/python benchmarks/fem_case4_mesh.py rezone-check 2.5x4 --states DIR --loads 64 --tip-blend 1 \
        --crease-blend 1   # about 10 minutes (same layout) + 30 minutes (refined) per state
    /work/venv/bin/python benchmarks/fem_case4_mesh.py rezone-check 2.5x4 --states DIR --loads 64 --tip-blend 1 \
        --crease-blend 1 --variants deep   # about 20 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py margin-check 3.5x4 --loads 1 2 4 8 12 16 20 24 28
        # about 30 minutes per margin (20 and 60 mm)
    /work/venv/bin/python benchmarks/fem_case4_mesh.py trough-check 3.5x4   # about 10 minutes per bone
    /work/venv/bin/python benchmarks/fem_case4_mesh.py trough-check 3.5x4 --bones slab --rezone --max-cuts 4 \
        --loads 2 4 7 10 14 17.4 20 24 28 32 35   # into large strain; run slab and flat at once
    /work/venv/bin/python benchmarks/fem_case4_mesh.py trough-check 3.5x4 --bones flat --margins 60 --rezone \
        --max-cuts 4 --loads 2 4 7 10 14 17.4 20 24 28 32 35   # the same on a 60 mm window, about 30 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py margin-check 3.5x4 --margins 60 --rezone --max-cuts 4 \
        --loads 2 4 8 12 16 20 24 28 32 36 40 44 48 52 56 60 64 68 72 74 76 78   # the full tool, 60 mm window
    /work/venv/bin/python benchmarks/fem_case4_mesh.py trough-linear 3.5x4 2.5x4   # about 2 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py refresh-fast   # about 10 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py skin-stretch 2.5x4 --tip-blend 1 --crease-blend 1 \
        --states DIR1:DIR2   # seconds per state
    /work/venv/bin/python benchmarks/fem_case4_mesh.py pile-up 2.5x4 --tip-blend 1 --crease-blend 1 \
        --states DIR1:DIR2 --loads 48 64 74 78   # about a minute per state
    /work/venv/bin/python benchmarks/fem_case4_mesh.py skin-figure   # seconds (reads the two tables)
    /work/venv/bin/python benchmarks/fem_case4_mesh.py column-block 2.5x4 --margins 60 100 140   # 6-12 minutes each
    /work/venv/bin/python benchmarks/fem_case4_mesh.py column-block 2.5x4 --margins 140 \
        --loads 1 3 6 8 10 12 14 16 17.38   # about 10 minutes, to strain 0.92
    /work/venv/bin/python benchmarks/fem_case4_mesh.py elongated-block 2.5x4 --stretches 2.5   # about 20 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py elongated-block 2.5x4 --stretches 3.5 --tissue 20,15 \
        --loads 1 2 4 7 10 14 18 22 26 30 35 40 45 50 56 62 70   # held out, about 30 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py elongated-block 2.5x4 --ridges 40 --bend 30 \
        --loads 1 2 4 6 8 10 13 16 20 25 30   # a bent ridge (stop 33), about 25 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py elongated-block 2.5x4 --ridges 40 --tissue 20,15 \
        --loads 1 2 4 7 10 14 18 22 26 30 35 40 45 50   # a straight one on 20 mm of muscle, about 20 minutes
    /work/venv/bin/python benchmarks/fem_case4_mesh.py elongated-figure   # seconds
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from spinerelease.contact.fem.back3d import (
    back_slab_case,
    case_metrics_fast,
    case_metrics_fem,
    flat_bone_case,
    solve_fast_back,
    solve_fem_back,
)


@contextmanager
def _solver_constants(**values):
    """Set module constants of ``spinerelease.contact.solver`` (names as keywords) for the duration of a block,
    and put the old ones back afterwards."""
    from spinerelease.contact import solver

    saved = {k: getattr(solver, k) for k in values}
    try:
        for k, v in values.items():
            setattr(solver, k, v)
        yield
    finally:
        for k, v in saved.items():
            setattr(solver, k, v)


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


def large_strain_layers(specs: list[str]) -> None:
    """Fat over muscle at large strain: the neo-Hookean 3D FEM with the two layers, load-stepped up to the highest
    load that converges, against the two-layer fast engine with and without its stiffening (and the linear FEM on
    the same mesh, which separates mesh error from large strain)."""
    ((fine, layers),) = _meshes(specs[:1])
    case = back_slab_case()
    loads = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.25]
    guess = solve_fast_back(case, nonlinear=True, load_n=loads[0], tissue="layers").contact
    kw = {"fine_mm": fine, "n_layers": layers, "contact_guess": guess, "contact_point": "reference"}
    steps = solve_fem_back(case, model="neo-hookean", loads_n=loads, max_cuts=2, material="layered", **kw)
    done = [(f, r) for f, r in steps if r is not None]
    if not done:
        print("the neo-Hookean FEM did not converge at the first load")
        return
    f, r = done[-1]
    lin = solve_fem_back(case, model="linear", loads_n=[f], material="layered", **kw)[-1][1]
    print(f"highest converged load {f:.3f} N, {r.n_dofs} dofs, strain {r.extras['max_compressive_strain']:.2f}")
    m_nh, m_lin = case_metrics_fem(case, r), case_metrics_fem(case, lin)
    print("FEM neo-Hookean        ", _row(m_nh))
    print("FEM linear             ", _row(m_lin, m_nh))
    for nl in (True, False):
        m = case_metrics_fast(case, solve_fast_back(case, nonlinear=nl, load_n=f, tissue="layers"))
        print(f"fast nonlinear={nl!s:5s}  ", _row(m, m_nh), f"area {m['contact_area_mm2']:.0f} mm2")
    print(f"FEM areas: neo-Hookean {m_nh['contact_area_mm2']:.0f}, linear {m_lin['contact_area_mm2']:.0f} mm2")


def block_check(specs: list[str]) -> None:
    """The 3D slab's contact on the true normal against the axisymmetric true-normal FEM (``contact.fem.deep``,
    1 mm mesh, ``tests/data/fem_deep_reference.json``): the PSO-Spine's rounded cone into 20 mm of muscle, a
    60 x 30 mm half block, with and without the tied skin surface; nodal and face-mean peak pressure, area on the
    tool and 1 cm^2 probe (against the stored axisymmetric probe where there is one)."""
    from spinerelease.contact.fem.back3d import probe_pressure_fem
    from spinerelease.contact.fem.solid3d import _Diverged, rounded_peak_block

    ((fine, layers),) = _meshes(specs[:1])
    ref = json.loads((Path(__file__).resolve().parents[1] / "tests/data/fem_deep_reference.json").read_text())
    rows = {round(r["load_n"], 1): r for r in ref["cases"]["muscle20"]["rows"]}
    probes = {
        round(r["load_n"], 1): r["probe_kpa"]
        for r in ref["probe"]["rows"]
        if r["layers"] == [["muscle", 20.0, 15.0]] and "tip_radius_mm" not in r
    }
    for tie in (True, False):
        prob = rounded_peak_block(fine_mm=fine, n_layers=layers, tie_surface=tie)
        for f in (0.3, 0.6, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0):
            try:
                r = prob.result(prob.solve(0.5 * f))
            except _Diverged as exc:
                print(f"tie_surface={tie}: no convergence at {f} N ({exc})")
                break
            line = f"tie_surface={tie} {f:4.1f} N: d {r.approach_mm:.3f} mm, p {r.true_peak_pressure_kpa:.2f} kPa, "
            line += f"face mean {r.true_face_peak_pressure_kpa:.2f} kPa, "
            line += f"area {r.contact_area_current_mm2:.0f} mm2 (undeformed {r.contact_area_mm2:.0f}), "
            probe = probe_pressure_fem(r, [(0.0, 0.0)])[0]
            line += f"probe {probe:.2f} kPa" + (f" ({100 * (probe / probes[f] - 1):+.1f} %)" if f in probes else "")
            if f in rows:
                a = rows[f]
                line += (
                    f" | axisymmetric {a['approach_mm']:.3f} / {a['peak_pressure_kpa']:.2f} / "
                    f"{a['contact_area_mm2']:.0f}: {100 * (r.approach_mm / a['approach_mm'] - 1):+.1f} / "
                    f"{100 * (r.true_peak_pressure_kpa / a['peak_pressure_kpa'] - 1):+.1f} / "
                    f"{100 * (r.contact_area_current_mm2 / a['contact_area_mm2'] - 1):+.1f} %"
                )
            print(line, flush=True)


def _step_half_model(prob, done_n: float, target_n: float, step_n: float) -> None:
    """Take a symmetric half model (``solid3d.SlabContact``, which carries half the load) from the total load
    ``done_n`` to ``target_n`` in equal steps of at most ``step_n`` [N]; raises ``_Diverged`` where a step's
    active set does not settle."""
    from spinerelease.contact.fem.solid3d import _Diverged

    n = max(1, int(np.ceil((target_n - done_n) / step_n)))
    for k in range(1, n + 1):
        if not prob.solve(0.5 * (done_n + (target_n - done_n) * k / n)):
            raise _Diverged("the active set did not settle")


def column_block(specs: list[str], half_widths: list[float] | None, loads: list[float] | None) -> None:
    """Is the 3D FEM as soft as the axisymmetric one on one peak, and how much does its box stiffen it? The
    PSO-Spine's rounded cone (``rounded_peak_block``, true normal, tied skin) into the back's thick column (34.46 mm,
    7.109 kPa: the outer peaks' column at T7) on half blocks of the given half widths (default 60, 100 and 140 mm;
    rollers on the sides), loaded in 0.5 N steps, against the axisymmetric FEM on the same column
    (``docs/figures/fem_deep_column_rezoned.json``, domain radius 172 mm) and the fast engine stored there; writes
    ``docs/figures/fem_case4_column_block.json`` (stop 28)."""
    from spinerelease.contact.fem.solid3d import _Diverged, rounded_peak_block

    ((fine, layers),) = _meshes(specs[:1])
    figs = Path(__file__).resolve().parents[1] / "docs" / "figures"
    deep = json.loads((figs / "fem_deep_column_rezoned.json").read_text())
    ((column,),) = [deep["layers"]]
    ref = {round(r["load_n"], 2): r for r in deep["rows"]}
    out = figs / "fem_case4_column_block.json"
    for hw in half_widths or [60.0, 100.0, 140.0]:
        prob = rounded_peak_block(
            fine_mm=fine,
            n_layers=layers,
            thickness_mm=column["thickness_mm"],
            modulus_kpa=column["modulus_kpa"],
            half_width_mm=hw,
        )
        rows, done, t0 = [], 0.0, time.perf_counter()
        for target in loads or [1.0, 3.0, 6.0, 8.0, 10.0, 12.0]:
            try:
                _step_half_model(prob, done, target, 0.5)
            except _Diverged as exc:
                print(f"half width {hw:g} mm: no convergence on the way to {target:g} N ({exc})", flush=True)
                break
            done = target
            r = prob.result(True)
            row = {"load_n": target, "approach_mm": r.approach_mm, "skin_min_stretch": r.skin_min_stretch}
            row["seconds"] = time.perf_counter() - t0
            if target in ref:
                row["axisymmetric_approach_mm"] = ref[target]["fem"]["approach_mm"]
                row["fast_approach_mm"] = ref[target]["fast"]["approach_mm"]
            rows.append(row)
            a, fa = row.get("axisymmetric_approach_mm", np.nan), row.get("fast_approach_mm", np.nan)
            print(
                f"half width {hw:5.1f} mm, {target:5.2f} N ({prob.n} unknowns): approach 3D {r.approach_mm:.3f} mm, "
                f"axisymmetric {a:.3f} ({100 * (r.approach_mm / a - 1):+.2f} %), fast {fa:.3f} "
                f"({100 * (fa / r.approach_mm - 1):+.2f} % against 3D); {row['seconds']:.0f} s",
                flush=True,
            )

        def put(data: dict, hw=hw, rows=rows) -> None:  # this half width's rows replace its earlier ones
            data["rows"] = [x for x in data["rows"] if x["half_width_mm"] != hw]
            data["rows"] += [{"half_width_mm": hw, "mesh": f"{fine}x{layers}", **x} for x in rows]
            data["rows"].sort(key=lambda x: (x["half_width_mm"], x["load_n"]))

        _update_json(out, put)


#: ``elongated-block``: the peak's stretches along y (stop 32) and the total loads each is stepped through [N]
ELONGATED_STRETCHES = (2.5, 1.5)
ELONGATED_LOADS = [1, 2, 4, 6, 8, 10, 13, 16, 19, 22, 25, 28, 31, 34, 37, 40, 43, 46, 50, 55, 60, 65, 70, 75, 80]


def _apex_line(ridge_mm: float, bend_radius_mm: float, beyond_mm: float = 15.0) -> tuple[np.ndarray, list]:
    """Points every 1 mm along a ridge's apex line from its middle (``rounded_peak_block(ridge_mm=,
    bend_radius_mm=)``) and on along its end's tangent for ``beyond_mm``: (distance along it [mm], (x, y) [mm])."""
    c = 0.5 * ridge_mm
    ts = np.arange(0.0, c + beyond_mm + 0.01, 1.0)
    if np.isinf(bend_radius_mm):  # straight, along y
        return ts, [(0.0, t) for t in ts]
    phi = np.minimum(ts, c) / bend_radius_mm  # along x on the arc, bending towards +y
    past = ts - np.minimum(ts, c)
    x = bend_radius_mm * np.sin(phi) + past * np.cos(phi)
    y = bend_radius_mm * (1 - np.cos(phi)) + past * np.sin(phi)
    return ts, list(zip(x.tolist(), y.tolist(), strict=True))


def elongated_block(
    specs: list[str],
    stretches: list[float] | None,
    loads: list[float] | None,
    tissue: str | None = None,
    ridges: list[float] | None = None,
    bend_radius_mm: float | None = None,
) -> None:
    """An elongated contact in 3D: the PSO-Spine's rounded peak stretched along y (``rounded_peak_block(stretch=)``:
    contact about 3 times as long as wide at 2.5, between the round peak's all-round escape and the roller's
    one-way escape, the range the fast engine's one-way confinement term interpolates by its escape anisotropy)
    on the back's thick column (34.46 mm, 7.109 kPa), true normal, tied skin, 160 mm half block, total loads
    stepped by ``stretch`` N (0.5 N to 4 N, 1 N to 10 N), as far as it converges; at every load the fast engine
    (``compare.fast_rounded_cone(stretch=)``) with its default one-way term, with it off, and with it taken at each
    column's own strain (stop 31's form, ``CONFINEMENT_LONG_AXIS_THICKNESSES = 0``). Writes
    ``tests/data/fem_elongated_block_reference.json`` (what ``tests/test_confinement.py`` checks; stop 32).
    ``tissue``: another uniform tissue, ``"<thickness mm>,<modulus kPa>"`` (the held-out run: ``20,15``, 20 mm of
    muscle), or skin and fat over muscle, ``"<top mm>,<top kPa>,<total mm>,<muscle kPa>"`` (``11.967,3.25,34.46,15``:
    the back's outer column, the fast engine's two-layer model). ``ridges``: instead of stretching it, draw the
    round peak's apex out into a straight ridge of each of these lengths [mm] (``rounded_peak_block(ridge_mm=)``, a
    blunt-ended elongated peak whose contact is a stadium; stop 33), stepped by 2.5 N beyond 10 N;
    ``bend_radius_mm``: bend the ridges into arcs of this radius (``bend_radius_mm=``; along x). On a ridge the
    largest 1 cm2 probe is near the contact's ends: the FEM's probe is also read every 1 mm along the apex line
    (:func:`_apex_line`), and both engines' probes on the axis are kept (``probe_centre_kpa``)."""
    from spinerelease.contact import solver
    from spinerelease.contact.fem.axisym import Layer
    from spinerelease.contact.fem.back3d import probe_pressure_fem
    from spinerelease.contact.fem.compare import fast_rounded_cone
    from spinerelease.contact.fem.solid3d import _Diverged, rounded_peak_block

    ((fine, layers),) = _meshes(specs[:1])
    figs = Path(__file__).resolve().parents[1] / "docs" / "figures"
    ((column,),) = [json.loads((figs / "fem_deep_column_rezoned.json").read_text())["layers"]]
    top = None
    if tissue:
        vals = [float(v) for v in tissue.split(",")]
        if len(vals) == 2:
            column = {"name": "muscle", "thickness_mm": vals[0], "modulus_kpa": vals[1]}
        elif len(vals) == 4:  # skin and fat over muscle
            top = (vals[0], vals[1])
            column = {"name": "fat over muscle", "thickness_mm": vals[2], "modulus_kpa": vals[3]}
            column["top_layer"] = list(top)
        else:
            raise SystemExit("--tissue takes '<thickness mm>,<modulus kPa>' or '<top mm>,<top kPa>,<total mm>,<kPa>'")
    layers_fast = [Layer(column["name"], column["thickness_mm"], column["modulus_kpa"])]
    if top is not None:
        layers_fast = [Layer("skin+fat", *top), Layer("muscle", column["thickness_mm"] - top[0], column["modulus_kpa"])]
    k_default = solver.CONFINEMENT_STIFFENING
    out = figs.parents[1] / "tests" / "data" / "fem_elongated_block_reference.json"
    runs = [(1.0, r) for r in ridges] if ridges else [(s, 0.0) for s in stretches or ELONGATED_STRETCHES]
    bend = np.inf if bend_radius_mm is None else bend_radius_mm
    for stretch, ridge in runs:
        name = f"ridge {ridge:g} mm" if ridge else f"stretch {stretch:g}"
        name += f" bent to {bend:g} mm" if ridge and np.isfinite(bend) else ""
        ridge_bend = bend if ridge else np.inf  # a stretched peak has no ridge to bend
        prob = rounded_peak_block(
            fine_mm=fine,
            n_layers=layers,
            thickness_mm=column["thickness_mm"],
            modulus_kpa=column["modulus_kpa"],
            half_width_mm=160.0,
            stretch=stretch,
            ridge_mm=ridge,
            bend_radius_mm=ridge_bend,
            top_layer=top,
        )
        rows, done, t0 = [], 0.0, time.perf_counter()
        for target in loads or ELONGATED_LOADS:
            try:
                step = 0.5 if target <= 4 else 1.0 if target <= 10 else 2.5 if ridge else stretch
                _step_half_model(prob, done, target, step)
            except _Diverged as exc:
                print(f"{name}: no convergence on the way to {target:g} N ({exc})", flush=True)
                break
            done = target
            r = prob.result(True)
            touch = r.active
            row = {
                "load_n": target,
                "seconds": time.perf_counter() - t0,
                "fem": {
                    "force_n": r.force_n,
                    "approach_mm": r.approach_mm,
                    "strain": r.approach_mm / column["thickness_mm"],
                    "peak_pressure_kpa": float(r.true_pressure_kpa.max()),
                    "face_peak_pressure_kpa": r.true_face_peak_pressure_kpa,
                    "probe_pressure_kpa": probe_pressure_fem(r, [(0.0, 0.0)])[0],  # on the axis
                    "contact_area_mm2": r.contact_area_current_mm2,
                    "contact_half_x_mm": float(r.x_mm[touch.any(axis=0)].max()),
                    "contact_half_y_mm": float(r.y_mm[touch.any(axis=1)].max()),
                    "skin_min_stretch": r.skin_min_stretch,
                },
            }
            if ridge:  # the largest probe along the apex line, and where
                ts, centres = _apex_line(ridge, bend)
                line = probe_pressure_fem(r, centres)
                row["fem"]["probe_line_max_kpa"] = float(max(line))
                row["fem"]["probe_line_max_at_mm"] = float(ts[int(np.argmax(line))])
            w_default = solver.CONFINEMENT_LONG_AXIS_THICKNESSES
            # the engine; with the one-way term off; with it at each column's own strain (stop 31's form)
            for key, k_value, w_value in (
                ("fast", k_default, w_default),
                ("fast_no_confinement", 0.0, w_default),
                ("fast_local_strain", k_default, 0.0),
            ):
                solver.CONFINEMENT_STIFFENING, solver.CONFINEMENT_LONG_AXIS_THICKNESSES = k_value, w_value
                try:
                    m = fast_rounded_cone(  # rounded_peak_block's peak: the PSO-Spine's
                        target,
                        layers_fast,
                        tip_radius_mm=10.0,
                        flank_angle_deg=55.0,
                        stretch=stretch,
                        ridge_mm=ridge,
                        bend_radius_mm=ridge_bend,
                        half_width_mm=50,
                    )
                finally:
                    solver.CONFINEMENT_STIFFENING, solver.CONFINEMENT_LONG_AXIS_THICKNESSES = k_default, w_default
                row[key] = asdict(m)
            rows.append(row)
            fem, fa, f0 = row["fem"], row["fast"], row["fast_no_confinement"]
            probe = fem.get("probe_line_max_kpa", fem["probe_pressure_kpa"])  # a ridge's: the largest along it
            print(
                f"{name}, {target:5.1f} N ({prob.n} unknowns, FEM strain {fem['strain']:.2f}, contact "
                f"{fem['contact_half_x_mm']:.0f} x {fem['contact_half_y_mm']:.0f} mm): approach fast "
                f"{100 * (fa['approach_mm'] / fem['approach_mm'] - 1):+.2f} % (without the one-way term "
                f"{100 * (f0['approach_mm'] / fem['approach_mm'] - 1):+.2f} %), peak pressure "
                f"{100 * (fa['peak_pressure_kpa'] / fem['peak_pressure_kpa'] - 1):+.1f} % "
                f"({100 * (f0['peak_pressure_kpa'] / fem['peak_pressure_kpa'] - 1):+.1f} %), probe "
                f"{100 * (fa['probe_pressure_kpa'] / probe - 1):+.1f} % "
                f"({100 * (f0['probe_pressure_kpa'] / probe - 1):+.1f} %); {row['seconds']:.0f} s",
                flush=True,
            )

        bent = float(bend) if ridge and np.isfinite(bend) else None  # None: straight (JSON has no inf)

        def put(
            data: dict, stretch=stretch, ridge=ridge, bent=bent, rows=rows
        ) -> None:  # this run replaces its earlier rows
            def same(x: dict) -> bool:
                shape = (x.get("ridge_mm", 0.0), x.get("bend_radius_mm"))
                return x["stretch"] == stretch and shape == (ridge, bent) and x["tissue"] == column

            data["rows"] = [x for x in data["rows"] if not same(x)]
            run = {"stretch": stretch, "ridge_mm": ridge, "bend_radius_mm": bent, "tissue": column}
            run["mesh"] = f"{fine}x{layers}"
            data["rows"] += [{**run, **x} for x in rows]
            data["rows"].sort(
                key=lambda x: (
                    x["tissue"]["name"],
                    x.get("ridge_mm", 0.0),
                    x.get("bend_radius_mm") or 0.0,
                    x["stretch"],
                    x["load_n"],
                )
            )

        _update_json(out, put)


def elongated_figure(specs: list[str]) -> None:
    """``docs/figures/fem_case4_elongated_block.png``: the fast engine's approach and peak-pressure errors against
    the 3D FEM of the elongated peaks, stretched (top, stop 32) and drawn out into straight or bent ridges (bottom,
    stop 33), with its one-way confinement term, without it and with it at each column's own strain (stop 31), by
    the FEM strain (reads ``tests/data/fem_elongated_block_reference.json``; ``specs`` unused)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spinerelease.contact.fem.solid3d import CREASE_ONSET_STRETCH

    root = Path(__file__).resolve().parents[1]
    data = json.loads((root / "tests" / "data" / "fem_elongated_block_reference.json").read_text())
    runs: dict[tuple, list[dict]] = {}
    for row in data["rows"]:
        tissue = row["tissue"]
        what = f"{tissue['thickness_mm']:g} mm, {tissue['modulus_kpa']:g} kPa"
        if "top_layer" in tissue:
            what = f"skin and fat ({tissue['top_layer'][0]:.0f} mm) over muscle, {tissue['thickness_mm']:g} mm"
        shape = f"stretch {row['stretch']:g}"
        if row.get("ridge_mm"):
            bend = row.get("bend_radius_mm")
            shape = f"ridge {row['ridge_mm']:g} mm" + (f" bent to {bend:g} mm" if bend else "")
        runs.setdefault((bool(row.get("ridge_mm")), what, shape), []).append(row)
    fig, axes = plt.subplots(2, 2, figsize=(17, 11))
    for (ridge, what, shape), rows in sorted(runs.items()):
        # the rows the tests compare: to strain 0.93, and the skin not squeezed past the onset of creasing
        rows = [r for r in rows if r["fem"]["strain"] <= 0.93 and r["fem"]["skin_min_stretch"] >= CREASE_ONSET_STRETCH]
        eps = [r["fem"]["strain"] for r in rows]
        held = " (held out)" if rows[0].get("held_out") else ""
        label = f"{what}, {shape}{held}"
        for ax, key in zip(axes[int(ridge)], ("approach_mm", "peak_pressure_kpa"), strict=True):
            styles = (("fast", "-o", ""), ("fast_no_confinement", "--x", ", term off"))
            styles += (("fast_local_strain", ":^", ", local strain (stop 31)"),)
            for fast, style, note in styles:
                err = [100 * (r[fast][key] / r["fem"][key] - 1) for r in rows]
                line = ax.plot(eps, err, style, ms=4, label=label + note)
                if fast == "fast":
                    color = line[0].get_color()
                else:
                    line[0].set_color(color)
    for row_axes, kind in zip(axes, ("stretched peaks (stop 32)", "ridges (stop 33)"), strict=True):
        for ax, title, band in zip(row_axes, ("approach", "peak pressure (largest cell / node)"), (5, 15), strict=True):
            ax.axhspan(-band, band, color="0.92", zorder=0)
            ax.axhline(0, color="0.5", lw=0.8)
            ax.set_xlabel("FEM strain (approach / thickness)")
            ax.set_ylabel("fast engine - FEM [%]")
            ax.set_title(f"{kind}: {title}; shaded: the tests' {band} %", fontsize=9)
        handles, labels = row_axes[0].get_legend_handles_labels()
        row_axes[1].legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle("Elongated peaks (the PSO-Spine's, stretched or drawn out), 3D FEM on the true normal")
    fig.tight_layout()
    out = root / "docs" / "figures" / "fem_case4_elongated_block.png"
    fig.savefig(out, dpi=110)
    print(out)


TRUE_NORMAL_LOADS = {
    "column": [1, 2, 3.25, 4.75, 6, 8, 10, 12, 14, 16, 18, 20, 24, 28, 32, 36, 40, 44, 48, 56, 64],
    "layered": [0.5, 1, 1.625, 2.5, 3.25, 4.75, 6, 8, 10, 12, 14, 16, 18, 20, 24, 28, 32, 36, 40, 48],
}


#: How the true-normal runs mesh and hold the skin (``build_fem_back`` keywords), shared with ``remeasure``.
TRUE_NORMAL_MODEL = {"contact_point": "normal", "peak_window_mm": 16.0, "tie_surface": True}


def true_normal(
    specs: list[str],
    material: str = "column",
    loads: list[float] | None = None,
    checkpoint: str | None = None,
    max_cuts: int = 3,
    states: str | None = None,
    apex_lines: bool = False,
    rezone: bool = False,
    tip_blend_mm: float = 0.0,
    crease_blend_mm: float = 0.0,
) -> None:
    """The neo-Hookean FEM on the true normal, load-stepped, against the fast engine at every converged load.

    Rows already in the JSON for the same mesh are kept (a row at a load solved again is replaced), so a run
    resumed from ``checkpoint`` (the solver state after its last load) or one on other loads adds to the table.
    ``states``: a folder that keeps a copy of the checkpoint of every load (``<material>_<load>N.npz``, 1 MB each),
    for measuring the saved states again later. ``rezone``: a failing load step first lays a fresh mesh over the
    last converged state (``solve_fem_back(rezone=True)``); the results then go to ``..._rezoned.json``.
    ``tip_blend_mm``: each tip of the FEM's tool surface blended into its flank over that half width, so its
    curvature is continuous (``back_slab_case(tip_blend_mm=)``; the fast engine's tool is unchanged);
    ``crease_blend_mm``: the creases between its peaks' flanks rounded likewise (``crease_blend_mm=``).
    """
    ((fine, layers),) = _meshes(specs[:1])
    case = back_slab_case(tip_blend_mm=tip_blend_mm, crease_blend_mm=crease_blend_mm)
    tissue = "column" if material == "column" else "layers"
    loads = TRUE_NORMAL_LOADS[material] if not loads else sorted(loads)
    guess = solve_fast_back(case, nonlinear=True, load_n=loads[0], tissue=tissue).contact
    tag = ("_apex" if apex_lines else "") + ("_rezoned" if rezone else "")
    out = Path(__file__).resolve().parents[1] / "docs" / "figures" / f"fem_case4_true_normal_{material}{tag}.json"
    rows: list[dict] = []
    if out.exists():
        old = json.loads(out.read_text())
        if old.get("mesh") == f"{fine}x{layers}" and old.get("material") == material:
            rows = old["rows"]
    t0 = time.perf_counter()

    def save(f: float, r) -> None:
        m = case_metrics_fem(case, r)
        mf = case_metrics_fast(case, solve_fast_back(case, nonlinear=True, load_n=f, tissue=tissue))
        row = {
            "load_n": f,
            "seconds": time.perf_counter() - t0,
            "strain": r.extras["max_compressive_strain"],
            "dofs": r.n_dofs,
            "loads_run": loads,
            "fem": m,
            "fast": mf,
        }
        if states and checkpoint and Path(checkpoint).exists():
            Path(states).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(checkpoint, Path(states) / f"{material}_{f:g}N.npz")

        def put(data: dict) -> None:  # under the lock: rows refreshed meanwhile (refresh-fast) are kept
            if data.get("mesh") != f"{fine}x{layers}" or data.get("material") != material:
                data.clear()
                data.update(mesh=f"{fine}x{layers}", material=material, rows=[])
            data["rows"] = sorted([x for x in data["rows"] if x["load_n"] != f] + [row], key=lambda x: x["load_n"])
            rows[:] = data["rows"]

        _update_json(out, put)
        print(f"{f:6.2f} N {row['seconds']:5.0f} s", _row(m), "|", _row(mf, m), flush=True)

    steps = solve_fem_back(
        case,
        model="neo-hookean",
        loads_n=loads,
        max_cuts=max_cuts,
        material=material,
        fine_mm=fine,
        n_layers=layers,
        contact_guess=guess,
        apex_lines=apex_lines,
        **TRUE_NORMAL_MODEL,
        rezone=rezone,
        on_load=save,
        checkpoint=checkpoint,
        verbose=2 if checkpoint else False,
    )
    if steps and steps[-1][1] is None:
        if len(steps) > 1 and steps[-2][1] is not None and (not rows or steps[-2][0] > rows[-1]["load_n"]):
            save(steps[-2][0], steps[-2][1])  # the highest converged intermediate load
        print(f"stopped: no convergence at {steps[-1][0]} N (highest load {rows[-1]['load_n'] if rows else 0} N)")


def _stored_table(stem: str, fine: float, layers: int) -> tuple[Path, dict]:
    """A stored table in docs/figures (``<stem>.json``) and its data, checked to be of the mesh asked for."""
    out = Path(__file__).resolve().parents[1] / "docs" / "figures" / f"{stem}.json"
    data = json.loads(out.read_text())
    if data.get("mesh") != f"{fine}x{layers}":
        raise SystemExit(f"the stored table is for mesh {data.get('mesh')}, not {fine}x{layers}")
    return out, data


def _take_remeasured(row: dict, m: dict, note: str, source: str, *, keep_before: bool = False) -> None:
    """Put FEM metrics ``m`` measured again from the saved state ``source`` into a stored table's ``row``, once
    the state is shown to be the row's own (same approach and force); ``keep_before``: keep the per-peak forces
    measured before as ``peak_force_n_before`` (the first time)."""
    old = row["fem"]
    for k in ("approach_mm", "force_n"):
        if abs(m[k] - old[k]) > 1e-6 * max(1.0, abs(old[k])):
            raise SystemExit(f"{source}: {k} {m[k]} differs from the table's {old[k]}: another state")
    if keep_before:
        row.setdefault("peak_force_n_before", old["peak_force_n"])
    row["fem"] = m
    row["remeasured"] = note


def _merge_remeasured(out: Path, fresh: dict, note: str, show, *, keep_before: bool = False) -> None:
    """Under the table's lock (``_update_json``), put the metrics measured again, ``fresh`` (load -> (metrics,
    state file)), into the rows of their loads (``_take_remeasured``) and ``show(row, metrics)`` each."""

    def merge(data: dict) -> None:
        for row in data["rows"]:
            if float(row["load_n"]) in fresh:
                m, source = fresh[float(row["load_n"])]
                _take_remeasured(row, m, note, source, keep_before=keep_before)
                show(row, m)

    _update_json(out, merge)


def remeasure(specs: list[str], material: str, states: str) -> None:
    """Measure the FEM rows of the stored true-normal table again from saved solver states (``--states``, folders
    joined by ``:``, files ``<material>_<load>N.npz`` from a run with ``--states``, or checkpoints): every FEM
    metric is recomputed with the present code (e.g. the probe integrated over the skin's Q2 field since stop 20)
    and the row says so. Rows without a state are left as they are; the table is written under its lock
    (``_update_json``), so rows another run changed meanwhile are kept."""
    from spinerelease.contact.fem.back3d import _load_checkpoint, build_fem_back

    ((fine, layers),) = _meshes(specs[:1])
    case = back_slab_case()
    tissue = "column" if material == "column" else "layers"
    out, data = _stored_table(f"fem_case4_true_normal_{material}", fine, layers)
    prob = build_fem_back(
        case,
        model="neo-hookean",
        material=material,
        fine_mm=fine,
        n_layers=layers,
        contact_guess=solve_fast_back(case, nonlinear=True, load_n=1.0, tissue=tissue).contact,
        **TRUE_NORMAL_MODEL,
    )
    in_table = {float(r["load_n"]) for r in data["rows"]}
    fresh = {}
    for _, path in _named_states(states, material):
        load, state = _load_checkpoint(prob, path)
        if load not in in_table:
            print(f"{path.name}: {load} N is not in the table")
            continue
        fresh[load] = (case_metrics_fem(case, state.result(True)), path.name)
    note = "stop 20: FEM metrics measured again from the saved state with the present code"

    def show(row: dict, m: dict) -> None:
        print(f"{row['load_n']:6.2f} N", _row(m), "|", _row(row["fast"], m), flush=True)

    _merge_remeasured(out, fresh, note, show)


def remeasure_states(specs: list[str], table: str, states: str, tip_blend_mm: float, crease_blend_mm: float) -> None:
    """Measure the FEM rows of a stored table of the apex-line true-normal run (``table``: file stem in
    docs/figures, default ``fem_case4_true_normal_column_apex_rezoned``) again from its saved states (``--states``,
    folders joined by ':'), with the present ``case_metrics_fem``; the per-peak forces measured before are kept
    as ``peak_force_n_before``. Stop 29: the peak zones by where the skin now presses on the tool."""
    from spinerelease.contact.fem.back3d import _load_checkpoint

    ((fine, layers),) = _meshes(specs[:1])
    out, _ = _stored_table(table, fine, layers)
    case, prob = _state_problem(fine, layers, None, tip_blend_mm, crease_blend_mm)
    fresh = {}
    for load, path in _named_states(states):
        _, state = _load_checkpoint(prob, path)
        fresh[load] = (case_metrics_fem(case, state.result(True)), path.name)
    note = "stop 29: FEM metrics measured again from the saved state (peak zones on the tool)"

    def show(row: dict, m: dict) -> None:
        before = row["peak_force_n_before"]["centre"]
        print(
            f"{row['load_n']:6.2f} N centre {before:.3f} -> {m['peak_force_n']['centre']:.3f} N |",
            _row(row["fast"], m),
            flush=True,
        )

    _merge_remeasured(out, fresh, note, show, keep_before=True)


def _halved_near(lines: np.ndarray, centres: np.ndarray, half_width_mm: float) -> np.ndarray:
    """Mesh lines with a line added midway between each two neighbours whose midpoint lies within
    ``half_width_mm`` of one of ``centres``."""
    mid = 0.5 * (lines[1:] + lines[:-1])
    near = (np.abs(mid[:, None] - centres[None, :]) <= half_width_mm).any(axis=1)
    return np.sort(np.concatenate([lines, mid[near]]))


def rezone_check(
    specs: list[str],
    states: str,
    loads: list[float] | None,
    tip_blend_mm: float,
    crease_blend_mm: float,
    half_width_mm: float = 10.0,
    variants: list[str] | None = None,
) -> None:
    """The FEM's mesh error at saved states of the rezoned true-normal run (``--states``): each state is rezoned
    onto the same layout (``same``), onto one with its lines halved within ``half_width_mm`` of the outer peaks' x
    and y (``refined``), onto the same x and y with every element layer through the thickness halved (``deep``),
    or both (``refined-deep``) - the ``variants`` asked for, default the first two - solved again at the same load,
    and compared with the old mesh and the fast engine; writes ``docs/figures/fem_case4_rezone_check.json`` (a
    variant solved again replaces its entry in the row of that load, the other entries are kept)."""
    from spinerelease.contact.fem.back3d import _load_checkpoint
    from spinerelease.contact.fem.rezone3d import rezone_slab
    from spinerelease.contact.fem.solid3d import _Diverged, _node_lines

    ((fine, layers),) = _meshes(specs[:1])
    case, prob = _state_problem(fine, layers, None, tip_blend_mm, crease_blend_mm)
    out = Path(__file__).resolve().parents[1] / "docs" / "figures" / "fem_case4_rezone_check.json"
    outer = np.array([name != "centre" for name in case.peak_names])
    cx, cy = np.unique(np.abs(case.peak_xy_mm[outer, 0])), np.unique(case.peak_xy_mm[outer, 1])
    named = _named_states(states)
    for named_load, path in named:
        if loads and named_load not in loads:
            continue  # (by the file's name: loading a state builds its mesh)
        load, old = _load_checkpoint(prob, path)
        row = dict(load_n=load, mesh=f"{fine}x{layers}", state=path.name, old=case_metrics_fem(case, old.result(True)))
        row["old"]["dofs"] = old.n
        row["fast"] = case_metrics_fast(case, solve_fast_back(case, nonlinear=True, load_n=load, tissue="column"))
        x, y, fr = old.layout
        xr, yr = _halved_near(x, cx, half_width_mm), _halved_near(y, cy, half_width_mm)
        frd = _node_lines(fr)  # every element layer halved
        layouts = {"same": None, "refined": (xr, yr, fr), "deep": (x, y, frd), "refined-deep": (xr, yr, frd)}
        for name in variants or ("same", "refined"):
            if name not in layouts:
                raise SystemExit(f"unknown rezone-check variant {name!r}; choose from {', '.join(layouts)}")
            layout = layouts[name]
            row.pop(name, None)
            t = time.perf_counter()
            try:
                new = rezone_slab(old, layout)
                ok = new.solve(0.5 * load, max_newton=40, predict=False)
            except _Diverged as exc:
                ok, new = False, None
                print(f"{load:6.2f} N {name}: {exc}", flush=True)
            if ok:
                row[name] = case_metrics_fem(case, new.result(True))
                row[name]["dofs"] = new.n
                row[name]["seconds"] = time.perf_counter() - t
                print(
                    f"{load:6.2f} N {name:8s} {new.n} dofs {row[name]['seconds']:5.0f} s", _row(row[name]), flush=True
                )
        print(f"{load:6.2f} N old      {old.n} dofs", _row(row["old"]), flush=True)
        best = next((row[k] for k in ("refined-deep", "refined", "deep") if k in row), row["old"])
        print(f"{load:6.2f} N fast    ", _row(row["fast"], best), flush=True)

        def merge(data: dict, row=row, tried=tuple(variants or ("same", "refined"))) -> None:
            """Under the table's lock: the row of this load, mesh and state takes the variants tried now (one that
            failed is dropped) and keeps the others (another run's meanwhile included); other loads' rows are
            left as they are."""
            rows = data.setdefault("rows", [])
            key = (row["load_n"], row["mesh"], row["state"])
            same = [r for r in rows if (r["load_n"], r["mesh"], r["state"]) == key]
            merged = {k: v for k, v in (same[0] if same else {}).items() if k not in tried}
            merged.update(row)
            rows[:] = sorted([r for r in rows if r["load_n"] != row["load_n"]] + [merged], key=lambda r: r["load_n"])
            data["half_width_mm"] = half_width_mm

        _update_json(out, merge)


def _state_problem(fine: float, layers: int, margin_mm: float | None, tip_blend_mm: float, crease_blend_mm: float):
    """The case a saved state of the true-normal run was solved on (the default window, or one of ``margin_mm``,
    ``margin-check``) and the apex-line neo-Hookean problem to load it into: ``(case, problem)``."""
    from spinerelease.contact.fem.back3d import build_fem_back

    kwargs = {"tip_blend_mm": tip_blend_mm, "crease_blend_mm": crease_blend_mm}
    case = back_slab_case(**kwargs) if margin_mm is None else _case_with_margin(float(margin_mm), **kwargs)
    prob = build_fem_back(
        case,
        model="neo-hookean",
        fine_mm=fine,
        n_layers=layers,
        contact_guess=solve_fast_back(case, nonlinear=True, load_n=1.0, tissue="column").contact,
        apex_lines=True,
        **TRUE_NORMAL_MODEL,
    )
    return case, prob


def _named_states(states: str, material: str = "column") -> list[tuple[float, Path]]:
    """The saved states ``<material>_<load>N.npz`` in the folders ``states`` (joined by ``:``), by load; of two
    with the same load the one in the earlier folder."""
    named: dict[float, Path] = {}
    for folder in states.split(os.pathsep):
        for q in sorted(Path(folder).glob(f"{material}_*N.npz")):
            named.setdefault(float(q.stem.split("_")[1][:-1]), q)
    return sorted(named.items())


def skin_stretch(
    specs: list[str], states: str, tip_blend_mm: float, crease_blend_mm: float, margin_mm: float | None = None
) -> None:
    """Where and from what load the FEM's skin is squeezed in its own plane past the onset of creasing
    (``solid3d.CREASE_ONSET_STRETCH``): the smallest principal in-plane stretch of the skin in each saved state of
    the true-normal run (``--states``, folders joined by ``:``; files ``column_<load>N.npz``), inside the window
    and on its side walls (the rollers), with where the smallest sits; writes
    ``docs/figures/fem_case4_skin_stretch.json`` (stop 28)."""
    from spinerelease.contact.fem.back3d import _load_checkpoint, nearest_cell
    from spinerelease.contact.fem.solid3d import CREASE_ONSET_STRETCH

    ((fine, layers),) = _meshes(specs[:1])
    case, prob = _state_problem(fine, layers, margin_mm, tip_blend_mm, crease_blend_mm)
    named = _named_states(states)
    g = case.grid
    rows = []
    print(f"onset of creasing: stretch {CREASE_ONSET_STRETCH}")
    for _, path in named:
        load, st = _load_checkpoint(prob, path)
        res = st.result(True)
        small, large = res.skin_stretches
        ref = np.asarray(res.extras["skin_xy_reference_mm"])
        cur = np.asarray(res.extras["skin_xy_current_mm"])
        wall = np.zeros(small.shape, dtype=bool)
        wall[0, :] = wall[-1, :] = wall[:, -1] = True  # the side faces (x = 0 is the symmetry plane)
        k = np.unravel_index(np.argmin(np.where(wall, np.inf, small)), small.shape)
        iy, ix = nearest_cell(g, cur[0][k], cur[1][k])
        row = {
            "load_n": load,
            "state": path.name,
            "approach_mm": res.approach_mm,
            "min_stretch": float(small[k]),
            "at_reference_mm": [float(ref[0][k]), float(ref[1][k])],
            "at_current_mm": [float(cur[0][k]), float(cur[1][k]), float(-res.deflection_mm[k])],
            "in_contact": bool(res.active[k]),
            "tissue_mm_there": float(case.thickness_mm[iy, ix]),
            "min_stretch_walls": float(small[wall].min()),
            "max_stretch": float(large.max()),
            "nodes_past_onset": int(((small < CREASE_ONSET_STRETCH) & ~wall).sum()),
        }
        rows.append(row)
        print(
            f"{load:6.2f} N approach {res.approach_mm:6.2f} mm: smallest stretch {row['min_stretch']:.3f} at "
            f"({cur[0][k]:.1f}, {cur[1][k]:.1f}) mm, {'in contact' if row['in_contact'] else 'free'}, "
            f"tissue {row['tissue_mm_there']:.1f} mm; {row['nodes_past_onset']} nodes past onset; walls "
            f"{row['min_stretch_walls']:.3f}; largest stretch {row['max_stretch']:.2f}",
            flush=True,
        )
    stem = "fem_case4_skin_stretch" + ("" if margin_mm is None else f"_margin{margin_mm:g}")
    out = Path(__file__).resolve().parents[1] / "docs" / "figures" / f"{stem}.json"
    data = {"onset_stretch": CREASE_ONSET_STRETCH, "mesh": f"{fine}x{layers}", "rows": rows}
    out.write_text(json.dumps(data, indent=1))


#: Rings about the outer apexes (distance from the nearest, on the skin's current position) that the pile-up
#: study sums the contact force over. [mm]
PILE_UP_RINGS_MM = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0)
#: Rays from the upper right apex along which the pile-up study samples the skin: outwards, towards the spine,
#: along the spine away from the neighbour (no peak) and towards it (the next outer peak 50 mm on).
PILE_UP_RAYS = {
    "outwards": (1.0, 0.0),
    "to the spine": (-1.0, 0.0),
    "along, no neighbour": (0.0, -1.0),
    "along, to the neighbour": (0.0, 1.0),
}


def _approach_error(load: float, case, target_mm: float, solved: dict) -> float:
    """The fast engine's approach at ``load`` less ``target_mm`` (each solution kept in ``solved`` by load)."""
    solved[load] = solve_fast_back(case, nonlinear=True, load_n=load, tissue="column")
    return solved[load].approach_mm - target_mm


def pile_up(
    specs: list[str],
    states: str,
    loads: list[float] | None,
    tip_blend_mm: float,
    crease_blend_mm: float,
    margin_mm: float | None = None,
):
    """Where the FEM carries more than the fast engine at the same approach, and how high its skin stands beside
    the contact: for saved states of the true-normal run (``--states``, folders joined by ``:``), the fast engine
    at the FEM's approach (its load found by Brent's method), the contact force in rings about the outer apexes
    (:data:`PILE_UP_RINGS_MM`) and the skin's depth below its rest plane along rays from the upper right apex
    (:data:`PILE_UP_RAYS`; the FEM's skin at its current positions), beside the tool's depth; writes
    ``docs/figures/fem_case4_pile_up.json`` (stop 28)."""
    from scipy.interpolate import griddata
    from scipy.optimize import brentq

    from spinerelease.contact.fem.back3d import _load_checkpoint, nearest_cell

    ((fine, layers),) = _meshes(specs[:1])
    case, prob = _state_problem(fine, layers, margin_mm, tip_blend_mm, crease_blend_mm)
    named = _named_states(states)
    g = case.grid
    XG, YG = g.mesh()
    outer = case.peak_xy_mm[[i for i, n in enumerate(case.peak_names) if n != "centre"]]
    rings = np.asarray(PILE_UP_RINGS_MM)
    rows = []
    for named_load, path in named:
        if loads and named_load not in loads:
            continue
        load, st = _load_checkpoint(prob, path)
        res = st.result(True)
        m_fem = case_metrics_fem(case, res)
        target = res.approach_mm
        solved: dict[float, object] = {}
        f_same = brentq(_approach_error, 0.7 * load, 1.1 * load, xtol=0.01, args=(case, target, solved))
        fast = solved[f_same]
        m_fast = case_metrics_fast(case, fast)
        xr = np.asarray(res.extras["skin_xy_reference_mm"])[0]
        xc, yc = np.asarray(res.extras["skin_xy_current_mm"])
        w = np.where(np.isclose(xr, 0.0), 1.0, 2.0) * res.reaction_n  # a node off the midline and its mirror

        def nearest(x, y):
            return np.min([np.hypot(np.abs(x) - abs(a), y - b) for a, b in outer], axis=0)

        d_fem, d_fast = nearest(xc, yc), nearest(XG, YG)
        f_cell = fast.pressure_kpa * g.cell_area_mm2 * 1e-3
        ring_fem = [float(w[(d_fem >= a) & (d_fem < b)].sum()) for a, b in zip(rings[:-1], rings[1:], strict=True)]
        ring_fast = [
            float(f_cell[(d_fast >= a) & (d_fast < b)].sum()) for a, b in zip(rings[:-1], rings[1:], strict=True)
        ]
        pts = np.concatenate([np.c_[xc.ravel(), yc.ravel()], np.c_[-xc.ravel(), yc.ravel()]])
        depth_fem = griddata(pts, np.tile(res.deflection_mm.ravel(), 2), (XG, YG), method="linear")
        tool = target - case.gap0_mm  # the tool's depth below the skin's rest plane [mm]
        ax, ay = case.peak_xy_mm[case.peak_names.index("upper right")]
        rays = {}
        for name, (dx, dy) in PILE_UP_RAYS.items():
            r = np.arange(0.0, 31.0, 2.0)
            iy, ix = nearest_cell(g, ax + dx * r, ay + dy * r)
            rays[name] = {
                "r_mm": r.tolist(),
                "tool_mm": tool[iy, ix].tolist(),
                "fem_mm": depth_fem[iy, ix].tolist(),
                "fast_mm": fast.displacement_mm[iy, ix].tolist(),
            }
        rows.append(
            {
                "load_n": load,
                "state": path.name,
                "approach_mm": target,
                "fast_load_same_approach_n": f_same,
                "fem": {k: m_fem[k] for k in ("peak_force_n", "contact_area_mm2", "skin_min_stretch")},
                "fast_same_approach": {
                    "peak_force_n": m_fast["peak_force_n"],
                    "contact_area_mm2": m_fast["contact_area_mm2"],
                },
                "rings_mm": rings.tolist(),
                "ring_force_fem_n": ring_fem,
                "ring_force_fast_n": ring_fast,
                "rays": rays,
            }
        )
        c_fem, c_fast = m_fem["peak_force_n"]["centre"], m_fast["peak_force_n"]["centre"]
        print(
            f"{load:6.2f} N, approach {target:.3f} mm: fast carries {f_same:.2f} N there, centre {c_fast:.2f} / FEM "
            f"{c_fem:.2f} N, contact {m_fast['contact_area_mm2']:.0f} / FEM {m_fem['contact_area_mm2']:.0f} mm2",
            flush=True,
        )
        for (a, b), rf, rs in zip(zip(rings[:-1], rings[1:], strict=True), ring_fem, ring_fast, strict=True):
            print(f"    {a:4.0f}-{b:2.0f} mm from the outer apexes: FEM {rf:6.2f} N, fast {rs:6.2f} N", flush=True)
        for name, ray in rays.items():
            lift = [s_ - f_ for s_, f_, t_ in zip(ray["fast_mm"], ray["fem_mm"], ray["tool_mm"], strict=True)]
            print(f"    {name}: fast skin - FEM skin [mm] at r = 0, 2, ... 30: " + " ".join(f"{v:.1f}" for v in lift))
    stem = "fem_case4_pile_up" + ("" if margin_mm is None else f"_margin{margin_mm:g}")
    out = Path(__file__).resolve().parents[1] / "docs" / "figures" / f"{stem}.json"

    def merge(data: dict) -> None:  # rows of other loads (an earlier run's) are kept
        done = {r["load_n"] for r in rows}
        data["rows"] = sorted([r for r in data["rows"] if r["load_n"] not in done] + rows, key=lambda r: r["load_n"])
        data["mesh"] = f"{fine}x{layers}"

    _update_json(out, merge)


def _update_json(path: Path, change) -> None:
    """Read the JSON table at ``path`` (``{"rows": []}`` if there is none), let ``change(data)`` edit it in place,
    and write it back, under an exclusive lock on ``<path>.lock`` (runs that share a table never lose each other's
    rows) and through a temporary file (a reader never sees half a file)."""
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {"rows": []}
        change(data)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, default=float))
        tmp.replace(path)


def _side_by_side(
    case,
    specs: list[str],
    loads: list[float],
    label: dict,
    name: str,
    rezone: bool = False,
    max_cuts: int = 3,
    states: str | None = None,
) -> None:
    """The true-normal FEM run (``--apex-lines``) on ``case``, load by load, with the fast engine on the same case;
    rows tagged with ``label`` go to ``docs/figures/<name>.json``. A row of the same label, mesh and load solved
    again is replaced; the file is read again before every write, so runs of other labels may write to it at the
    same time. ``rezone``: a failing load step first lays a fresh mesh over the last converged state
    (``solve_fem_back(rezone=True)``), the row says whether its mesh was rezoned. ``states``: a folder that keeps
    the solver state of every load (``column_<load>N.npz``; the run resumes from ``checkpoint.npz`` there)."""
    ((fine, layers),) = _meshes(specs[:1])
    mesh = f"{fine}x{layers}"
    checkpoint = None
    if states:
        Path(states).mkdir(parents=True, exist_ok=True)
        checkpoint = Path(states) / "checkpoint.npz"
    out = Path(__file__).resolve().parents[1] / "docs" / "figures" / f"{name}.json"
    t0 = time.perf_counter()
    tag = " ".join(f"{k} {v}" for k, v in label.items())

    def same(r: dict, f: float) -> bool:  # a row without one of the labels has none
        return _row_key(r) == _row_key({**label, "mesh": mesh, "load_n": f})

    def on_load(f: float, r) -> None:
        m = case_metrics_fem(case, r)
        mf = case_metrics_fast(case, solve_fast_back(case, nonlinear=True, load_n=f, tissue="column"))
        row = {**label, "mesh": mesh, "load_n": f, "dofs": r.n_dofs, "fem": m, "fast": mf}
        row["seconds"] = time.perf_counter() - t0
        row["strain"] = r.extras.get("max_compressive_strain")
        row["rezoned"] = bool(r.extras.get("rezoned", False))

        def add(data: dict) -> None:
            data["rows"] = [x for x in data["rows"] if not same(x, f)] + [row]

        _update_json(out, add)
        if checkpoint is not None and checkpoint.exists():
            shutil.copyfile(checkpoint, checkpoint.with_name(f"column_{f:g}N.npz"))
        print(f"{tag} {f:6.2f} N {r.n_dofs} dofs", _row(m), "|", _row(mf, m), flush=True)

    solve_fem_back(
        case,
        model="neo-hookean",
        loads_n=loads,
        fine_mm=fine,
        n_layers=layers,
        contact_guess=solve_fast_back(case, nonlinear=True, load_n=loads[0], tissue="column").contact,
        apex_lines=True,
        **TRUE_NORMAL_MODEL,
        on_load=on_load,
        rezone=rezone,
        max_cuts=max_cuts,
        checkpoint=checkpoint,
    )


def _case_with_margin(margin_mm: float, **kwargs):
    """``back_slab_case(**kwargs)`` on a window of ``margin_mm`` of back around the tool's footprint
    (``workflow.WINDOW_MARGIN_MM``, restored afterwards)."""
    from spinerelease import workflow

    default = workflow.WINDOW_MARGIN_MM
    workflow.WINDOW_MARGIN_MM = margin_mm
    try:
        return back_slab_case(**kwargs)
    finally:
        workflow.WINDOW_MARGIN_MM = default


def margin_check(
    specs: list[str],
    loads: list[float] | None,
    margins: list[float] | None,
    rezone: bool = False,
    max_cuts: int = 3,
    states: str | None = None,
) -> None:
    """Does the slab's finite box stiffen the FEM? The true-normal run (unrezoned, ``--apex-lines``, tips and creases
    blended by 1 mm) on the default window (``workflow.WINDOW_MARGIN_MM`` of back around the tool's footprint; the
    FEM's side faces carry rollers there) and on wider ones, load by load; the fast engine, whose layered operator
    treats the tissue as unbounded, is solved on each window too. ``rezone``: rezone on a failing load step, for
    loads into large strain. ``states``: keep every load's solver state in ``<states>/margin<margin>`` (one window
    at a time then). Writes ``docs/figures/fem_case4_margin_check.json``.
    """
    from spinerelease import workflow

    default = workflow.WINDOW_MARGIN_MM
    for margin in margins or [default, 3.0 * default]:
        case = _case_with_margin(float(margin), tip_blend_mm=1.0, crease_blend_mm=1.0)
        label = {"margin_mm": float(margin)}
        _side_by_side(
            case,
            specs,
            loads or [1, 2, 4, 8, 12, 16, 20, 24, 28, 32],
            label,
            "fem_case4_margin_check",
            rezone,
            max_cuts,
            str(Path(states) / f"margin{margin:g}") if states else None,
        )


def trough_check(
    specs: list[str],
    loads: list[float] | None,
    bones: list[str] | None = None,
    rezone: bool = False,
    max_cuts: int = 3,
    margins: list[float] | None = None,
) -> None:
    """Does the bone's shape about the outer peaks stiffen the FEM? A two-peak PSO-Spine (``n_peaks=2``: one pair
    at x = +-32 mm) on the back slab at T7, whose outer columns (34.46 mm) lie in a trough of bone (the tissue
    thins to 15 mm over the spinous ridge at |x| < 12 mm and to 12-20 mm beyond |x| = 64 mm), and on a flat bone
    (uniform 34.46 mm at the series modulus 7.109 kPa), both by the unrezoned true-normal FEM and the fast engine.
    ``bones``: which of "slab" and "flat" to run (both by default; two runs may write at once); ``rezone``: rezone
    on a failing load step, for loads into large strain; ``margins``: run on windows of these margins of back around
    the tool's footprint instead of the default ``workflow.WINDOW_MARGIN_MM`` (the FEM's side faces carry rollers
    there; rows of another margin are labelled with it). Writes ``docs/figures/fem_case4_trough_check.json``."""
    from spinerelease import workflow

    for margin in margins or [workflow.WINDOW_MARGIN_MM]:
        for bone, c in _two_peak_cases(margin_mm=margin).items():
            if bones and bone not in bones:
                continue
            label = {"bone": bone}
            if margin != workflow.WINDOW_MARGIN_MM:
                label["margin_mm"] = float(margin)
            _side_by_side(c, specs, loads or [1, 2, 4, 7, 10, 14], label, "fem_case4_trough_check", rezone, max_cuts)


def _two_peak_cases(tip_blend_mm: float = 1.0, margin_mm: float | None = None) -> dict:
    """The two-peak PSO-Spine (``n_peaks=2``: one pair at x = +-32 mm) on the back slab at T7 and on a flat bone at
    the outer columns' thickness and series modulus (34.46 mm, 7.109 kPa; ``flat_bone_case``); ``margin_mm``: the
    window's margin around the tool's footprint (default ``workflow.WINDOW_MARGIN_MM``)."""
    from spinerelease import workflow

    case = _case_with_margin(
        workflow.WINDOW_MARGIN_MM if margin_mm is None else margin_mm,
        tip_blend_mm=tip_blend_mm,
        crease_blend_mm=tip_blend_mm,
        tool_params={"n_peaks": 2},
    )
    return {"slab": case, "flat": flat_bone_case(case)}


#: Load of the linear trough check (``trough-linear``): light, as the linear model is meant (FEM strain 0.2). [N]
TROUGH_LINEAR_LOAD_N = 2.0


def trough_linear(specs: list[str]) -> None:
    """The bone's trough in the linear model: the linear FEM (reference contact point) with the two-peak tool on the
    slab and on the flat bone, on each mesh of ``specs``, against the fast engine's linear operator; the approach
    ratio slab / flat is what ``solver.TROUGH_SPREAD_THICKNESSES`` is fitted to. Writes
    ``tests/data/fem_back_trough_linear.json`` (checked by ``tests/test_layered.py``)."""

    load = TROUGH_LINEAR_LOAD_N
    out = {
        "about": (
            "Linear 3D FEM (spinerelease.contact.fem.back3d, Taylor-Hood Q2-Q1, exact active set) of a two-peak "
            f"PSO-Spine (one pair at x = +-32 mm) at {load:g} N on the back slab at T7 and on a flat bone at the "
            "outer columns' thickness; produced by `python benchmarks/fem_case4_mesh.py trough-linear "
            f"{' '.join(specs)}` (docs/calibration.md). The slab / flat approach ratio fits the fast engine's trough "
            "confinement (solver.TROUGH_SPREAD_THICKNESSES)."
        ),
        "load_n": load,
        "meshes": {},
    }
    cases = _two_peak_cases()
    fast, fast_off, guess = {}, {}, {}
    for bone, case in cases.items():
        r = solve_fast_back(case, nonlinear=False, load_n=load)
        fast[bone], guess[bone] = case_metrics_fast(case, r), r.contact
        with _solver_constants(TROUGH_SPREAD_THICKNESSES=0.0):
            fast_off[bone] = case_metrics_fast(case, solve_fast_back(case, nonlinear=False, load_n=load))
    for fine, layers in _meshes(specs):
        entry = {}
        for bone, case in cases.items():
            t0 = time.perf_counter()
            r = solve_fem_back(
                case,
                model="linear",
                loads_n=[load],
                contact_guess=guess[bone],
                fine_mm=fine,
                n_layers=layers,
                contact_point="reference",
            )[-1][1]
            entry[bone] = {"dofs": int(r.n_dofs), "fem": case_metrics_fem(case, r)}
            print(f"{fine}x{layers} {bone}: FEM {time.perf_counter() - t0:.0f} s", _row(entry[bone]["fem"]))
            print("   fast", _row(fast[bone], entry[bone]["fem"]))
        ratio = entry["slab"]["fem"]["approach_mm"] / entry["flat"]["fem"]["approach_mm"]
        entry["approach_ratio"] = ratio
        out["meshes"][f"{fine}x{layers}"] = entry
        print(f"{fine}x{layers}: approach slab / flat, FEM {ratio:.4f}")
    r_fast = fast["slab"]["approach_mm"] / fast["flat"]["approach_mm"]
    r_off = fast_off["slab"]["approach_mm"] / fast_off["flat"]["approach_mm"]
    print(f"fast: {r_fast:.4f} (without the trough confinement {r_off:.4f})")
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "fem_back_trough_linear.json"
    path.write_text(json.dumps(out, indent=1, default=float))
    print("wrote", path)


#: Tables (file stems in docs/figures) whose fast-engine columns ``refresh-fast`` recomputes.
REFRESHED_TABLES = (
    "fem_case4_true_normal_column",
    "fem_case4_true_normal_column_apex",
    "fem_case4_true_normal_column_apex_rezoned",
    "fem_case4_true_normal_layered",
    "fem_case4_margin_check",
    "fem_case4_trough_check",
    "fem_case4_rezone_check",
)


def _row_key(row: dict) -> tuple:
    """What tells a stored row from the others of its table: load, mesh and labels."""
    return (row["load_n"], row.get("mesh"), row.get("bone"), row.get("margin_mm"), row.get("state"))


def _merge_fast(data: dict, fresh: dict) -> None:
    """Put the refreshed fast columns into the rows they were solved for; rows another run added meanwhile are kept
    as they are."""
    for row in data["rows"]:
        if _row_key(row) in fresh:
            row["fast"], row["fast_stop25"] = fresh[_row_key(row)]


def refresh_fast(specs: list[str], tables: list[str] | None = None) -> None:
    """The fast-engine columns of the stored case-4 tables solved again with the present code (the FEM columns are
    kept): ``fast`` is replaced and the stop-25 engine (no trough confinement, ridge widths 0.38 / 0.57) is kept
    beside it as ``fast_stop25``, for the figure and the docs. ``tables``: the file stems to refresh (default
    :data:`REFRESHED_TABLES`). ``specs`` unused."""

    stop25 = {"TROUGH_SPREAD_THICKNESSES": 0.0, "RIDGE_SPREAD_THICKNESSES": 0.38}
    stop25["RIDGE_SPREAD_THICKNESSES_TWO_LAYER"] = 0.57
    root = Path(__file__).resolve().parents[1] / "docs" / "figures"
    base = back_slab_case()
    two = {}  # margin -> the two-peak cases on that window

    def solve(case, load: float, tissue: str, old: bool) -> dict:
        with _solver_constants(**(stop25 if old else {})):
            return case_metrics_fast(case, solve_fast_back(case, nonlinear=True, load_n=load, tissue=tissue))

    for stem in tables or REFRESHED_TABLES:
        path = root / f"{stem}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        tissue = "layers" if data.get("material") == "layered" else "column"
        fresh = {}  # (load, label) -> (fast, fast_stop25): solved outside the lock, merged under it
        for row in data["rows"]:
            if "bone" in row:
                margin = row.get("margin_mm")
                if margin not in two:
                    two[margin] = _two_peak_cases(margin_mm=margin)
                case = two[margin][row["bone"]]
            elif "margin_mm" in row:
                case = _case_with_margin(float(row["margin_mm"]))
            else:
                case = base
            new = solve(case, row["load_n"], tissue, old=False), solve(case, row["load_n"], tissue, old=True)
            fresh[_row_key(row)] = new
            ref = row.get("fem") or row.get("refined") or row.get("same") or row.get("old")
            print(f"{stem} {row['load_n']:6.2f} N", _row(new[0], ref) if ref else "", flush=True)

        _update_json(path, lambda data, fresh=fresh: _merge_fast(data, fresh))
        print("wrote", path)


HOLDOUT = {
    "T7": ({}, "fit"),
    "L3": ({"level": "L3"}, "fit"),
    "female_163_60": ({"sex": "female", "stature_cm": 163, "mass_kg": 60}, "held out"),
}


def holdout(specs: list[str]) -> None:

    ((fine, layers),) = _meshes(specs[:1])
    out = {
        "about": (
            f"Linear 3D FEM (spinerelease.contact.fem.back3d, Taylor-Hood Q2-Q1, {fine} mm x {layers} layers, exact "
            "active set) of the PSO-Spine on a back slab at the full lie-back load; produced by "
            f"`python benchmarks/fem_case4_mesh.py holdout {specs[0]}` (docs/validation.md, case 4). T7 and L3 fit "
            "the fast engine's ridge correction (solver.RIDGE_SPREAD_THICKNESSES); the 163 cm / 60 kg woman is "
            "held out."
        ),
        "cases": {},
    }
    # (coupling, ridge spread, bin ratio): the earlier default, the spectral coupling alone, the present default
    variants = {
        "bins (earlier)": ("bins", 0.0, 1.6),
        "spectral": ("spectral", 0.0, None),
        "spectral + ridge": ("spectral", None, None),
    }
    for name, (cfg, role) in HOLDOUT.items():
        case = back_slab_case(**cfg)
        guess = solve_fast_back(case, nonlinear=False).contact
        r = solve_fem_back(case, model="linear", contact_guess=guess, fine_mm=fine, n_layers=layers)[-1][1]
        mf = case_metrics_fem(case, r)
        out["cases"][name] = {"config": cfg, "dofs": int(r.n_dofs), "role": role, "fem": mf}
        print(f"{name} ({role}) FEM", _row(mf))
        for label, (coupling, spread, ratio) in variants.items():
            changed = {"COUPLING": coupling, "RIDGE_SPREAD_THICKNESSES": spread, "BIN_RATIO": ratio}
            with _solver_constants(**{k: v for k, v in changed.items() if v is not None}):
                m = case_metrics_fast(case, solve_fast_back(case, nonlinear=False))
            print(f"  {label:16s}", _row(m, mf))
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "fem_back_linear_reference.json"
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


def tissue_layers(specs: list[str]) -> None:
    """Fat over muscle: the linear FEM with skin and fat over muscle (``material="layered"``) for the three bodies
    of ``holdout``, against the fast engine's two tissue models; writes
    ``tests/data/fem_back_layered_reference.json`` (checked by ``tests/test_layered.py``). At T7 the FEM with the
    one series modulus per column is run too (how much the layering itself moves)."""
    ((fine, layers),) = _meshes(specs[:1])
    out = {
        "about": (
            f"Linear 3D FEM (spinerelease.contact.fem.back3d, Taylor-Hood Q2-Q1, {fine} mm x {layers} layers, exact "
            "active set, material='layered': skin and fat over muscle) of the PSO-Spine on a back slab at the full "
            f"lie-back load; produced by `python benchmarks/fem_case4_mesh.py tissue-layers {specs[0]}` "
            "(docs/validation.md, case 4). T7 and L3 fit the fast engine's two-layer ridge correction "
            "(solver.RIDGE_SPREAD_THICKNESSES_TWO_LAYER); the 163 cm / 60 kg woman is held out."
        ),
        "cases": {},
    }
    for name, (cfg, role) in HOLDOUT.items():
        case = back_slab_case(**cfg)
        fl = solve_fast_back(case, nonlinear=False)
        ms = {}
        for material in ("column", "layered") if name == "T7" else ("layered",):
            r = solve_fem_back(
                case, model="linear", contact_guess=fl.contact, fine_mm=fine, n_layers=layers, material=material
            )[-1][1]
            ms[material] = case_metrics_fem(case, r)
            if material == "layered":
                out["cases"][name] = {"config": cfg, "dofs": int(r.n_dofs), "role": role, "fem": ms[material]}
        if "column" in ms:
            print(f"{name} FEM, column modulus     ", _row(ms["column"]))
            print(f"{name} FEM, fat over muscle    ", _row(ms["layered"], ms["column"]))
        else:
            print(f"{name} ({role}) FEM, fat over muscle", _row(ms["layered"]))
        for tissue in ("column", "layers"):
            m = case_metrics_fast(case, solve_fast_back(case, nonlinear=False, tissue=tissue))
            print(f"  fast, tissue={tissue:7s}", _row(m, ms["layered"]))
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "fem_back_layered_reference.json"
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


def tissue_layers_figure(specs: list[str]) -> None:
    """Per-peak and centre-zone forces of the FEM with fat over muscle (from
    ``tests/data/fem_back_layered_reference.json``) against the fast engine with one series modulus per column and
    with two layers, for the three bodies; writes ``docs/figures/fem_case4_layers_peaks.png``. ``specs`` unused
    (the FEM numbers are read, not recomputed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(__file__).resolve().parents[1]
    ref = json.loads((root / "tests" / "data" / "fem_back_layered_reference.json").read_text())["cases"]
    fig, axes = plt.subplots(1, len(ref), figsize=(5.2 * len(ref), 4.2), squeeze=False)
    for ax, (name, entry) in zip(axes[0], ref.items(), strict=True):
        case = back_slab_case(**entry["config"])
        fem = entry["fem"]["peak_force_n"]
        names = list(fem)
        fast = {
            t: case_metrics_fast(case, solve_fast_back(case, nonlinear=False, tissue=t)) for t in ("column", "layers")
        }
        xk = np.arange(len(names))
        ax.bar(xk - 0.27, [fem[n] for n in names], 0.27, label="FEM, fat over muscle", color="#4c72b0")
        ax.bar(
            xk, [fast["column"]["peak_force_n"][n] for n in names], 0.27, label="fast, series column", color="#dd8452"
        )
        ax.bar(
            xk + 0.27,
            [fast["layers"]["peak_force_n"][n] for n in names],
            0.27,
            label="fast, two layers",
            color="#55a868",
        )
        ax.set_xticks(xk, names, rotation=20)
        ax.set_ylabel("force [N]")
        ax.set_title(f"{name} ({entry['role']}), linear, {entry['fem']['force_n']:.0f} N")
        ax.set_ylim(0, 1.35 * max(fem.values()))  # room for the legend above the bars
        ax.legend(fontsize=8, loc="upper right", ncol=2)
    fig.tight_layout()
    path = root / "docs" / "figures" / "fem_case4_layers_peaks.png"
    fig.savefig(path, dpi=100)
    print("wrote", path)


def skin_figure(specs: list[str]) -> None:
    """Stop 28's two findings in one figure, from the stored JSON (``fem_case4_skin_stretch.json``,
    ``fem_case4_pile_up.json``; nothing is recomputed; ``specs`` unused): the smallest in-plane stretch of the FEM's
    skin against the load, with the onset of creasing; and the skin beside an outer peak at 78 N, FEM and fast
    engine at the same approach, under the tool; writes ``docs/figures/fem_case4_skin.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spinerelease.contact.fem.solid3d import CREASE_ONSET_STRETCH

    figs = Path(__file__).resolve().parents[1] / "docs" / "figures"
    st = json.loads((figs / "fem_case4_skin_stretch.json").read_text())["rows"]
    pu = json.loads((figs / "fem_case4_pile_up.json").read_text())["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    ax = axes[0]
    load = [r["load_n"] for r in st]
    ax.plot(load, [r["min_stretch"] for r in st], "o-", label="smallest, inside the window (over the ridge's shoulder)")
    ax.plot(load, [r["min_stretch_walls"] for r in st], "s--", label="smallest on the side walls (rollers)")
    ax.axhline(CREASE_ONSET_STRETCH, color="k", lw=0.8, label="onset of creasing (Hong et al. 2009)")
    ax.axhline(0.544, color="k", lw=0.8, ls=":", label="surface instability (Biot 1963)")
    ax.set_xlabel("load [N]")
    ax.set_ylabel("in-plane stretch of the skin [-]")
    ax.set_ylim(0, 1)
    ax.set_title("FEM skin squeezed in its own plane")
    ax.legend(fontsize=8)
    ax = axes[1]
    row = max(pu, key=lambda r: r["load_n"])
    ray = row["rays"]["outwards"]
    r = np.asarray(ray["r_mm"])
    ax.plot(r, -np.asarray(ray["tool_mm"]), "k-", label="tool surface")
    ax.plot(r, -np.asarray(ray["fem_mm"]), "o-", label=f"FEM skin, {row['load_n']:g} N")
    ax.plot(r, -np.asarray(ray["fast_mm"]), "s-", label=f"fast engine skin, {row['fast_load_same_approach_n']:.1f} N")
    ax.set_ylim(-32, 8)
    ax.set_xlabel("distance outwards from the upper right apex [mm]")
    ax.set_ylabel("height above the skin's rest plane [mm]")
    ax.set_title(f"Beside an outer peak, same approach ({row['approach_mm']:.2f} mm)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figs / "fem_case4_skin.png", dpi=110)
    print("wrote", figs / "fem_case4_skin.png")


def true_normal_figure(specs: list[str]) -> None:
    """The large-strain FEM on the true normal (apex-line mesh; to 38 N on one mesh, beyond on the rezoned one)
    against the fast engine as the load grows: outer peak and centre-zone forces, the peak pressure (FEM: the
    largest skin-face mean; fast: the largest cell) and the 1 cm2 probe average, their deviations with the
    targets, and the spinous share; writes ``docs/figures/fem_case4_true_normal.png`` from the stored JSON
    (``fem_case4_true_normal_column_apex{,_rezoned}.json``, and the refined meshes of ``rezone-check`` from
    ``fem_case4_rezone_check.json``; nothing is recomputed; ``specs`` unused)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = Path(__file__).resolve().parents[1] / "docs" / "figures"
    one = json.loads((figs / "fem_case4_true_normal_column_apex.json").read_text())["rows"]
    rez = json.loads((figs / "fem_case4_true_normal_column_apex_rezoned.json").read_text())["rows"]
    first = min(r["load_n"] for r in rez)
    rows = [r for r in one if r["load_n"] < first] + rez
    load = np.array([r["load_n"] for r in rows])

    def get(side: str, fn) -> np.ndarray:
        return np.array([fn(r[side]) for r in rows])

    def outer(m: dict) -> float:
        return max(v for k, v in m["peak_force_n"].items() if k != "centre")

    def probe(m: dict) -> float:
        return max(v for k, v in m["probe_pressure_kpa"].items() if k != "centre")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for fn, name, c in (
        (outer, "outer peak (largest)", "#4c72b0"),
        (lambda m: m["peak_force_n"]["centre"], "centre zone", "#c44e52"),
    ):
        ax.plot(load, get("fem", fn), "o-", color=c, ms=3, label=f"FEM, {name}")
        ax.plot(load, get("fast", fn), "s--", color=c, ms=3, mfc="none", label=f"fast, {name}")
    ax.set_xlabel("load on the tool [N]")
    ax.set_ylabel("force [N]")
    ax.legend(fontsize=8)
    ax.set_title("per-peak force")
    ax = axes[1]
    ax.plot(
        load, get("fem", lambda m: m["face_peak_pressure_kpa"]), "o-", color="#4c72b0", ms=3, label="FEM, face mean max"
    )
    ax.plot(
        load,
        get("fast", lambda m: m["peak_pressure_kpa"]),
        "s--",
        color="#4c72b0",
        ms=3,
        mfc="none",
        label="fast, cell max",
    )
    ax.plot(load, get("fem", probe), "o-", color="#55a868", ms=3, label="FEM, 1 cm2 probe")
    ax.plot(load, get("fast", probe), "s--", color="#55a868", ms=3, mfc="none", label="fast, 1 cm2 probe")
    ax.set_xlabel("load on the tool [N]")
    ax.set_ylabel("pressure [kPa]")
    ax.legend(fontsize=8)
    ax.set_title("peak pressure")
    ax = axes[2]
    dev_f = 100 * (get("fast", outer) / get("fem", outer) - 1)
    dev_p = 100 * (
        get("fast", lambda m: m["peak_pressure_kpa"]) / get("fem", lambda m: m["face_peak_pressure_kpa"]) - 1
    )
    dev_q = 100 * (get("fast", probe) / get("fem", probe) - 1)
    dsp = 100 * (get("fast", lambda m: m["spinous_share"]) - get("fem", lambda m: m["spinous_share"]))
    ax.plot(load, dev_f, "o-", ms=3, label="outer peak force [%] (target 5)")
    ax.plot(load, dev_p, "o-", ms=3, label="peak pressure [%] (target 15)")
    ax.plot(load, dev_q, "o-", ms=3, label="probe average [%]")
    ax.plot(load, dsp, "o-", ms=3, label="spinous share [pp] (target 5)")
    centre = lambda m: m["peak_force_n"]["centre"]  # noqa: E731
    big = get("fem", centre) >= 1.0  # where the centre peak carries at least 1 N
    dev_c = 100 * (get("fast", centre)[big] / get("fem", centre)[big] - 1)
    ax.plot(load[big], dev_c, "o-", ms=3, color="C4", label="centre zone force [%] (FEM >= 1 N)")
    if all("fast_stop25" in r for r in rows):  # the engine before the trough confinement (refresh-fast)
        old_p = get("fast_stop25", lambda m: m["peak_pressure_kpa"]) / get("fem", lambda m: m["face_peak_pressure_kpa"])
        ax.plot(load, 100 * (old_p - 1), ":", color="C1", lw=1, label="peak pressure, stop-25 engine")
        ax.plot(
            load,
            100 * (get("fast_stop25", probe) / get("fem", probe) - 1),
            ":",
            color="C2",
            lw=1,
            label="probe, stop-25 engine",
        )
    check = figs / "fem_case4_rezone_check.json"
    if check.exists():  # the same deviations against the FEM rezoned onto a mesh refined about the outer peaks
        ref = [r for r in json.loads(check.read_text())["rows"] if "refined" in r]
        at_c = np.array([r["load_n"] for r in ref])
        for fn, c, lab in (
            (lambda r: r["fast"]["peak_pressure_kpa"] / r["refined"]["face_peak_pressure_kpa"], "C1", "peak pressure"),
            (lambda r: probe(r["fast"]) / probe(r["refined"]), "C2", "probe"),
        ):
            dev = 100 * (np.array([fn(r) for r in ref]) - 1)
            ax.plot(at_c, dev, "D", color=c, mfc="none", ms=7, label=f"{lab}, FEM on a finer rezoned mesh")
    for t in (-5, 5, 15):
        ax.axhline(t, color="0.7", lw=0.8, ls=":")
    ax.set_ylim(-10, 45)  # the centre zone's first points (a fraction of a newton) lie far above
    at = max(r["load_n"] for r in rows if r["load_n"] < first)  # the last load on the first mesh: rezoned there
    ax.axvline(at, color="0.5", lw=0.8, ls="--")
    ax.text(at, ax.get_ylim()[0], f" rezoned at {at:g} N", fontsize=8, va="bottom")
    ax.set_xlabel("load on the tool [N]")
    ax.set_ylabel("fast - FEM")
    ax.legend(fontsize=8)
    ax.set_title(f"deviations (real load 238 N; FEM strain to {rows[-1]['strain']:.2f})")
    fig.tight_layout()
    path = figs / "fem_case4_true_normal.png"
    fig.savefig(path, dpi=100)
    print("wrote", path)


def _row(m: dict, ref: dict | None = None) -> str:
    forces = list(m["peak_force_n"].values())
    txt = " ".join(f"{v:6.2f}" for v in forces)
    txt += f" spinous {100 * m['spinous_share']:.1f} % peak p {m['peak_pressure_kpa']:.1f}"
    txt += f" approach {m['approach_mm']:.1f}"
    if "probe_pressure_kpa" in m:
        txt += f" probe {max(m['probe_pressure_kpa'].values()):.1f}"
    if ref is not None:
        err = {
            k: 100 * (b / a - 1) if a > 0 else float("nan")
            for (k, a), b in zip(ref["peak_force_n"].items(), forces, strict=True)
        }
        side = [v for k, v in err.items() if k != "centre"]
        txt += f" | outer {min(side):+.1f}..{max(side):+.1f} %"
        if "centre" in err:
            txt += " centre " + (f"{err['centre']:+.1f} %" if ref["peak_force_n"]["centre"] > 0 else "- (no load)")
        txt += f" approach {100 * (m['approach_mm'] / ref['approach_mm'] - 1):+.1f} %"
        txt += f" spinous {100 * (m['spinous_share'] - ref['spinous_share']):+.1f} pp"
    return txt


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "study",
        choices=(
            "linear",
            "large-strain",
            "large-strain-layers",
            "holdout",
            "tissue-layers",
            "tissue-layers-figure",
            "true-normal-figure",
            "true-normal",
            "true-normal-layers",
            "block-check",
            "remeasure",
            "remeasure-layers",
            "remeasure-states",
            "rezone-check",
            "margin-check",
            "trough-check",
            "trough-linear",
            "refresh-fast",
            "skin-stretch",
            "pile-up",
            "skin-figure",
            "column-block",
            "elongated-block",
            "elongated-figure",
        ),
    )
    ap.add_argument("meshes", nargs="*", default=["3.5x4"], help="meshes as <element size mm>x<layers>, e.g. 3.5x4")
    ap.add_argument("--loads", type=float, nargs="+", help="true-normal*: loads to step through [N]")
    ap.add_argument(
        "--checkpoint", help="true-normal*: .npz solver state, written after each load and resumed from if present"
    )
    ap.add_argument(
        "--max-cuts",
        type=int,
        default=3,
        help="true-normal*, trough-check, margin-check: most halvings of a failing step",
    )
    ap.add_argument(
        "--states",
        help="true-normal*: folder keeping the solver state of every load (with --checkpoint); remeasure*, "
        "rezone-check: read from; skin-stretch, pile-up: folders joined by ':'; margin-check: keep them in",
    )
    ap.add_argument(
        "--apex-lines",
        action="store_true",
        help="true-normal*: mesh lines through every apex (results in fem_case4_true_normal_<material>_apex.json)",
    )
    ap.add_argument(
        "--tip-blend",
        type=float,
        default=0.0,
        help="true-normal*: blend each tip of the FEM's tool into its flank over +- this many mm (C2 surface)",
    )
    ap.add_argument(
        "--crease-blend",
        type=float,
        default=0.0,
        help="true-normal*: round the creases between the FEM tool's peaks over this height difference [mm] (C2)",
    )
    ap.add_argument(
        "--margins",
        type=float,
        nargs="+",
        help="margin-check: window margins around the tool [mm] (default 20 60); trough-check: the windows (20); "
        "skin-stretch, pile-up: the window the states were solved on (default the case's); column-block: the "
        "blocks' half widths (default 60 100 140)",
    )
    ap.add_argument("--stretches", type=float, nargs="+", help="elongated-block: the peak's stretches (2.5 1.5)")
    ap.add_argument("--ridges", type=float, nargs="+", help="elongated-block: ridge lengths [mm] instead (stop 33)")
    ap.add_argument("--bend", type=float, help="elongated-block: bend the ridges into arcs of this radius [mm]")
    ap.add_argument(
        "--tissue",
        help="elongated-block: another tissue, '<thickness mm>,<modulus kPa>' or '<top mm>,<top kPa>,<total mm>,<kPa>'",
    )
    ap.add_argument("--tables", nargs="+", help="refresh-fast: table file stems (default: all case-4 tables)")
    ap.add_argument("--bones", nargs="+", choices=("slab", "flat"), help="trough-check: bones to run (default both)")
    ap.add_argument(
        "--variants",
        nargs="+",
        help="rezone-check: meshes to rezone onto (same, refined, deep, refined-deep; default same refined)",
    )
    ap.add_argument(
        "--rezone",
        action="store_true",
        help="true-normal*, trough-check, margin-check: rezone on a failing load step (true-normal results in "
        "fem_case4_true_normal_<material>[_apex]_rezoned.json)",
    )
    a = ap.parse_args()

    def run_true_normal(specs: list[str], material: str) -> None:
        true_normal(
            specs,
            material,
            a.loads,
            a.checkpoint,
            a.max_cuts,
            a.states,
            a.apex_lines,
            a.rezone,
            a.tip_blend,
            a.crease_blend,
        )

    studies = {
        "linear": linear,
        "large-strain": large_strain,
        "large-strain-layers": large_strain_layers,
        "holdout": holdout,
        "tissue-layers": tissue_layers,
        "tissue-layers-figure": tissue_layers_figure,
        "true-normal-figure": true_normal_figure,
        "true-normal": lambda specs: run_true_normal(specs, "column"),
        "true-normal-layers": lambda specs: run_true_normal(specs, "layered"),
        "block-check": block_check,
        "remeasure": lambda specs: remeasure(specs, "column", a.states),
        "remeasure-layers": lambda specs: remeasure(specs, "layered", a.states),
        "remeasure-states": lambda specs: remeasure_states(
            specs,
            (a.tables or ["fem_case4_true_normal_column_apex_rezoned"])[0],
            a.states,
            a.tip_blend,
            a.crease_blend,
        ),
        "rezone-check": lambda specs: rezone_check(
            specs, a.states, a.loads, a.tip_blend, a.crease_blend, variants=a.variants
        ),
        "margin-check": lambda specs: margin_check(specs, a.loads, a.margins, a.rezone, a.max_cuts, a.states),
        "trough-linear": trough_linear,
        "refresh-fast": lambda specs: refresh_fast(specs, a.tables),
        "skin-stretch": lambda specs: skin_stretch(
            specs, a.states, a.tip_blend, a.crease_blend, a.margins[0] if a.margins else None
        ),
        "pile-up": lambda specs: pile_up(
            specs, a.states, a.loads, a.tip_blend, a.crease_blend, a.margins[0] if a.margins else None
        ),
        "skin-figure": skin_figure,
        "column-block": lambda specs: column_block(specs, a.margins, a.loads),
        "elongated-block": lambda specs: elongated_block(specs, a.stretches, a.loads, a.tissue, a.ridges, a.bend),
        "elongated-figure": elongated_figure,
        "trough-check": lambda specs: trough_check(specs, a.loads, a.bones, a.rezone, a.max_cuts, a.margins),
    }
    studies[a.study](a.meshes)
