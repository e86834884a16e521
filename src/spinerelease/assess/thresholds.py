"""Pressure-pain thresholds of the back by region and sex (algometry, 1 cm^2 probe)."""

from __future__ import annotations

import numpy as np

from .. import params
from ..errors import InputError

_BONY_LATERAL = (6, 7, 8, 9)  # ribs and scapulae (codes of spinerelease.anatomy.REGIONS)
_SPINOUS = 1


def pressure_pain_threshold_kpa(region: int, sex: str) -> float:
    """Pressure-pain threshold for a region code and sex. [kPa]

    References
    ----------
    Fischer AA (1987) Pain 30, 115-126; Keating L et al. (2001) Man Ther 6, 34-39; Chesterton LS et al. (2003)
    Pain 101, 259-266.
    """
    if sex not in ("male", "female"):
        raise InputError(f"sex must be male or female, got {sex!r}")
    t = params.load("pain_thresholds")
    if region == _SPINOUS:
        v = t.value("spinous_male")
    elif region in _BONY_LATERAL:
        v = t.value("bony_lateral_male")
    elif 0 <= region <= 9:
        v = t.value("paraspinal_male")
    else:
        raise InputError(f"unknown region code {region}")
    return float(v) * (float(t.value("female_to_male_ratio")) if sex == "female" else 1.0)


def threshold_map_kpa(region_map: np.ndarray, sex: str) -> np.ndarray:
    """Per-cell pressure-pain threshold for a region map. [kPa]"""
    reg = np.asarray(region_map)
    lut = np.array([pressure_pain_threshold_kpa(r, sex) for r in range(10)])
    if reg.size and (reg.min() < 0 or reg.max() > 9):
        raise InputError("region map has unknown region codes")
    return lut[reg.astype(np.intp)]
