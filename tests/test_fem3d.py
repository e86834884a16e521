"""3D finite-element slab (spinerelease.contact.fem.solid3d) and case 4 of issue 8 (PSO-Spine on a back slab).

Coarse meshes keep this module fast; the benchmark (benchmarks/fem_pso_spine.py) runs the finer ones.
"""

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("skfem")

from spinerelease.contact.fem import hertz_sphere  # noqa: E402
from spinerelease.contact.fem.back3d import (  # noqa: E402
    back_slab_case,
    case_metrics_fast,
    case_metrics_fem,
    solve_fast_back,
    solve_fem_back,
)
from spinerelease.contact.fem.solid3d import (  # noqa: E402
    SlabContact,
    contact_area_mm2,
    depth_fractions,
    graded_axis,
    nested_dissection,
    rounded_peak_block,
    skin_mass_matrix,
    skin_principal_stretches,
    skin_quadrature,
)
from spinerelease.errors import InputError  # noqa: E402

R_TIP = 10.0


def _sphere_gap(x, y):
    r2 = x**2 + y**2
    return np.where(r2 < R_TIP**2, R_TIP - np.sqrt(np.maximum(R_TIP**2 - r2, 0.0)), np.inf)


def _block(symmetric=True, model="linear", fine=1.0, half=25.0, depth=25.0, zone=3.5, layers=4, E=15.0):
    x0 = 0.0 if symmetric else -half
    x = graded_axis(x0, half, fine, [(-zone, zone)], 1.6)
    y = graded_axis(-half, half, fine, [(-zone, zone)], 1.6)
    return SlabContact(
        x,
        y,
        depth_fractions(layers, 0.1),
        lambda X, Y: np.full_like(X, depth),
        lambda X, Y, D: np.full_like(X, E),
        _sphere_gap,
        poisson=0.49,
        model=model,
        symmetric=symmetric,
    )


@pytest.fixture(scope="module")
def hertz_block():
    prob = _block()
    ok = prob.solve(0.5 * 0.05)
    return prob, prob.result(ok), hertz_sphere(0.05, R_TIP, 15.0, 0.49)


def test_hertz_coarse_block(hertz_block):
    """Sphere on a 25 mm block (~9 contact radii deep) with ~1 mm Q2 elements (~3 across the contact radius).

    Tolerances: the block is finite (bonded base, rollers at 25 mm), which stiffens it by a few per cent
    (approach -5 % measured with the axisymmetric model at this depth); the contact edge is resolved to
    half an element (1 mm / 2.7 mm radius: up to +-20 % in area); the peak pressure of Q2 elements is
    accurate to a few per cent (axisymmetric FEM: +0.8 % at 0.25 mm).
    """
    _, res, hz = hertz_block
    assert res.converged
    assert res.force_n == pytest.approx(0.05, rel=1e-9)  # load control is exact
    assert res.peak_pressure_kpa == pytest.approx(hz["peak_pressure_kpa"], rel=0.10)
    assert res.contact_area_mm2 == pytest.approx(hz["contact_area_mm2"], rel=0.25)
    assert res.approach_mm == pytest.approx(hz["approach_mm"], rel=0.12)
    assert res.approach_mm < hz["approach_mm"]  # finite, bonded block is stiffer than the half-space


def test_force_balance_and_convergence(hertz_block):
    prob, res, _ = hertz_block
    assert res.bone_force_n == pytest.approx(res.force_n, rel=1e-6)
    assert res.residual < 1e-6
    assert np.all(res.reaction_n[res.active] >= 0.0)  # no tensile contact node
    assert np.all(res.reaction_n[~res.active] == 0.0)
    assert prob.log[-1][1:3] == (0, 0)  # last active-set pass: nothing released, nothing added


def test_neo_hookean_matches_linear_at_small_load():
    lin = _block(fine=2.0, zone=4.0, layers=3)
    nh = _block(fine=2.0, zone=4.0, layers=3, model="neo-hookean")
    rl = lin.result(lin.solve(0.002))
    rn = nh.result(nh.solve(0.002))
    assert rn.converged
    assert rn.extras["max_compressive_strain"] < 0.02
    assert rn.approach_mm == pytest.approx(rl.approach_mm, rel=0.03)
    assert rn.bone_force_n == pytest.approx(rn.force_n, rel=1e-4)
    # the tangent is a stable one (pressure unknowns counted right): no Newton step needed an inertia correction
    assert nh.inertia_corrections == 0


def test_half_model_matches_full_model():
    half = _block(fine=2.0, zone=4.0, layers=3, half=20.0, depth=20.0)
    full = _block(symmetric=False, fine=2.0, zone=4.0, layers=3, half=20.0, depth=20.0)
    rh = half.result(half.solve(0.5 * 0.05))
    rf = full.result(full.solve(0.05))
    assert rh.force_n == pytest.approx(rf.force_n, rel=1e-9)
    assert rh.approach_mm == pytest.approx(rf.approach_mm, rel=1e-6)
    assert rh.peak_pressure_kpa == pytest.approx(rf.peak_pressure_kpa, rel=1e-6)
    assert rh.contact_area_mm2 == pytest.approx(rf.contact_area_mm2, rel=1e-6)


def test_nested_dissection_is_a_permutation():
    ijk = np.stack(np.meshgrid(np.arange(9), np.arange(7), np.arange(5), indexing="ij")).reshape(3, -1)
    order = nested_dissection(ijk, leaf=8)
    assert np.array_equal(np.sort(order), np.arange(ijk.shape[1]))


def test_contact_area_of_a_square():
    x = np.linspace(0, 10, 11)
    act = np.zeros((11, 11), dtype=bool)
    act[3:8, 3:8] = True  # nodes 3..7: edge midway to the free nodes -> 2.5..7.5
    assert contact_area_mm2(x, x, act) == pytest.approx(25.0, rel=0.02)
    # on the deformed surface: a uniform stretch of 1.2 in x and a shear leave it 1.2 x larger
    X, Y = np.meshgrid(x, x)
    moved = np.stack([1.2 * X + 0.3 * Y, Y])
    assert contact_area_mm2(x, x, act, current_xy_mm=moved) == pytest.approx(1.2 * 25.0, rel=0.02)
    assert contact_area_mm2(x, x, act, current_xy_mm=np.stack([X, Y])) == contact_area_mm2(x, x, act)


