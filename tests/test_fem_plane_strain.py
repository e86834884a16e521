"""Plane-strain cross-sections (a long tool such as a foam roller) in the FEM reference, and the fast engine's
finite roller read on its mid-section (the roller's true-normal contact at shallow depth: tests/test_fem_deep.py)."""

import numpy as np
import pytest

pytest.importorskip("skfem")

from spinerelease.contact.fem import Layer  # noqa: E402
from spinerelease.contact.fem.axisym import AxisymmetricContact, solve_axisymmetric  # noqa: E402
from spinerelease.contact.fem.compare import fast_cylinder, plane_strain_probe_pressure_kpa  # noqa: E402
from spinerelease.contact.fem.deep import facet_mean_pressure_kpa  # noqa: E402
from spinerelease.errors import InputError  # noqa: E402


def test_cylinder_on_a_thick_block_is_hertzian():
    """Plane-strain Hertz (Johnson 1985, sec. 4.2): a rigid cylinder of radius R pressed by a line load q into an
    incompressible half-space has the contact half width ``a = sqrt(4 q R / (pi E*))`` and the elliptical pressure
    ``p0 sqrt(1 - x^2/a^2)``, ``p0 = 2 q / (pi a)``; a block 20 contact half widths deep is close to it."""
    E, nu, R = 15.0, 0.4999, 10.0
    e_star = E / (1 - nu**2)
    q = 2.0**2 * np.pi * e_star / (4 * R) * 1e-3  # a = 2 mm [N/mm]
    res = solve_axisymmetric(
        q,
        R,
        [Layer("muscle", 40.0, E)],
        model="linear",
        poisson=nu,
        fine_mm=0.25,
        fine_extent_mm=3.0,
        domain_radius_mm=80.0,
        growth=1.3,
        geometry="plane-strain",
    )
    assert res.plane_strain and res.force_n == pytest.approx(q, rel=2e-3)
    a = np.sqrt(4 * res.force_n * 1e3 * R / (np.pi * e_star))
    p0 = 2 * res.force_n * 1e3 / (np.pi * a)
    assert res.peak_pressure_kpa == pytest.approx(p0, rel=0.02)
    hertz = p0 * np.sqrt(np.clip(1 - (res.r_mm / a) ** 2, 0.0, None))
    near = res.r_mm < 2 * a
    assert np.sqrt(np.mean((res.pressure_kpa[near] - hertz[near]) ** 2)) < 0.02 * p0
    assert abs(res.contact_radius_mm - a) <= 0.25  # one element
    assert res.contact_area_mm2 == pytest.approx(2 * res.contact_radius_mm)  # the width, per mm of length
    assert res.bone_force_n == pytest.approx(res.force_n, rel=1e-8)


def test_plane_strain_section_balances_and_is_not_the_ball():
    """Same block and profile: the line load per mm that the section carries at a given approach differs from
    the axisymmetric peak's force (different problems), and both balance on the bone."""
    layers = [Layer("muscle", 20.0, 15.0)]
    out = {}
    for geometry in ("axisymmetric", "plane-strain"):
        p = AxisymmetricContact(layers, 10.0, 60.0, fine_mm=1.0, fine_extent_mm=10.0, geometry=geometry)
        f, ok = p.solve_at(0.5)
        assert ok
        out[geometry] = p.result(0.5, f, True)
    assert out["plane-strain"].bone_force_n == pytest.approx(out["plane-strain"].force_n, rel=1e-8)
    # a ball's contact is a disc of radius a, the roller's a strip of half width a: per mm of roller length the
    # force is far below the ball's at the same approach
    assert out["plane-strain"].force_n < 0.5 * out["axisymmetric"].force_n
    with pytest.raises(InputError, match="geometry"):
        AxisymmetricContact(layers, 10.0, 60.0, geometry="cylindrical")


def test_plane_strain_facet_mean_and_probe():
    x = np.linspace(0.0, 4.0, 9)
    # per mm of length the facets weigh their lengths only: a linear pressure's facet mean is its midpoint value
    _, pm = facet_mean_pressure_kpa(x, np.zeros_like(x), x.copy(), axisymmetric=False)
    np.testing.assert_allclose(pm, 0.5 * (x[:-2:2] + x[2::2]), rtol=1e-12)
    xx = np.linspace(0.0, 20.0, 2001)
    assert plane_strain_probe_pressure_kpa(xx, np.full_like(xx, 7.0)) == pytest.approx(7.0, rel=1e-4)
    # an elliptical (Hertz) strip of half width rho under a disc of radius rho: 8 / (3 pi) of its peak
    rho = np.sqrt(100.0 / np.pi)
    p = 30.0 * np.sqrt(np.clip(1 - (xx / rho) ** 2, 0, None))
    assert plane_strain_probe_pressure_kpa(xx, p) == pytest.approx(30.0 * 8 / (3 * np.pi), rel=2e-3)
    with pytest.raises(InputError):
        plane_strain_probe_pressure_kpa(xx, p[:-1])


def test_fast_roller_is_read_on_its_mid_section():
    layers = [Layer("column", 34.46, 7.109)]
    m = fast_cylinder(0.4, layers, radius_mm=76.2, length_mm=305.0)
    assert m.force_n == pytest.approx(0.4, rel=2e-3)
    assert 0.0 < m.probe_pressure_kpa <= m.peak_pressure_kpa
    # the width and the approach grow with the load
    light = fast_cylinder(0.1, layers, radius_mm=76.2, length_mm=305.0)
    assert light.contact_area_mm2 < m.contact_area_mm2 and light.approach_mm < m.approach_mm
    with pytest.raises(InputError):
        fast_cylinder(-1.0, layers, radius_mm=76.2, length_mm=305.0)
    with pytest.raises(InputError):
        fast_cylinder(0.4, layers * 3, radius_mm=76.2, length_mm=305.0)
