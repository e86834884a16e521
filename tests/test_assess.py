"""Tests of the assessment stage on synthetic pressure maps with known answers."""

import numpy as np
import pytest

from spinerelease.assess import (
    VERDICT_OK,
    VERDICT_ON_BONE,
    VERDICT_TOO_MUCH,
    assess,
    label_forces_n,
    probe_averaged_pressure,
    summarize_pressure,
)
from spinerelease.errors import InputError
from spinerelease.grid import Grid

G = Grid.centered(101, 81, 1.0)
X, Y = G.mesh()
NAMES = {0: "other", 1: "spinous", 2: "muscle L", 3: "muscle R"}


def hertz_map(cx, cy, p0=300.0, a=6.0):
    r2 = (X - cx) ** 2 + (Y - cy) ** 2
    return np.where(r2 < a * a, p0 * np.sqrt(np.clip(1 - r2 / a**2, 0, None)), 0.0)


def regions():
    reg = np.zeros(G.shape, dtype=np.int8)
    reg[np.abs(X) <= 5] = 1
    reg[(X < -5) & (X > -45)] = 2
    reg[(X > 5) & (X < 45)] = 3
    return reg


def test_summary_force_matches_hertz_integral():
    p0, a = 300.0, 6.0
    p = hertz_map(0, 0, p0, a)
    s = summarize_pressure(p, G.x_mm, G.y_mm, G.cell_area_mm2)
    exact_n = 2 / 3 * p0 * np.pi * a**2 * 1e-3  # Hertz: P = 2/3 p0 pi a^2
    assert s.force_n == pytest.approx(exact_n, rel=0.03)
    assert s.peak_pressure_kpa == pytest.approx(p0, rel=1e-6)
    assert s.center_of_force_mm[0] == pytest.approx(0.0, abs=1e-9)
    assert s.mean_pressure_kpa == pytest.approx(s.force_n * 1e3 / s.contact_area_mm2)


def test_probe_average_preserves_uniform_pressure_and_lowers_peaks():
    u = np.full(G.shape, 200.0)
    avg = probe_averaged_pressure(u, 1.0)
    assert avg[40, 50] == pytest.approx(200.0)
    p = hertz_map(0, 0)
    assert probe_averaged_pressure(p, 1.0).max() < p.max()


def test_label_forces_sum_to_total():
    p = hertz_map(-20, 0) + hertz_map(20, 0)
    f = label_forces_n(p, regions(), 1.0)
    assert sum(f.values()) == pytest.approx(p.sum() * 1e-3)
    assert f[2] == pytest.approx(f[3], rel=1e-9)
    assert f.get(1, 0.0) == 0.0


def _assess(p, thr=500.0):
    peaks = np.where(X < 0, 1, 2)
    return assess(p, G.x_mm, G.y_mm, regions(), np.full(G.shape, thr), peaks, ["left", "right"], NAMES, (2, 3), (1,), 1)


def test_verdicts():
    on_muscle = hertz_map(-20, 0, 300) + hertz_map(20, 0, 300)
    a = _assess(on_muscle)
    assert a.verdict == VERDICT_OK and a.spinous_share == 0.0 and a.threshold_margin > 0
    assert len(a.peaks) == 2 and a.peaks[0].summary.force_n == pytest.approx(a.peaks[1].summary.force_n)
    assert _assess(on_muscle * 4).verdict == VERDICT_TOO_MUCH
    on_bone = hertz_map(0, 0, 300) + hertz_map(20, 0, 300)
    b = _assess(on_bone)
    assert b.verdict == VERDICT_ON_BONE and b.spinous_share > 0.3


def test_bad_maps_are_rejected():
    with pytest.raises(InputError):
        _assess(np.full(G.shape, np.nan))
    with pytest.raises(InputError):
        summarize_pressure(np.zeros((3, 3)), G.x_mm, G.y_mm, 1.0)


def test_compression_beyond_the_validated_range_is_listed_per_peak():
    p = hertz_map(-20, 0, 300) + hertz_map(20, 0, 300)
    comp = np.where(np.hypot(X - 20, Y) < 3, 0.98, 0.5)  # the right peak squeezes its tissue to 2 %
    peaks = np.where(X < 0, 1, 2)
    args = (p, G.x_mm, G.y_mm, regions(), np.full(G.shape, 500.0), peaks, ["left", "right"], NAMES, (2, 3), (1,), 1)
    a = assess(*args, compression=comp, validated_compression=0.96)
    assert a.max_compression == pytest.approx(0.98) and a.validated_compression == 0.96
    assert a.beyond_validated == ("right",)
    assert [pk.max_compression for pk in a.peaks] == pytest.approx([0.5, 0.98])
    assert assess(*args).beyond_validated == () and np.isnan(assess(*args).max_compression)
    with pytest.raises(InputError):
        assess(*args, compression=np.full(G.shape, np.nan))
    with pytest.raises(InputError):
        assess(*args, compression=comp[:-1])
