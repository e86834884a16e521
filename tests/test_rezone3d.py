"""Rezoning of the 3D slab (spinerelease.contact.fem.rezone3d): the inverse element map, the state carried over
to a fresh mesh, and a saved rezoned state."""

import numpy as np
import pytest

pytest.importorskip("skfem")

from spinerelease.contact.fem.back3d import _load_checkpoint, _save_checkpoint  # noqa: E402
from spinerelease.contact.fem.rezone3d import (  # noqa: E402
    _newton_inverse,
    _node_lattice,
    element_nodes,
    invert_q2,
    q2_map,
    rezone_slab,
)
from spinerelease.contact.fem.solid3d import _Diverged, _node_lines, rounded_peak_block  # noqa: E402
from spinerelease.errors import InputError  # noqa: E402


def _curved_lattice(n: int = 3) -> np.ndarray:
    """A smoothly curved 3D lattice of n^3 Q2 elements (node lattice (2n+1)^3)."""
    t = np.linspace(0.0, 1.0, 2 * n + 1)
    X, Y, Z = np.meshgrid(t, 2.0 * t, 0.5 * t, indexing="ij")
    return np.stack([X + 0.1 * np.sin(3 * Y), Y + 0.15 * X * Z, Z + 0.05 * np.cos(2 * X) * Y], axis=-1)


def test_q2_map_inverts_on_curved_elements():
    """Points mapped from random parent coordinates of random elements are found again (element and parent
    coordinates to 1e-9), also on the mesh's faces; a point outside the mesh is refused."""
    nodes = element_nodes(_curved_lattice())
    assert nodes.shape == (27, 3, 3, 3, 3)
    rng = np.random.default_rng(1)
    elem = rng.integers(0, 27, 200)
    xi = rng.uniform(-1.0, 1.0, (200, 3))
    xi[:20, 0] = -1.0  # on element faces (some on the mesh's boundary)
    pts = q2_map(nodes[elem], xi)[0]
    e2, xi2 = invert_q2(nodes, pts)
    back = q2_map(nodes[e2], xi2)[0]
    assert np.abs(back - pts).max() < 1e-9
    inner = np.abs(xi).max(axis=1) < 1.0 - 1e-6
    assert np.all(e2[inner] == elem[inner]) and np.abs(xi2[inner] - xi[inner]).max() < 1e-8
    with pytest.raises(_Diverged, match="no element"):
        invert_q2(nodes, np.array([[5.0, 5.0, 5.0]]))
    # 2D (a surface grid): value and Jacobian against finite differences
    sheet = element_nodes(_curved_lattice()[:, :, -1, :])
    v, J = q2_map(sheet[:1], np.array([[0.3, -0.2]]))
    h = 1e-6
    plus, minus = (q2_map(sheet[:1], np.array([[0.3 + s, -0.2]]))[0] for s in (h, -h))
    fd = (plus - minus) / (2 * h)
    assert np.allclose(J[0, :, 0], fd[0], atol=1e-8)


def _solved_block():
    prob = rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0)
    for f in (0.3, 1.0, 2.0):
        assert prob.solve(0.5 * f)
    return prob


def test_rezoning_keeps_the_state_and_goes_on(tmp_path):
    """A fresh mesh over the block pressed to 2 N (skin stretched 1.2-fold at the tip): all its Q2 nodes sit on
    the layout's vertical node lines in the deformed configuration, the skin stays at z = 0 in the reference, the
    carried state has no inverted element and its skin nodes in contact are on the tool. Solved again at 2 N it
    gives the approach -0.27 %, the peak face pressure +1.5 % and the contact area -1.2 % against the old mesh
    (measured; the difference between two meshes of the same size); it then goes on to 3 N with the old mesh
    (+0.1 % in approach). Saved and restored, the rezoned state is the same."""
    prob = _solved_block()
    before = prob.result(True)
    new = rezone_slab(prob)
    assert new.rezoned and new.rezones == 1 and not prob.rezoned
    x_lines, y_lines, _ = prob.layout
    cur = new.asm.sb.doflocs + new.x[: new.nu].reshape(-1, 3).T
    lat = _node_lattice(new, cur)
    assert np.allclose(lat[..., 0], _node_lines(x_lines)[:, None, None], atol=1e-9)
    assert np.allclose(lat[..., 1], _node_lines(y_lines)[None, :, None], atol=1e-9)
    assert np.abs(_node_lattice(new, new.asm.sb.doflocs)[:, :, -1, 2]).max() < 1e-12  # skin at z = 0
    assert new._admissible()
    gap = new._current_gap() - new.approach - new.x[new.top_z]
    assert np.abs(gap[new.active]).max() < 1e-9 and gap[np.isfinite(gap)].min() > -1e-9
    assert new.solve(0.5 * 2.0)
    after = new.result(True)
    assert after.force_n == pytest.approx(2.0, rel=1e-9)
    assert new.approach == pytest.approx(prob.approach, rel=5e-3)
    assert after.true_face_peak_pressure_kpa == pytest.approx(before.true_face_peak_pressure_kpa, rel=0.03)
    assert after.contact_area_current_mm2 == pytest.approx(before.contact_area_current_mm2, rel=0.03)
    assert after.extras["rezoned"] and after.extras["skin_xy_reference_mm"].shape == (2, *new.top_shape)

    path = tmp_path / "state.npz"
    _save_checkpoint(new, path, 2.0)
    fresh = rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0)
    load, back = _load_checkpoint(fresh, path)
    assert load == 2.0 and back.rezoned and back.rezones == 1
    np.testing.assert_array_equal(back.mesh.doflocs, new.mesh.doflocs)
    np.testing.assert_array_equal(back.x, new.x)

    assert new.solve(0.5 * 3.0) and prob.solve(0.5 * 3.0)
    assert new.approach == pytest.approx(prob.approach, rel=5e-3)


