"""Anatomy: a parametric back (levels, curves, regions, tissue thickness over bone, tissue stiffness)."""

from .back import (
    BONE_REGIONS,
    LEVELS,
    MUSCLE_REGIONS,
    REGION_NAMES,
    REGIONS,
    SPINOUS,
    Back,
    make_back,
    sagittal_profile_mm,
    vertebral_levels_mm,
)
from .body import SEXES, Body, body_fat_deurenberg1991

__all__ = [
    "BONE_REGIONS",
    "LEVELS",
    "MUSCLE_REGIONS",
    "REGIONS",
    "REGION_NAMES",
    "SEXES",
    "SPINOUS",
    "Back",
    "Body",
    "body_fat_deurenberg1991",
    "make_back",
    "sagittal_profile_mm",
    "vertebral_levels_mm",
]