def test_graded_axis_and_fractions():
    x = graded_axis(0.0, 50.0, 1.0, [(0.0, 10.0)], 1.3)
    assert x[0] == 0.0 and x[-1] == 50.0
    assert np.all(np.diff(x)[:9] == pytest.approx(1.0, rel=0.1))
    assert np.diff(x)[-1] > 2.0
    anchored = graded_axis(0.0, 40.0, 1.0, [(0.0, 12.0)], 1.5, anchors_mm=[5.3, 31.0])
    assert 5.3 in anchored and 31.0 in anchored and np.all(np.diff(anchored) > 0)
    plain = graded_axis(0.0, 40.0, 1.0, [(0.0, 12.0)], 1.5)
    assert anchored.size == plain.size and np.abs(anchored - plain).max() <= 0.5 * np.diff(plain).max()
    f = depth_fractions(4, 0.3)
    assert f[0] == 0.0 and f[-1] == 1.0 and np.all(np.diff(np.diff(f)) > 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "mooney"}, "material model"),
        ({"poisson": 0.5}, "Poisson"),
        ({"gap": lambda X, Y: np.full_like(X, np.inf)}, "does not overlap"),
        ({"thickness": lambda X, Y: np.full_like(X, -1.0)}, "thickness"),
        ({"modulus": lambda X, Y, D: np.full_like(X, np.nan)}, "modulus"),
        ({"x_mm": np.array([1.0, 2.0, 3.0])}, "x = 0"),
        ({"fractions": np.array([0.0, 0.5])}, "depth fractions"),
        ({"y_mm": np.array([0.0, 0.0, 1.0])}, "increasing"),
        ({"contact_point": "normal"}, "derivatives"),
        ({"contact_point": "sideways"}, "contact point"),
        ({"curvature": "smoothed"}, "curvature"),
    ],
)
def test_bad_input(kwargs, match):
    args = {
        "x_mm": np.linspace(0, 10, 3),
        "y_mm": np.linspace(-10, 10, 3),
        "fractions": np.array([0.0, 1.0]),
        "thickness": lambda X, Y: np.full_like(X, 10.0),
        "modulus": lambda X, Y, D: np.full_like(X, 15.0),
        "gap": _sphere_gap,
        **kwargs,
    }
    x, y, f, t, m, g = (args.pop(k) for k in ("x_mm", "y_mm", "fractions", "thickness", "modulus", "gap"))
    with pytest.raises(InputError, match=match):
        SlabContact(x, y, f, t, m, g, **args)


def test_bad_load():
    prob = _block(fine=5.0, zone=5.0, layers=1, half=10.0, depth=10.0)
    with pytest.raises(InputError):
        prob.solve(-1.0)
    with pytest.raises(InputError):
        prob.solve(1.0, initial_active=np.ones(3, dtype=bool))


# ----------------------------------------------------------------------------------------------------------------
# case 4 (reduced): the PSO-Spine on the default back at T7, linear material, coarse mesh, reduced load
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def back_case_linear():
    case = back_slab_case()
    load = 60.0
    fast = solve_fast_back(case, nonlinear=False, load_n=load)
    out = solve_fem_back(case, model="linear", loads_n=[load], contact_guess=fast.contact, fine_mm=6.0, n_layers=3)
    res = out[-1][1]
    return case, res, case_metrics_fem(case, res), case_metrics_fast(case, fast)


def test_case4_fem_balances(back_case_linear):
    _, res, fem, _ = back_case_linear
    assert res.converged
    assert res.bone_force_n == pytest.approx(60.0, rel=1e-6)
    assert sum(fem["peak_force_n"].values()) == pytest.approx(60.0, rel=1e-9)
    assert 0.0 < fem["skin_min_stretch"] <= 1.0
    # mirror symmetry of the per-peak forces (exact by construction of the half model)
    assert fem["peak_force_n"]["upper left"] == pytest.approx(fem["peak_force_n"]["upper right"], rel=1e-12)


def test_case4_peak_zones_follow_the_skin_on_the_tool(back_case_linear):
    """Per-peak forces go by where each skin node presses on the tool: at large strain its current position (the
    frictionless skin slides along the tool), for the small-strain model its reference position (where its
    contact is taken); the spinous share by where its tissue came from. Skin moved bodily onto the centre apex
    puts the whole load on the centre in a large-strain result, changes nothing in a small-strain one, and leaves
    the spinous share as it was."""
    import dataclasses

    case, res, fem, _ = back_case_linear
    assert res.extras["contact_point"] == "reference"
    xy = np.asarray(res.extras["skin_xy_current_mm"])
    centre = case.peak_xy_mm[case.peak_names.index("centre")]
    moved = np.stack([np.full_like(xy[0], centre[0]), np.full_like(xy[1], centre[1])])
    small = dataclasses.replace(res, extras={**res.extras, "skin_xy_current_mm": moved})
    assert case_metrics_fem(case, small)["peak_force_n"] == fem["peak_force_n"]
    large = dataclasses.replace(
        res, model="neo-hookean", extras={**res.extras, "skin_xy_current_mm": moved, "contact_point": "normal"}
    )
    fem2 = case_metrics_fem(case, large, cauchy=False)
    assert fem2["peak_force_n"]["centre"] == pytest.approx(60.0, rel=1e-9)
    assert fem2["peak_force_n"]["upper left"] == 0.0
    assert fem2["spinous_share"] == pytest.approx(fem["spinous_share"], rel=1e-12)