def test_rezoning_onto_a_finer_layout_measures_the_mesh_error(tmp_path):
    """Rezoned onto a layout with every line doubled (6.4x the unknowns) and solved again at 2 N, the block's
    approach is 5.9326 mm (measured), against 5.9579 mm on the old 5 mm mesh and 5.9417 mm on the same-size
    rezoned one: the mesh error of the approach is -0.4 %, and a rezoned mesh of the old size is nearer to the
    finer one than the old mesh is. A finer state is saved with its layout and restored on the coarse problem."""
    prob = _solved_block()
    same = rezone_slab(prob)
    assert same.solve(0.5 * 2.0)
    x, y, fr = prob.layout

    fine = rezone_slab(prob, (_node_lines(x), _node_lines(y), _node_lines(fr)))  # each line doubled
    assert fine.n > 6 * prob.n and fine._admissible()
    assert fine.solve(0.5 * 2.0)
    assert fine.result(True).force_n == pytest.approx(2.0, rel=1e-9)
    assert fine.approach == pytest.approx(prob.approach, rel=1e-2)
    assert abs(same.approach - fine.approach) < abs(prob.approach - fine.approach)
    path = tmp_path / "fine.npz"
    _save_checkpoint(fine, path, 2.0)
    load, back = _load_checkpoint(
        rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0), path
    )
    assert load == 2.0 and back.n == fine.n
    np.testing.assert_array_equal(back.x, fine.x)
    with pytest.raises(InputError, match="span"):
        rezone_slab(prob, (x[1:], y, fr))


def test_inverse_map_in_a_sheared_skin_element():
    """A skin element of the back slab at 64 N, sheared so that its depth axis lies almost flat (the skin wrapped
    round a tip's flank): Newton's method on its map from the node nearest to a point inside it leaves the element
    (measured); the second try, from the nearest point of a finer parent lattice, finds it."""
    nodes = np.array(SHEARED_ELEMENT).reshape(1, 3, 3, 3, 3)
    target = np.array([[8.7485, 95.6433, -4.8042]])
    xi0 = np.array([[1.0, 1.0, 1.0]])  # the nearest node
    assert np.argmin(((nodes.reshape(27, 3) - target) ** 2).sum(axis=1)) == 26
    _, converged = _newton_inverse(nodes, target, xi0, 1e-8)
    assert not converged[0]
    elem, xi = invert_q2(nodes, target)
    assert elem[0] == 0 and np.abs(xi).max() < 1.0
    assert np.abs(q2_map(nodes[elem], xi)[0] - target).max() < 1e-9


#: Node positions (mm, Q2 lattice order) of a skin element of the back slab at 64 N (state of stop 23).
SHEARED_ELEMENT = [
    [7.2689, 93.6413, -3.3987],
    [7.853, 93.5976, -3.1839],
    [8.655, 93.3884, -3.6236],
    [7.2609, 95.0378, -3.554],
    [7.8721, 95.0174, -3.389],
    [8.697, 94.9169, -3.9624],
    [7.2653, 96.4493, -3.6313],
    [7.892, 96.4604, -3.4945],
    [8.7391, 96.4455, -4.1497],
    [8.0909, 93.5159, -4.8843],
    [8.29, 93.5224, -4.3304],
    [8.9507, 93.471, -3.999],
    [8.029, 94.9033, -5.0443],
    [8.2369, 94.9314, -4.5183],
    [8.948, 94.9382, -4.2686],
    [8.0025, 96.3093, -5.1318],
    [8.2118, 96.3623, -4.6161],
    [8.9453, 96.4053, -4.3973],
    [9.405, 93.3664, -6.3888],
    [9.2864, 93.4366, -5.4866],
    [9.2463, 93.5537, -4.3984],
    [9.3329, 94.7484, -6.5498],
    [9.2183, 94.8305, -5.6637],
    [9.1989, 94.9594, -4.5933],
    [9.3033, 96.153, -6.6474],
    [9.1916, 96.2473, -5.7682],
    [9.1515, 96.3652, -4.6578],
]


