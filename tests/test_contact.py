"""Validation of the contact engine against analytic solutions and ContactMechanics (issue 3)."""

import numpy as np
import pytest

from spinerelease.contact import contact_modulus_kpa, neo_hookean_stiffening, region_forces_n, solve_contact
from spinerelease.errors import InputError
from spinerelease.grid import Grid

E, NU, R = 30.0, 0.49, 100.0
ES = contact_modulus_kpa(E, NU)


def sphere_gap(g, radius=R):
    X, Y = g.mesh()
    return (X**2 + Y**2) / (2 * radius)


@pytest.fixture(scope="module")
def hertz():
    a = 20.0
    W = 4 * ES * a**3 / (3 * R) * 1e-3
    g = Grid.centered(64, 64, 1.0)
    return a, W, g, solve_contact(sphere_gap(g), g, W, E, None, poisson=NU)


def test_hertz_radius_and_peak_pressure_within_1_percent(hertz):
    a, W, g, r = hertz
    a_num = np.sqrt(r.contact.sum() * g.cell_area_mm2 / np.pi)
    p0 = 3 * W * 1e3 / (2 * np.pi * a**2)
    assert a_num == pytest.approx(a, rel=0.01)
    assert r.pressure_kpa.max() == pytest.approx(p0, rel=0.01)
    assert r.approach_mm == pytest.approx(a**2 / R, rel=0.01)


def test_force_balance_and_signs(hertz):
    _, W, _, r = hertz
    assert r.total_force_n == pytest.approx(W, rel=1e-6)
    assert np.all(r.pressure_kpa >= 0) and np.all(r.gap_mm >= 0)
    assert r.converged


def test_flat_punch_load_displacement_within_2_percent():
    a = 15.0
    g = Grid.centered(48, 48, 0.5)
    X, Y = g.mesh()
    gap = np.where(X**2 + Y**2 <= a * a, 0.0, np.inf)
    W = 10.0
    r = solve_contact(gap, g, W, E, None, poisson=NU)
    delta = W * 1e3 / (2 * a * ES)  # Boussinesq: P = 2 a E* delta
    assert r.approach_mm == pytest.approx(delta, rel=0.02)


@pytest.mark.parametrize(("h", "dx", "tol_a"), [(2.0, 0.5, 0.16), (1.0, 0.25, 0.08)])
def test_thin_incompressible_layer_approaches_jaffar(h, dx, tol_a):
    # thin bonded incompressible layer (Jaffar 1989): P = pi mu a^6 / (32 R h^3), delta = a^2 / (4 R)
    mu = E / 3
    a = 20.0
    W = np.pi * mu * a**6 / (32 * R * h**3) * 1e-3
    n = int(60 / dx)
    g = Grid.centered(n * dx, n * dx, dx)
    r = solve_contact(sphere_gap(g), g, W, E, h, poisson=0.5, nonlinear=False)
    a_num = np.sqrt(r.contact.sum() * dx * dx / np.pi)
    assert abs(a_num / a - 1) < tol_a
    assert r.approach_mm == pytest.approx(a**2 / (4 * R), rel=tol_a)


def test_thin_layer_error_decreases_with_thickness():
    mu, a = E / 3, 20.0
    errs = []
    for h, dx in [(4.0, 1.0), (2.0, 0.5)]:
        W = np.pi * mu * a**6 / (32 * R * h**3) * 1e-3
        n = int(60 / dx)
        g = Grid.centered(n * dx, n * dx, dx)
        r = solve_contact(sphere_gap(g), g, W, E, h, poisson=0.5, nonlinear=False)
        errs.append(abs(r.approach_mm / (a**2 / (4 * R)) - 1))
    assert errs[1] < errs[0]


def test_thick_layer_recovers_half_space(hertz):
    a, W, g, r_hs = hertz
    r = solve_contact(sphere_gap(g), g, W, E, 1000.0, poisson=NU, nonlinear=False)
    assert r.pressure_kpa.max() == pytest.approx(r_hs.pressure_kpa.max(), rel=0.01)
    assert np.linalg.norm(r.pressure_kpa - r_hs.pressure_kpa) / np.linalg.norm(r_hs.pressure_kpa) < 0.01