def test_case4_side_peak_forces_within_target(back_case_linear):
    _, _, fem, fast = back_case_linear
    for name in ("upper left", "upper right", "lower left", "lower right"):
        assert fast["peak_force_n"][name] == pytest.approx(fem["peak_force_n"][name], rel=0.05)


def test_case4_spinous_share_within_target(back_case_linear):
    _, _, fem, fast = back_case_linear
    assert abs(fast["spinous_share"] - fem["spinous_share"]) < 0.05


# ----------------------------------------------------------------------------------------------------------------
# contact on the true normal (node on the rigid surface) against the axisymmetric true-normal FEM
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def normal_block():
    """The rounded cone into 20 mm of muscle (15 kPa), neo-Hookean, 2.5 mm Q2 elements, 3 layers (~10 k dofs),
    tied skin surface."""
    prob = rounded_peak_block(fine_mm=2.5, n_layers=3)
    steps = {f: prob.result(prob.solve(0.5 * f)) for f in (0.3, 0.6, 1.0)}
    return [steps[0.3], steps[1.0]]


def test_true_normal_contact_matches_axisymmetric_fem(normal_block):
    """The 3D slab with the skin held on the tool surface reproduces the axisymmetric true-normal FEM
    (`contact.fem.deep`, 1 mm mesh, tests/data/fem_deep_reference.json) in approach, contact area and peak
    pressure.

    Tolerances: approach 3 % (measured -1.5 and -1.9 %; the 2.5 mm mesh and the 30 mm half-width of the block);
    area 15 % (measured +5 and +8 %: the contact edge is resolved to half an element); peak pressure 10 %
    (measured -1.8 and -2.1 %; without the tied surface the nodal maximum was +23 and +28 %).
    """
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).parent / "data" / "fem_deep_reference.json").read_text())
    rows = ref["cases"]["muscle20"]["rows"][:2]
    for res, row in zip(normal_block, rows, strict=True):
        assert res.converged
        assert res.force_n == pytest.approx(row["load_n"], rel=2e-3)
        assert res.bone_force_n == pytest.approx(res.force_n, rel=1e-6)
        assert res.approach_mm == pytest.approx(row["approach_mm"], rel=0.03)
        assert res.contact_area_current_mm2 == pytest.approx(row["contact_area_mm2"], rel=0.15)
        assert res.contact_area_current_mm2 > res.contact_area_mm2  # the flanks push the skin outwards
        assert res.true_peak_pressure_kpa == pytest.approx(row["peak_pressure_kpa"], rel=0.10)


def test_skin_principal_stretches_of_known_deformations():
    """Exact on homogeneous deformations of an uneven lattice: a stretch, the same rotated and lifted, and a tilt
    (a line along x of slope 3/4 is 5/4 as long)."""
    X, Y = np.meshgrid([0.0, 1.0, 2.5, 4.0, 7.0], [0.0, 2.0, 3.0, 5.0])
    ref = np.stack([X, Y, np.zeros_like(X)])
    c, s_ = np.cos(0.7), np.sin(0.7)
    cases = {
        (0.5, 1.3): np.stack([0.5 * X, 1.3 * Y, np.zeros_like(X)]),
        (0.5, 1.3, "turned"): np.stack([c * 0.5 * X - s_ * 1.3 * Y, s_ * 0.5 * X + c * 1.3 * Y, np.full_like(X, 2.0)]),
        (1.0, 1.25): np.stack([X, Y, 0.75 * X]),
    }
    for key, cur in cases.items():
        small, large = skin_principal_stretches(ref, cur)
        np.testing.assert_allclose(small, key[0], rtol=1e-12)
        np.testing.assert_allclose(large, key[1], rtol=1e-12)
    with pytest.raises(InputError, match="shape"):
        skin_principal_stretches(ref, ref[:2])
    with pytest.raises(InputError, match="finite"):
        skin_principal_stretches(ref, np.where(X > 3, np.nan, ref))
    with pytest.raises(InputError, match="degenerate"):
        skin_principal_stretches(np.stack([X, np.zeros_like(X), np.zeros_like(X)]), ref)


def test_skin_stretches_under_a_rounded_peak(normal_block):
    """The neo-Hookean skin under the rounded cone is stretched along the flanks (measured: up to 1.05 at 0.3 N,
    1.15 at 1 N) and slightly compressed across (0.989 at 1 N), far from the onset of creasing."""
    from spinerelease.contact.fem.solid3d import CREASE_ONSET_STRETCH

    small, large = normal_block[-1].skin_stretches
    assert CREASE_ONSET_STRETCH < small.min() < 0.995
    assert 1.1 < large.max() < 1.2
    assert np.all(small <= large)
    assert normal_block[-1].skin_min_stretch == small.min()
    assert normal_block[0].skin_stretches[1].max() < large.max()  # more stretched with load


def test_true_normal_reaction_is_normal_to_the_tool(normal_block):
    """Each active node's horizontal internal force balances the horizontal part of the tool's normal push
    (the reduced residual is the result's residual); the flank pushes the skin outwards."""
    res = normal_block[-1]
    assert res.residual < 1e-5  # the solve stops at a Newton step below 1e-6 of the approach
    xy = res.extras["skin_xy_current_mm"]
    X, Y = np.meshgrid(res.x_mm, res.y_mm)
    r0, r1 = np.hypot(X, Y), np.hypot(xy[0], xy[1])
    ring = res.active & (r0 > 2.0)
    assert np.all(r1[ring] > r0[ring])  # moved away from the axis