def test_rezoning_needs_the_large_strain_model():
    prob = rounded_peak_block(fine_mm=5.0, n_layers=2, thickness_mm=20.0, half_width_mm=20.0)
    prob.model_name = "linear"
    with pytest.raises(InputError, match="large-strain"):
        rezone_slab(prob)


def _coarse_back_slab():
    """The default back case and the keywords of a coarse large-strain ``solve_fem_back`` on it (driver tests)."""
    from spinerelease.contact.fem.back3d import back_slab_case, solve_fast_back

    case = back_slab_case()
    guess = solve_fast_back(case, nonlinear=True, load_n=1.0).contact
    kwargs = {
        "model": "neo-hookean",
        "contact_guess": guess,
        "fine_mm": 8.0,
        "n_layers": 2,
        "contact_point": "normal",
        "peak_window_mm": 12.0,
        "tie_surface": True,
    }
    return case, kwargs


def test_load_stepping_rezones_once_a_halved_step_fails(monkeypatch, tmp_path):
    """``solve_fem_back(rezone=True)``: a step that fails only because it is long is halved as before; when the
    halved step fails too, the last converged state is rezoned and the step tried again; the checkpoint then
    holds the rezoned mesh and a resumed run picks it up."""
    from spinerelease.contact.fem.back3d import solve_fem_back
    from spinerelease.contact.fem.solid3d import SlabContact

    case, kwargs = _coarse_back_slab()
    real = SlabContact.solve
    calls = []

    def flaky(self, load_n, **kw):  # the first mesh cannot go beyond 0.5 N (per half slab: 1 N in all)
        calls.append((self.rezones, 2.0 * load_n))
        if self.rezones == 0 and load_n > 0.5 + 1e-9:
            raise _Diverged("stand-in failure")
        return real(self, load_n, **kw)

    monkeypatch.setattr(SlabContact, "solve", flaky)
    path = tmp_path / "state.npz"
    out = solve_fem_back(case, loads_n=[1.0, 2.0], rezone=True, checkpoint=path, **kwargs)
    assert [f for f, r in out if r is not None] == [1.0, 2.0]
    assert out[-1][1].extras["rezoned"]
    # 2 N failed on the first mesh, so did the halved 1.5 N; then the rezoned mesh was brought to equilibrium at
    # 1 N and took 1.5 N and 2 N
    assert calls[-5:] == [(0, 2.0), (0, 1.5), (1, 1.0), (1, 1.5), (1, 2.0)]
    monkeypatch.setattr(SlabContact, "solve", real)
    again = solve_fem_back(case, loads_n=[2.0, 2.5], checkpoint=path, **kwargs)
    assert [f for f, _ in again] == [2.5] and again[0][1].extras["rezoned"]


def test_a_rezoned_mesh_that_does_not_settle_is_dropped(monkeypatch, tmp_path):
    """If the rezoned mesh cannot be brought to equilibrium at the last converged load, the run keeps the old mesh
    and reports its converged state (never the unsettled transferred one)."""
    from spinerelease.contact.fem.back3d import solve_fem_back
    from spinerelease.contact.fem.solid3d import SlabContact

    case, kwargs = _coarse_back_slab()
    real = SlabContact.solve

    def flaky(self, load_n, **kw):  # nothing beyond 0.5 N (per half slab), and no rezoned mesh settles
        if self.rezones > 0 or load_n > 0.5 + 1e-9:
            raise _Diverged("stand-in failure")
        return real(self, load_n, **kw)

    monkeypatch.setattr(SlabContact, "solve", flaky)
    path = tmp_path / "state.npz"
    out = solve_fem_back(case, loads_n=[1.5], rezone=True, checkpoint=path, max_cuts=2, **kwargs)
    # steps up to 1 N converge (0.75, then 0.9375 N), every longer one fails, and no rezoned mesh settles: the
    # run stops with the old mesh's state at the highest converged load
    (reached, res), (wanted, none) = out
    assert 0.75 <= reached < 1.0 and wanted == 1.5 and none is None
    assert not res.extras["rezoned"]
    with np.load(path) as z:
        assert "reference" not in z.files and float(z["load_n"]) == reached


