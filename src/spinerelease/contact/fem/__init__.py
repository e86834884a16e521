"""Finite-element reference models that check the fast contact engine (optional extra: ``pip install .[fem]``)."""

from .analytic import hertz_sphere, thin_layer_sphere
from .axisym import MODELS, AxisymmetricContact, FemResult, Layer, lame_from_young, solve_axisymmetric
from .deep import IndentationCurve, NormalContact, facet_mean_pressure_kpa, indentation_curve, rounded_cone_profile
from .solid3d import Slab3DResult, SlabContact, depth_fractions, graded_axis

__all__ = [
    "MODELS",
    "AxisymmetricContact",
    "FemResult",
    "IndentationCurve",
    "Layer",
    "NormalContact",
    "Slab3DResult",
    "SlabContact",
    "depth_fractions",
    "facet_mean_pressure_kpa",
    "graded_axis",
    "lame_from_young",
    "hertz_sphere",
    "indentation_curve",
    "rounded_cone_profile",
    "solve_axisymmetric",
    "thin_layer_sphere",
]