def test_smooth_gap_of_the_back_case():
    """The case's smooth gap (analytic tool, spline back) agrees with the sampled gap the fast engine uses where
    the tool comes close (bilinear sampling of the 10 mm tips on the 1 mm grid: below 0.05 mm), and its
    derivatives are those of its values."""
    case = back_slab_case()
    gd = case.gap_derivatives
    X, Y = case.grid.mesh()
    near = np.isfinite(case.gap0_mm) & (case.gap0_mm < 5.0)
    assert np.abs(gd(X[near], Y[near])[0] - case.gap0_mm[near]).max() < 0.05
    rng = np.random.default_rng(0)
    px, py = case.peak_xy_mm[0]
    x, y = px + rng.uniform(-9, 9, 200), py + rng.uniform(-9, 9, 200)
    v, h = gd(x, y), 1e-5
    np.testing.assert_allclose(v[1], (gd(x + h, y)[0] - gd(x - h, y)[0]) / (2 * h), atol=1e-5)
    np.testing.assert_allclose(v[5], (gd(x, y + h)[2] - gd(x, y - h)[2]) / (2 * h), atol=1e-5)
    assert np.isinf(gd(np.array([500.0]), np.array([py]))[0][0])  # beyond the tool
    # with the tips blended into their flanks (1 mm) the gap moves by microns, and only near r_t = R sin(a)
    from spinerelease import citations

    citations.reset()
    gb = back_slab_case(tip_blend_mm=1.0).gap_derivatives
    assert "neto2017" in citations.used_keys()
    r = np.hypot(x - px, y - py)
    vb = gb(x, y)
    ring = np.abs(r - 10.0 * np.sin(np.radians(55.0))) < 1.0
    np.testing.assert_allclose(vb[0][~ring], v[0][~ring], atol=1e-9)
    assert 0 < np.abs(vb[0] - v[0]).max() < 0.0067
    np.testing.assert_allclose(vb[3], (gb(x + h, y)[1] - gb(x - h, y)[1]) / (2 * h), atol=1e-5)


def test_pardiso_backend_matches_superlu():
    """The optional MKL PARDISO backend (``pip install .[fem-mkl]``) solves the mixed u-p system as SuperLU does."""
    pytest.importorskip("pypardiso")
    from spinerelease.contact.fem.solid3d import _Factorization

    def _solve(A, b, order, backend):
        fac = _Factorization(A, order, backend)
        x = fac.solve(b)
        fac.free()
        return x

    prob = _block(fine=2.0, zone=4.0, layers=3)
    K = prob.asm.linear()
    free = np.setdiff1d(np.arange(prob.n), prob.fixed)
    A = K[free][:, free].tocsr()
    b = np.random.default_rng(0).standard_normal(free.size)
    order = nested_dissection(prob.lattice[:, free])
    x1, x2 = _solve(A, b, order, "superlu"), _solve(A, b, order, "pardiso")
    np.testing.assert_allclose(x2, x1, rtol=1e-8, atol=1e-10 * np.abs(x1).max())


def _saddle(n_u: int = 12, n_p: int = 4, negative: int = 0, seed: int = 1):
    """A symmetric u-p matrix whose pressure block is negative definite and whose pressure-condensed displacement
    block has ``negative`` negative eigenvalues (the rest in 1..3), as CSR with the pressures last."""
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n_u, n_p))
    Mp = rng.standard_normal((n_p, n_p))
    Kpp = -(Mp @ Mp.T + n_p * np.eye(n_p))
    Q, _ = np.linalg.qr(rng.standard_normal((n_u, n_u)))
    lam = np.concatenate([-rng.uniform(0.2, 0.5, negative), rng.uniform(1.0, 3.0, n_u - negative)])
    S = (Q * lam) @ Q.T
    Kuu = S + B @ np.linalg.solve(Kpp, B.T)
    A = np.block([[Kuu, B], [B.T, Kpp]])
    return sp.csr_matrix(0.5 * (A + A.T))


@pytest.mark.parametrize("backend", ["superlu", "pardiso"])
@pytest.mark.parametrize("negative", [0, 2])
def test_factorization_reports_the_inertia(backend, negative):
    """The factorisation counts the matrix's negative eigenvalues (Sylvester): the pressures' four plus the
    condensed displacement block's own, for SuperLU's diagonal pivots and for PARDISO's Bunch-Kaufman."""
    if backend == "pardiso":
        pytest.importorskip("pypardiso")
    from spinerelease.contact.fem.solid3d import _Factorization

    A = _saddle(negative=negative)
    assert np.sum(np.linalg.eigvalsh(A.toarray()) < 0) == 4 + negative
    fac = _Factorization(A, np.arange(A.shape[0]), backend)
    assert fac.negative == 4 + negative
    b = np.arange(A.shape[0], dtype=float)
    np.testing.assert_allclose(A @ fac.solve(b), b, atol=1e-9)
    fac.free()


def test_newton_step_corrects_the_inertia_only_where_the_tangent_is_unstable():
    """A stable tangent gives the plain Newton step; one whose condensed displacement block has negative
    eigenvalues gets its displacement diagonal raised until the inertia is right (Waechter & Biegler 2006), so
    the step descends the condensed energy."""
    from spinerelease import citations
    from spinerelease.contact.fem.solid3d import _Factorization

    prob = _block(fine=2.0, zone=4.0, layers=3)
    order = np.arange(16)
    r = np.random.default_rng(3).standard_normal(16)
    A = _saddle(negative=0)
    dv, shift = prob._newton_step(A, r, order, n_pressure=4)
    assert shift == 0.0 and prob.inertia_corrections == 0
    np.testing.assert_allclose(A @ dv, -r, atol=1e-9)
    citations.reset()
    A = _saddle(negative=2)
    dv, shift = prob._newton_step(A, r, order, n_pressure=4)
    assert shift > 0 and prob.inertia_corrections == 1
    assert {"waechter2006", "nocedal2006"} <= set(citations.used_keys())
    d = A.diagonal()
    shifted = (A + shift * sp.diags(np.where(d > 0, d, 0.0))).tocsr()
    np.testing.assert_allclose(shifted @ dv, -r, atol=1e-9)
    assert _Factorization(shifted, order).negative == 4
    # with the pressures eliminated, the displacement step solves S du = -g with the condensed (shifted) tangent
    # S positive definite and the condensed gradient g, so it descends: g . du < 0
    Ad = shifted.toarray()
    Kuu, Kup, Kpp = Ad[:12, :12], Ad[:12, 12:], Ad[12:, 12:]
    S = Kuu - Kup @ np.linalg.solve(Kpp, Kup.T)
    g = r[:12] - Kup @ np.linalg.solve(Kpp, r[12:])
    np.testing.assert_allclose(S @ dv[:12], -g, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(S) > 0) and g @ dv[:12] < 0
    # the next correction starts from a third of this shift (Waechter & Biegler's rule), not from the smallest
    _, again = prob._newton_step(A, r, order, n_pressure=4)
    assert again >= shift / 3 and prob._last_shift == again and prob.inertia_corrections == 2