def test_thin_tissue_over_bone_bottoms_out():
    g = Grid.centered(60, 60, 1.0)
    lin = solve_contact(sphere_gap(g, 10.0), g, 60.0, 10.0, 8.0, nonlinear=False)
    nl = solve_contact(sphere_gap(g, 10.0), g, 60.0, 10.0, 8.0)
    assert (lin.displacement_mm / 8.0).max() > (nl.displacement_mm / 8.0).max()
    assert (nl.displacement_mm / 8.0).max() < 1.0
    assert nl.pressure_kpa.max() > lin.pressure_kpa.max()
    assert nl.total_force_n == pytest.approx(60.0, rel=1e-6)
    assert neo_hookean_stiffening(np.array([0.0]))[0] == pytest.approx(1.0)
    assert neo_hookean_stiffening(np.array([0.9]))[0] > 30


def test_roll_moment_balance_and_side_load():
    g = Grid.centered(120, 60, 1.0)
    X, Y = g.mesh()
    gap = np.minimum(((X - 30) ** 2 + Y**2) / 20, ((X + 30) ** 2 + Y**2) / 20)
    M = 100.0 * 8.0
    r = solve_contact(gap, g, 100.0, 20.0, 25.0, moment_y_nmm=M)
    assert r.moment_y_nmm == pytest.approx(M, rel=1e-3)
    right = region_forces_n(r, (X > 0).astype(int))
    assert right[1] > right[0]
    assert r.roll_deg > 0


def test_warm_start_reduces_iterations(hertz):
    _, W, g, r = hertz
    again = solve_contact(sphere_gap(g), g, W * 1.05, E, None, poisson=NU, initial=r)
    cold = solve_contact(sphere_gap(g), g, W * 1.05, E, None, poisson=NU)
    assert again.iterations < cold.iterations


@pytest.mark.parametrize(
    "kw", [{"load_n": -1.0}, {"load_n": float("nan")}, {"modulus_kpa": -5.0}, {"thickness_mm": 0.0}, {"poisson": 0.7}]
)
def test_bad_input(kw):
    g = Grid.centered(20, 20, 1.0)
    args = {"gap0_mm": sphere_gap(g), "grid": g, "load_n": 1.0, "modulus_kpa": 10.0, "thickness_mm": None}
    args.update(kw)
    with pytest.raises(InputError):
        solve_contact(**args)


