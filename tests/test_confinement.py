"""The one-way confinement stiffening of the column law (docs/validation.md, "The foam roller")."""

import numpy as np
import pytest

from spinerelease.contact import solver
from spinerelease.contact.solver import (
    confinement_stiffening,
    escape_anisotropy,
    long_axis_strain,
    one_way_escape_ratio,
    squeeze_flow_potential,
)
from spinerelease.errors import InputError


def _grid(half_x: float, half_y: float, h: float):
    x = np.arange(-half_x, half_x + 1e-9, h)
    y = np.arange(-half_y, half_y + 1e-9, h)
    return np.meshgrid(x, y)


def test_squeeze_flow_potential_of_a_disc_and_a_strip():
    """``-lap phi = s``, 0 at the edge: ``s (a^2 - r^2) / 4`` in a disc, ``s (a^2 - x^2) / 2`` in a long strip."""
    h = 0.5
    x, y = _grid(30.0, 30.0, h)
    disc = x**2 + y**2 < 20.0**2
    phi = squeeze_flow_potential(disc, h)
    assert phi.max() == pytest.approx(20.0**2 / 4, rel=0.03)
    assert np.all(phi[~disc] == 0.0)
    np.testing.assert_allclose(squeeze_flow_potential(disc, h, source=np.full(disc.shape, 0.3)), 0.3 * phi)
    x, y = _grid(20.0, 200.0, h)
    strip = np.abs(x) < 10.0
    phi = squeeze_flow_potential(strip, h)
    mid = phi[phi.shape[0] // 2]  # far from the strip's ends
    np.testing.assert_allclose(mid[strip[0]], (10.0**2 - x[0][strip[0]] ** 2) / 2, atol=0.03 * 50.0)
    assert squeeze_flow_potential(np.zeros((4, 4), dtype=bool), h).max() == 0.0
    with pytest.raises(InputError):
        squeeze_flow_potential(strip, -1.0)
    with pytest.raises(InputError, match="finite"):
        squeeze_flow_potential(strip, h, source=np.full(strip.shape, np.nan))


@pytest.mark.parametrize("h", [0.5, 1.0])
def test_escape_anisotropy_of_a_disc_an_ellipse_and_a_strip(h):
    """0 under a round patch, ``(A^2 - B^2) / (A^2 + B^2)`` under an ellipse, about 1 under a long strip, on
    either grid (the staircase edge of a patch does not leak in)."""
    x, y = _grid(60.0, 60.0, h)
    r2 = x**2 + y**2
    for radius in (5.0, 20.0):
        disc = np.where(r2 < radius**2, 0.5 * (1 - r2 / radius**2) + 0.01, 0.0)  # a dome of strain
        assert escape_anisotropy(disc, 30.0, h).max() < 0.05
    ellipse = np.where((x / 20.0) ** 2 + (y / 10.0) ** 2 < 1, 0.4, 0.0)
    a = escape_anisotropy(ellipse, 30.0, h)
    assert a[a.shape[0] // 2, a.shape[1] // 2] == pytest.approx(0.6, abs=0.03)
    strip = np.where((np.abs(x) < 10.0) & (np.abs(y) < 50.0), 0.4 * (1 - (x / 10.0) ** 2) + 0.01, 0.0)
    a = escape_anisotropy(strip, 30.0, h)
    assert a[a.shape[0] // 2, a.shape[1] // 2] > 0.95
    assert np.all(a[strip <= 0] == 0.0)
    assert np.all(escape_anisotropy(np.zeros((5, 5)), 30.0, h) == 0.0)


def test_one_way_escape_ratio_is_the_neo_hookean_plane_strain_over_uniaxial():
    """All round (``a = 0``) it is 1; one way (``a = 1``) it is the neo-Hookean pure-shear stress over the
    uniaxial one, each over its modulus (4 mu and 3 mu), ``3 (1 + lam)(1 + lam^2) / (4 lam (1 + lam + lam^2))``."""
    e = np.array([0.0, 1e-8, 0.1, 0.3, 0.5, 0.73])
    np.testing.assert_allclose(one_way_escape_ratio(e, np.zeros_like(e)), 1.0, rtol=1e-12)
    lam = 1 - e
    exact = 3 * (1 + lam) * (1 + lam**2) / (4 * lam * (1 + lam + lam**2))
    np.testing.assert_allclose(one_way_escape_ratio(e, np.ones_like(e)), exact, rtol=1e-12)
    assert one_way_escape_ratio(np.array(0.5), np.array(1.0)) == pytest.approx(1.6071, rel=1e-4)
    # even in the flow split about all-round: a slightly elongated patch changes little
    r = one_way_escape_ratio(np.full(4, 0.5), np.array([0.0, 0.09, 0.6, 1.0]))
    assert np.all(np.diff(r) > 0) and r[1] - 1 < 0.01 * (r[3] - 1) * 2


def test_confinement_stiffening_is_on_and_spares_round_peaks():
    assert solver.CONFINEMENT_STIFFENING > 0
    x, y = _grid(40.0, 100.0, 1.0)
    strip = np.clip(0.5 * (1 - (x / 30.0) ** 2), 0.0, None)  # a strip 60 mm wide, squeezed to 0.5 in the middle
    g = confinement_stiffening(strip, 34.46, 1.0)
    assert np.all(g[strip <= 0] == 1.0)
    row = g[g.shape[0] // 2]
    mid = np.argmin(np.abs(x[0]))
    assert row.max() == pytest.approx(row[mid], rel=1e-3)  # largest in the middle
    k = solver.CONFINEMENT_STIFFENING
    assert row[mid] == pytest.approx(1 + k * (float(one_way_escape_ratio(np.array(0.5), np.array(1.0))) - 1), rel=0.02)
    np.testing.assert_array_equal(confinement_stiffening(strip, 34.46, 1.0, strength=0.0), 1.0)
    dome = np.clip(0.8 * (1 - (x**2 + y**2) / 25.0**2), 0.0, None)  # a round peak at strain 0.8
    assert confinement_stiffening(dome, 34.46, 1.0).max() < 1.02


def test_confinement_stiffening_brings_the_roller_to_the_fem(monkeypatch):
    """On the deepest stored roller point (column, 3 N/mm, FEM strain 0.73) the fast engine's approach is 14 %
    deep without the term and within 3 % with it (stored plane-strain FEM reference)."""
    pytest.importorskip("skfem")
    import json
    from pathlib import Path

    from spinerelease.contact.fem import Layer
    from spinerelease.contact.fem.compare import fast_cylinder

    ref = json.loads((Path(__file__).parent / "data" / "fem_deep_reference.json").read_text())
    case = ref["cases"]["roller_column"]
    row = max(case["rows"], key=lambda r: r["load_n"])
    layers = [Layer(*la) for la in case["layers"]]

    def solve():
        return fast_cylinder(row["load_n"], layers, radius_mm=case["tip_radius_mm"], length_mm=case["roller_length_mm"])

    on = solve()
    monkeypatch.setattr(solver, "CONFINEMENT_STIFFENING", 0.0)
    off = solve()
    assert off.approach_mm > row["approach_mm"] * 1.10  # the drift this term removes
    assert on.approach_mm == pytest.approx(row["approach_mm"], rel=0.03)
    assert on.peak_pressure_kpa == pytest.approx(row["peak_pressure_kpa"], rel=0.05)


def test_escape_anisotropy_of_a_very_large_patch_is_read_from_a_coarser_grid(monkeypatch):
    """A patch beyond ``_ANISOTROPY_MAX_CELLS`` (a 900 mm foam roller's strip) is averaged onto a coarser grid:
    the same anisotropy along its middle, within 0.1 near its ends (three times coarser here), 0 outside."""
    x, y = _grid(450.0, 60.0, 1.0)
    strain = np.clip(0.5 * (1 - (y / 50.0) ** 2), 0.0, None)
    monkeypatch.setattr(solver, "_ANISOTROPY_MAX_CELLS", 20_000)
    coarse = escape_anisotropy(strain, 34.46, 1.0)
    monkeypatch.setattr(solver, "_ANISOTROPY_MAX_CELLS", 10**9)
    fine = escape_anisotropy(strain, 34.46, 1.0)
    mid = strain.shape[1] // 2
    np.testing.assert_allclose(coarse[:, mid], fine[:, mid], atol=1e-3)
    assert np.abs(coarse - fine).max() < 0.1
    assert np.all(coarse[strain <= 0] == 0.0)


def test_the_cached_factorisations_stay_within_their_memory_budget(monkeypatch):
    monkeypatch.setattr(solver, "_POTENTIAL_CACHE", {})
    monkeypatch.setattr(solver, "_POTENTIAL_CACHE_NNZ", 200_000)
    for n in (60, 80, 100, 120):
        squeeze_flow_potential(np.ones((n, n), dtype=bool), 1.0)
        held = sum(f.L.nnz + f.U.nnz for f in solver._POTENTIAL_CACHE.values())
        assert 1 <= len(solver._POTENTIAL_CACHE) and (held <= 200_000 or len(solver._POTENTIAL_CACHE) == 1)


@pytest.mark.parametrize("h", [0.5, 1.0])
def test_long_axis_strain_of_a_strip_and_an_elongated_dome(h):
    """Along a long strip the strain is its own (uniform along the axis); at the apex of an elongated dome it is
    the Gaussian average of the strain along the long axis (the axis read from the squeeze flow); the width 0
    gives the strain itself; 0 outside the patch."""
    x, y = _grid(40.0, 160.0, h)
    strip = np.where(np.abs(y) < 140.0, np.clip(0.5 * (1 - (x / 20.0) ** 2), 0.0, None), 0.0)
    _, axis = solver._escape_field(strip, 20.0, h)
    mid = strip.shape[0] // 2
    inside = strip[mid] > 0.05
    np.testing.assert_allclose(np.abs(axis[mid][inside]), np.pi / 2, atol=0.02)  # the long axis is y
    s = long_axis_strain(strip, axis, 20.0, h)
    np.testing.assert_allclose(s[mid][inside], strip[mid][inside], atol=2e-3)  # within the coarse cells
    assert np.all(s[strip <= 0] == 0.0)
    np.testing.assert_array_equal(long_axis_strain(strip, axis, 20.0, h, width=0.0), strip)
    # an elongated dome, 3 times as long along y: at the apex, the 1D Gaussian average along y of its profile
    dome = np.clip(0.8 * (1 - (x / 15.0) ** 2 - (y / 45.0) ** 2), 0.0, None)
    _, axis = solver._escape_field(dome, 20.0, h)
    s = long_axis_strain(dome, axis, 20.0, h)
    sigma = solver.CONFINEMENT_LONG_AXIS_THICKNESSES * 20.0
    yy = np.linspace(-45.0, 45.0, 2001)
    w = np.exp(-0.5 * (yy / sigma) ** 2)
    expected = float(np.sum(w * 0.8 * (1 - (yy / 45.0) ** 2)) / np.sum(w))
    iy, ix = np.unravel_index(np.argmax(dome), dome.shape)
    assert s[iy, ix] == pytest.approx(expected, rel=0.02)
    assert s[iy, ix] < 0.9 * dome[iy, ix]
    with pytest.raises(InputError, match="width"):
        long_axis_strain(dome, axis, 20.0, h, width=-1.0)
    with pytest.raises(InputError, match="long-axis directions"):
        long_axis_strain(dome, axis[:-1], 20.0, h)
    with pytest.raises(InputError, match="long-axis directions"):
        long_axis_strain(dome, np.full(dome.shape, np.nan), 20.0, h)


#: Stored points outside the issue's targets (strict: they fail the day the fast engine is brought in), by
#: (tissue, ridge length [mm], bend radius [mm], load [N]) (docs/validation.md, stop 33)
ELONGATED_KNOWN_MISSES = {
    ("column", 40.0, 30.0, 25.0): "the 40 mm ridge bent to 30 mm on the column at FEM strain 0.72: the fast engine's "
    "largest cell 15.0 % below the FEM's largest nodal pressure (17.88 against 21.05 kPa), its probe on the axis "
    "13 % low; the middle of a ridge about as long as the tissue is thick carries more in the FEM (the straight one "
    "at the same strain: peak pressure 9.2 % and probe on the axis 9.5 % low), and the bend adds 3-6 points",
}


def _elongated_reference():
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent / "data" / "fem_elongated_block_reference.json").read_text())
    from spinerelease.contact.fem.solid3d import CREASE_ONSET_STRETCH

    for row in data["rows"]:
        # beyond strain 0.93, the film regime (as for the rollers); and a skin squeezed in its own plane past the
        # onset of creasing is not the neo-Hookean solid's state (the FEM has no self-contact; stop 28)
        if row["fem"]["strain"] <= 0.93 and row["fem"]["skin_min_stretch"] >= CREASE_ONSET_STRETCH:
            tissue = row["tissue"]
            what = "fat" if "top_layer" in tissue else f"{tissue['thickness_mm']:g}mm"
            shape = f"stretch{row['stretch']:g}"
            if row.get("ridge_mm"):
                shape = f"ridge{row['ridge_mm']:g}" + (
                    f"-bent{row['bend_radius_mm']:g}" if row["bend_radius_mm"] else ""
                )
            name = f"{what}-{shape}-{row['load_n']:g}N"
            key = (tissue["name"], row.get("ridge_mm", 0.0), row.get("bend_radius_mm"), row["load_n"])
            miss = ELONGATED_KNOWN_MISSES.get(key)
            marks = [pytest.mark.xfail(strict=True, reason=miss)] if miss else []
            yield pytest.param(row, id=name, marks=marks)


@pytest.mark.parametrize("row", list(_elongated_reference()))
def test_elongated_contact_against_the_3d_fem(row):
    """An elongated contact, between the round peak's all-round escape and the roller's one-way escape: the
    PSO-Spine's peak stretched along y (2.5 and 1.5 times on the back's column, which chose the long-axis width;
    held out: 3.5 times on 20 mm of muscle, and 2.5 times with skin and fat over muscle, the two-layer model), and,
    all held out (stop 33), drawn out into blunt-ended ridges: 20 mm straight on the column and with fat over
    muscle, 40 mm straight on 20 mm of muscle and on the column, 40 mm bent to 30 and 60 mm radii on the column; on
    the 3D neo-Hookean
    FEM with contact on the true normal (``benchmarks/fem_case4_mesh.py elongated-block``): peak pressure and
    1 cm2 probe within the issue's 15 %, approach within 5 % (docs/validation.md, stops 32-33). On a ridge the
    largest probe (near the contact's ends at small strain) is compared with the FEM's largest along the apex line,
    and the probe on the axis with the FEM's there."""
    pytest.importorskip("skfem")
    from spinerelease.contact.fem import Layer
    from spinerelease.contact.fem.compare import fast_rounded_cone

    fem, tissue = row["fem"], row["tissue"]
    layers = [Layer("tissue", tissue["thickness_mm"], tissue["modulus_kpa"])]
    if "top_layer" in tissue:  # skin and fat over muscle: the two-layer model
        t_top, e_top = tissue["top_layer"]
        deep = Layer("muscle", tissue["thickness_mm"] - t_top, tissue["modulus_kpa"])
        layers = [Layer("skin+fat", t_top, e_top), deep]
    fast = fast_rounded_cone(
        row["load_n"],
        layers,
        tip_radius_mm=10.0,
        flank_angle_deg=55.0,
        stretch=row["stretch"],
        ridge_mm=row.get("ridge_mm", 0.0),
        bend_radius_mm=row.get("bend_radius_mm") or np.inf,
        half_width_mm=50.0,
    )
    assert fast.force_n == pytest.approx(row["load_n"], rel=1e-3)
    assert fast.approach_mm == pytest.approx(fem["approach_mm"], rel=0.05)
    assert fast.peak_pressure_kpa == pytest.approx(fem["peak_pressure_kpa"], rel=0.15)
    if "probe_line_max_kpa" in fem:  # a ridge: the largest probe is near the contact's ends, not on the axis
        assert fast.probe_pressure_kpa == pytest.approx(fem["probe_line_max_kpa"], rel=0.15)
        assert fast.probe_centre_kpa == pytest.approx(fem["probe_pressure_kpa"], rel=0.15)
    else:
        assert fast.probe_pressure_kpa == pytest.approx(fem["probe_pressure_kpa"], rel=0.15)