def test_tied_surface_is_bilinear_on_each_skin_face(normal_block):
    """With ``tie_surface`` every midside node's horizontal displacement is its two vertices' mean and every face
    centre's its four vertices' mean (skin positions are stored to 1e-9 mm)."""
    res = normal_block[-1]
    X, Y = np.meshgrid(res.x_mm, res.y_mm)
    u = res.extras["skin_xy_current_mm"] - np.stack([X, Y])
    np.testing.assert_allclose(u[:, ::2, 1:-1:2], 0.5 * (u[:, ::2, :-2:2] + u[:, ::2, 2::2]), atol=1e-8)
    np.testing.assert_allclose(u[:, 1:-1:2, ::2], 0.5 * (u[:, :-2:2, ::2] + u[:, 2::2, ::2]), atol=1e-8)
    corners = u[:, :-2:2, :-2:2] + u[:, :-2:2, 2::2] + u[:, 2::2, :-2:2] + u[:, 2::2, 2::2]
    np.testing.assert_allclose(u[:, 1:-1:2, 1:-1:2], 0.25 * corners, atol=1e-8)


def _sliding_rows_tangent_error(prob: SlabContact, scale: float = 1e-5) -> float:
    """Relative error of the reduced tangent (unknowns: free dofs and the approach) against a central finite
    difference of the reduced residual along a random displacement direction, on the active skin nodes'
    horizontal rows (where the tool's curvature enters); the state is restored afterwards."""
    prob._averaged = prob.curvature == "averaged"
    act_nodes = np.flatnonzero(prob.active)
    act = prob.top_z[act_nodes]
    x0, d0 = prob.x.copy(), prob.approach
    free, T, curvature = prob._map(act_nodes, True)
    K, R = prob.asm.assemble(x0)
    Kr = (T.T @ K @ T + curvature(R[act])).tocsr()

    def reduced(v: np.ndarray) -> np.ndarray:
        prob.x, prob.approach = x0 + T @ v, d0 + v[-1]
        prob._enforce_ties()
        prob.x[act] = prob._current_gap()[prob.active] - prob.approach
        return prob._map(act_nodes, True)[1].T @ prob.asm.assemble(prob.x, tangent=False)[1]

    w = np.random.default_rng(0).standard_normal(free.size + 1)
    w[:-1][free >= prob.nu] = 0.0  # displacements and the approach
    w *= scale * d0 / np.abs(w).max()
    fd = 0.5 * (reduced(w) - reduced(-w))
    prob.x, prob.approach = x0, d0
    rows = np.flatnonzero(np.isin(free, np.concatenate([3 * prob.top[act_nodes], 3 * prob.top[act_nodes] + 1])))
    return float(np.linalg.norm(fd[rows] - (Kr @ w)[rows]) / np.linalg.norm(fd[rows]))


def test_true_normal_tangent_is_exact():
    """With ``curvature="exact"`` the true-normal tangent is the derivative of the residual (finite difference on
    the skin's sliding rows: measured 4e-10); the element-width average used up to stop 19 is 10 % off in those
    rows (made the back slab's iteration converge only linearly, factor ~0.65 per step, and fail from 27.5 N).
    Only the tangent differs, so both reach the same state; the exact one in fewer Newton iterations
    (measured 32 against 47 over three loads)."""
    out = {}
    for curvature in ("exact", "averaged"):
        prob = rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0, curvature=curvature)
        for f in (0.3, 1.0, 2.0):
            assert prob.solve(0.5 * f)
        out[curvature] = (prob.approach, prob.newton_total, _sliding_rows_tangent_error(prob))
    assert out["exact"][2] < 1e-6
    assert out["averaged"][2] > 1e-2
    assert out["exact"][0] == pytest.approx(out["averaged"][0], rel=1e-6)
    assert out["exact"][1] < out["averaged"][1]


def test_skin_mass_matrix():
    """The skin's mass matrix, computed on the surface alone: the area of a flat and of a tilted grid, the
    scikit-fem facet basis it replaced on the deformed skin of a solved block (to round-off), and bad shapes."""
    from dataclasses import replace

    from skfem import BilinearForm, ElementHex2, FacetBasis, asm

    y, x = np.meshgrid(np.linspace(0.0, 6.0, 7), np.linspace(0.0, 4.0, 5) ** 1.2, indexing="ij")
    flat = np.stack([x, y, np.zeros_like(x)])
    assert skin_mass_matrix(flat).sum() == pytest.approx(6.0 * 4.0**1.2, rel=1e-12)
    tilted = np.stack([x, y, 0.75 * x])  # dz/dx = 0.75: area x 1.25
    assert skin_mass_matrix(tilted).sum() == pytest.approx(1.25 * 6.0 * 4.0**1.2, rel=1e-12)
    for bad in (flat[:, :6], flat[:2], flat[:, :1, :1]):
        with pytest.raises(InputError, match="odd|shape"):
            skin_mass_matrix(bad)

    prob = rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0)
    assert prob.solve(0.5 * 2.0)
    mesh = prob.mesh
    vert = prob.x[: prob.nu].reshape(-1, 3)[: mesh.nvertices].T  # the first scalar Q2 dofs are the vertices
    fb = FacetBasis(
        replace(mesh, doflocs=mesh.doflocs + vert), ElementHex2(), facets=mesh.boundaries["top"], intorder=5
    )

    @BilinearForm
    def mass(u, v, w):
        return u * v

    ref = asm(mass, fb).tocsr()[prob.top][:, prob.top].toarray()
    new = prob._top_mass(moved=True).toarray()
    assert np.abs(new - ref).max() < 1e-12 * np.abs(ref).max()
    assert new.sum() > prob._top_mass().sum()  # the skin is stretched over the tip