def test_lifting_the_columns_under_skin_nodes(monkeypatch):
    """``SlabContact._lift_columns`` moves a skin node vertically and the nodes below it by the same amount times
    their fraction of the column height (0 at the bone), nothing else. When moving the newly active skin nodes
    onto the tool inverts an element (simulated here), Newton's first iterate does that instead, and the solve
    still reaches the same equilibrium."""
    prob = _solved_block()
    x0 = prob.x.copy()
    k = int(np.flatnonzero(prob.active)[0])
    prob._lift_columns(np.array([-0.5]), np.array([k]))
    dz = (prob.x - x0)[2 : prob.nu : 3]
    ijk = prob.lattice[:, 0 : prob.nu : 3]
    col = (ijk[0] == ijk[0, prob.top[k]]) & (ijk[1] == ijk[1, prob.top[k]])
    assert np.all(dz[~col] == 0.0) and np.all((prob.x - x0)[0 : prob.nu : 3] == 0.0)
    assert dz[prob.top[k]] == pytest.approx(-0.5) and np.all(dz[col & (ijk[2] == 0)] == 0.0)
    assert np.all(np.diff(dz[col][np.argsort(ijk[2, col])]) <= 0.0)  # growing towards the skin
    prob.x = x0.copy()
    approach = prob.approach
    real = prob.asm.assemble
    calls = {"n": 0}

    def first_fails(x, tangent=True):
        calls["n"] += 1
        if calls["n"] == 1:
            raise _Diverged("inverted element")
        return real(x, tangent)

    monkeypatch.setattr(prob.asm, "assemble", first_fails)
    prob.x[prob.top_z[prob.active]] += 0.05  # off the tool, so the first iterate moves the skin back onto it
    assert prob.solve(0.5 * 2.0, predict=False)
    assert calls["n"] > 2 and prob.approach == pytest.approx(approach, rel=1e-6)


def test_inverse_map_in_a_folding_element_beside_the_ridge(monkeypatch):
    """An element of the back slab at 78 N beside the spinous ridge whose map folds (Jacobian determinant negative
    in part of it): a point inside it is lost from the parent lattice of 9 points per axis (measured:
    rezoning the 78 N state failed, stop 26) and found from that of :data:`FALLBACK_LATTICE` (17)."""
    from spinerelease.contact.fem import rezone3d

    nodes = np.array(FOLDING_ELEMENT).reshape(1, 3, 3, 3, 3)
    target = np.array([[8.748, 137.046, -4.473]])
    elem, xi = invert_q2(nodes, target)
    assert elem[0] == 0 and np.abs(xi).max() < 1.0
    assert np.abs(q2_map(nodes[elem], xi)[0] - target).max() < 1e-8
    g = np.linspace(-1.0, 1.0, 5)
    lattice = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    dets = np.linalg.det(q2_map(np.repeat(nodes, len(lattice), axis=0), lattice)[1])
    assert dets.min() < 0 < dets.max()  # the map folds inside the element
    monkeypatch.setattr(rezone3d, "FALLBACK_LATTICE", 9)
    with pytest.raises(_Diverged):
        invert_q2(nodes, target)


#: Node positions (mm, Q2 lattice order, 4 decimals) of an element of the back slab at 78 N beside the spinous ridge
#: (the rezoned run's state of stop 25).
FOLDING_ELEMENT = [
    [7.3184, 135.7610, -3.1578],
    [7.9967, 135.5897, -2.8569],
    [8.9429, 134.8939, -3.2677],
    [7.3355, 137.3287, -3.4788],
    [8.1976, 137.1121, -3.5125],
    [9.3026, 136.3668, -4.4542],
    [7.4688, 138.9915, -3.7762],
    [8.4240, 138.6680, -4.2575],
    [9.6623, 137.8398, -5.5819],
    [7.8459, 135.8545, -4.5879],
    [8.1765, 135.7011, -4.0119],
    [9.0302, 135.4147, -3.6611],
    [7.6389, 137.4493, -4.9807],
    [7.9530, 137.3257, -4.3132],
    [8.9743, 136.9262, -4.4856],
    [7.4512, 139.1794, -5.2774],
    [7.8398, 139.0706, -4.6077],
    [8.9185, 138.4377, -5.2332],
    [8.9188, 135.9536, -6.0330],
    [8.9887, 135.8273, -5.1279],
    [9.1175, 135.9355, -4.0152],
    [8.7468, 137.5943, -6.4909],
    [8.5912, 137.4041, -5.6562],
    [8.6460, 137.4856, -4.7625],
    [8.5796, 139.3557, -6.8452],
    [8.2003, 139.1881, -5.9314],
    [8.1746, 139.0357, -5.3341],
]
