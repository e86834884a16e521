"""The squeeze-flow confinement stiffening (experimental, off by default; docs/validation.md, "The foam roller")."""

import numpy as np
import pytest

from spinerelease.contact import solver
from spinerelease.contact.solver import confinement_stiffening, squeeze_flow_potential
from spinerelease.errors import InputError


def _grid(half_x: float, half_y: float, h: float):
    x = np.arange(-half_x, half_x + 1e-9, h)
    y = np.arange(-half_y, half_y + 1e-9, h)
    return np.meshgrid(x, y)


def test_squeeze_flow_potential_of_a_disc_and_a_strip():
    """``-lap phi = 1``, 0 at the edge: ``(a^2 - r^2) / 4`` in a disc, ``(a^2 - x^2) / 2`` in a long strip."""
    h = 0.5
    x, y = _grid(30.0, 30.0, h)
    disc = x**2 + y**2 < 20.0**2
    phi = squeeze_flow_potential(disc, h)
    assert phi.max() == pytest.approx(20.0**2 / 4, rel=0.03)
    assert np.all(phi[~disc] == 0.0)
    x, y = _grid(20.0, 200.0, h)
    strip = np.abs(x) < 10.0
    phi = squeeze_flow_potential(strip, h)
    mid = phi[phi.shape[0] // 2]  # far from the strip's ends
    np.testing.assert_allclose(mid[strip[0]], (10.0**2 - x[0][strip[0]] ** 2) / 2, atol=0.03 * 50.0)
    assert squeeze_flow_potential(np.zeros((4, 4), dtype=bool), h).max() == 0.0
    with pytest.raises(InputError):
        squeeze_flow_potential(strip, -1.0)


def test_confinement_stiffening_is_off_by_default_and_weights_the_middle():
    x, y = _grid(40.0, 100.0, 1.0)
    strain = np.clip(0.5 * (1 - (x / 30.0) ** 2), 0.0, None)  # a strip 60 mm wide, squeezed to 0.5 in the middle
    assert solver.CONFINEMENT_STIFFENING == 0.0
    np.testing.assert_array_equal(confinement_stiffening(strain, 34.46, 1.0), 1.0)
    g = confinement_stiffening(strain, 34.46, 1.0, strength=0.5)
    assert np.all(g[strain <= 0] == 1.0)
    row = g[g.shape[0] // 2]
    assert row.max() == pytest.approx(row[np.argmin(np.abs(x[0]))])  # largest in the middle
    c = (30.0**2 / 2) / 34.46**2
    assert row.max() == pytest.approx(1 + 0.5 * 0.5 * c / (c + solver.CONFINEMENT_SATURATION), rel=0.03)


def test_confinement_stiffening_stiffens_the_roller(monkeypatch):
    """Switched on, it takes the fast engine's roller towards the plane-strain FEM (stored reference)."""
    pytest.importorskip("skfem")
    import json
    from pathlib import Path

    from spinerelease.contact.fem import Layer
    from spinerelease.contact.fem.compare import fast_cylinder

    ref = json.loads((Path(__file__).parent / "data" / "fem_deep_reference.json").read_text())
    case = ref["cases"]["roller_column"]
    row = next(r for r in case["rows"] if abs(r["load_n"] - 1.0) < 0.01)
    layers = [Layer(*la) for la in case["layers"]]

    def approach() -> float:
        return fast_cylinder(row["load_n"], layers, radius_mm=case["tip_radius_mm"], length_mm=600.0).approach_mm

    off = approach()
    monkeypatch.setattr(solver, "CONFINEMENT_STIFFENING", 0.6)
    on = approach()
    assert off > row["approach_mm"] * 1.07  # the drift this term addresses
    assert abs(on / row["approach_mm"] - 1) < abs(off / row["approach_mm"] - 1) / 2