def _odd_even(ny: int, nx: int) -> np.ndarray:
    """A nodal pattern on 9-node faces whose integral over every face is zero (Simpson weights): +4 on the
    vertices, -1 on the midsides, 0 on the face centres."""
    iy, ix = np.meshgrid(np.arange(ny) % 2, np.arange(nx) % 2, indexing="ij")
    return np.where((iy == 0) & (ix == 0), 4.0, np.where((iy == 1) & (ix == 1), 0.0, -1.0))


def test_skin_quadrature_integrates_the_quadratic_field():
    """The skin's Gauss points integrate a nodal field with the faces' own shape functions: exact for a
    biquadratic field on a stretched, sheared grid; the odd-even nodal pattern integrates to zero."""
    vx = np.linspace(0.0, 1.0, 7) ** 1.3 * 6.0  # graded vertex lines, midside nodes halfway
    xs = np.sort(np.concatenate([vx, 0.5 * (vx[1:] + vx[:-1])]))
    Y, X = np.meshgrid(np.linspace(0.0, 8.0, 9), xs, indexing="ij")
    ny, nx = X.shape
    xy = np.stack([X + 0.2 * Y, Y])  # sheared: the area is unchanged
    x, y, v, w = skin_quadrature(xy, 1.0 + X**2 * Y**2, n_gauss=4)
    assert w.sum() == pytest.approx(48.0, rel=1e-12)
    assert (v * w).sum() == pytest.approx(48.0 + (6.0**3 / 3) * (8.0**3 / 3), rel=1e-12)
    _, _, v, w = skin_quadrature(xy, _odd_even(ny, nx), n_gauss=3)
    assert abs((v * w).sum()) < 1e-12
    with pytest.raises(InputError):
        skin_quadrature(xy[:, :8], np.ones((8, nx)))


def test_fem_probe_ignores_the_odd_even_pattern():
    """The FEM's 1 cm2 probe averages the element field: a uniform 10 kPa with the odd-even nodal pattern on top
    reads 10 kPa within 1 % (interpolating the nodes linearly would read 10.5), mirrored about x = 0."""
    from types import SimpleNamespace

    from spinerelease.contact.fem.back3d import probe_pressure_fem

    x, y = np.linspace(0.0, 30.0, 121), np.linspace(-30.0, 30.0, 241)
    p = 10.0 + _odd_even(y.size, x.size)
    res = SimpleNamespace(true_pressure_kpa=p, pressure_kpa=p, extras={}, x_mm=x, y_mm=y, symmetric=True)
    for probe in probe_pressure_fem(res, [(10.0, 0.0), (0.0, 5.0), (-10.0, 0.0)]):
        assert probe == pytest.approx(10.0, rel=0.01)


def test_checkpoint_round_trip_and_bad_files(tmp_path):
    """A long load-stepped run can resume from its saved state; a file for another mesh, or a broken one, is refused."""
    from spinerelease.contact.fem.back3d import _load_checkpoint, _save_checkpoint

    prob = _block(fine=5.0, zone=5.0, layers=1, half=10.0, depth=10.0)
    assert prob.solve(0.5 * 0.05)
    path = tmp_path / "state.npz"
    assert _load_checkpoint(prob, path) == (0.0, prob)  # no file yet: start afresh
    _save_checkpoint(prob, path, 0.05)
    assert not list(tmp_path.glob("*.tmp.npz"))  # written via a temporary file, then renamed
    fresh = _block(fine=5.0, zone=5.0, layers=1, half=10.0, depth=10.0)
    assert _load_checkpoint(fresh, path) == (0.05, fresh)
    np.testing.assert_array_equal(fresh.x, prob.x)
    np.testing.assert_array_equal(fresh.active, prob.active)
    assert fresh.approach == prob.approach
    other = _block(fine=2.5, zone=5.0, layers=1, half=10.0, depth=10.0)
    with pytest.raises(InputError, match="unknowns"):
        _load_checkpoint(other, path)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a numpy file")
    with pytest.raises(InputError, match="cannot be read"):
        _load_checkpoint(fresh, broken)
    assert path.exists()  # the good state is untouched


def test_rounded_peak_block_top_layer():
    """A top layer as stiff as the tissue below changes nothing; one thicker than the block is refused."""
    plain = rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0)
    same = rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0, top_layer=(8.0, 15.0))
    a, b = plain.result(plain.solve(0.15)), same.result(same.solve(0.15))
    assert a.approach_mm == pytest.approx(b.approach_mm, rel=1e-12)
    soft = rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0, top_layer=(8.0, 3.25))
    assert soft.result(soft.solve(0.15)).approach_mm > 1.2 * a.approach_mm
    with pytest.raises(InputError, match="top layer thickness"):
        rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, top_layer=(25.0, 3.25))


