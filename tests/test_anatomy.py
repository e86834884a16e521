"""Tests of the parametric back (issue 2)."""

import numpy as np
import pytest

from spinerelease import params
from spinerelease.anatomy import LEVELS, REGIONS, Body, make_back
from spinerelease.errors import InputError


@pytest.fixture(scope="module")
def back():
    return make_back(Body(178, 80, "male"), spacing_mm=2.0)


def test_levels_move_with_stature():
    short = make_back(Body(155, 55, "female"), spacing_mm=4.0)
    tall = make_back(Body(195, 90, "male"), spacing_mm=4.0)
    assert list(tall.levels_mm) == list(LEVELS)
    assert tall.level_y("L5") > short.level_y("L5")
    assert tall.level_y("L5") / short.level_y("L5") == pytest.approx(195 / 155, rel=1e-9)
    assert all(np.diff(list(tall.levels_mm.values())) > 0)


def test_thickness_over_spinous_processes_is_less_than_over_erector_spinae(back):
    for lvl in LEVELS:
        j = int(round((back.level_y(lvl) - back.grid.y0_mm) / back.grid.spacing_mm))
        row_t, row_r = back.tissue_thickness_mm[j], back.region[j]
        sp = row_t[row_r == REGIONS["SPINOUS"]].mean()
        es = row_t[(row_r == REGIONS["ERECTOR_L"]) | (row_r == REGIONS["ERECTOR_R"])].max()
        assert sp < es, lvl


def test_regions_are_symmetric_and_ordered(back):
    j = int(round((back.level_y("L3") - back.grid.y0_mm) / back.grid.spacing_mm))
    row = back.region[j]
    x = back.grid.x_mm
    assert row[np.argmin(np.abs(x))] == REGIONS["SPINOUS"]
    assert row[np.argmin(np.abs(x - 15))] == REGIONS["MULTIFIDUS_R"]
    assert row[np.argmin(np.abs(x + 45))] == REGIONS["ERECTOR_L"]
    assert back.region_at(0, back.level_y("T4")) == REGIONS["SPINOUS"]
    assert back.region_at(100, back.level_y("T5")) == REGIONS["SCAPULA_R"]


def test_values_inside_cited_ranges(back):
    a = params.load("anatomy")
    fat = a.get("fat_per_bodyfat")
    assert fat.range[0] <= fat.value <= fat.range[1]
    t = params.load("tissue")
    lo = t.get("fat_modulus").range[0]
    hi = t.get("muscle_modulus").range[1]
    assert back.tissue_modulus_kpa.min() >= lo and back.tissue_modulus_kpa.max() <= hi
    assert np.all(back.tissue_thickness_mm > 0)
    assert set(back.sources) >= {"deleva1996", "panjabi1991", "samani2007"}


def test_fatter_body_has_thicker_fat():
    lean = make_back(Body(178, 65, "male"), spacing_mm=4.0)
    heavy = make_back(Body(178, 110, "male"), spacing_mm=4.0)
    assert heavy.fat_thickness_mm.mean() > lean.fat_thickness_mm.mean()
    assert Body(178, 110, "male").body_fat > Body(178, 65, "male").body_fat


def test_body_fat_regression():
    # Deurenberg 1991: 1.2 BMI + 0.23 age - 10.8 sex - 5.4
    b = Body(180, 81, "male", age_years=40)
    assert b.body_fat == pytest.approx(1.2 * 25.0 + 0.23 * 40 - 10.8 - 5.4)


def test_window(back):
    w = back.window(0, back.level_y("T7"), 150, 120)
    assert w.grid.shape[1] >= 75 and np.isclose(w.grid.x_mm.mean(), 0, atol=2)
    with pytest.raises(InputError, match="beyond"):
        back.window(0, -200, 150, 120)


@pytest.mark.parametrize(
    "kw",
    [
        dict(stature_cm=float("nan"), mass_kg=80),
        dict(stature_cm=178, mass_kg=-80),
        dict(stature_cm=178, mass_kg=80, sex="x"),
        dict(stature_cm=178, mass_kg=80, body_fat_pct=90),
    ],
)
def test_bad_body(kw):
    with pytest.raises(InputError):
        Body(**kw)


def test_unknown_level(back):
    with pytest.raises(InputError, match="valid levels"):
        back.level_y("T13")
