"""Closed-form contact solutions used to validate the finite-element model and the fast contact engine.

* Hertz (1882): rigid sphere (paraboloid) on an elastic half-space.
* Thin incompressible layer bonded to a rigid base, frictionless top, indented by a rigid paraboloid: the
  leading-order (lubrication-type) thin-layer equation ``u = -(h^3 / (3 mu)) laplacian(p)`` (Jaffar 1989;
  Chadwick 2002) with ``p = dp/dr = 0`` at the contact edge gives

      p(r) = 3 mu (a^2 - r^2)^2 / (32 R h^3),   d = a^2 / (4 R),   F = pi mu a^6 / (32 R h^3),

  valid when the contact radius is much larger than the layer thickness (a >> h); the error is of order h/a.

Units: mm, kPa, N.
"""

from __future__ import annotations

import numpy as np

from ... import citations
from ...errors import check_positive, check_range


def hertz_sphere(load_n: float, radius_mm: float, modulus_kpa: float, poisson: float) -> dict[str, float]:
    """Hertz contact of a rigid sphere on an elastic half-space.

    Parameters
    ----------
    load_n : float
        Normal force. [N]
    radius_mm : float
        Sphere radius. [mm]
    modulus_kpa : float
        Young's modulus of the half-space. [kPa]
    poisson : float
        Poisson's ratio of the half-space. [-]

    Returns
    -------
    dict
        ``contact_radius_mm``, ``approach_mm``, ``peak_pressure_kpa``, ``contact_area_mm2``.

    References
    ----------
    Hertz H (1882). Ueber die Beruehrung fester elastischer Koerper. J reine angew Math 92, 156-171.
    Johnson KL (1985). Contact Mechanics, Cambridge University Press, eqs (4.22)-(4.23).
    """
    citations.use("hertz1882", "johnson1985")
    f = check_positive("load", load_n, "N") * 1e3  # kPa mm^2
    R = check_positive("sphere radius", radius_mm, "mm")
    E = check_positive("modulus", modulus_kpa, "kPa")
    nu = check_range("Poisson's ratio", poisson, 0.0, 0.5)
    e_star = E / (1 - nu**2)
    a = (3 * f * R / (4 * e_star)) ** (1 / 3)
    return {
        "contact_radius_mm": a,
        "approach_mm": a * a / R,
        "peak_pressure_kpa": 3 * f / (2 * np.pi * a * a),
        "contact_area_mm2": np.pi * a * a,
    }


def thin_layer_sphere(load_n: float, radius_mm: float, modulus_kpa: float, thickness_mm: float) -> dict[str, float]:
    """Rigid paraboloid on a thin incompressible layer bonded to a rigid base (frictionless contact).

    Parameters
    ----------
    load_n : float
        Normal force. [N]
    radius_mm : float
        Radius of curvature of the indenter tip. [mm]
    modulus_kpa : float
        Young's modulus of the layer (shear modulus ``mu = E / 3``, incompressible). [kPa]
    thickness_mm : float
        Layer thickness. [mm]

    Returns
    -------
    dict
        ``contact_radius_mm``, ``approach_mm``, ``peak_pressure_kpa``, ``contact_area_mm2``.

    Notes
    -----
    Leading-order solution for a/h >> 1 (see module docstring). The exact layer lies between this and Hertz;
    the relative error of the contact radius is of order h/a.

    References
    ----------
    Jaffar MJ (1989). Asymptotic behaviour of thin elastic layers bonded and unbonded to a rigid foundation.
    Int J Mech Sci 31, 229-235.
    Chadwick RS (2002). Axisymmetric indentation of a thin incompressible elastic layer. SIAM J Appl Math 62,
    1520-1530.
    """
    citations.use("jaffar1989", "chadwick2002")
    f = check_positive("load", load_n, "N") * 1e3
    R = check_positive("indenter radius", radius_mm, "mm")
    mu = check_positive("modulus", modulus_kpa, "kPa") / 3.0
    h = check_positive("layer thickness", thickness_mm, "mm")
    a = (32 * R * h**3 * f / (np.pi * mu)) ** (1 / 6)
    return {
        "contact_radius_mm": a,
        "approach_mm": a * a / (4 * R),
        "peak_pressure_kpa": 3 * mu * a**4 / (32 * R * h**3),
        "contact_area_mm2": np.pi * a * a,
    }