def test_stretched_peak_block_gap_and_its_derivatives():
    """The peak stretched along y (an elongated contact, stop 32): its gap is the round one at ``y / stretch``, its
    derivatives match central differences (the true-normal contact uses them), its fine zone is stretched too, and
    the fast engine's counterpart takes the same stretch; a stretch below 1 is refused by both."""
    from spinerelease.contact.fem.axisym import Layer
    from spinerelease.contact.fem.compare import fast_rounded_cone
    from spinerelease.tools.base import rounded_peak_mm

    kw = {"fine_mm": 5.0, "n_layers": 2, "thickness_mm": 20.0, "half_width_mm": 40.0}
    prob = rounded_peak_block(**kw, stretch=2.5, blend_mm=1.0)
    round_ = rounded_peak_block(**kw, blend_mm=1.0)
    x = np.array([0.3, 2.0, 6.0, 9.0, 1.5])
    y = np.array([0.0, 5.0, 12.0, 25.0, 30.0])
    g = prob.gap_derivatives(x, y)
    np.testing.assert_allclose(g[0], round_.gap_derivatives(x, y / 2.5)[0], atol=1e-12)
    np.testing.assert_allclose(g[0], -rounded_peak_mm(x, y / 2.5, 0.0, 0.0, 0.0, 10.0, 55.0), atol=0.02)
    d = 1e-5
    gx = (prob.gap_derivatives(x + d, y)[0] - prob.gap_derivatives(x - d, y)[0]) / (2 * d)
    gy = (prob.gap_derivatives(x, y + d)[0] - prob.gap_derivatives(x, y - d)[0]) / (2 * d)
    np.testing.assert_allclose(g[1], gx, atol=1e-7)
    np.testing.assert_allclose(g[2], gy, atol=1e-7)
    gxy = (prob.gap_derivatives(x, y + d)[1] - prob.gap_derivatives(x, y - d)[1]) / (2 * d)
    gyy = (prob.gap_derivatives(x, y + d)[2] - prob.gap_derivatives(x, y - d)[2]) / (2 * d)
    np.testing.assert_allclose(g[4], gxy, atol=1e-6)
    np.testing.assert_allclose(g[5], gyy, atol=1e-6)
    assert prob.n > round_.n  # the fine zone is 2.5 times as long along y
    with pytest.raises(InputError, match="stretch"):
        rounded_peak_block(**kw, stretch=0.5)
    with pytest.raises(InputError, match="stretch"):
        fast_rounded_cone(1.0, [Layer("column", 20.0, 15.0)], tip_radius_mm=10.0, flank_angle_deg=55.0, stretch=0.5)


