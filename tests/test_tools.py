"""Tests of the tool geometry library (issue 2)."""

import json

import numpy as np
import pytest
import trimesh

from spinerelease.errors import InputError
from spinerelease.grid import Grid
from spinerelease.tools import get_tool, list_tools, load_tool, pso_spine, tool_from_description, tool_from_mesh


def test_every_builtin_tool_builds():
    names = [n for n, _ in list_tools()]
    assert names == ["pso-spine", "pso-rite", "foam-roller", "lacrosse-ball", "peanut-ball", "therapist-hands"]
    for n in names:
        t = get_tool(n, spacing_mm=2.0)
        assert t.footprint.any() and np.isfinite(t.height_mm).all() and t.peaks


def test_pso_spine_geometry():
    t = pso_spine()
    assert len(t.peaks) == 5
    side = [p for p in t.peaks if p.name != "centre"]
    centre = [p for p in t.peaks if p.name == "centre"][0]
    assert {abs(p.x_mm) for p in side} == {32.0}
    assert centre.x_mm == 0 and centre.height_mm == pytest.approx(side[0].height_mm - 35.0)
    assert t.max_height_mm == pytest.approx(70.0, abs=0.01)
    # mirror symmetric across the spine and along it
    assert np.allclose(t.height_mm, t.height_mm[:, ::-1]) and np.allclose(t.height_mm, t.height_mm[::-1, :])
    # the apexes are where the peaks say
    for p in side:
        iy = int(np.argmin(np.abs(t.grid.y_mm - p.y_mm)))
        ix = int(np.argmin(np.abs(t.grid.x_mm - p.x_mm)))
        assert t.height_mm[iy, ix] == pytest.approx(p.height_mm, abs=0.1)
    # midline channel: along x = 0 the tool is lower than the side peaks by at least the relief
    mid = t.height_mm[:, np.argmin(np.abs(t.grid.x_mm))]
    assert mid.max() <= 70.0 - 35.0 + 1e-9


def test_pso_spine_parameters_change_geometry():
    t = pso_spine(peak_spacing_mm=80, tip_radius_mm=15, n_peaks=4)
    assert len(t.peaks) == 4 and {abs(p.x_mm) for p in t.peaks} == {40.0}
    assert t.parameters["tip_radius_mm"] == 15


def test_pso_rite_is_deeper_and_sharper():
    s, r = get_tool("pso-spine"), get_tool("pso-rite")
    assert len(r.peaks) == 2
    assert r.peaks[0].height_mm > s.peaks[0].height_mm
    assert r.peaks[0].tip_radius_mm < s.peaks[0].tip_radius_mm


def test_round_tools():
    ball = get_tool("lacrosse-ball")
    assert ball.max_height_mm == pytest.approx(63.7, abs=0.1) and ball.default_offset_x_mm > 0
    roller = get_tool("foam-roller")
    assert roller.max_height_mm == pytest.approx(152.4, abs=0.1)
    peanut = get_tool("peanut-ball")
    assert [p.x_mm for p in peanut.peaks] == pytest.approx([-31.85, 31.85])


def test_height_on_and_peak_labels():
    t = get_tool("pso-spine")
    g = Grid(300, 300, 1.0, -150.0, -50.0)
    h = t.height_on(g, 10.0, 100.0)
    assert np.nanmax(np.where(np.isfinite(h), h, np.nan)) == pytest.approx(70.0, abs=0.1)
    labels = t.peak_labels_on(g, 10.0, 100.0)
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4, 5}
    assert np.all(np.isinf(h[labels == 0]))


def test_description_round_trip(tmp_path):
    desc = {
        "name": "two",
        "base": {"width_mm": 120, "length_mm": 60, "height_mm": 20},
        "peaks": [
            {"x_mm": -30, "y_mm": 0, "height_mm": 60, "tip_radius_mm": 8},
            {"x_mm": 30, "y_mm": 0, "height_mm": 60, "tip_radius_mm": 8},
        ],
    }
    p = tmp_path / "t.json"
    p.write_text(json.dumps(desc))
    t = load_tool(p)
    assert len(t.peaks) == 2 and t.max_height_mm == pytest.approx(60, abs=0.01)
    y = tmp_path / "t.yaml"
    y.write_text(
        "base: {width_mm: 80, length_mm: 80, height_mm: 10}\npeaks:\n  - {x_mm: 0, y_mm: 0, height_mm: 40, "
        "tip_radius_mm: 5}\n"
    )
    assert load_tool(y).peaks[0].height_mm == 40