def test_no_tool_and_nan_gap_rejected():
    g = Grid.centered(20, 20, 1.0)
    with pytest.raises(InputError, match="infinite"):
        solve_contact(np.full(g.shape, np.inf), g, 1.0, 10.0)
    bad = sphere_gap(g)
    bad[3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        solve_contact(bad, g, 1.0, 10.0)


def test_agrees_with_contactmechanics_on_multi_peak_indenter():
    cm = pytest.importorskip("ContactMechanics", reason="ContactMechanics is not installed")
    from ContactMechanics.Systems import NonSmoothContactSystem
    from SurfaceTopography import Topography

    nx = 64
    g = Grid(nx, nx, 1.0, 0.0, 0.0)
    X, Y = g.mesh()
    peaks = [(20, 20), (44, 20), (32, 44)]
    height = np.max([10.0 - ((X - cx) ** 2 + (Y - cy) ** 2) / (2 * 15.0) for cx, cy in peaks], axis=0)
    W = 5.0
    ours = solve_contact(height.max() - height, g, W, E, None, poisson=NU, tol=1e-10)
    substrate = cm.FreeFFTElasticHalfSpace((nx, nx), ES, (float(nx), float(nx)))
    topo = Topography(height.T.copy(), (float(nx), float(nx)))
    system = NonSmoothContactSystem(substrate, topo)
    sol = system.minimize_proxy(external_force=W * 1e3, pentol=1e-10, maxiter=2000)
    p_cm = -sol.jac.T if np.sum(sol.jac) < 0 else sol.jac.T
    p_cm = p_cm.reshape(nx, nx)
    rel = np.linalg.norm(ours.pressure_kpa - p_cm) / np.linalg.norm(p_cm)
    assert rel < 0.01


@pytest.mark.parametrize("shape", [(37, 52), (128, 128), (184, 198)])
def test_pruned_transforms_equal_full_zero_padded_convolution(shape):
    import scipy.fft as sfft

    from spinerelease.contact.kernels import cropped_irfft2, padded_rfft2, padded_shape

    rng = np.random.default_rng(1)
    x = rng.random(shape)
    pad = padded_shape(*shape)
    k = rng.random((pad[0], pad[1] // 2 + 1))
    full = sfft.irfft2(sfft.rfft2(x, s=pad) * k, s=pad)[: shape[0], : shape[1]]
    np.testing.assert_allclose(padded_rfft2(x, pad), sfft.rfft2(x, s=pad), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(cropped_irfft2(sfft.rfft2(x, s=pad) * k, pad, shape), full, rtol=1e-12, atol=1e-12)


def test_padded_shape_avoids_large_powers_of_two():
    from spinerelease.contact.kernels import padded_shape

    for n in (128, 256, 512):
        for side in padded_shape(n, n):
            assert side >= 2 * n and (side < 256 or side & (side - 1) != 0)
    assert padded_shape(60, 60) == (120, 120)


def test_mixed_precision_solve_matches_double_precision(monkeypatch):
    """The single-precision start refined in double precision reaches the same solution as double throughout."""
    from spinerelease.contact import solver

    g = Grid.centered(96, 96, 1.0)
    X, Y = g.mesh()
    gap = np.min([((X - cx) ** 2 + Y**2) / (2 * 12.0) for cx in (-20, 0, 20)], axis=0)
    mixed = solve_contact(gap, g, 3.0, E, None, poisson=NU, tol=1e-8)
    monkeypatch.setattr(solver, "MIXED_PRECISION", False)  # double precision throughout
    double = solve_contact(gap, g, 3.0, E, None, poisson=NU, tol=1e-8)
    assert mixed.converged and double.converged
    rel = np.linalg.norm(mixed.pressure_kpa - double.pressure_kpa) / np.linalg.norm(double.pressure_kpa)
    assert rel < 1e-6
    assert mixed.total_force_n == pytest.approx(3.0, rel=1e-6)


def test_allocator_tuning_is_harmless():
    from spinerelease.contact._allocator import tune_allocator

    assert tune_allocator() in (True, False)
    assert tune_allocator() in (True, False)  # idempotent


def _five_peaks(n=160):
    g = Grid.centered(n, n, 1.0)
    X, Y = g.mesh()
    z = np.max(
        [
            10.0 - ((X - cx) ** 2 + (Y - cy) ** 2) / 20.0
            for cx, cy in [(-25, -20), (25, -20), (0, 0), (-25, 20), (25, 20)]
        ],
        axis=0,
    )
    return g, z.max() - z


@pytest.mark.parametrize("gap_factor", [1.5, 0.02])
def test_domain_reduction_gives_the_full_window_solution(monkeypatch, gap_factor):
    """Solved on the sub-box where contact is possible, verified on the whole window; with a box too small
    (gap factor 0.02) the check fails and the whole window is solved: the same answer either way."""
    from spinerelease.contact import solver

    g, gap = _five_peaks()
    monkeypatch.setattr(solver, "REDUCTION_GAP_FACTOR", gap_factor)
    calls = []
    real = solver._solve_reduced
    monkeypatch.setattr(solver, "_solve_reduced", lambda *a, **k: calls.append(out := real(*a, **k)) or out)
    red = solve_contact(gap, g, 20.0, E, None, poisson=NU, tol=1e-8)
    assert (calls[0] is not None) == (gap_factor == 1.5)
    monkeypatch.setattr(solver, "DOMAIN_REDUCTION", False)
    full = solve_contact(gap, g, 20.0, E, None, poisson=NU, tol=1e-8)
    rel = np.linalg.norm(red.pressure_kpa - full.pressure_kpa) / np.linalg.norm(full.pressure_kpa)
    assert rel < 1e-5
    assert red.approach_mm == pytest.approx(full.approach_mm, rel=1e-6)
    np.testing.assert_allclose(red.displacement_mm, full.displacement_mm, rtol=1e-5, atol=1e-6 * full.approach_mm)
    assert red.total_force_n == pytest.approx(20.0, rel=1e-6) and np.all(red.gap_mm >= 0)


def test_preconditioned_cg_solves_the_scaled_problem_in_fewer_iterations():
    """q = S^1/2 p turns the badly scaled compliance S^1/2 A S^1/2 (bottomed-out elements: small S) into A:
    the same solution, far fewer CG iterations."""
    from spinerelease.contact import solver

    g, gap = _five_peaks(96)
    X, Y = g.mesh()
    thick = 20.0 + 10.0 * (np.abs(X) > 8)
    scale = np.where((np.abs(X) < 4) | (np.hypot(X - 25, Y - 20) < 3), 1e-2, 1.0)
    W, cell = 10.0e3, g.cell_area_mm2
    runs = {}
    for name in ("plain", "scaled"):
        op = solver._Operator(g.shape, g.spacing_mm, np.full(g.shape, E), thick, NU, "float64")
        if name == "plain":
            op.set_scaling(scale)
            runs[name] = solver._pk_cg(op, gap, W, cell, None, 1e-9, 5000)
        else:
            runs[name] = solver._pk_cg_scaled(op, scale, gap, W, cell, None, 1e-9, 5000)
    (p1, _, a1, it1, c1), (p2, _, a2, it2, c2) = runs["plain"], runs["scaled"]
    assert c1 and c2
    assert np.linalg.norm(p2 - p1) / np.linalg.norm(p1) < 1e-5
    assert a2 == pytest.approx(a1, rel=1e-6)
    assert np.sum(p2) * cell == pytest.approx(W, rel=1e-9)
    assert it2 < it1 / 2


def test_preconditioned_cg_satisfies_complementarity_with_stiff_spots():
    """S = 1e-3 over the ridge and one peak (bottomed out): plain CG does not converge in thousands of
    iterations; the preconditioned one does, and its answer satisfies the contact conditions of the scaled
    problem (gap >= 0, zero gap under pressure, load balance)."""
    from spinerelease.contact import solver

    g, gap = _five_peaks(96)
    X, Y = g.mesh()
    thick = 20.0 + 10.0 * (np.abs(X) > 8)
    scale = np.where((np.abs(X) < 4) | (np.hypot(X - 25, Y - 20) < 3), 1e-3, 1.0)
    op = solver._Operator(g.shape, g.spacing_mm, np.full(g.shape, E), thick, NU, "float64")
    p, u, appr, it, conv = solver._pk_cg_scaled(op, scale, gap, 10.0e3, 1.0, None, 1e-10, 2000)
    assert conv and it < 200
    op.set_scaling(scale)
    gap_def = gap + op(p) - appr
    scale_mm = np.abs(u).max()
    assert gap_def.min() > -1e-6 * scale_mm
    assert np.abs(gap_def[p > 0]).max() < 1e-6 * scale_mm
    assert np.all(p >= 0) and p.sum() == pytest.approx(10.0e3, rel=1e-9)


@pytest.fixture(scope="module")
def bottoming_case():
    """Five rounded peaks pressed into tissue that is thin over a central ridge (bottoming out there)."""
    g, gap = _five_peaks(96)
    X, _ = g.mesh()
    thick = np.where(np.abs(X) < 6, 8.0, 25.0)
    return g, gap, thick, 40.0


def test_stiffening_by_approach_satisfies_the_nonlinear_contact_conditions(bottoming_case):
    """The approach solver's answer: load balanced, p >= 0, gap >= 0, zero gap under pressure, and the scaling
    consistent with the strain: s = 1 / f_nl, the laterally averaged calibrated law at the tool's indentation
    (which is the indentation wherever there is contact) times the one-way confinement factor."""
    from spinerelease.contact import solver
    from spinerelease.contact.solver import calibrated_stiffening, confinement_stiffening, nonlocal_stiffening

    g, gap, thick, load = bottoming_case
    r = solve_contact(gap, g, load, E, thick, poisson=NU, tol=1e-8)
    assert r.converged and r.total_force_n == pytest.approx(load, rel=1e-6)
    assert np.all(r.pressure_kpa >= 0) and np.all(r.gap_mm >= 0)
    s = r.compliance_scale
    strain = r.displacement_mm / thick
    assert strain.max() > solver.STIFFENING_ONSET_STRAIN + 0.1  # the ridge really bottoms out
    imposed = np.clip(r.approach_mm - (gap - gap.min()), 0.0, None) / thick
    c = r.contact
    np.testing.assert_allclose(strain[c], imposed[c], atol=1e-6)
    f_nl = nonlocal_stiffening(calibrated_stiffening(imposed), thick, g.spacing_mm)
    f_nl = f_nl * confinement_stiffening(imposed, thick, g.spacing_mm)
    np.testing.assert_allclose(s[c], np.clip(1.0 / f_nl[c], 1e-6, 1.0), rtol=1e-6)
    assert np.abs(f_nl - calibrated_stiffening(imposed))[c].max() > 0.01  # the averaging matters here
    # outside the contact a column is at least as stiff as its own local law says
    assert np.all(s[~c] <= np.clip(1.0 / calibrated_stiffening(np.clip(strain[~c], 0.0, None)), 1e-6, 1.0) * (1 + 1e-6))
    op = solver._Operator(g.shape, g.spacing_mm, np.full(g.shape, E), thick, NU, "float64")
    op.set_scaling(s)
    u = op(r.pressure_kpa)
    np.testing.assert_allclose(u, r.displacement_mm, atol=1e-6 * r.approach_mm)
    gap_def = gap - gap.min() + u - r.approach_mm
    assert gap_def.min() > -1e-6 * r.approach_mm
    assert np.abs(gap_def[r.pressure_kpa > 0]).max() < 1e-6 * r.approach_mm


def test_stiffening_by_approach_matches_tightly_converged_fixed_point(monkeypatch, bottoming_case):
    """Both solvers of the local law (the fixed-point iteration, kept for comparison, has no lateral averaging)."""
    from spinerelease.contact import solver

    monkeypatch.setattr(solver, "STIFFENING_SPREAD_THICKNESSES", 0.0)
    g, gap, thick, load = bottoming_case
    new = solve_contact(gap, g, load, E, thick, poisson=NU, tol=1e-8)
    monkeypatch.setattr(solver, "STIFFENING_SOLVER", "fixed-point")
    old = solve_contact(gap, g, load, E, thick, poisson=NU, tol=1e-8, nonlinear_tol=1e-6, max_outer=400)
    assert old.converged
    rel = np.linalg.norm(new.pressure_kpa - old.pressure_kpa) / np.linalg.norm(old.pressure_kpa)
    assert rel < 1e-3
    assert new.pressure_kpa.max() == pytest.approx(old.pressure_kpa.max(), rel=2e-3)
    assert new.approach_mm == pytest.approx(old.approach_mm, rel=1e-4)


def test_indentation_from_unscaled_inverts_the_stiffening():
    from spinerelease.contact import solver
    from spinerelease.contact.solver import calibrated_stiffening

    t = np.full(200, 10.0)
    u = np.linspace(0.0, 9.6, 200)
    v = u * np.sqrt(calibrated_stiffening(u / t))
    np.testing.assert_allclose(solver._indentation_from_unscaled(v, solver._Columns(t)), u, atol=1e-9)


def test_stiffening_by_approach_warm_start(bottoming_case):
    """Warm-started from a neighbouring solution (5 % less load): the same answer as a cold solve, in fewer
    iterations (the bracket is built around the approach the warm start implies)."""
    g, gap, thick, load = bottoming_case
    near = solve_contact(gap, g, 0.95 * load, E, thick, poisson=NU, tol=1e-8)
    cold = solve_contact(gap, g, load, E, thick, poisson=NU, tol=1e-8)
    warm = solve_contact(gap, g, load, E, thick, poisson=NU, tol=1e-8, initial=near)
    assert warm.converged and cold.converged
    rel = np.linalg.norm(warm.pressure_kpa - cold.pressure_kpa) / np.linalg.norm(cold.pressure_kpa)
    assert rel < 1e-4
    assert warm.approach_mm == pytest.approx(cold.approach_mm, rel=1e-6)
    assert warm.iterations < cold.iterations
    # the root search's d ln(force) / d approach, which the warm start uses for its first (Newton) step: about
    # what two neighbouring solutions give (5 % load apart)
    assert near.log_force_slope_per_mm > 0
    secant = np.log(1 / 0.95) / (cold.approach_mm - near.approach_mm)
    assert near.log_force_slope_per_mm == pytest.approx(secant, rel=0.3)


@pytest.mark.parametrize("settings", [{"STIFFENING_COARSE_ELEMENTS": 10**12}, {"LOG_RESIDUAL": False}])
def test_stiffening_by_approach_start_and_residual_do_not_change_the_answer(monkeypatch, bottoming_case, settings):
    """The coarse-grid start and Brent's logarithmic residual only change the path to the root: switching either
    off gives the same pressure and approach."""
    from spinerelease.contact import solver

    g, gap, thick, load = bottoming_case
    ref = solve_contact(gap, g, load, E, thick, poisson=NU, tol=1e-8)
    for k, v in settings.items():
        monkeypatch.setattr(solver, k, v)
    other = solve_contact(gap, g, load, E, thick, poisson=NU, tol=1e-8)
    assert ref.converged and other.converged
    rel = np.linalg.norm(other.pressure_kpa - ref.pressure_kpa) / np.linalg.norm(ref.pressure_kpa)
    assert rel < 1e-4
    assert other.approach_mm == pytest.approx(ref.approach_mm, rel=1e-6)


def test_coarse_start_estimates_the_stiffened_approach(bottoming_case):
    """The coarse grid (every 3rd element here) puts the approach within 2 % of the fine solution's."""
    from spinerelease.contact import solver

    g, gap, thick, load = bottoming_case
    fine = solve_contact(gap, g, load, E, thick, poisson=NU, tol=1e-8)
    h = gap - gap.min()
    start = solver._coarse_stiffened_start(
        h, thick, load * 1e3, g.cell_area_mm2, g.spacing_mm, np.full(g.shape, E), NU, 2000
    )
    assert start is not None
    assert start[0] == pytest.approx(fine.approach_mm, rel=0.02)
    small = h[:40, :40]  # too small to coarsen
    assert solver._coarse_stiffened_start(small, thick[:40, :40], 1e3, 1.0, 1.0, np.full((40, 40), E), NU, 2000) is None


@pytest.mark.parametrize("kind", ["half-space", "uniform layer", "varying layer"])
def test_restricted_operator_is_the_block_of_the_whole_operator(kind):
    """op.restrict(box) applied to a field on the box equals the whole operator applied to that field (zero
    elsewhere), read on the box: the block A[box, box], to round-off."""
    from spinerelease.contact import solver

    g, _ = _five_peaks(90)
    X, Y = g.mesh()
    thick = {
        "half-space": None,
        "uniform layer": np.full(g.shape, 5.0),  # periodic grid narrower than twice the domain
        "varying layer": 15 + 10 * np.tanh((np.abs(X) - 10) / 5) + 0.05 * Y,
    }[kind]
    modulus = E * (1.0 + 0.3 * np.cos(X / 20.0))
    op = solver._Operator(g.shape, g.spacing_mm, modulus, thick, NU, "float64")
    box = (slice(17, 71), slice(5, 48))
    p = np.zeros(g.shape)
    p[box] = np.random.default_rng(1).random(p[box].shape)
    sub = op.restrict(box)
    ref = op(p)[box]
    np.testing.assert_allclose(sub(p[box]), ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    scale = np.random.default_rng(2).uniform(0.1, 1.0, g.shape)
    op.set_scaling(scale)
    sub.set_scaling(scale[box])
    ref = op(p)[box]
    np.testing.assert_allclose(sub(p[box]), ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


def test_domain_reduction_is_exact_on_layered_tissue(monkeypatch):
    """Linear contact on tissue of varying thickness: the sub-box solve uses the whole operator's block, so it
    gives the whole window's solution (a new operator built from the box's thickness alone was 1 % off in L2)."""
    from spinerelease.contact import solver

    g, gap = _five_peaks()
    X, Y = g.mesh()
    thick = 15 + 10 * np.tanh((np.abs(X) - 10) / 5) + 0.05 * Y
    calls = []
    real = solver._solve_reduced
    monkeypatch.setattr(solver, "_solve_reduced", lambda *a, **k: calls.append(out := real(*a, **k)) or out)
    red = solve_contact(gap, g, 40.0, E, thick, poisson=NU, tol=1e-8, nonlinear=False)
    assert calls[0] is not None
    monkeypatch.setattr(solver, "DOMAIN_REDUCTION", False)
    full = solve_contact(gap, g, 40.0, E, thick, poisson=NU, tol=1e-8, nonlinear=False)
    rel = np.linalg.norm(red.pressure_kpa - full.pressure_kpa) / np.linalg.norm(full.pressure_kpa)
    assert rel < 1e-6
    assert red.approach_mm == pytest.approx(full.approach_mm, rel=1e-8)


def test_coarse_roll_start_gives_the_same_roll_equilibrium(monkeypatch):
    """Under a prescribed roll moment a cold solve starts its secant at the coarse grid's roll angle: the same
    moment balance, roll angle and side loads as starting from zero roll."""
    from spinerelease.contact import solver

    g = Grid.centered(120, 80, 1.0)
    X, Y = g.mesh()
    gap = np.minimum(((X - 30) ** 2 + Y**2) / 20, ((X + 30) ** 2 + Y**2) / 20)
    thick = np.where(np.abs(X) < 8, 10.0, 25.0)
    M = 100.0 * 12.0
    calls = []
    real = solver.solve_contact
    monkeypatch.setattr(solver, "solve_contact", lambda *a, **k: calls.append(a[1].spacing_mm) or real(*a, **k))
    a = solve_contact(gap, g, 100.0, 20.0, thick, moment_y_nmm=M)
    assert calls and calls[0] > g.spacing_mm  # the coarse solve ran
    monkeypatch.setattr(solver, "COARSE_ROLL_START", False)
    b = solve_contact(gap, g, 100.0, 20.0, thick, moment_y_nmm=M)
    for r in (a, b):
        assert r.converged and r.moment_y_nmm == pytest.approx(M, rel=1e-3)
    assert a.roll_deg == pytest.approx(b.roll_deg, abs=0.05)
    side = (X > 0).astype(int)
    ra, rb = region_forces_n(a, side), region_forces_n(b, side)
    assert ra[1] == pytest.approx(rb[1], rel=1e-3) and ra[0] == pytest.approx(rb[0], abs=1e-3 * 100)


def test_roll_warm_started_from_another_posture_matches_the_cold_solve():
    """A roll-moment solve warm-started from an unrolled solution (lying back before a leg is extended) restarts
    from the coarse grid's roll angle and ends where the cold solve ends."""
    g = Grid.centered(120, 80, 1.0)
    X, Y = g.mesh()
    gap = np.minimum(((X - 30) ** 2 + Y**2) / 20, ((X + 30) ** 2 + Y**2) / 20)
    thick = np.where(np.abs(X) < 8, 10.0, 25.0)
    flat = solve_contact(gap, g, 100.0, 20.0, thick, roll_deg=0.0)
    cold = solve_contact(gap, g, 100.0, 20.0, thick, moment_y_nmm=1200.0)
    warm = solve_contact(gap, g, 100.0, 20.0, thick, moment_y_nmm=1200.0, initial=flat)
    assert warm.converged and warm.roll_deg == pytest.approx(cold.roll_deg, abs=1e-3)
    rel = np.linalg.norm(warm.pressure_kpa - cold.pressure_kpa) / np.linalg.norm(cold.pressure_kpa)
    assert rel < 1e-3


def test_two_layer_column_stiffens_each_layer_at_its_own_strain():
    from spinerelease.contact.solver import STIFFENING_ONSET_STRAIN, _Columns, calibrated_stiffening

    t = np.array([34.46, 34.46, 20.0])
    one = _Columns.build(t, np.full(3, 15.0), None)
    two = _Columns.build(t, np.full(3, 15.0), (11.967, 3.25))
    e = np.array([0.2, 0.5, 0.9])
    # one material: the calibrated law at the column strain
    np.testing.assert_allclose(one.stiffening(e), calibrated_stiffening(e))
    # fat (3.25 kPa) over muscle: the fat takes ~71 % of the displacement and reaches the onset at a column
    # strain of about 0.32, long before the column's mean strain does
    share = (11.967 / 3.25) / (11.967 / 3.25 + (34.46 - 11.967) / 15.0)
    assert two.onset_strain()[0] == pytest.approx(STIFFENING_ONSET_STRAIN * 11.967 / (share * 34.46))
    f = two.stiffening(e)
    assert f[0] == 1.0 and f[1] > 1.3 and calibrated_stiffening(0.5) == 1.0
    # the series split balances the stress of the two layers
    u = 0.9 * t[2]
    t1, a1 = 11.967, 11.967 / 3.25
    a2 = (t[2] - t1) / 15.0
    sigma = f[2] * u / (a1 + a2)
    from scipy.optimize import brentq

    u1 = brentq(
        lambda x: x * calibrated_stiffening(x / t1) / a1 - (u - x) * calibrated_stiffening((u - x) / (t[2] - t1)) / a2,
        0,
        u,
    )
    assert sigma == pytest.approx(u1 * calibrated_stiffening(u1 / t1) / a1, rel=1e-6)


def test_indentation_from_unscaled_inverts_the_two_layer_stiffening():
    from spinerelease.contact import solver

    t = np.full(200, 34.46)
    cols = solver._Columns.build(t, np.full(200, 15.0), (11.967, 3.25))
    u = np.linspace(0.0, 0.97 * 34.46, 200)
    v = u * np.sqrt(cols.stiffening(u / t))
    np.testing.assert_allclose(solver._indentation_from_unscaled(v, cols), u, rtol=1e-6, atol=1e-8)


def test_nonlocal_stiffening_is_a_lateral_geometric_mean():
    """The laterally averaged column law: a uniform or unstiffened field is unchanged; a narrow stiff spot is
    spread over about the width times the thickness and lowered at its centre; the width follows each element's
    thickness; the log-factor is conserved away from the edges (a Gaussian average of ln f)."""
    from spinerelease.contact.solver import nonlocal_stiffening

    dx = 0.5
    np.testing.assert_array_equal(nonlocal_stiffening(np.ones((40, 40)), 10.0, dx), 1.0)
    np.testing.assert_allclose(nonlocal_stiffening(np.full((40, 40), 3.0), 10.0, dx), 3.0, rtol=1e-12)
    f = np.ones((81, 81))
    f[40, 40] = 50.0
    out = nonlocal_stiffening(f, 10.0, dx, spread=0.2)
    assert 1.0 < out[40, 40] < 50.0 and out[40, 44] > 1.0 and out[0, 0] == 1.0
    assert np.log(out).sum() == pytest.approx(np.log(50.0), rel=1e-6)
    # thicker tissue: a wider average, so a lower centre
    assert nonlocal_stiffening(f, 20.0, dx, spread=0.2)[40, 40] < out[40, 40]
    # 0 = the local law
    np.testing.assert_array_equal(nonlocal_stiffening(f, 10.0, dx, spread=0.0), f)
    for bad in (
        dict(factor=np.full((4, 4), np.nan)),
        dict(factor=np.full((4, 4), 0.5)),
        dict(thickness_mm=-1.0),
        dict(spacing_mm=0.0),
        dict(spread=-0.1),
    ):
        kw = dict(factor=f, thickness_mm=10.0, spacing_mm=dx) | bad
        with pytest.raises(InputError):
            nonlocal_stiffening(**kw)


def test_guard_keeps_a_column_over_a_ridge_off_the_bone():
    """A whole-tool load on one rounded peak over a thin ridge: the averaged law alone would let the ridge's columns
    through to the bone at a finite force; the guard keeps every column's compression below 1."""
    g = Grid(64, 64, 0.5, -16.0, -16.0)
    x, y = g.mesh()
    gap = np.hypot(x, y) ** 2 / 20.0
    thick = np.where(np.abs(x) < 2.0, 4.0, 25.0)
    r = solve_contact(gap, g, 250.0, E, thick, poisson=NU)
    assert r.converged and r.total_force_n == pytest.approx(250.0, rel=1e-6)
    assert (r.displacement_mm / thick).max() < 1.0