def test_ridge_peak_block_gap_and_its_derivatives():
    """The apex drawn out into a straight ridge (a blunt-ended elongated peak, stop 33): along the ridge the gap is
    the peak's cross-section, beyond it the round peak moved by half the ridge; the derivatives match central
    differences away from the kink at the ridge's ends; with a stretch the ridge comes first; the fast engine
    takes the same ridge on a grid as much longer; a negative or non-finite ridge, or one both stretched and drawn
    out, is refused."""
    from spinerelease.contact.fem.axisym import Layer
    from spinerelease.contact.fem.compare import fast_rounded_cone
    from spinerelease.tools import ridge_coordinate

    kw = {"fine_mm": 5.0, "n_layers": 2, "thickness_mm": 20.0, "half_width_mm": 60.0}
    prob = rounded_peak_block(**kw, ridge_mm=20.0, blend_mm=1.0)
    round_ = rounded_peak_block(**kw, blend_mm=1.0)
    x = np.array([0.3, 2.0, 6.0, 9.0, 1.5, 4.0])
    y = np.array([0.0, 5.0, -8.0, 25.0, 30.0, -14.0])
    g = prob.gap_derivatives(x, y)
    yr = np.where(np.abs(y) > 10.0, y - np.sign(y) * 10.0, 0.0)
    np.testing.assert_allclose(g[0], round_.gap_derivatives(x, yr)[0], atol=1e-12)
    along = np.abs(y) <= 10.0
    np.testing.assert_allclose(np.array(g)[[2, 4, 5]][:, along], 0.0, atol=1e-15)  # no slope or twist along it
    d = 1e-5
    for k, (i, di) in enumerate([(0, "x"), (0, "y"), (1, "y"), (2, "y")]):
        plus = prob.gap_derivatives(x + d * (di == "x"), y + d * (di == "y"))[i]
        minus = prob.gap_derivatives(x - d * (di == "x"), y - d * (di == "y"))[i]
        np.testing.assert_allclose(g[[1, 2, 4, 5][k]], (plus - minus) / (2 * d), atol=1e-6)
    assert prob.n > round_.n  # the fine zone is 20 mm longer
    with pytest.raises(InputError, match="either stretched"):
        rounded_peak_block(**kw, ridge_mm=20.0, stretch=2.0)
    moved, slope = ridge_coordinate(np.array([-12.0, -3.0, 0.0, 10.0, 11.0]), 10.0)
    np.testing.assert_allclose(moved, [-2.0, 0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(slope, [1.0, 0.0, 0.0, 0.0, 1.0])
    col = [Layer("column", 20.0, 15.0)]
    m = fast_rounded_cone(2.0, col, tip_radius_mm=10.0, flank_angle_deg=55.0, ridge_mm=30.0, spacing_mm=1.0)
    r = fast_rounded_cone(2.0, col, tip_radius_mm=10.0, flank_angle_deg=55.0, spacing_mm=1.0)
    assert m.approach_mm < r.approach_mm and m.contact_area_mm2 > r.contact_area_mm2  # the load spread along it
    for bad in (-1.0, np.nan):
        with pytest.raises(InputError, match="ridge"):
            rounded_peak_block(**kw, ridge_mm=bad)
        with pytest.raises(InputError, match="ridge"):
            fast_rounded_cone(1.0, col, tip_radius_mm=10.0, flank_angle_deg=55.0, ridge_mm=bad)
    with pytest.raises(InputError, match="ridge"):
        ridge_coordinate(np.zeros(3), -1.0)


def test_bent_ridge_peak_gap_and_its_derivatives():
    """The ridge bent into an arc (a banana-shaped contact, stop 33): it lies along x and bends towards +y, so the
    half model's plane x = 0 stays a plane of symmetry; the gap is the peak's profile of the distance to the arc
    (its apex line), its derivatives match central differences on and off the arc and beyond its ends; a bend
    tighter than a half circle, or a bend without a ridge, is refused."""
    from spinerelease.contact.fem.axisym import Layer
    from spinerelease.contact.fem.compare import fast_rounded_cone
    from spinerelease.tools import elongated_peak_derivatives, rounded_peak_mm

    r0, L = 40.0, 40.0
    kw = {"fine_mm": 5.0, "n_layers": 2, "thickness_mm": 20.0, "half_width_mm": 60.0}
    prob = rounded_peak_block(**kw, ridge_mm=L, bend_radius_mm=r0, blend_mm=1.0)
    phi = np.array([-0.4, 0.0, 0.2, 0.45])  # on the arc (its half angle is 0.5)
    ax, ay = r0 * np.sin(phi), r0 * (1 - np.cos(phi))
    np.testing.assert_allclose(prob.gap_derivatives(ax, ay)[0], 0.0, atol=1e-12)  # the apex line
    np.testing.assert_allclose(prob.gap_derivatives(-ax, ay)[0], 0.0, atol=1e-12)  # symmetric about x = 0
    # 3 mm off the arc, along its normal; and beyond its end, the round peak about the end point
    off = prob.gap_derivatives(ax - 3.0 * np.sin(phi), ay + 3.0 * np.cos(phi))[0]
    np.testing.assert_allclose(off, -rounded_peak_mm(np.array(3.0), 0.0, 0.0, 0.0, 0.0, 10.0, 55.0), atol=0.02)
    end = np.array([r0 * np.sin(0.5), r0 * (1 - np.cos(0.5))])
    beyond = prob.gap_derivatives(np.array([end[0] + 4.0]), np.array([end[1] + 1.0]))[0]
    np.testing.assert_allclose(beyond, -rounded_peak_mm(np.array(4.0), 1.0, 0.0, 0.0, 0.0, 10.0, 55.0), atol=0.02)
    x = np.array([0.0, 7.0, -15.0, 25.0, 5.0, -30.0])
    y = np.array([0.5, 2.0, 6.0, 3.0, -6.0, 20.0])
    g = prob.gap_derivatives(x, y)
    d = 1e-5
    for k, (i, di) in enumerate([(0, "x"), (0, "y"), (1, "x"), (1, "y"), (2, "y")]):
        plus = prob.gap_derivatives(x + d * (di == "x"), y + d * (di == "y"))[i]
        minus = prob.gap_derivatives(x - d * (di == "x"), y - d * (di == "y"))[i]
        np.testing.assert_allclose(g[[1, 2, 3, 4, 5][k]], (plus - minus) / (2 * d), atol=1e-6)
    col = [Layer("column", 20.0, 15.0)]
    m = fast_rounded_cone(2.0, col, tip_radius_mm=10.0, flank_angle_deg=55.0, ridge_mm=L, bend_radius_mm=r0)
    assert m.force_n == pytest.approx(2.0, rel=1e-3)
    with pytest.raises(InputError, match="half circle"):
        elongated_peak_derivatives(x, y, 10.0, 55.0, ridge_mm=L, bend_radius_mm=L / 4)
    with pytest.raises(InputError, match="half circle"):
        rounded_peak_block(**kw, ridge_mm=L, bend_radius_mm=np.nan)
    with pytest.raises(InputError, match="needs a ridge"):
        fast_rounded_cone(1.0, col, tip_radius_mm=10.0, flank_angle_deg=55.0, bend_radius_mm=r0)


def test_face_mean_max():
    """Simpson means over Q2 faces: exact for a biquadratic field; the corner/midside oscillation averages out."""
    from spinerelease.contact.fem.solid3d import face_mean_max

    x = np.linspace(0.0, 4.0, 9)  # four faces of width 1 each way (node lines every 0.5)
    X, Y = np.meshgrid(x, x)
    # mean of x^2 + y^2 over the face [3, 4] x [3, 4]: 2 * (4^3 - 3^3) / 3 = 74 / 3
    assert face_mean_max(X**2 + Y**2) == pytest.approx(74.0 / 3.0, rel=1e-12)
    odd_even = 10.0 + np.where((np.arange(9)[None, :] + np.arange(9)[:, None]) % 2 == 0, 1.0, -1.0)
    assert face_mean_max(odd_even) < odd_even.max()
    with pytest.raises(InputError):
        face_mean_max(np.ones((4, 5)))


def test_secant_predictor_starts_from_the_extrapolated_state(tmp_path):
    """After two converged loads, ``solve`` starts Newton's method from the state extrapolated in the load, and
    ends at the same equilibrium as without the predictor; a state that is not the last converged one (restored
    by a driver) is left alone."""
    from spinerelease.contact.fem.solid3d import SlabContact

    def block():
        return rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0, blend_mm=1.0)

    a, b = block(), block()
    for f in (0.5, 1.0):
        assert a.solve(f) and b.solve(f, predict=False)
    (_, x0, d0), (_, x1, d1) = a._converged
    seen = []
    newton = SlabContact._newton

    def spy(self, *args):
        seen.append((self.approach, self.x.copy()))
        return newton(self, *args)

    SlabContact._newton = spy
    try:
        assert a.solve(1.25)
    finally:
        SlabContact._newton = newton
    assert seen[0][0] == pytest.approx(d1 + 0.5 * (d1 - d0))
    np.testing.assert_allclose(seen[0][1], x1 + 0.5 * (x1 - x0))
    assert b.solve(1.25, predict=False)
    assert a.approach == pytest.approx(b.approach, rel=1e-6)
    # a checkpoint keeps the converged state before the last, so a resumed run predicts from its first step
    from spinerelease.contact.fem.back3d import _load_checkpoint, _save_checkpoint

    path = tmp_path / "state.npz"
    _save_checkpoint(a, path, 2.5)
    fresh = block()
    _load_checkpoint(fresh, path)
    assert [c[0] for c in fresh._converged] == [1.0, 1.25]
    np.testing.assert_array_equal(fresh._converged[0][1], x1)
    np.testing.assert_array_equal(fresh._converged[1][1], a.x)
    # restored to an older state: no extrapolation from it
    a.x, a.approach = x0.copy(), d0
    a._predict(1.5)
    assert a.approach == d0 and np.array_equal(a.x, x0)