def test_stl_round_trip(tmp_path):
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=30.0)
    path = tmp_path / "ball.stl"
    mesh.export(path)
    t = load_tool(path)
    assert t.max_height_mm == pytest.approx(60.0, abs=0.2)
    assert len(t.peaks) == 1
    assert t.peaks[0].tip_radius_mm == pytest.approx(30.0, rel=0.1)
    assert t.size_mm[0] == pytest.approx(60.0, abs=2.0)


@pytest.mark.parametrize(
    "bad",
    [
        {
            "base": {"width_mm": -5, "length_mm": 60, "height_mm": 20},
            "peaks": [{"x_mm": 0, "y_mm": 0, "height_mm": 60, "tip_radius_mm": 8}],
        },
        {"base": {"width_mm": 100, "length_mm": 60, "height_mm": 20}, "peaks": []},
        {
            "base": {"width_mm": 100, "length_mm": 60, "height_mm": 20},
            "peaks": [{"x_mm": float("nan"), "y_mm": 0, "height_mm": 60, "tip_radius_mm": 8}],
        },
        {
            "base": {"width_mm": 100, "length_mm": 60, "height_mm": 20},
            "peaks": [{"x_mm": 90, "y_mm": 0, "height_mm": 60, "tip_radius_mm": 8}],
        },
        {
            "base": {"width_mm": 100, "length_mm": 60, "height_mm": 20},
            "peaks": [{"x_mm": 0, "y_mm": 0, "height_mm": 60}],
        },
        {"peaks": [{"x_mm": 0, "y_mm": 0, "height_mm": 60, "tip_radius_mm": 8}]},
        "not a mapping",
    ],
)
def test_bad_descriptions(bad):
    with pytest.raises(InputError):
        tool_from_description(bad)


def test_open_mesh_is_rejected(tmp_path):
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=20.0)
    mesh.update_faces(np.arange(len(mesh.faces)) > 3)  # punch a hole
    with pytest.raises(InputError, match="not closed"):
        tool_from_mesh(mesh)
    garbage = tmp_path / "x.stl"
    garbage.write_bytes(b"solid x\nthis is not an stl\n")
    with pytest.raises(InputError):
        load_tool(garbage)


def test_bad_names_and_sizes():
    with pytest.raises(InputError, match="built-in tools"):
        get_tool("hammer")
    with pytest.raises(InputError):
        get_tool("pso-spine", peak_height_mm=-10)
    with pytest.raises(InputError):
        get_tool("pso-spine", wings=3)
    with pytest.raises(InputError):
        get_tool("foam-roller", spacing_mm=float("nan"))
    with pytest.raises(InputError, match="too large|allowed"):
        get_tool("foam-roller", spacing_mm=0.01, length_mm=1500)


def test_rounded_peak_derivatives_match_finite_differences():
    from spinerelease.tools import rounded_peak_derivatives, rounded_peak_mm

    rng = np.random.default_rng(3)
    X, Y = rng.uniform(-15, 15, 400), rng.uniform(-15, 15, 400)
    args = (1.0, -2.0, 50.0, 10.0, 55.0)
    d = rounded_peak_derivatives(X, Y, *args)
    np.testing.assert_allclose(d[0], rounded_peak_mm(X, Y, *args), atol=1e-12)
    h = 1e-5

    def fd(i, axis):
        dx, dy = (h, 0.0) if axis == 0 else (0.0, h)

        def f(a, b):
            return rounded_peak_derivatives(a, b, *args)[i]

        return (f(X + dx, Y + dy) - f(X - dx, Y - dy)) / (2 * h)

    # value, slopes from the height; curvatures from the slopes
    for got, want in ((d[1], fd(0, 0)), (d[2], fd(0, 1)), (d[3], fd(1, 0)), (d[4], fd(1, 1)), (d[5], fd(2, 1))):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # the apex: slope 0, curvature -1/R in every direction
    apex = rounded_peak_derivatives(np.array([1.0]), np.array([-2.0]), *args)
    assert apex[1][0] == 0.0 and apex[4][0] == 0.0
    assert apex[3][0] == pytest.approx(-0.1) and apex[5][0] == pytest.approx(-0.1)


