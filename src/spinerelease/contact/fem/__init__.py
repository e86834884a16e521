"""Finite-element reference models that check the fast contact engine (optional extra: ``pip install .[fem]``)."""

from .analytic import hertz_sphere, thin_layer_sphere
from .axisym import MODELS, AxisymmetricContact, FemResult, Layer, lame_from_young, solve_axisymmetric
from .solid3d import Slab3DResult, SlabContact, depth_fractions, graded_axis

__all__ = [
    "MODELS",
    "AxisymmetricContact",
    "FemResult",
    "Layer",
    "Slab3DResult",
    "SlabContact",
    "depth_fractions",
    "graded_axis",
    "lame_from_young",
    "hertz_sphere",
    "solve_axisymmetric",
    "thin_layer_sphere",
]
