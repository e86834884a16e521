"""Contact mechanics: FFT-accelerated boundary elements for a rigid tool pressed into soft tissue over bone."""

from .kernels import contact_modulus_kpa, love_displacement
from .solver import DEFAULT_POISSON, ContactResult, neo_hookean_stiffening, region_forces_n, solve_contact

__all__ = [
    "DEFAULT_POISSON",
    "ContactResult",
    "contact_modulus_kpa",
    "love_displacement",
    "neo_hookean_stiffening",
    "region_forces_n",
    "solve_contact",
]
