"""Tests of the posture statics and breathing (issue 4)."""

import numpy as np
import pytest

from spinerelease.anatomy import Body, make_back
from spinerelease.assess.thresholds import pressure_pain_threshold_kpa, threshold_map_kpa
from spinerelease.errors import InputError
from spinerelease.posture import breathing_cycle, get_step, segment_table, tool_load
from spinerelease.posture.statics import G_M_S2

BODY = Body(178, 80, "male")
LEVELS = make_back(BODY, spacing_mm=4.0).levels_mm


def test_segment_table_mass_fractions():
    t = segment_table("male")
    assert t["head"].mass_fraction == pytest.approx(0.0694)
    trunk = sum(t[k].mass_fraction for k in ("upper_trunk", "middle_trunk", "lower_trunk"))
    assert trunk == pytest.approx(0.4346, abs=1e-3)  # de Leva: trunk 43.46 %


def test_moment_balance_by_hand():
    step = get_step("lie_back")
    load = tool_load(BODY, LEVELS["T7"], step)
    t = segment_table("male", BODY.stature_cm)
    W = BODY.mass_kg * G_M_S2
    lt, mt, ut, hd = t["lower_trunk"], t["middle_trunk"], t["upper_trunk"], t["head"]
    s = [
        lt.length_mm * (1 - lt.com_fraction),
        lt.length_mm + mt.length_mm * (1 - mt.com_fraction),
        lt.length_mm + mt.length_mm + ut.length_mm * (1 - ut.com_fraction),
    ]
    m = W * (lt.mass_fraction * s[0] + mt.mass_fraction * s[1] + ut.mass_fraction * s[2])
    s_cerv = lt.length_mm + mt.length_mm + ut.length_mm
    s_tool = s_cerv - 17.0 * BODY.stature_cm * 10 / 1741.0 - LEVELS["T7"]
    assert load.force_n == pytest.approx(m / s_tool, rel=1e-9)
    total = W * (lt.mass_fraction + mt.mass_fraction + ut.mass_fraction + hd.mass_fraction)
    assert load.force_n + load.pelvis_n + load.head_n == pytest.approx(total)


def test_moving_tool_changes_load_as_moment_balance_says():
    step = get_step("lie_back")
    f4 = tool_load(BODY, LEVELS["T4"], step).force_n
    f10 = tool_load(BODY, LEVELS["T10"], step).force_n
    assert f10 > f4  # shorter lever arm to the pelvis -> more force for the same trunk moment


def test_forearm_support_lowers_load():
    lo = tool_load(BODY, LEVELS["T7"], get_step("forearms").with_support(0.2)).force_n
    hi = tool_load(BODY, LEVELS["T7"], get_step("forearms").with_support(0.6)).force_n
    assert hi < lo


def test_roll_moment_sign():
    right = tool_load(BODY, LEVELS["T7"], get_step("leg_right"))
    left = tool_load(BODY, LEVELS["T7"], get_step("leg_left"))
    assert right.moment_y_nmm > 0 > left.moment_y_nmm
    assert right.moment_y_nmm == pytest.approx(-left.moment_y_nmm)


def test_breathing_cycle():
    c = breathing_cycle(BODY, n_samples=11)
    assert c.t_s[-1] == pytest.approx(10.0)
    assert c.lung_volume_l[0] == pytest.approx(0) and c.lung_volume_l.max() > 1.0
    assert np.argmax(c.rib_expansion_mm) in (3, 4, 5)


def test_thresholds():
    m = pressure_pain_threshold_kpa(4, "male")
    f = pressure_pain_threshold_kpa(4, "female")
    assert f < m
    assert pressure_pain_threshold_kpa(1, "male") < m
    assert threshold_map_kpa(np.array([[1, 4]]), "male").tolist() == [[pressure_pain_threshold_kpa(1, "male"), m]]


def test_bad_input():
    with pytest.raises(InputError):
        tool_load(BODY, 2000.0, get_step("lie_back"))
    with pytest.raises(InputError):
        tool_load(BODY, float("nan"), get_step("lie_back"))
    with pytest.raises(InputError):
        breathing_cycle(BODY, n_samples=1)
