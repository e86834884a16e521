"""Contact-solver benchmark: spinerelease vs ContactMechanics vs Tamaas, side by side in one run.

Usage::

    python benchmarks/contact.py [--sizes 256 512 1024] [--repeat 3]

Each size solves the same problem with every library: a rigid indenter with five rounded peaks (the
PSO-Spine layout) pressed into a homogeneous elastic half-space (non-periodic for spinerelease and
ContactMechanics; Tamaas solves the periodic problem on the same grid, as it has no free boundary), at the
same load. It prints wall times, time ratios (other / spinerelease) and the relative L2 difference of the
pressure fields. "ours, whole grid" is spinerelease with its domain reduction switched off (every iteration
on the whole grid, as the other libraries do); the default solves the sub-box where contact is possible and
verifies the gap on the whole grid (``solver._solve_reduced``). It also times a full back solve (1 mm grid,
PSO-Spine at T7 on the default body, layered tissue with bottoming-out) through the workflow, and a
400 x 400 mm half-space at 1 mm. Ratios are measured in one run, on the same machine, at the same time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spinerelease.contact import contact_modulus_kpa, solve_contact
from spinerelease.grid import Grid

E_KPA, NU = 20.0, 0.49
ES = contact_modulus_kpa(E_KPA, NU)


def indenter(n: int, dx: float) -> tuple[Grid, np.ndarray]:
    g = Grid(n, n, dx, 0.0, 0.0)
    X, Y = g.mesh()
    c = n * dx / 2
    s = n * dx / 256 * 40
    z = np.full(g.shape, -np.inf)
    for px, py in [(-1, -1), (1, -1), (-1, 1), (1, 1), (0, 0)]:
        z = np.maximum(
            z, 10.0 - ((X - c - px * s / 1.6) ** 2 + (Y - c - py * s / 2) ** 2) / (2 * 10.0) - (3.0 if px == 0 else 0.0)
        )
    return g, z


def best(f, repeat: int) -> tuple[float, object]:
    t_best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, out


def run_ours(g, z, load_n):
    return solve_contact(z.max() - z, g, load_n, E_KPA, None, poisson=NU, tol=1e-6).pressure_kpa


def run_ours_whole_window(g, z, load_n):
    """spinerelease without the domain reduction (every CG iteration on the whole grid, like the others)."""
    from spinerelease.contact import solver

    solver.DOMAIN_REDUCTION = False
    try:
        return run_ours(g, z, load_n)
    finally:
        solver.DOMAIN_REDUCTION = True


def run_cm(g, z, load_n):
    import ContactMechanics as cm
    from ContactMechanics.Systems import NonSmoothContactSystem
    from SurfaceTopography import Topography

    n = g.nx
    size = (n * g.spacing_mm, n * g.spacing_mm)
    sub = cm.FreeFFTElasticHalfSpace((n, n), ES, size)
    sys_ = NonSmoothContactSystem(sub, Topography(z.T.copy(), size))
    sol = sys_.minimize_proxy(external_force=load_n * 1e3, pentol=1e-6, maxiter=5000)
    p = np.abs(np.asarray(sol.jac)).reshape(n, n).T
    return p / g.cell_area_mm2 if False else p


def run_tamaas(g, z, load_n):
    import tamaas as tm

    n = g.nx
    L = n * g.spacing_mm
    model = tm.ModelFactory.createModel(tm.model_type.basic_2d, [L, L], [n, n])
    model.E, model.nu = E_KPA, NU
    solver = tm.PolonskyKeerRey(model, (z - z.max()).T.copy(), 1e-6)
    solver.solve(load_n * 1e3 / (L * L))  # mean pressure [kPa]
    return np.asarray(model.traction).reshape(n, n).T.copy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"{'grid':>6} {'library':>16} {'time [s]':>10} {'ratio':>7} {'L2 vs ours':>11}")
    for n in args.sizes:
        g, z = indenter(n, 1.0)
        load = 300.0
        t0, p0 = best(lambda g=g, z=z, load=load: run_ours(g, z, load), args.repeat)
        print(f"{n:>6} {'spinerelease':>16} {t0:>10.3f} {1.0:>7.2f} {'-':>11}")
        for name, fn in (
            ("ours, whole grid", run_ours_whole_window),
            ("ContactMechanics", run_cm),
            ("Tamaas", run_tamaas),
        ):
            try:
                t, p = best(lambda fn=fn, g=g, z=z, load=load: fn(g, z, load), args.repeat)
            except ImportError:
                print(f"{n:>6} {name:>16} {'not installed':>10}")
                continue
            except Exception as exc:  # report and continue with the other libraries
                print(f"{n:>6} {name:>16} failed: {str(exc).splitlines()[0][:60]}")
                continue
            err = np.linalg.norm(p - p0) / np.linalg.norm(p0)
            print(f"{n:>6} {name:>16} {t:>10.3f} {t / t0:>7.2f} {err:>11.2e}")
    from spinerelease import workflow as wf

    cfg = wf.SimulationConfig()
    back = wf.make_back(cfg.body(), spacing_mm=1.0)
    t, res = best(lambda: wf.simulate(cfg, back=back), args.repeat)
    print(
        f"\nback solve (PSO-Spine at T7, 1 mm, fat over muscle over bone + bottoming-out, {back.grid.nx} x "
        f"{back.grid.ny} mm back, window {res.back.grid.nx} x {res.back.grid.ny}): {t:.2f} s, "
        f"{res.contact.iterations} CG iterations, largest pressure {res.contact.pressure_kpa.max():.0f} kPa"
    )
    # the same solve with the earlier solver settings, side by side: without the coarse-grid start (the bracket
    # starts at the linear approach), Brent on force / load - 1 instead of its logarithm, the fixed-point
    # iteration on the scaling (preconditioned, secant exponent), and the same without preconditioning and
    # secant exponent
    from spinerelease.contact import solver

    variants = (
        ("no coarse-grid start", {"STIFFENING_COARSE_ELEMENTS": 10**12}),
        (
            "no coarse-grid start, Brent on force / load - 1",
            {"STIFFENING_COARSE_ELEMENTS": 10**12, "LOG_RESIDUAL": False},
        ),
        (
            "local column law of stop 16 (no lateral averaging, k 0.35, film exponent 3)",
            {"STIFFENING_SPREAD_THICKNESSES": 0.0, "STIFFENING_EXPONENT": 0.35, "BONE_BOUND_EXPONENT": 3.0},
        ),
        (
            "fixed-point iteration (local law)",
            {"STIFFENING_SOLVER": "fixed-point", "STIFFENING_SPREAD_THICKNESSES": 0.0},
        ),
        (
            "fixed-point, no preconditioning or secant exponent",
            {
                "STIFFENING_SOLVER": "fixed-point",
                "PRECONDITION": False,
                "SECANT_EXPONENT": False,
                "STIFFENING_SPREAD_THICKNESSES": 0.0,
            },
        ),
    )
    for label, settings in variants:
        saved = {k: getattr(solver, k) for k in settings}
        for k, v in settings.items():
            setattr(solver, k, v)
        try:
            t0, res0 = best(lambda: wf.simulate(cfg, back=back), args.repeat)
        finally:
            for k, v in saved.items():
                setattr(solver, k, v)
        print(
            f"  {label}: {t0:.2f} s ({t0 / t:.2f}x), {res0.contact.iterations} CG iterations, "
            f"largest pressure {res0.contact.pressure_kpa.max():.0f} kPa"
        )
    cfg_c = wf.SimulationConfig(tissue_model="column")
    t_c, res_c = best(lambda: wf.simulate(cfg_c, back=back), args.repeat)
    print(
        f"  one series modulus per column (tissue_model='column'): {t_c:.2f} s ({t_c / t:.2f}x), "
        f"{res_c.contact.iterations} CG iterations, largest pressure {res_c.contact.pressure_kpa.max():.0f} kPa"
    )
    for dt in ("float64", "float32"):
        g, z = indenter(400, 1.0)
        t, p = best(
            lambda dt=dt, g=g, z=z: solve_contact(z.max() - z, g, 300.0, E_KPA, None, dtype=dt, tol=1e-5).pressure_kpa,
            args.repeat,
        )
        print(f"400 x 400 mm half-space at 1 mm, {dt}: {t:.3f} s")


if __name__ == "__main__":
    main()