def test_blended_rounded_peak_is_c2_and_close_to_the_sharp_one():
    """With a blend the tip runs into its flank with continuous curvature; the surface moves by microns only."""
    from spinerelease.tools import rounded_peak_derivatives, rounded_peak_mm

    args = (1.0, -2.0, 50.0, 10.0, 55.0)
    rng = np.random.default_rng(4)
    X, Y = rng.uniform(-15, 15, 400), rng.uniform(-15, 15, 400)
    d = rounded_peak_derivatives(X, Y, *args, blend_mm=1.0)
    h = 1e-5
    for i, (j, dx, dy) in enumerate(((0, h, 0), (0, 0, h), (1, h, 0), (1, 0, h), (2, 0, h))):
        f = rounded_peak_derivatives(X + dx, Y + dy, *args, blend_mm=1.0)[j]
        b = rounded_peak_derivatives(X - dx, Y - dy, *args, blend_mm=1.0)[j]
        np.testing.assert_allclose(d[1 + i], (f - b) / (2 * h), atol=1e-6)
    # along a ray through the blend (r_t = 8.19 mm) the radial curvature no longer jumps by 1/(R cos^3 a)
    r = np.linspace(0.0, 14.0, 14001)
    sharp = rounded_peak_derivatives(r + 1.0, np.full_like(r, -2.0), *args)[3]
    blended = rounded_peak_derivatives(r + 1.0, np.full_like(r, -2.0), *args, blend_mm=1.0)[3]
    assert np.abs(np.diff(sharp)).max() == pytest.approx(1 / (10 * np.cos(np.radians(55)) ** 3), rel=1e-3)
    assert np.abs(np.diff(blended)).max() < 5e-3
    # outside r_t +- 1 mm nothing changes; inside, the surface moves by < 0.01 blend^2 / (R cos^3 a)
    hs = rounded_peak_mm(r + 1.0, np.full_like(r, -2.0), *args)
    hb = rounded_peak_derivatives(r + 1.0, np.full_like(r, -2.0), *args, blend_mm=1.0)[0]
    far = np.abs(r - 10 * np.sin(np.radians(55))) > 1.0
    np.testing.assert_allclose(hb[far], hs[far], atol=1e-12)
    assert np.abs(hs - hb).max() < 0.0067
    # the apex is untouched; a blend wider than the sphere allows is capped
    apex = rounded_peak_derivatives(np.array([1.0]), np.array([-2.0]), *args, blend_mm=50.0)
    assert apex[3][0] == pytest.approx(-0.1) and np.isfinite(apex).all()


def test_rounded_creases_of_the_pso_spine():
    """With ``crease_mm`` the creases between peaks are C2 and rise by at most crease/6; elsewhere no change."""
    from spinerelease.tools import builtin

    tool = builtin.pso_spine()
    rng = np.random.default_rng(5)
    X, Y = rng.uniform(-60, 60, 2000), rng.uniform(-50, 50, 2000)

    def f(x, y):
        return builtin.peaked_surface_derivatives(tool, x, y, 1.0, 0.5)

    d, h = f(X, Y), 1e-5
    for i, (j, dx, dy) in enumerate(((0, h, 0), (0, 0, h), (1, h, 0), (1, 0, h), (2, 0, h))):
        np.testing.assert_allclose(d[1 + i], (f(X + dx, Y + dy)[j] - f(X - dx, Y - dy)[j]) / (2 * h), atol=1e-6)
    sharp = builtin.peaked_surface_derivatives(tool, X, Y, 1.0)
    dev = d[0] - sharp[0]
    assert dev.min() >= -1e-12 and dev.max() <= 0.5 / 6 + 1e-12
    assert np.mean(dev == 0.0) > 0.9
    # across the crease between the two rows (y = 0 at the side peaks' x) the slope no longer jumps
    y = np.linspace(-5.0, 5.0, 10001)
    x = np.full_like(y, 32.0)
    assert np.abs(np.diff(builtin.peaked_surface_derivatives(tool, x, y, 1.0)[2])).max() > 2.8
    blended = f(x, y)
    assert np.abs(np.diff(blended[2])).max() < 0.05  # curvature 16/mm over 1 um steps
    assert blended[0][5000] - builtin.peaked_surface_derivatives(tool, x, y, 1.0)[0][5000] == pytest.approx(0.5 / 6)
    for bad in (-1.0, float("nan")):
        with pytest.raises(InputError, match="crease"):
            builtin.peaked_surface_derivatives(tool, x, y, 1.0, bad)
        with pytest.raises(InputError, match="tip blend"):
            builtin.peaked_surface_derivatives(tool, x, y, bad)


def test_peaked_surface_derivatives_reproduce_the_height_field():
    """The smooth surface of a built peaked tool is its sampled height field; other tools have none."""
    from spinerelease.tools import builtin
    from spinerelease.tools.builtin import has_peaked_surface, peaked_surface_derivatives

    for tool in (builtin.pso_spine(), builtin.pso_rite()):
        assert has_peaked_surface(tool)
        X, Y = tool.grid.mesh()
        h = peaked_surface_derivatives(tool, X, Y)[0]
        np.testing.assert_allclose(h[tool.footprint], tool.height_mm[tool.footprint], atol=1e-9)
    roller = builtin.foam_roller()
    assert not has_peaked_surface(roller)
    with pytest.raises(InputError, match="no smooth surface"):
        peaked_surface_derivatives(roller, np.zeros(1), np.zeros(1))
