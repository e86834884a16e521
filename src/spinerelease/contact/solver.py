"""Load-controlled frictionless contact of a rigid tool with soft tissue over bone (FFT boundary elements).

The body surface is discretised into square elements of uniform pressure. The surface indentation ``u`` of
the tissue (positive into the body) is a convolution of the pressure with an influence kernel, evaluated
with real FFTs on a zero-padded grid (:mod:`spinerelease.contact.kernels`). The unknown pressure solves the
linear complementarity problem::

    g = gap0 + u(p) - approach - tan(roll) * x >= 0,   p >= 0,   p * g = 0,   sum(p) dA = load,

by the constrained conjugate-gradient method of Polonsky & Keer (1999), which enforces the load exactly at
every iteration and can start from a previous solution (warm start).

Soft tissue of varying thickness over bone: the compliance operator is built from the Green's functions of
bonded layers of a few reference thicknesses ("bins"), through their square roots in Fourier space,
``A = D B^T B D`` with ``B = sum_c S_c Phi_c``: ``S_c`` convolves with ``sqrt(K_c)`` (``K_c`` the bin's layer
compliance), ``Phi_c`` holds each element's interpolation weight of bin ``c`` (linear in log-thickness between
the two nearest bins) and ``D = diag(sqrt(E_ref / E(x)))``. Two elements over tissue of thicknesses ``t_i``
and ``t_j`` interact through the geometric mean ``sqrt(K_ti K_tj)`` of the two layers' spectral compliances,
so every pair of elements interacts and the result converges as the bins are refined; the operator is
symmetric positive semi-definite by construction (so CG applies) and exact for a uniform layer whose
thickness equals a bin. The layer thickness it uses is the tissue thickness with narrow thin zones (over a
spinous ridge) widened to the compliance of their surroundings (:func:`effective_layer_thickness_mm`).

Large compression stiffens the tissue: each element's compliance is divided by a column stiffening factor. The
local law (:func:`calibrated_stiffening`) is 1 up to an onset strain, then a power of the remaining tissue
thickness, and beyond a film strain the stiffening of a squeezed thin film under a rounded tip, so that the stress
diverges as the tissue is squeezed onto the bone ("bottoming out"). The factor an element uses is the geometric
mean of the local factors around it (:func:`nonlocal_stiffening`: squeezed tissue escapes through its
neighbours), times a steep guard near the bone (:data:`GUARD_STRAIN`); the law is fitted to the rezoned
large-strain FEM into the film. In contact the indentation is fixed by the body's approach, so for a given
approach the stiffened problem is a convex displacement-controlled program; the approach that carries the load is
found by Brent's method (:func:`_solve_stiffening_by_approach`).
See ``docs/contact.md`` for assumptions and limits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.fft as sfft
from scipy import optimize

from .. import citations
from ..errors import InputError, check_finite, check_memory, check_positive, check_range
from ..grid import Grid
from ._allocator import tune_allocator
from .kernels import (
    circulant_on_domain_ft,
    contact_modulus_kpa,
    cropped_irfft2,
    halfspace_kernel_ft,
    layer_kernel_ft,
    layer_kernel_zero_padded_ft,
    padded_rfft2,
    padded_shape,
)

#: Poisson's ratio of soft tissue: nearly incompressible (0.45-0.5 reported for fat and muscle, e.g.
#: Fung 1993); 0.49 keeps the uniaxial-strain limit finite. [-]
DEFAULT_POISSON = 0.49
#: Largest compressive strain at which the stiffening laws are evaluated (numerical cap; the bone bound of
#: :func:`calibrated_stiffening` makes the column stress diverge well before it). [-]
MAX_STRAIN = 0.9999
#: Onset strain of the calibrated column stiffening, fitted to the rezoned large-strain neo-Hookean FEM with
#: contact on the true normal under the PSO-Spine's peak shape (``spinerelease.contact.fem.deep``,
#: docs/calibration.md), together with the exponent, the film exponent and the lateral averaging
#: (:data:`STIFFENING_SPREAD_THICKNESSES`) (stop 17; 0.55 with the local law of stops 12-16, 0.65 with the
#: earlier neo-Hookean-shaped law, 0.3 before that). [-]
STIFFENING_ONSET_STRAIN = 0.55
#: Exponent of the calibrated column stiffening in the remaining tissue thickness, ``f_cal = ((1 - eps0) /
#: (1 - eps))^k`` (fitted with the onset: every stored FEM point within 10 % in tip pressure and in the 1 cm^2
#: probe average, up to a FEM strain of 0.99 on 10 and 33 mm of muscle, docs/calibration.md; 0.35 with the
#: local law). [-]
STIFFENING_EXPONENT = 0.5
#: Column strain beyond which the calibrated law adds the stiffening of a squeezed thin film (the bone bound). [-]
BONE_BOUND_STRAIN = 0.96
#: Exponent of the bone bound: a thin incompressible film bonded to the bone under a frictionless rounded tip
#: (gap ``h0 + r^2 / 2R``) carries ``p0 = 3 mu R / (4 h0)`` at its centre when the thin-layer equation
#: ``u = -(h^3 / 3 mu) lap p`` (Jaffar 1989) is integrated over the approach: the secant stiffening grows as the
#: inverse of the remaining thickness (docs/calibration.md; 3, the flat layer's incremental compliance, with the
#: local law). [-]
BONE_BOUND_EXPONENT = 1.0
#: Local column strain beyond which a steep guard multiplies the (laterally averaged) stiffening, ``((1 -
#: eps_g) / (1 - eps))^3``: the averaging lets a single column whose neighbours are less squeezed be pressed
#: through to the bone at a finite force (a peak over a spinous ridge took the load of the whole tool at
#: compressions above 1); the guard keeps every column off the bone. It is a numerical safeguard, set beyond the
#: deepest FEM strain the engine is checked against (0.99, docs/calibration.md); exponent 3 as the compliance of a
#: thin flat layer (Jaffar 1989). [-]
GUARD_STRAIN = 0.998
#: Greatest number of thickness bins of the layered operator.
MAX_BINS = 6
#: Target ratio of neighbouring thickness bins of the layered operator (geometric spacing, at most MAX_BINS);
#: with the spectral coupling, 2.0 and 1.15 give outer-peak forces within 0.2 % and the centre zone within 4 %
#: on the default back solve (docs/contact.md).
BIN_RATIO = 2.0
#: Padding of each layer bin's periodic FFT grid, in layer thicknesses: the bonded-layer Green's function has
#: decayed to < 1e-3 of its peak influence there (checked in tests/test_contact.py). [-]
LAYER_PAD_THICKNESSES = 8.0
#: Threads per FFT (scipy.fft ``workers``): -1 = all cores; set to 1 where processes already run in parallel
#: (Dask workers), or through the environment variable SPINERELEASE_FFT_WORKERS.
FFT_WORKERS = int(os.environ.get("SPINERELEASE_FFT_WORKERS", "-1"))
#: Padded FFT grids smaller than this (elements) run on one thread whatever FFT_WORKERS says: for them the
#: threads' start-up and synchronisation cost more than they save (2-core machine, side by side: the default
#: back solve, a 375 x 400 grid, 1.5 s with two threads vs 0.75 s with one; the 256^2 half-space 0.114 vs
#: 0.069 s; the whole-grid 512^2 half-space, 1080^2 padded, 0.54 s with two vs 0.63 s with one). [-]
THREADED_FFT_MIN_ELEMENTS = 1 << 19


@dataclass(frozen=True)
class ContactResult:
    """Solution of a contact problem on ``grid`` (arrays of shape ``grid.shape``).

    Attributes
    ----------
    grid : Grid
    pressure_kpa : ndarray
        Contact pressure (>= 0). [kPa]
    gap_mm : ndarray
        Deformed gap between tool and skin (>= 0; inf where there is no tool). [mm]
    contact : ndarray of bool
        Elements in contact.
    displacement_mm : ndarray
        Surface indentation of the tissue, positive into the body. [mm]
    approach_mm : float
        Rigid approach of the body towards the tool. [mm]
    roll_deg : float
        Rigid roll of the body about the y axis (positive: the right side, x > 0, sinks). [degrees]
    total_force_n : float
        Integral of the pressure. [N]
    center_of_force_mm : tuple of float
        Pressure-weighted centroid (x, y) in grid coordinates. [mm]
    iterations : int
        Total CG iterations over all inner solves.
    converged : bool
    compliance_scale : array, optional
        Each element's compliance scaling of the bottoming-out stiffening (warm start of the next solve).
    log_force_slope_per_mm : float, optional
        ``d ln(force) / d approach`` near the solution, from the last two evaluations of the stiffened solve's
        root search (lets a warm-started solve take a Newton step in the approach). [1/mm]
    """

    grid: Grid
    pressure_kpa: np.ndarray
    gap_mm: np.ndarray
    contact: np.ndarray
    displacement_mm: np.ndarray
    approach_mm: float
    roll_deg: float
    total_force_n: float
    center_of_force_mm: tuple[float, float]
    iterations: int
    converged: bool
    compliance_scale: np.ndarray | None = field(default=None, repr=False, compare=False)
    log_force_slope_per_mm: float | None = field(default=None, repr=False, compare=False)

    @property
    def moment_y_nmm(self) -> float:
        """Moment of the pressure about the y axis through x = 0, sum(p x dA). [N mm]"""
        p = self.pressure_kpa
        return float((p.sum(axis=0) * self.grid.x_mm).sum() * self.grid.cell_area_mm2 * 1e-3)


def neo_hookean_stiffening(strain: np.ndarray) -> np.ndarray:
    """Secant stiffening factor of an incompressible neo-Hookean solid in uniaxial compression. [-]

    ``f(eps) = P(eps) / (E eps)`` with nominal stress ``P = mu (lambda^-2 - lambda)``, ``lambda = 1 - eps``
    and ``E = 3 mu``; f -> 1 as eps -> 0 and f -> infinity as eps -> 1.

    Parameters
    ----------
    strain : array
        Compressive engineering strain u/t, clipped to [0, MAX_STRAIN]. [-]

    References
    ----------
    Treloar LRG (1943). The elasticity of a network of long-chain molecules II. Trans Faraday Soc 39, 241-246.
    Ogden RW (1984). Non-linear Elastic Deformations. Ellis Horwood, Chichester.
    """
    citations.use("treloar1943")
    e = np.clip(np.asarray(strain, dtype=float), 0.0, MAX_STRAIN)
    lam = 1.0 - e
    small = e < 1e-4
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (lam**-2 - lam) / (3.0 * np.where(small, 1.0, e))
    return np.where(small, 1.0 + 2.0 * e, f)  # series: f = 1 + 2 eps + O(eps^2)


def calibrated_stiffening(strain: np.ndarray, onset_strain: float | None = None) -> np.ndarray:
    """Column stiffening factor of the fast engine, calibrated against the finite-element reference. [-]

    ``f_cal(eps) = r^k b^n`` with ``r = max(1, (1 - eps0) / (1 - eps))`` and ``b = max(1, (1 - eps_b) /
    (1 - eps))``: no stiffening below the onset strain ``eps0`` (:data:`STIFFENING_ONSET_STRAIN`), then a mild
    power ``k`` (:data:`STIFFENING_EXPONENT`) of the remaining tissue thickness, fitted to the rezoned
    axisymmetric neo-Hookean FEM with contact on the true normal (``spinerelease.contact.fem.deep``: a tissue
    column under a rounded peak escapes sideways and stiffens far less than a uniaxial specimen), and beyond
    the validated range ``eps_b`` (:data:`BONE_BOUND_STRAIN`) the thin-film stiffening ``n = 3``
    (:data:`BONE_BOUND_EXPONENT`) that keeps the indentation short of the bone. The stress ``E eps f_cal``
    grows monotonically and diverges as ``eps -> 1``.

    Parameters
    ----------
    strain : array
        Compressive engineering strain u/t, clipped to [0, MAX_STRAIN]. [-]
    onset_strain : float, optional
        ``eps0`` (default :data:`STIFFENING_ONSET_STRAIN`). [-]

    References
    ----------
    Jaffar MJ (1989). Asymptotic behaviour of thin elastic layers bonded and unbonded to a rigid foundation.
    Int J Mech Sci 31, 229-235.
    """
    citations.use("jaffar1989")
    e0 = STIFFENING_ONSET_STRAIN if onset_strain is None else float(onset_strain)
    rest = 1.0 - np.clip(np.asarray(strain, dtype=float), 0.0, MAX_STRAIN)
    r = np.maximum((1.0 - e0) / rest, 1.0)
    b = np.maximum((1.0 - BONE_BOUND_STRAIN) / rest, 1.0)
    return r**STIFFENING_EXPONENT * b**BONE_BOUND_EXPONENT


#: Stiffen each layer of a two-layer column at its own strain (the soft top layer bottoms out first), from the
#: series split of the column's displacement; False: the whole column at its mean strain. (docs/calibration.md)
PER_LAYER_STIFFENING = True
#: Width of the lateral averaging of the column stiffening, in tissue thicknesses (Gaussian standard deviation):
#: each element's stiffening factor is the geometric mean of its neighbours' local factors
#: (:func:`nonlocal_stiffening`). Fitted, with the law's constants, to the rezoned FEM into the film on 10 and
#: 33 mm of muscle (docs/calibration.md, stop 17); 0 = the local law of stops 12-16. [-]
STIFFENING_SPREAD_THICKNESSES = 0.14
#: Strength ``K`` of the one-way confinement stiffening (:func:`confinement_stiffening`): the share of the
#: homogeneous neo-Hookean difference between one-way (plane-strain) and all-round (axisymmetric) escape that the
#: column law takes on. Fitted to the plane-strain FEM of a foam roller on four tissues (52 points to strain 0.73,
#: docs/calibration.md, stop 31); 0 = off (the law of stops 17-30). [-]
CONFINEMENT_STIFFENING = 0.5
#: Width of the weighted lateral average of the squeeze-flow curvature that sets the escape anisotropy
#: (:func:`escape_anisotropy`), in tissue thicknesses (the median over the compressed patch): the tissue escapes
#: over about its own thickness. [-]
CONFINEMENT_WIDTH_THICKNESSES = 0.5
#: Width of the average of the strain along the compressed patch's long axis at which the one-way ratio is taken
#: (:func:`long_axis_strain`), in tissue thicknesses (the patch's median): the neighbours that block the escape
#: lie along that axis, and where the strain falls away along it (the apex of an elongated contact) the tissue
#: is less confined than its own strain says. Chosen among 0.5, 0.75 and 1 on two 3D FEM runs of an elongated peak
#: (stretched 2.5 and 1.5 times; with each column's own strain its peak pressure was up to +40 % at strain 0.91;
#: docs/validation.md, stop 32); a long strip is uniform along its axis, so the rollers the term was fitted on
#: keep their values; 0 = each column's own strain (stop 31). [-]
CONFINEMENT_LONG_AXIS_THICKNESSES = 0.75


def _bounding_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, slice]:
    """Slices of the smallest box holding every True cell of the 2D ``mask`` (which has one), widened by
    ``margin`` cells each way and clipped to the array."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    ny, nx = mask.shape
    return (
        slice(max(0, rows[0] - margin), min(ny, rows[-1] + 1 + margin)),
        slice(max(0, cols[0] - margin), min(nx, cols[-1] + 1 + margin)),
    )


def _thickness_ladder_filter(
    field_: np.ndarray, thickness_mm: np.ndarray, width: float, spacing_mm: float
) -> np.ndarray:
    """Gaussian average of ``field_`` whose standard deviation at each element is ``width`` times that element's
    thickness: the field is averaged for a geometric ladder of widths (ratio 1.2) spanning the thicknesses, and
    each element reads the average of its own thickness (linear in log-thickness between rungs)."""
    from scipy.ndimage import gaussian_filter

    t = np.asarray(thickness_mm, dtype=float)
    tmin, tmax = float(t.min()), float(t.max())
    if tmax / tmin < 1.05:
        return gaussian_filter(field_, width * float(np.median(t)) / spacing_mm, mode="nearest")
    taus = np.geomspace(tmin, tmax, max(2, int(np.ceil(np.log(tmax / tmin) / np.log(1.2))) + 1))
    pos = np.interp(np.log(t), np.log(taus), np.arange(len(taus)))
    # each rung's average weighted by the hat function of the elements' position on the ladder, accumulated
    # (one array in memory, not one per rung)
    out = np.zeros(t.shape)
    for k, tau in enumerate(taus):
        w = np.clip(1.0 - np.abs(pos - k), 0.0, None)
        if w.any():
            out += w * gaussian_filter(field_, width * tau / spacing_mm, mode="nearest")
    return out


def nonlocal_stiffening(
    factor: np.ndarray, thickness_mm: np.ndarray | float, spacing_mm: float, spread: float | None = None
) -> np.ndarray:
    """Column stiffening averaged laterally: the geometric mean of the local factors around each element. [-]

    ``f_nl(x) = exp((G_sigma * ln f)(x))`` with ``G_sigma`` a Gaussian of standard deviation ``sigma = spread *
    t(x)`` (:data:`STIFFENING_SPREAD_THICKNESSES`). A column of nearly incompressible tissue stiffens under large
    compression because its tissue can only escape sideways, through the columns around it; how stiff it gets
    therefore depends on how squeezed its neighbourhood is, not on its own strain alone (the non-local averaging
    of an internal variable, Pijaudier-Cabot & Bazant 1987). With the local factor, a narrow stiff spot under a
    rounded tip had to be produced through the smooth layer operator, which concentrated the load on a few
    elements and unloaded a ring around them, unlike the FEM (docs/calibration.md). A uniform factor is unchanged,
    and so is an unstiffened field (all factors 1).

    Parameters
    ----------
    factor : array (ny, nx)
        Local stiffening factors (>= 1). [-]
    thickness_mm : array or float
        Tissue thickness of each element. [mm]
    spacing_mm : float
        Grid spacing. [mm]
    spread : float, optional
        Gaussian width in tissue thicknesses (default :data:`STIFFENING_SPREAD_THICKNESSES`; 0 = local). [-]

    References
    ----------
    Pijaudier-Cabot G, Bazant ZP (1987). Nonlocal damage theory. J Eng Mech 113, 1512-1533.
    """
    c = STIFFENING_SPREAD_THICKNESSES if spread is None else check_range("averaging width", spread, 0.0, None)
    check_positive("grid spacing", spacing_mm, "mm")
    f = np.asarray(factor, dtype=float)
    t_in = np.asarray(thickness_mm, dtype=float)
    if not (np.all(np.isfinite(f)) and np.all(f >= 1.0)):
        raise InputError("stiffening factors must be finite and at least 1")
    if not (np.all(np.isfinite(t_in)) and np.all(t_in > 0)):
        raise InputError("tissue thickness must be finite and positive")
    lf = np.log(f)
    stiff = lf > 0
    if c <= 0 or f.ndim != 2 or not stiff.any():
        return f
    citations.use("pijaudiercabot1987")
    t = np.broadcast_to(t_in, f.shape)
    # the average only reaches a few widths beyond the stiffened elements: filter that box alone
    box = _bounding_box(stiff, int(np.ceil(4.0 * c * float(t[stiff].max()) / spacing_mm)) + 1)
    out = np.ones_like(f)
    out[box] = np.exp(_thickness_ladder_filter(lf[box], t[box], c, spacing_mm))
    return out


#: Largest patch (cells) whose squeeze-flow potential is solved; larger patches (beyond any tool on a back) are
#: refused rather than solved slowly.
_MAX_PATCH_CELLS = 400_000
#: Largest patch (cells) whose escape anisotropy is computed on the solver's grid; a larger one is averaged onto a
#: grid coarse enough (a foam roller's whole strip at 1 mm is about 1e5 cells). Measured: 1e4 / 4e4 / 1e5 cells
#: take 0.2 / 0.34 / 1.0 s a call.
_ANISOTROPY_MAX_CELLS = 60_000
_POTENTIAL_CACHE: dict = {}
#: Most nonzeros (about 12 bytes each) that the cached factorisations may hold together (about 120 MB).
_POTENTIAL_CACHE_NNZ = 10_000_000


def _patch_laplacian(patch: np.ndarray):
    """LU factorisation of the five-point ``-lap`` on the cells of ``patch`` (0 on its neighbours outside),
    cached by patch (a solve for the same approach's patch reuses it)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    m = np.asarray(patch, dtype=bool)
    key = (m.shape, hash(np.packbits(m).tobytes()))
    if key in _POTENTIAL_CACHE:
        return _POTENTIAL_CACHE[key]
    n = int(m.sum())
    idx = np.full(m.shape, -1, dtype=np.int64)
    idx[m] = np.arange(n)
    iy, ix = np.nonzero(m)
    rows, cols = [np.arange(n)], [np.arange(n)]
    vals = [np.full(n, 4.0)]
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        jy, jx = iy + dy, ix + dx
        inside = (jy >= 0) & (jy < m.shape[0]) & (jx >= 0) & (jx < m.shape[1])
        j = np.full(n, -1, dtype=np.int64)
        j[inside] = idx[jy[inside], jx[inside]]
        nb = j >= 0
        rows.append(np.flatnonzero(nb))
        cols.append(j[nb])
        vals.append(-np.ones(int(nb.sum())))
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    lu = splu(A)
    # keep the last few factorisations within a memory budget (a 60,000-cell patch's factors take about 67 MB)
    held = sum(f.L.nnz + f.U.nnz for f in _POTENTIAL_CACHE.values())
    while _POTENTIAL_CACHE and held + lu.L.nnz + lu.U.nnz > _POTENTIAL_CACHE_NNZ:
        old = _POTENTIAL_CACHE.pop(next(iter(_POTENTIAL_CACHE)))
        held -= old.L.nnz + old.U.nnz
    _POTENTIAL_CACHE[key] = lu
    return lu


def squeeze_flow_potential(patch: np.ndarray, spacing_mm: float, source: np.ndarray | None = None) -> np.ndarray:
    """Squeeze-flow potential of a patch of grid cells: ``-lap phi = s`` in the patch, ``phi = 0`` outside. [mm^2]

    In a thin incompressible layer squeezed under the patch, the pressure obeys ``lap p = (3 mu / h^3) w`` with
    ``w`` the local squeeze (the thin-layer equation, Jaffar 1989), so ``phi`` with the source ``s`` the local
    compression is the shape of that pressure and ``-grad phi`` the direction the tissue escapes in. With
    ``s = 1`` (default) ``phi`` is the torsion (Prandtl) function: ``a^2 / 4`` in the middle of a disc of radius
    ``a`` and ``a^2 / 2`` in a long strip of half width ``a``. Five-point Laplacian, the patch's neighbours
    outside it held at 0 (second order in the spacing); the factorisation is cached by patch.

    Parameters
    ----------
    patch : array of bool (ny, nx)
        The cells of the patch.
    spacing_mm : float
        Grid spacing. [mm]
    source : array (ny, nx), optional
        Source ``s`` (e.g. the column strain); default 1. [-]

    References
    ----------
    Jaffar MJ (1989). Asymptotic behaviour of thin elastic layers bonded and unbonded to a rigid foundation.
    Int J Mech Sci 31, 229-235.
    """
    h = check_positive("grid spacing", spacing_mm, "mm")
    m = np.asarray(patch, dtype=bool)
    n = int(m.sum())
    phi = np.zeros(m.shape)
    if n == 0:
        return phi
    if n > _MAX_PATCH_CELLS:
        raise InputError(f"a contact patch of {n} cells is too large for the confinement potential")
    s = np.ones(n) if source is None else np.broadcast_to(np.asarray(source, dtype=float), m.shape)[m]
    if not np.all(np.isfinite(s)):
        raise InputError("the squeeze-flow source must be finite")
    phi[m] = _patch_laplacian(m).solve(h * h * s)
    return phi


def escape_anisotropy(
    strain: np.ndarray, thickness_mm: np.ndarray | float, spacing_mm: float, width: float | None = None
) -> np.ndarray:
    """How one-sided the tissue's sideways escape is, from 0 (all round, under a round peak) to 1 (one way,
    under a long strip). [-]

    The squeeze-flow potential ``phi`` of the compressed patch with the column strain as source
    (:func:`squeeze_flow_potential`) has the curvature ``H = grad grad phi`` with ``tr H = -eps``: its two
    eigenvalues split the escaping flow between the two directions. ``H`` is averaged with the weight ``phi``
    over a Gaussian of standard deviation ``width`` times the patch's median thickness
    (:data:`CONFINEMENT_WIDTH_THICKNESSES`; the weight keeps the staircase edge of a patch on the grid out), and
    the anisotropy is ``|l1 - l2| / |l1 + l2|`` of the average: 0 in a disc, 1 in a long strip,
    ``(A^2 - B^2) / (A^2 + B^2)`` in an ellipse of uniform strain with semi-axes ``A >= B``. 0 outside the patch.

    Parameters
    ----------
    strain : array (ny, nx)
        Column compressive strain (the patch is where it is positive). [-]
    thickness_mm : array or float
        Tissue thickness. [mm]
    spacing_mm : float
        Grid spacing. [mm]
    width : float, optional
        Averaging width in tissue thicknesses (default :data:`CONFINEMENT_WIDTH_THICKNESSES`). [-]

    References
    ----------
    Jaffar MJ (1989). Asymptotic behaviour of thin elastic layers bonded and unbonded to a rigid foundation.
    Int J Mech Sci 31, 229-235.
    """
    return _escape_field(strain, thickness_mm, spacing_mm, width)[0]


def _escape_field(
    strain: np.ndarray, thickness_mm: np.ndarray | float, spacing_mm: float, width: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`escape_anisotropy` and the direction of the patch's long axis [rad] at each cell (0 outside)."""
    w_t = CONFINEMENT_WIDTH_THICKNESSES if width is None else check_positive("anisotropy averaging width", width)
    h = check_positive("grid spacing", spacing_mm, "mm")
    e = np.clip(np.asarray(strain, dtype=float), 0.0, MAX_STRAIN)
    m = e > 0
    out, axis = np.zeros(e.shape), np.zeros(e.shape)
    if e.ndim != 2 or not m.any():
        return out, axis
    citations.use("jaffar1989")
    t = np.broadcast_to(np.asarray(thickness_mm, dtype=float), e.shape)
    sigma = w_t * float(np.median(t[m])) / h  # [cells]
    box = _bounding_box(m, int(np.ceil(4.0 * sigma)) + 2)  # the patch with room for the average
    mb, eb = m[box], e[box]
    n = int(mb.sum())
    if n <= _ANISOTROPY_MAX_CELLS:
        a, th = _anisotropy_of_patch(mb, eb, h, sigma)
        out[box], axis[box] = a, np.where(mb, th, 0.0)
        return out, axis
    # a very large patch: the strain averaged onto a grid f times coarser (the anisotropy varies over the
    # averaging width, several cells, so little is lost), the anisotropy read back on the fine cells
    f = int(np.ceil(np.sqrt(n / _ANISOTROPY_MAX_CELLS)))
    ny, nx = eb.shape
    ec = np.pad(eb, ((0, -ny % f), (0, -nx % f))).reshape(-(-ny // f), f, -(-nx // f), f).mean(axis=(1, 3))
    ac, thc = _anisotropy_of_patch(ec > 0, ec, h * f, sigma / f)
    out[box] = np.where(mb, np.repeat(np.repeat(ac, f, axis=0), f, axis=1)[:ny, :nx], 0.0)
    axis[box] = np.where(mb, np.repeat(np.repeat(thc, f, axis=0), f, axis=1)[:ny, :nx], 0.0)
    return out, axis


def _anisotropy_of_patch(m: np.ndarray, e: np.ndarray, h: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`escape_anisotropy` on one box: patch ``m``, strain ``e``, spacing ``h`` [mm], width ``sigma`` [cells];
    returns the anisotropy and the long axis's direction [rad]."""
    from scipy.ndimage import gaussian_filter

    phi = squeeze_flow_potential(m, h, e)
    p = np.pad(phi, 1)
    c = p[1:-1, 1:-1]
    hxx = p[1:-1, 2:] - 2.0 * c + p[1:-1, :-2]
    hyy = p[2:, 1:-1] - 2.0 * c + p[:-2, 1:-1]
    hxy = 0.25 * (p[2:, 2:] - p[2:, :-2] - p[:-2, 2:] + p[:-2, :-2])
    wgt = np.where(m, phi, 0.0)
    norm = np.maximum(gaussian_filter(wgt, sigma, mode="constant"), np.finfo(float).tiny)
    axx, ayy, axy = (gaussian_filter(wgt * q, sigma, mode="constant") / norm for q in (hxx, hyy, hxy))
    tr = np.abs(axx + ayy)
    a = np.sqrt((axx - ayy) ** 2 + 4.0 * axy**2) / np.maximum(tr, np.finfo(float).tiny)
    # the eigenvector of the larger (least negative) eigenvalue: the direction the tissue escapes least along
    theta = 0.5 * np.arctan2(2.0 * axy, axx - ayy)
    return np.where(m & (tr > 0), np.clip(a, 0.0, 1.0), 0.0), theta


def long_axis_strain(
    strain: np.ndarray,
    long_axis_rad: np.ndarray,
    thickness_mm: np.ndarray | float,
    spacing_mm: float,
    width: float | None = None,
) -> np.ndarray:
    """Column strain averaged along the compressed patch's long axis: at each cell of the patch, a Gaussian of
    standard deviation ``width`` times the patch's median thickness (:data:`CONFINEMENT_LONG_AXIS_THICKNESSES`)
    along the direction ``long_axis_rad``, normalised over the patch's own cells. 0 outside the patch. [-]

    Under a long strip the strain is uniform along the axis and the average is the column's own strain; at the
    apex of an elongated contact it falls away along the axis, and the neighbours that would block the escape
    there are less compressed than the apex (docs/validation.md, stop 32). Sampled every ``1/8`` of the width
    over ``+-3`` widths, on cells of about that size, with linear interpolation.

    Parameters
    ----------
    strain : array (ny, nx)
        Column compressive strain (the patch is where it is positive). [-]
    long_axis_rad : array (ny, nx)
        Direction of the patch's long axis at each cell, from the x axis (:func:`escape_anisotropy`'s averaged
        squeeze-flow curvature: its eigenvector of least curvature). [rad]
    thickness_mm : array or float
        Tissue thickness. [mm]
    spacing_mm : float
        Grid spacing. [mm]
    width : float, optional
        Averaging width in tissue thicknesses (default :data:`CONFINEMENT_LONG_AXIS_THICKNESSES`; 0 = the strain
        itself). [-]
    """
    from scipy.ndimage import map_coordinates

    w_t = CONFINEMENT_LONG_AXIS_THICKNESSES if width is None else check_range("long-axis width", width, 0.0, None)
    h = check_positive("grid spacing", spacing_mm, "mm")
    e = np.clip(np.asarray(strain, dtype=float), 0.0, MAX_STRAIN)
    m = e > 0
    if e.ndim != 2 or not m.any() or w_t == 0:
        return np.where(m, e, 0.0)
    if np.shape(long_axis_rad) != e.shape or not np.all(np.isfinite(np.asarray(long_axis_rad)[m])):
        raise InputError(f"the long-axis directions must be finite, one per cell of the {e.shape} strain field")
    t = np.broadcast_to(np.asarray(thickness_mm, dtype=float), e.shape)
    sigma = w_t * float(np.median(t[m])) / h  # [cells]
    # sampled on cells of about 1/8 of the width (the strain and the axis vary over several of them), every
    # such cell over +-3 widths, and read back onto the fine cells by linear interpolation
    f = max(1, int(sigma // 8.0))
    box = _bounding_box(m, f)
    mb = m[box]
    ny, nx = mb.shape
    pad = ((0, -ny % f), (0, -nx % f))

    def coarse(v: np.ndarray) -> np.ndarray:
        return np.pad(np.where(mb, v, 0.0), pad).reshape(-(-ny // f), f, -(-nx // f), f).mean(axis=(1, 3))

    th = np.asarray(long_axis_rad, dtype=float)[box]
    em, mf = coarse(e[box]), coarse(np.ones(mb.shape))
    axis = 0.5 * np.arctan2(coarse(np.sin(2.0 * th)), coarse(np.cos(2.0 * th)))  # a mean of directions
    iy, ix = np.nonzero(mf > 0)
    cy, cx = np.sin(axis[iy, ix]), np.cos(axis[iy, ix])
    num, den = np.zeros(mf.shape), np.zeros(mf.shape)
    per = max(1, 1_000_000 // iy.size)  # sample offsets per call (at most about a million points at once)
    for k0 in range(-24, 25, per):  # every 1/8 of the width over +-3 widths
        k = np.arange(k0, min(k0 + per, 25))[:, None]
        d, w = k * sigma / (8.0 * f), np.exp(-0.5 * (k / 8.0) ** 2)
        at = [(iy + d * cy).ravel(), (ix + d * cx).ravel()]
        num[iy, ix] += (w * map_coordinates(em, at, order=1, mode="constant").reshape(k.size, -1)).sum(axis=0)
        den[iy, ix] += (w * map_coordinates(mf, at, order=1, mode="constant").reshape(k.size, -1)).sum(axis=0)
    fy, fx = np.nonzero(mb)
    at = [(fy + 0.5) / f - 0.5, (fx + 0.5) / f - 0.5]
    sub = np.zeros(mb.shape)
    sub[fy, fx] = map_coordinates(num, at, order=1, mode="nearest") / np.maximum(
        map_coordinates(den, at, order=1, mode="nearest"), np.finfo(float).tiny
    )
    out = np.zeros(e.shape)
    out[box] = sub
    return out


def one_way_escape_ratio(strain: np.ndarray, anisotropy: np.ndarray) -> np.ndarray:
    """Nominal stress of an incompressible neo-Hookean block compressed by ``strain`` while it flows out sideways
    in the split ``m = (1 + a) / 2``, over the same block flowing out all round (``m = 1/2``), each divided by
    its small-strain modulus. [-]

    With the stretches ``lam`` (compression), ``lam^-m`` and ``lam^(m-1)``, the strain energy
    ``W = mu / 2 (sum lam_i^2 - 3)`` (Treloar 1943) gives the nominal stress ``mu (m lam^(-2m-1) + (1-m)
    lam^(2m-3) - lam)`` and the small-strain modulus ``mu (1 + m (2m + 1) + (1 - m)(3 - 2m))`` (3 mu all round,
    4 mu one way: the plane-strain modulus). The ratio is 1 for ``a = 0`` or no strain and grows with both; it
    is even in ``m - 1/2``, so a slightly elongated patch changes little: at strain 0.5 it is 1.006 for
    ``a = 0.09``, 1.24 for 0.6 and 1.61 for 1 (one way, ``3 (1 + lam)(1 + lam^2) / (4 lam (1 + lam + lam^2))``).

    Parameters
    ----------
    strain : array
        Compressive engineering strain, clipped to [0, MAX_STRAIN]. [-]
    anisotropy : array
        Escape anisotropy ``a`` in [0, 1] (:func:`escape_anisotropy`). [-]

    References
    ----------
    Treloar LRG (1943). The elasticity of a network of long-chain molecules II. Trans Faraday Soc 39, 241-246.
    """
    citations.use("treloar1943")
    e = np.clip(np.asarray(strain, dtype=float), 0.0, MAX_STRAIN)
    m = 0.5 * (1.0 + np.clip(np.asarray(anisotropy, dtype=float), 0.0, 1.0))
    lam = 1.0 - e
    small = e < 1e-4
    lam_s = np.where(small, 0.5, lam)  # any value away from 1; replaced below
    stress = m * lam_s ** (-2.0 * m - 1.0) + (1.0 - m) * lam_s ** (2.0 * m - 3.0) - lam_s
    modulus = 1.0 + m * (2.0 * m + 1.0) + (1.0 - m) * (3.0 - 2.0 * m)
    ratio = (stress / modulus) / ((lam_s**-2 - lam_s) / 3.0)
    # series at small strain (the differences above cancel): stress = modulus eps + c2 eps^2, uniaxial 3 eps (1 + eps)
    c2 = 0.5 * (m * (2.0 * m + 1.0) * (2.0 * m + 2.0) + (1.0 - m) * (2.0 * m - 3.0) * (2.0 * m - 4.0))
    return np.where(small, 1.0 + (c2 / modulus - 1.0) * e, ratio)


def confinement_stiffening(
    strain: np.ndarray,
    thickness_mm: np.ndarray | float,
    spacing_mm: float,
    strength: float | None = None,
) -> np.ndarray:
    """Extra stiffening of columns whose tissue can only escape one way (under a long strip). [-]

    ``g = 1 + K (R(eps_p, a) - 1)`` with ``a`` the escape anisotropy of the compressed patch
    (:func:`escape_anisotropy`), ``R`` the neo-Hookean one-way-to-all-round stress ratio
    (:func:`one_way_escape_ratio`) at the strain ``eps_p`` averaged along the patch's long axis
    (:func:`long_axis_strain`) and ``K`` :data:`CONFINEMENT_STIFFENING`.
    The round-peak law (:func:`calibrated_stiffening`) was fitted on contacts that the tissue escapes all
    round; under a foam roller the plane-strain FEM stiffens more, by an amount that depends on the strain alone
    on every tissue (docs/validation.md, "The foam roller"), which ``R`` follows with one fitted share ``K``; an
    elongated 3D contact (stop 32) checks the interpolation between the two. 1 where nothing
    is compressed, under round peaks (``a = 0``), and everywhere when ``K = 0``.

    Parameters
    ----------
    strain : array (ny, nx)
        Column compressive strain (the patch is where it is positive). [-]
    thickness_mm : array or float
        Tissue thickness. [mm]
    spacing_mm : float
        Grid spacing. [mm]
    strength : float, optional
        ``K`` (default :data:`CONFINEMENT_STIFFENING`). [-]
    """
    k = CONFINEMENT_STIFFENING if strength is None else check_range("confinement strength", strength, 0.0, None)
    e = np.clip(np.asarray(strain, dtype=float), 0.0, MAX_STRAIN)
    if k == 0 or e.ndim != 2 or not (e > 0).any():
        return np.ones_like(e)
    a, axis = _escape_field(e, thickness_mm, spacing_mm)
    e = long_axis_strain(e, axis, thickness_mm, spacing_mm)
    return 1.0 + k * (one_way_escape_ratio(e, a) - 1.0)


class _Columns:
    """The tissue columns under the elements, for the stiffening: total thickness ``t`` and, for the two-layer
    tissue, the top layer's thickness and the compliances ``t_i / E_i`` of both layers (elementwise arrays).

    :meth:`stiffening` is the column's stiffening factor at a column strain ``u / t``. One material: the
    calibrated law at that strain. Two layers (:data:`PER_LAYER_STIFFENING`): the layers carry the same stress in
    series, ``u1 f(u1 / t1) / a1 = u2 f(u2 / t2) / a2`` with ``u1 + u2 = u`` (``f``: :func:`calibrated_stiffening`,
    ``a_i = t_i / E_i``; solved by bisection on ``u1``), and the column factor is ``sigma (a1 + a2) / u``: the
    soft fat is squeezed to its own bottoming-out long before the column's mean strain says so.

    :meth:`field_stiffening` is the factor of a whole grid of columns (``spacing_mm`` given): the local factors
    averaged laterally (:func:`nonlocal_stiffening`).
    """

    def __init__(
        self,
        t: np.ndarray,
        t1: np.ndarray | None = None,
        a1: np.ndarray | None = None,
        a2: np.ndarray | None = None,
        spacing_mm: float | None = None,
    ) -> None:
        self.t, self.t1, self.a1, self.a2 = t, t1, a1, a2
        self.spacing_mm = spacing_mm

    @classmethod
    def build(
        cls,
        thickness: np.ndarray,
        modulus: np.ndarray,
        top_layer: tuple[float, float] | None,
        spacing_mm: float | None = None,
    ) -> _Columns:
        t = np.asarray(thickness, dtype=float)
        if top_layer is None or not PER_LAYER_STIFFENING:
            return cls(t, spacing_mm=spacing_mm)
        t1 = np.minimum(float(top_layer[0]), 0.999 * t)  # thin tissue: mostly the top layer
        t2 = t - t1
        return cls(t, t1, t1 / float(top_layer[1]), t2 / np.asarray(modulus, dtype=float), spacing_mm)

    @property
    def is_nonlocal(self) -> bool:
        """Whether :meth:`field_stiffening` averages the factors laterally."""
        return self.spacing_mm is not None and STIFFENING_SPREAD_THICKNESSES > 0

    def field_stiffening(self, strain: np.ndarray) -> np.ndarray:
        """Stiffening factor of every column of the grid at the strain field ``strain``: the local factors
        (:meth:`stiffening`) averaged laterally by :func:`nonlocal_stiffening` over a width proportional to the
        tissue thickness, or for two-layer tissue to the top layer's thickness (fitted so, docs/calibration.md),
        times the guard near the bone and the one-way confinement factor (:func:`confinement_stiffening`; for two
        layers scaled by the deep layer's share of the column's compliance); local without a grid spacing. [-]"""
        f = self.stiffening(strain)
        if not self.is_nonlocal:
            return f
        # two layers: the width scales with the soft top layer, whose squeeze governs the column's stiffening
        f_nl = nonlocal_stiffening(f, self.t if self.t1 is None else self.t1, self.spacing_mm)
        rest = 1.0 - np.clip(np.asarray(strain, dtype=float), 0.0, MAX_STRAIN)
        f_nl = f_nl * np.maximum((1.0 - GUARD_STRAIN) / rest, 1.0) ** 3
        if CONFINEMENT_STIFFENING > 0:
            g = confinement_stiffening(strain, self.t, self.spacing_mm)
            if self.t1 is not None:  # two layers: the deep layer's share of the column's compliance
                g = 1.0 + self.a2 / (self.a1 + self.a2) * (g - 1.0)
            f_nl = f_nl * g
        return f_nl

    def subset(self, mask: np.ndarray) -> _Columns:
        if self.t1 is None:
            return _Columns(self.t[mask])
        return _Columns(self.t[mask], self.t1[mask], self.a1[mask], self.a2[mask])

    def onset_strain(self) -> np.ndarray | float:
        """Column strain below which no layer stiffens (the linear series split puts the first layer at the
        onset there). [-]"""
        e0 = STIFFENING_ONSET_STRAIN
        if self.t1 is None:
            return e0
        share1 = self.a1 / (self.a1 + self.a2)
        return e0 * np.minimum(self.t1 / (share1 * self.t), (self.t - self.t1) / ((1.0 - share1) * self.t))

    def stiffening(self, strain: np.ndarray, n_bisect: int = 32) -> np.ndarray:
        """Stiffening factor of each column at column strain ``strain`` (same shape as the columns). [-]"""
        e = np.clip(np.asarray(strain, dtype=float), 0.0, None)
        if self.t1 is None:
            return calibrated_stiffening(e)
        out = np.ones_like(e)
        stiff = e > self.onset_strain()
        if not stiff.any():
            return out
        u = e[stiff] * self.t[stiff]
        t1, a1, a2 = self.t1[stiff], self.a1[stiff], self.a2[stiff]
        t2 = self.t[stiff] - t1
        # bisection on the top layer's share u1: the bottom layer's displacement at the same stress follows from
        # the inverse of g(e) = e f_cal(e) (stress = E g(strain)), tabulated once
        lo, hi = np.zeros_like(u), u.copy()
        for _ in range(n_bisect):
            u1 = 0.5 * (lo + hi)
            more = _layer_split(u1, t1, a1, t2, a2)[1] > u
            hi = np.where(more, u1, hi)
            lo = np.where(more, lo, u1)
        sigma = _layer_split(0.5 * (lo + hi), t1, a1, t2, a2)[0]
        out[stiff] = np.maximum(sigma * (a1 + a2) / u, 1.0)
        return out

    def indentation(self, v: np.ndarray, n_bisect: int = 50) -> np.ndarray:
        """Indentation ``u`` with ``u sqrt(f(u / t)) = v`` for two-layer columns already past the onset: by
        bisection on the top layer's share ``u1`` (``u sigma (a1 + a2) = v^2``, both sides growing with
        ``u1``). [mm]"""
        t1, a1, a2 = self.t1, self.a1, self.a2
        t2 = self.t - t1
        target = v**2 / (a1 + a2)
        lo, hi = np.zeros_like(v), np.minimum(v, self.t * 50.0)
        for _ in range(n_bisect):
            u1 = 0.5 * (lo + hi)
            sigma, u = _layer_split(u1, t1, a1, t2, a2)
            over = u * sigma > target
            hi = np.where(over, u1, hi)
            lo = np.where(over, lo, u1)
        return _layer_split(0.5 * (lo + hi), t1, a1, t2, a2)[1]


def _layer_split(
    u1: np.ndarray, t1: np.ndarray, a1: np.ndarray, t2: np.ndarray, a2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Stress ``sigma`` of a two-layer column whose top layer (thickness ``t1``, compliance ``a1 = t1 / E1``) is
    compressed by ``u1``, and the column's displacement ``u1 + u2`` when the bottom layer (``t2``, ``a2``) carries
    the same stress (its strain from :func:`_strain_at_stress`). [kPa, mm]"""
    sigma = u1 * calibrated_stiffening(u1 / t1) / a1
    return sigma, u1 + t2 * _strain_at_stress(sigma * a2 / t2)


@lru_cache(maxsize=8)
def _stress_table(law: tuple[float, ...], max_strain: float) -> tuple[np.ndarray, np.ndarray, float]:
    """``g(e) = e f_cal(e)`` (stress over modulus) on a fine grid of strains up to where the law is capped, and
    its slope beyond (for :func:`_strain_at_stress`); ``law`` = the law's parameters (the cache key)."""
    e0, e_b = law[0], law[2]
    e = np.unique(np.concatenate([np.linspace(0.0, max_strain, 8_001), [e0, e_b]]))
    g = e * calibrated_stiffening(e)
    return g, e, float((g[-1] - g[-2]) / (e[-1] - e[-2]))


def _strain_at_stress(y: np.ndarray) -> np.ndarray:
    """Strain ``e`` of a column layer with ``e f_cal(e) = y`` (stress over modulus; the inverse of the monotone
    stress-strain law, interpolated in a table, linear beyond its cap). [-]"""
    law = (STIFFENING_ONSET_STRAIN, STIFFENING_EXPONENT, BONE_BOUND_STRAIN, BONE_BOUND_EXPONENT)
    g, e, slope = _stress_table(law, MAX_STRAIN)
    y = np.asarray(y, dtype=float)
    return np.where(y <= g[-1], np.interp(y, g, e), e[-1] + (y - g[-1]) / slope)


#: Largest over-relaxation factor of the outer (stiffening) iteration. [-]
MAX_OVER_RELAXATION = 8.0
#: Iterations of the constrained CG between exact recomputations of the displacement when it is updated
#: incrementally (``u <- u - tau A t``, exact while the contact set does not change; the refresh bounds round-off).
U_REFRESH_ITERATIONS = 16
#: Inner (stiffening-loop) solves with a relative tolerance at least this loose run their FFTs in single
#: precision (rounding ~1e-7 relative, far below the tolerance); the final solve uses the requested precision.
SINGLE_PRECISION_TOL = 1.0e-5
#: Tight solves start in single precision and switch to the requested precision once the relative change
#: falls below SINGLE_PRECISION_TOL (256^2 half-space: 0.25 -> 0.16 s, same solution to 1e-6; tests).
MIXED_PRECISION = True
INCREMENTAL_U = True
#: Relative tolerance of an inner (stiffening-loop) solve, as a fraction of the last outer change. [-]
INNER_TOL_FACTOR = 0.02
#: Estimate each element's strain response to its own compliance scaling, ``eps ~ s^beta``, from the last two
#: outer iterations (a per-element secant) instead of assuming ``beta = 1``: an element inside a contact patch
#: has its displacement fixed by the tool (``beta`` near 0), one outside by its own load (``beta = 1``). On the
#: default back solve the largest element pressure then lies within 1.6 % of its tightly converged value at the
#: default tolerance instead of 5 %, for the same work (docs/contact.md).
SECANT_EXPONENT = True
#: Smallest secant exponent used (keeps the step from overshooting, as the purely geometric update does). [-]
BETA_MIN = 0.2
#: Coupling between thickness bins: ``"spectral"`` (``A = D B^T B D``, module docstring) or ``"bins"``, the
#: earlier ``A = sum_b W_b K_b W_b`` with ``W_b = diag(sqrt(phi_b))``, in which elements with no bin in common do
#: not interact (kept for the comparison in docs/validation.md).
COUPLING = "spectral"


def _extrapolated_scale(scale: np.ndarray, step: np.ndarray, prev_step: np.ndarray | None) -> np.ndarray:
    """Next compliance scaling, over-relaxed when the outer iteration converges slowly and monotonically.

    The log-scaling steps of a contracting fixed-point iteration shrink geometrically, ``step_k ~ rho^k``;
    when successive steps point the same way with ratio ``rho`` the remaining distance is about
    ``step / (1 - rho)`` (Aitken's delta-squared idea applied along the step), so the step is multiplied by
    ``min(1 / (1 - rho), MAX_OVER_RELAXATION)``. The result stays in (0, 1].
    """
    omega = 1.0
    if prev_step is not None:
        n0 = float(np.linalg.norm(prev_step))
        n1 = float(np.linalg.norm(step))
        cos = float((step * prev_step).sum()) / max(n0 * n1, 1e-300)
        rho = n1 / max(n0, 1e-300)
        if cos > 0.9 and rho < 1.0:
            omega = min(1.0 / (1.0 - rho), MAX_OVER_RELAXATION)
    return np.clip(scale * np.exp(omega * step), 1e-6, 1.0)


def _local_scale_update(
    scale: np.ndarray,
    strain: np.ndarray,
    n_bisect: int = 30,
    exponent: np.ndarray | float = 1.0,
    columns: _Columns | None = None,
) -> np.ndarray:
    """New compliance scaling from a local Newton-like step of the stiffening fixed point.

    Each element's strain is taken to follow its compliance scaling as ``eps(s) = eps0 (s / s0)^beta`` with the
    rest of the solution held fixed (``beta = 1``: strain proportional to compliance, as under a fixed load;
    smaller where the tool fixes the displacement, see :data:`SECANT_EXPONENT`); the consistent scaling solves
    ``s f(eps(s)) = 1`` (f: calibrated stiffening), found by vectorised bisection in ``log s`` on [1e-6, 1]
    (30 halvings: relative precision 1e-8). The nonlinearity is local, so a few outer iterations converge
    where plain fixed-point iteration oscillates.
    """
    e0 = np.clip(strain, 0.0, None)
    ls0 = np.log(np.maximum(scale, 1e-12))
    beta = np.broadcast_to(np.asarray(exponent, dtype=float), e0.shape)
    out = np.ones_like(e0)
    # s = 1 is the root wherever the strain at s = 1 stays below the stiffening onset (f = 1 there): most of
    # the window; bisect only the rest
    onset = STIFFENING_ONSET_STRAIN if columns is None else columns.onset_strain()
    stiff = e0 * np.exp(-beta * ls0) > onset
    if not stiff.any():
        return out
    e0, ls0, beta = e0[stiff], ls0[stiff], beta[stiff]
    f_cal = calibrated_stiffening if columns is None else columns.subset(stiff).stiffening
    lo = np.full_like(e0, np.log(1e-6))
    hi = np.zeros_like(e0)
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        s = np.exp(mid)
        g = s * f_cal(e0 * np.exp(beta * (mid - ls0))) - 1.0
        hi = np.where(g > 0, mid, hi)
        lo = np.where(g > 0, lo, mid)
    out[stiff] = np.exp(0.5 * (lo + hi))
    return out


#: Width of the lateral averaging of the thickness power ``t^q`` that sets a narrow thin zone's effective layer
#: thickness, in local thicknesses: fitted to the linear 3D FEM of validation case 4 at full load (T7 and L3, the
#: centre-zone force errors balanced, -4.0 / +2.7 %; a 163 cm / 60 kg woman held out, -8.3 %), together with the
#: trough confinement (:data:`TROUGH_SPREAD_THICKNESSES`; 0.38 without it, stops 9-25; docs/calibration.md). [-]
RIDGE_SPREAD_THICKNESSES = 0.42
#: The same for the two-layer tissue (skin and fat over muscle, ``top_layer``), fitted the same way against the
#: 3D FEM with fat over muscle (T7 and L3; a 163 cm / 60 kg woman held out; docs/validation.md). With the trough
#: confinement the centre-zone errors are -1.0 / +2.1 % (held out -2.7 %), so the width was kept. [-]
RIDGE_SPREAD_THICKNESSES_TWO_LAYER = 0.57
#: Power of the thickness averaged laterally: 3, since a thin layer's compliance grows as t^3 (Jaffar 1989);
#: 0 = the geometric mean (log-thickness). [-]
RIDGE_MEAN_EXPONENT = 3.0
#: Width of the lateral averaging that confines thick tissue lying in a trough of bone, in local thicknesses:
#: fitted so that the fast engine's linear operator reproduces how much stiffer the linear 3D FEM is with a
#: two-peak PSO-Spine over the paraspinal trough at T7 than over a flat bone at the same thickness (approach
#: ratio 0.978 on 3.5 and 2.5 mm meshes; 0.980 here; ``benchmarks/fem_case4_mesh.py trough-linear``,
#: docs/calibration.md, stop 26); 0 = no confinement. [-]
TROUGH_SPREAD_THICKNESSES = 0.5
#: Power of the thickness in the confinement's mean, ``(G * t^-m)^(-1/m)``: 1, the harmonic mean (chosen among
#: 1, 2 and 3, docs/calibration.md). [-]
TROUGH_MEAN_EXPONENT = 1.0


def effective_layer_thickness_mm(
    thickness_mm: np.ndarray,
    spacing_mm: float,
    spread: float | None = None,
    trough_spread: float | None = None,
) -> np.ndarray:
    """Layer thickness the compliance operator uses: thin zones narrower than their depth are thickened, thick
    tissue in a trough of bone is thinned. [mm]

    A *ridge* (thin zone) takes ``t_r(x) = max(t(x), ((G_sigma * t^q)(x))^(1/q))`` with ``G_sigma`` a Gaussian of
    standard deviation ``sigma = spread * t(x)`` and ``q`` = :data:`RIDGE_MEAN_EXPONENT` (3: the thin-layer
    compliance, which grows as ``t^3``, Jaffar 1989, averaged over a fraction of the local thickness): a thin strip
    (tissue over a spinous ridge) narrower than a few of its own thicknesses takes the compliance of a thicker
    layer, since nearly incompressible tissue escapes sideways into the thick tissue beside it instead of being
    confined as in a wide thin layer.

    Tissue that the ridge correction leaves as it is (``t_r = t``) is *confined* by bone rising within about its
    thickness: ``t_c(x) = min(t(x), ((G_s * t_r^-m)(x))^(-1/m))``, a mean dominated by the thinner tissue around
    (taken over the ridge-corrected thickness ``t_r``, so that the trough's edge is not made stiffer than the
    widened ridge beside it), with ``s = trough_spread * t(x)`` (:data:`TROUGH_SPREAD_THICKNESSES`) and ``m`` =
    :data:`TROUGH_MEAN_EXPONENT`: the bonded layer of the local thickness alone would let the tissue escape
    sideways over a flat bone, where in a trough (the paraspinal muscles between the spinous ridge and the ribs)
    the bone beside it blocks that path. Both corrections leave a uniform layer unchanged (exact there); both
    widths are fitted against the 3D finite-element model (validation case 4 at T7 and at L3, a held-out body, and
    the two-peak tool over the trough and over flat bone; docs/calibration.md).

    Parameters
    ----------
    thickness_mm : array
        Soft-tissue thickness from skin to bone. [mm]
    spacing_mm : float
        Grid spacing. [mm]
    spread : float, optional
        Ridge Gaussian width in local thicknesses (default :data:`RIDGE_SPREAD_THICKNESSES`; 0 = no ridge
        correction). [-]
    trough_spread : float, optional
        Trough Gaussian width in local thicknesses (default :data:`TROUGH_SPREAD_THICKNESSES`; 0 = no
        confinement). [-]

    References
    ----------
    Jaffar MJ (1989). Asymptotic behaviour of thin elastic layers bonded and unbonded to a rigid foundation.
    Int J Mech Sci 31, 229-235.
    """
    c = RIDGE_SPREAD_THICKNESSES if spread is None else float(spread)
    ct = TROUGH_SPREAD_THICKNESSES if trough_spread is None else float(trough_spread)
    t = np.asarray(thickness_mm, dtype=float)
    if float(t.max()) / float(t.min()) < 1.05:
        return t
    out = t
    if c > 0:
        q = RIDGE_MEAN_EXPONENT
        ls = _thickness_ladder_filter(np.log(t) if q == 0 else t**q, t, c, spacing_mm)
        out = np.maximum(t, np.exp(ls) if q == 0 else ls ** (1.0 / q))
    if ct > 0:
        # the mean runs over the ridge-corrected thickness, so the trough's edge is not made stiffer than the
        # (widened) ridge beside it
        m = TROUGH_MEAN_EXPONENT
        conf = _thickness_ladder_filter(out**-m, out, ct, spacing_mm) ** (-1.0 / m)
        out = np.where(out > t, out, np.minimum(t, conf))
    return out


class _Operator:
    """Compliance operator u = A p on the active (cropped) domain."""

    def __init__(
        self,
        shape: tuple[int, int],
        spacing_mm: float,
        modulus_kpa: np.ndarray,
        thickness_mm: np.ndarray | None,
        poisson: float,
        dtype: str,
        top_layer: tuple[float, float] | None = None,
    ) -> None:
        tune_allocator()
        ny, nx = shape
        self.shape = shape
        self.dtype = dtype
        self.spectral = False
        e_ref = float(np.median(modulus_kpa))
        self.e_star = contact_modulus_kpa(e_ref, poisson)
        mod_w = np.sqrt(e_ref / modulus_kpa)  # symmetric modulus scaling
        if thickness_mm is None:
            pad = padded_shape(ny, nx)
            self.padded = [pad]
            # the wrapped Love kernel is even in x and y, so its spectrum is real: half the multiply traffic
            k = halfspace_kernel_ft(ny, nx, pad, spacing_mm, self.e_star, "float64").real
            self.kernels = [k if dtype == "float64" else k.astype(np.float32)]
            self.base_w = [mod_w]
        else:
            spread = RIDGE_SPREAD_THICKNESSES if top_layer is None else RIDGE_SPREAD_THICKNESSES_TWO_LAYER
            t = effective_layer_thickness_mm(thickness_mm, spacing_mm, spread)
            top = (0.0, 0.0) if top_layer is None else (float(top_layer[0]), float(top_layer[1]))
            tmin, tmax = float(t.min()), float(t.max())
            if tmax / tmin < 1.05:
                bins = np.array([float(np.median(t))])
            else:
                nb = int(min(MAX_BINS, max(2, np.ceil(np.log(tmax / tmin) / np.log(BIN_RATIO)) + 1)))
                bins = np.geomspace(tmin, tmax, nb)
            extent = max(ny, nx) * spacing_mm
            phi = _interp_weights(t, bins)
            if COUPLING == "spectral" and len(bins) > 1:
                # one zero-padded grid (twice the domain, non-periodic: no images) for all bins; square-root
                # kernels; A = D B^T B D with B = sum_c S_c Phi_c, S_c = convolution with sqrt(K_c): every pair
                # of elements interacts. The zero-padded kernels' spectra are positive (checked in the tests);
                # clipping guards against round-off. A layer thicker than twice the domain acts as a half-space
                # over the domain (Love kernel); not with a top layer, whose compliance is not a half-space's.
                pad = padded_shape(ny, nx)
                check_memory("the contact solve", (len(bins) + 2) * np.prod(pad) * 16 + 8 * 16 * np.prod(shape))
                sq = []
                for b in bins:
                    if b > 2 * extent and top_layer is None:
                        k = halfspace_kernel_ft(ny, nx, pad, spacing_mm, self.e_star, "float64")
                    else:
                        k = layer_kernel_zero_padded_ft(
                            ny, nx, pad, spacing_mm, self.e_star, poisson, float(b), "float64", *top
                        )
                    sq.append(np.sqrt(np.clip(k.real, 0.0, None)))
                self.padded = [pad]
                self.kernels = sq if dtype == "float64" else [k.astype(np.float32) for k in sq]
                self.base_w = [ph * mod_w for ph in phi]
                self.spectral = True
            else:
                # each bin on its own periodic grid, padded by LAYER_PAD_THICKNESSES of its thickness so that the
                # periodic images of the decaying layer kernel vanish (thin bins need far smaller FFTs)
                self.padded, self.kernels = [], []
                for b in bins:
                    if b > 2 * extent and top_layer is None:
                        pad = padded_shape(ny, nx)
                        self.kernels.append(halfspace_kernel_ft(ny, nx, pad, spacing_mm, self.e_star, dtype))
                    else:
                        extra = int(np.ceil(LAYER_PAD_THICKNESSES * b / spacing_mm))
                        pad = (sfft.next_fast_len(ny + extra, real=True), sfft.next_fast_len(nx + extra, real=True))
                        self.kernels.append(
                            layer_kernel_ft(pad, spacing_mm, self.e_star, poisson, float(b), dtype, *top)
                        )
                    self.padded.append(pad)
                check_memory("the contact solve", sum(np.prod(q) for q in self.padded) * 16 + 8 * 16 * np.prod(shape))
                self.base_w = [np.sqrt(ph) * mod_w for ph in phi]
        self.w = list(self.base_w)
        self._kernels = {dtype: self.kernels}
        self._threaded = max(int(np.prod(q)) for q in self.padded) >= THREADED_FFT_MIN_ELEMENTS
        if dtype == "float64":  # single-precision copies for the loose inner solves (set_precision)
            self._kernels["float32"] = [k.astype(np.float32 if np.isrealobj(k) else np.complex64) for k in self.kernels]
        self._update_used()

    @property
    def workers(self) -> int:
        """Threads per FFT: FFT_WORKERS for large padded grids, one below THREADED_FFT_MIN_ELEMENTS."""
        return FFT_WORKERS if self._threaded else 1

    def _update_used(self) -> None:
        """Indices of the bins with any weight, and whether the single weight is the identity (skipped)."""
        self.used = [i for i, w in enumerate(self.w) if np.any(w)]
        self.identity = len(self.w) == 1 and bool(np.all(self.w[0] == 1.0))

    def set_precision(self, dtype: str) -> None:
        """Use ``"float32"`` or the operator's own precision for the FFTs of the following applications."""
        self.dtype = dtype if dtype in self._kernels else self.dtype
        self.kernels = self._kernels[self.dtype]

    def set_scaling(self, compliance_scale: np.ndarray) -> None:
        """Scale every element's compliance by ``compliance_scale`` (symmetrically)."""
        s = np.sqrt(compliance_scale)
        self.w = [w * s for w in self.base_w]
        self._update_used()

    def __call__(self, p: np.ndarray) -> np.ndarray:
        ny, nx = self.shape
        if not self.used:
            return np.zeros(self.shape)
        if self.spectral:
            pad = self.padded[0]
            w, k = self.w, self.kernels
            acc = sum(padded_rfft2((w[i] * p).astype(self.dtype), pad, self.workers) * k[i] for i in self.used)
            out = np.zeros(self.shape)
            for i in self.used:
                out += w[i] * cropped_irfft2(acc * k[i], pad, self.shape, self.workers)
            return out
        out = None
        for i in self.used:
            w, k, pad = self.w[i], self.kernels[i], self.padded[i]
            x = (p if self.identity else w * p).astype(self.dtype, copy=False)
            if pad[0] >= 2 * ny and pad[1] >= 2 * nx:  # zero-padded (non-periodic): pruned transforms
                r = cropped_irfft2(padded_rfft2(x, pad, self.workers) * k, pad, self.shape, self.workers)
            else:
                r = sfft.irfft2(sfft.rfft2(x, s=pad, workers=self.workers) * k, s=pad, workers=self.workers)[:ny, :nx]
            r = r.astype(np.float64, copy=False) if self.identity else w * r
            out = r if out is None else out + r
        return out

    def restrict(self, box: tuple[slice, slice]) -> _Operator:
        """The operator on a sub-box of the domain: exactly the block ``A[box, box]``, on a smaller FFT grid.

        Every kernel (and, for the spectrally coupled bins, every cross-kernel with spectrum
        ``sqrt(K_c) sqrt(K_d)``) is a circulant on this operator's padded grid. Its real-space values at the
        offsets that occur within the box are sampled and wrapped into the box's own zero-padded grid, where the
        circular convolution is the linear one (Liu et al. 2000): the restriction reproduces the whole-domain
        operator's coupling between the box's elements exactly, whatever the bins, the thickness smoothing or
        the coupling are. (Building a new operator from the box's own thickness would smooth the thickness and
        choose the bins differently near the box's edges: a different model, 1 % apart in L2 on a layered case.)
        """
        return _RestrictedOperator(self, box)

    def _spectra64(self) -> list[np.ndarray]:
        """The bins' kernel spectra in the highest precision available."""
        return self._kernels.get("float64", self._kernels[self.dtype])


class _RestrictedOperator(_Operator):
    """:meth:`_Operator.restrict`: ``A[box, box]`` applied as ``sum_cd W_d K_cd * (W_c p)`` on the box's grid."""

    def __init__(self, parent: _Operator, box: tuple[slice, slice]) -> None:
        ny, nx = parent.shape
        r0, r1, _ = box[0].indices(ny)
        c0, c1, _ = box[1].indices(nx)
        shape = (r1 - r0, c1 - c0)
        self.shape = shape
        self.e_star = parent.e_star
        self.spectral = True
        pad = padded_shape(*shape)
        self.padded = [pad]
        self.base_w = [w[box] for w in parent.base_w]
        bins = [i for i, w in enumerate(self.base_w) if np.any(w)]
        spectra = parent._spectra64()
        cross = {}
        for a, c in enumerate(bins):
            for d in bins[a:] if parent.spectral else [c]:
                full = parent.padded[0] if parent.spectral else parent.padded[c]
                spec = spectra[c] * spectra[d] if parent.spectral else spectra[c]
                # even kernels: real spectra
                cross[(c, d)] = circulant_on_domain_ft(spec, full, *shape, pad, "float64").real
        self._kernels = {
            "float64": cross,
            "float32": {key: k.astype(np.float32) for key, k in cross.items()},
        }
        self.dtype = parent.dtype
        self.kernels = self._kernels[self.dtype]
        self._threaded = int(np.prod(pad)) >= THREADED_FFT_MIN_ELEMENTS
        self.w = list(self.base_w)
        self._update_used()

    def __call__(self, p: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape)
        if not self.used:
            return out
        pad, w, k = self.padded[0], self.w, self.kernels
        f = {c: padded_rfft2((w[c] * p).astype(self.dtype), pad, self.workers) for c in self.used}
        for d in self.used:
            acc = sum(f[c] * k[(min(c, d), max(c, d))] for c in self.used if (min(c, d), max(c, d)) in k)
            out += w[d] * cropped_irfft2(acc, pad, self.shape, self.workers)
        return out


def _interp_weights(t: np.ndarray, bins: np.ndarray) -> list[np.ndarray]:
    """Linear interpolation weights in log-thickness between neighbouring bins (sum to 1)."""
    if len(bins) == 1:
        return [np.ones_like(t)]
    lt = np.log(np.clip(t, bins[0], bins[-1]))
    lb = np.log(bins)
    idx = np.clip(np.searchsorted(lb, lt) - 1, 0, len(bins) - 2)
    frac = (lt - lb[idx]) / (lb[idx + 1] - lb[idx])
    phi = [np.zeros_like(t) for _ in bins]
    for b in range(len(bins) - 1):
        m = idx == b
        phi[b][m] += 1 - frac[m]
        phi[b + 1][m] += frac[m]
    return phi


#: Solve the stiffened problem in the diagonally preconditioned variables ``q = S^1/2 p``
#: (:func:`_pk_cg_scaled`), so that bottomed-out elements do not wreck the conditioning of CG.
PRECONDITION = True
#: Solve linear problems on the sub-box where contact is possible and check the gap on the whole window
#: (:func:`_solve_reduced`); exact, since the result is verified.
DOMAIN_REDUCTION = True
#: Smallest window (elements) for which the domain reduction is tried.
REDUCTION_MIN_ELEMENTS = 96 * 96
#: The sub-box holds every element whose initial gap is below this multiple of the estimated approach. [-]
REDUCTION_GAP_FACTOR = 1.5
#: Element count of the coarse grid that estimates the approach.
REDUCTION_COARSE_ELEMENTS = 64 * 64


def _coarse_problem(
    c: int,
    h: np.ndarray,
    thickness: np.ndarray | None,
    modulus: np.ndarray,
    spacing_mm: float,
    poisson: float,
    top_layer: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray | None, _Operator]:
    """The same contact problem on every ``c``-th element: its gap, thickness and (single-precision) operator."""
    tc = None if thickness is None else thickness[::c, ::c]
    hc = h[::c, ::c]
    return hc, tc, _Operator(hc.shape, spacing_mm * c, modulus[::c, ::c], tc, poisson, "float32", top_layer)


def _solve_reduced(
    op: _Operator,
    h: np.ndarray,
    load_kpa_mm2: float,
    cell: float,
    spacing_mm: float,
    modulus: np.ndarray,
    thickness: np.ndarray | None,
    poisson: float,
    dtype: str,
    tol: float,
    max_iter: int,
    p0: np.ndarray | None,
    top_layer: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, float, int, bool] | None:
    """Linear contact solved on the sub-box where contact is possible, verified on the whole window.

    Contact can only occur where the initial gap is smaller than the body's approach. A coarse-grid solve
    estimates the approach; the box around every element with ``h < REDUCTION_GAP_FACTOR * approach`` (plus a
    margin) is solved at full resolution on its own, smaller FFT grid; then the displacement of that pressure
    is computed on the whole window and the gap checked there. If the gap is non-negative everywhere outside
    the box, the box solution solves the full problem (zero pressure and open gap outside, the complementarity
    conditions inside); otherwise ``None`` is returned and the caller solves the whole window. Returns
    ``(p, u, approach, iterations, converged)`` on the whole window.
    """
    ny, nx = h.shape
    if ny * nx < REDUCTION_MIN_ELEMENTS:
        return None
    c = max(1, int(np.sqrt(ny * nx / REDUCTION_COARSE_ELEMENTS)))
    hc, _, op_c = _coarse_problem(c, h, thickness, modulus, spacing_mm, poisson, top_layer)
    try:
        _, _, appr_c, it_c, _ = _pk_cg(op_c, hc, load_kpa_mm2, cell * c * c, None, 1e-3, max_iter)
    except InputError:  # the coarse grid lost the contact: no estimate, solve the whole window
        return None
    near = h < REDUCTION_GAP_FACTOR * appr_c
    if not near.any():
        return None
    sb = _bounding_box(near, max(4, 2 * c))
    if (sb[0].stop - sb[0].start) * (sb[1].stop - sb[1].start) > 0.6 * ny * nx:
        return None  # too little to gain
    op_b = op.restrict(sb)
    op_b.set_precision("float32" if MIXED_PRECISION else dtype)
    pb0 = None if p0 is None else p0[sb]
    pb, _, appr, it, conv = _pk_cg(
        op_b, h[sb], load_kpa_mm2, cell, pb0, tol, max_iter, dtype if MIXED_PRECISION else None
    )
    p = np.zeros_like(h)
    p[sb] = pb
    op.set_precision(dtype)
    u = op(p)
    g = h + u - appr
    outside = np.ones(h.shape, dtype=bool)
    outside[sb] = False
    if np.any(g[outside] < -1e-6 * max(appr, 1e-12)):
        return None  # contact would reach beyond the box: solve the whole window
    return p, u, appr, it_c + it, conv


def _pk_cg(
    op: _Operator,
    h: np.ndarray,
    load_kpa_mm2: float,
    cell: float,
    p0: np.ndarray | None,
    tol: float,
    max_iter: int,
    refine_dtype: str | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """Polonsky & Keer (1999) constrained CG. Returns (p, u, approach, iterations, converged).

    ``h`` is the initial gap (finite on the active domain); ``load_kpa_mm2`` the total load as sum(p)*cell.
    With ``refine_dtype``, the iteration starts with the operator's present (single) precision and switches to
    ``refine_dtype`` once the relative change falls below :data:`SINGLE_PRECISION_TOL` (mixed precision: the
    early iterations, which move the pressure by far more than single-precision round-off, cost half as much).
    With ``weights`` ``c``, the load constraint is ``sum(c p) * cell = load`` and the gap's Lagrange multiplier
    (the approach) enters as ``approach * c``: the form that a diagonally scaled problem takes
    (:func:`_pk_cg_scaled`); ``None`` is ``c = 1``.
    """
    n_total = h.size
    c = weights
    if p0 is None or not np.any(p0 > 0):
        # start on the elements closest to contact
        near = h <= np.quantile(h, min(1.0, max(0.02, 50.0 / n_total)))
        p = np.where(near, 1.0, 0.0)
    else:
        p = np.clip(p0, 0.0, None)
    p *= load_kpa_mm2 / ((p if c is None else c * p).sum() * cell)
    t = np.zeros_like(p)
    g_old = 1.0
    delta = 0
    u = op(p)
    converged = False
    it = 0

    def project(v: np.ndarray, ic: np.ndarray) -> np.ndarray:
        """Remove the multiplier of the load constraint over the contact set ``ic``."""
        if c is None:
            return v - v[ic].mean()
        cc = c[ic]
        return v - (float((cc * v[ic]).sum()) / float((cc * cc).sum())) * c

    while it < max_iter:
        it += 1
        ic = p > 0
        g = project(u + h, ic)
        G = float((g[ic] ** 2).sum())
        t = np.where(ic, g + delta * (G / g_old) * t, 0.0)
        g_old = G if G > 0 else 1.0
        r_full = op(t)
        r = project(r_full, ic)
        denom = float((r[ic] * t[ic]).sum())
        tau = float((g[ic] * t[ic]).sum()) / denom if denom != 0 else 0.0
        p_old = p
        p = p - tau * t
        clipped = bool(np.any(p < 0))
        p[p < 0] = 0.0
        iol = (p == 0) & (g < 0)
        if np.any(iol):
            delta = 0
            p[iol] -= tau * g[iol]
        else:
            delta = 1
        s = (p if c is None else c * p).sum()
        if s <= 0:
            raise InputError("the contact solver lost all contact; check the gap and load")
        factor = load_kpa_mm2 / (s * cell)
        p *= factor
        if clipped or delta == 0 or not INCREMENTAL_U or it % U_REFRESH_ITERATIONS == 0:
            u = op(p)
        else:
            # no element left or joined the contact set: p is a linear update of the previous iterate, and so is
            # its displacement (saves one operator application; refreshed every U_REFRESH_ITERATIONS)
            u = (u - tau * r_full) * factor
        dp = np.abs(p - p_old)
        err = float((dp if c is None else c * dp).sum() * cell / load_kpa_mm2)
        if refine_dtype is not None and op.dtype != refine_dtype and err < max(tol, SINGLE_PRECISION_TOL):
            op.set_precision(refine_dtype)  # continue the same iteration in full precision
            u = op(p)
            continue
        if err < tol:
            converged = True
            break
    ic = p > 0
    v = (u + h)[ic]
    if c is None:
        approach = float(v.mean())
    else:
        cc = c[ic]
        approach = float((cc * v).sum() / (cc * cc).sum())
    return p, u, approach, it, converged


def _pk_cg_scaled(
    op: _Operator,
    scale: np.ndarray,
    h: np.ndarray,
    load_kpa_mm2: float,
    cell: float,
    p0: np.ndarray | None,
    tol: float,
    max_iter: int,
    refine_dtype: str | None = None,
) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """Constrained CG for the compliance ``S^1/2 A S^1/2`` (``S = diag(scale)``), diagonally preconditioned.

    Bottomed-out elements have scalings down to 1e-6, so the scaled operator is badly conditioned and CG
    needs thousands of iterations. With ``q = S^1/2 p`` the energy ``p^T S^1/2 A S^1/2 p`` becomes ``q^T A q``
    (the unscaled, well-conditioned operator), the gap becomes ``S^-1/2 g`` (same sign, so the same
    complementarity), ``p >= 0`` becomes ``q >= 0`` and the load ``sum(S^-1/2 q) = load``: the weighted form of
    :func:`_pk_cg`. Returns ``(p, u, approach, iterations, converged)`` in the original variables, with
    ``u = S^1/2 A q``. The operator's own scaling is reset to 1.
    """
    sq = np.sqrt(scale)
    op.set_scaling(np.ones_like(scale))
    q0 = None if p0 is None else p0 * sq
    q, uq, appr, it, conv = _pk_cg(op, h / sq, load_kpa_mm2, cell, q0, tol, max_iter, refine_dtype, 1.0 / sq)
    return q / sq, uq * sq, appr, it, conv


def _pk_cg_displacement(
    op: _Operator, b: np.ndarray, q0: np.ndarray | None, tol: float, max_iter: int, refine_dtype: str | None = None
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Displacement-controlled constrained CG: ``q >= 0``, ``A q - b >= 0``, ``q (A q - b) = 0``.

    The bound-constrained quadratic program ``min q^T A q / 2 - b^T q`` solved by the displacement-controlled
    variant of Polonsky & Keer (1999): conjugate directions on the elements in contact, restarted when an
    element joins. Returns ``(q, A q, iterations, converged)``; the stopping test is the relative (L1) change of
    ``q``.
    """
    if not np.any(b > 0):  # nothing is pressed: no contact
        return np.zeros_like(b), np.zeros_like(b), 0, True
    q = np.zeros_like(b) if q0 is None else np.clip(q0, 0.0, None)
    if not np.any(q > 0):
        q = np.where(b > 0, b * 1e-6, 0.0)  # tiny start on the elements that must be pressed
    v = op(q)
    t = np.zeros_like(q)
    g_old, delta, it, converged = 1.0, 0, 0, False
    while it < max_iter:
        it += 1
        g = v - b
        ic = q > 0
        G = float((g[ic] ** 2).sum())
        t = np.where(ic, g + delta * (G / g_old) * t, 0.0)
        g_old = G if G > 0 else 1.0
        r = op(t)
        denom = float((r[ic] * t[ic]).sum())
        tau = float((g[ic] * t[ic]).sum()) / denom if denom > 0 else 0.0
        q_old = q
        q = q - tau * t
        clipped = bool(np.any(q < 0))
        q[q < 0] = 0.0
        iol = (q == 0) & (g < 0)
        if np.any(iol):
            delta = 0
            q[iol] -= tau * g[iol] if tau > 0 else g[iol] * 1e-6
        else:
            delta = 1
        if clipped or delta == 0 or it % U_REFRESH_ITERATIONS == 0:
            v = op(q)
        else:
            v = v - tau * r
        qs = float(q.sum())
        err = float(np.abs(q - q_old).sum()) / max(qs, 1e-300)
        if refine_dtype is not None and op.dtype != refine_dtype and err < max(tol, SINGLE_PRECISION_TOL):
            op.set_precision(refine_dtype)
            v = op(q)
            continue
        if err < tol and qs > 0:
            converged = True
            break
    return q, v, it, converged


#: How the bottoming-out (stiffening) problem is solved: ``"approach"`` - as a one-dimensional root in the
#: body's approach, each step a convex displacement-controlled program (:func:`_solve_stiffening_by_approach`,
#: exact to the solver tolerance); ``"fixed-point"`` - outer fixed-point iterations on the compliance scaling
#: with preconditioned load-controlled inner solves (to ``nonlinear_tol``; kept for comparison).
STIFFENING_SOLVER = "approach"
#: Brent's method works on log(force / load) (nearly linear in the approach where the tissue bottoms out, so
#: fewer programs) rather than force / load - 1.
LOG_RESIDUAL = True
#: First bracketing step around a warm start's approach, in units of that approach (from the lowest gap). [-]
WARM_BRACKET_STEP = 0.01
#: First step below the linear approach when bracketing the stiffened one, in units of the linear approach
#: (measured from the lowest gap). [-]
BRACKET_STEP = 0.05


def _solve_stiffening_by_approach(
    op: _Operator,
    h: np.ndarray,
    columns: _Columns,
    load_kpa_mm2: float,
    cell: float,
    p0: np.ndarray | None,
    scale0: np.ndarray | None,
    tol: float,
    max_iter: int,
    dtype: str,
    force_tol: float,
    approach0: float | None = None,
    slope0: float | None = None,
) -> tuple[np.ndarray, np.ndarray, float, int, bool, np.ndarray, float | None]:
    """The bottoming-out problem solved as a one-dimensional root in the approach.

    With ``q = S^1/2 p`` and ``v = A q`` (unscaled operator), the indentation is ``u = S^1/2 v`` with
    ``s = 1 / f_cal(u / t)`` element by element. In contact the indentation is fixed by the approach,
    ``u = approach - h``, so there the scaling is known; elsewhere ``u`` grows monotonically with ``v``, so the
    gap condition ``u >= approach - h`` is ``v >= b`` with ``b = (approach - h) sqrt(f_cal((approach - h)/t))``.
    For a given approach the problem is therefore the convex bound-constrained quadratic program
    ``q >= 0, A q >= b, q (A q - b) = 0`` (:func:`_pk_cg_displacement`), and the force it carries,
    ``sum(q sqrt(f_cal)) cell``, grows with the approach: the approach that carries the load is bracketed (around
    ``approach0``, e.g. a coarse grid's estimate, or the one a warm start implies, or else down from the linear
    solution's approach) and found by Brent's method on ``log(force / load)`` (:data:`LOG_RESIDUAL`), each
    program warm-started from the last. With ``slope0``, ``d ln(force) / d approach`` of a neighbouring solve
    (a warm start's), the first step from the starting approach is a Newton step with it (10 % long, so that
    it usually brackets the root) instead of a fixed fraction. No fixed-point iteration on the scaling is
    needed. Returns ``(p, u, approach, iterations, converged, scale, slope)``, ``slope`` being
    ``d ln(force) / d approach`` from the two evaluations nearest the root (``None`` if there were fewer).
    """
    op.set_scaling(np.ones_like(h))
    refine = dtype if MIXED_PRECISION else None
    iters = 0
    q = None if p0 is None or scale0 is None else p0 * np.sqrt(scale0)

    def force(appr: float, tol_: float) -> float:
        nonlocal q, iters
        r = appr - h
        fs = np.sqrt(columns.field_stiffening(np.clip(r, 0.0, None) / columns.t))
        b = r * fs
        op.set_precision("float32" if MIXED_PRECISION else dtype)
        q_new, v, it, conv = _pk_cg_displacement(
            op, b, q, tol_, max_iter, refine if tol_ < SINGLE_PRECISION_TOL else None
        )
        if np.any(q_new > 0):  # keep the last contact as the warm start when this approach has none
            q = q_new
        iters += it
        state["v"], state["conv"], state["fs"] = v, conv, fs
        return float((q_new * fs).sum() * cell)

    state: dict = {}
    op.set_precision("float32")
    if approach0 is not None:
        # an estimate of the approach (from a coarse grid): a narrow bracket around it
        appr0, step0 = float(approach0), WARM_BRACKET_STEP
    elif q is not None and np.any(q > 0):
        # warm start: the approach the previous solution implies on the present gap (mean of h + u over its
        # contact), and a narrow bracket around it
        ic = q > 0
        u0 = np.sqrt(scale0) * op(q)
        appr0, step0 = float((h + u0)[ic].mean()), WARM_BRACKET_STEP
    else:
        # linear load-controlled solve: its approach bounds the stiffened one from above
        p_lin, _, appr0, it, _ = _pk_cg(op, h, load_kpa_mm2, cell, p0, 1e-4, max_iter)
        iters += it
        q, step0 = p_lin, BRACKET_STEP
    # Brent's method on the approach (bracket: the lowest gap carries no load, the linear approach too much),
    # each evaluation warm-started and as accurate as the present force error needs; it stops as soon as the
    # force is within force_tol of the load
    last = {"err": 1.0, "appr": appr0, "tol": np.inf}

    class _Done(Exception):
        pass

    seen: dict[float, float] = {}

    def residual(appr: float) -> float:
        # remembered, so that Brent's first look at the bracket ends sees the signs that made the bracket (a
        # re-evaluation near the root at another tolerance could flip them)
        if appr in seen:
            return seen[appr]
        tol_ = max(tol, min(1e-3, 0.02 * last["err"]))
        ratio = force(appr, tol_) / load_kpa_mm2
        f = np.log(max(ratio, 1e-12)) if LOG_RESIDUAL else ratio - 1.0
        seen[appr] = f
        last["err"], last["appr"], last["tol"] = abs(ratio - 1.0), appr, tol_
        if abs(ratio - 1.0) < force_tol:
            raise _Done
        return f

    converged = True
    try:
        f_hi = residual(appr0)
        h_min = float(h.min())
        step = step0 * max(appr0 - h_min, 1e-6)
        if slope0 is not None and slope0 > 0 and LOG_RESIDUAL:
            step = min(step, max(1.1 * abs(f_hi) / slope0, 1e-4 * max(appr0 - h_min, 1e-6)))
        if f_hi < 0:  # below the load (a warm start's guess; never the linear bound): step up until above
            lo, hi = appr0, appr0 + step
            while residual(hi) < 0:
                lo, hi, step = hi, hi + 2 * step, 2 * step
        else:
            # above the load (the linear approach always is: stiffening only adds force): step down
            hi = appr0
            lo = max(h_min, hi - step)
            while lo > h_min and residual(lo) > 0:
                hi, step = lo, 2 * step
                lo = max(h_min, hi - step)
        # xtol: 1e-8 of the approach moves the force by ~1e-7, below what the programs resolve (a tighter one let
        # Brent creep along one side of a root blurred by the programs' own tolerance)
        optimize.brentq(residual, lo, hi, xtol=1e-8 * max(1.0, abs(hi)), rtol=4 * np.finfo(float).eps, maxiter=100)
    except _Done:
        pass
    except RuntimeError:
        converged = False
    appr = last["appr"]
    # final accurate program at the chosen approach (unless the last one was); indentation and scaling of every
    # element from v; the load balance made exact by a rescaling of the order of force_tol
    if last["tol"] > tol:
        force(appr, tol)
    if columns.is_nonlocal:
        # the averaged factors of the tool's indentation at this approach: exact in contact, where u is that
        # indentation. A column outside the contact that its neighbours drag down stiffens by its own strain where
        # that is stiffer (the local law, as without the averaging): next to a column squeezed onto a narrow ridge
        # u = v / sqrt(f) alone could exceed the tissue's thickness. Its factor v / u keeps u = S^1/2 A q exact.
        v = state["v"]
        fs = state["fs"].copy()
        u = v / fs
        free = (q <= 0) & (v > 0)
        if free.any():
            u_loc = _indentation_from_unscaled(np.where(free, v, 0.0), columns)
            own = free & (u_loc < u)
            u[own] = np.maximum(u_loc[own], appr - h[own])
            fs[own] = v[own] / u[own]
    else:
        u = _indentation_from_unscaled(state["v"], columns)
        fs = np.sqrt(columns.stiffening(u / columns.t))
    p = q * fs
    p *= load_kpa_mm2 / max(p.sum() * cell, 1e-300)
    # d ln(force) / d approach from the evaluation nearest the root and the next nearest at least 1e-5 of the
    # approach away (Brent's last steps are ~1e-8 apart, where the programs' own tolerance is the difference)
    pts = sorted(seen.items(), key=lambda kv: abs(kv[1]))
    if pts:
        sep = 1e-5 * max(abs(pts[0][0]), 1.0)
        pts = pts[:1] + [kv for kv in pts[1:] if abs(kv[0] - pts[0][0]) > sep][:1]
    slope = None
    if len(pts) == 2:
        lf = [f if LOG_RESIDUAL else np.log(max(1.0 + f, 1e-12)) for _, f in pts]
        slope = float((lf[0] - lf[1]) / (pts[0][0] - pts[1][0]))
        slope = slope if np.isfinite(slope) and slope > 0 else None
    return p, u, appr, iters, converged and state["conv"], np.clip(1.0 / fs**2, 1e-6, 1.0), slope


#: A cold solve under a prescribed roll moment starts its secant on the roll angle at the angle that the same
#: problem has on the coarse grid of :data:`STIFFENING_COARSE_ELEMENTS` elements.
COARSE_ROLL_START = True
#: Element count of the coarse grid (every c-th element) whose stiffened solve estimates the approach for a
#: solve without a warm start (:func:`_coarse_stiffened_start`).
STIFFENING_COARSE_ELEMENTS = 32 * 32


def _coarse_stiffened_start(
    h: np.ndarray,
    thickness: np.ndarray,
    load_kpa_mm2: float,
    cell: float,
    spacing_mm: float,
    modulus: np.ndarray,
    poisson: float,
    max_iter: int,
    top_layer: tuple[float, float] | None = None,
) -> tuple[float, int] | None:
    """Approach of the stiffened problem on a coarser grid: the start of a fine solve without a warm start.

    Every ``c``-th element of the window (``c`` chosen so that about :data:`STIFFENING_COARSE_ELEMENTS` remain)
    forms a coarse problem with the same tissue, solved loosely by :func:`_solve_stiffening_by_approach`. Its
    approach (0.5 % below the fine one on the default back at ``c = 4``) centres the fine solve's first bracket,
    which otherwise starts from the linear solution's approach, far above the stiffened one (the programs there
    have large contacts and are the most expensive). The fine programs start cold: the coarse pressure, repeated
    onto the fine grid, made the first one three times slower. Returns ``(approach, iterations)``, or ``None``
    when the window is too small to coarsen or the coarse grid misses the contact.
    """
    ny, nx = h.shape
    c = int(np.sqrt(ny * nx / STIFFENING_COARSE_ELEMENTS))
    if c < 2:
        return None
    hc, tc, op_c = _coarse_problem(c, h, thickness, modulus, spacing_mm, poisson, top_layer)
    offset = float(hc.min())
    cols = _Columns.build(tc, np.broadcast_to(modulus, h.shape)[::c, ::c], top_layer, spacing_mm * c)
    try:
        _, _, appr, it, _, _, _ = _solve_stiffening_by_approach(
            op_c, hc - offset, cols, load_kpa_mm2, cell * c * c, None, None, 1e-3, max_iter, "float32", 1e-3
        )
    except InputError:
        return None
    return appr + offset, it


def _indentation_from_unscaled(v: np.ndarray, columns: _Columns, n_bisect: int = 50) -> np.ndarray:
    """Indentation ``u`` with ``u sqrt(f_cal(u / t)) = v`` (``u = S^1/2 v``, ``s = 1 / f_cal(u / t)``). [mm]

    The left side grows monotonically with ``u`` and ``f_cal = 1`` below the stiffening onset, so ``u = v``
    there and a vectorised bisection on ``[0, v]`` elsewhere.
    """
    u = np.array(v, dtype=float)
    stiff = v > columns.onset_strain() * columns.t
    if columns.t1 is not None:
        if stiff.any():
            u[stiff] = columns.subset(stiff).indentation(v[stiff], n_bisect)
        return u
    if stiff.any():
        vv, cols = v[stiff], columns.subset(stiff)
        tt = cols.t
        lo, hi = np.zeros_like(vv), vv.copy()
        for _ in range(n_bisect):
            mid = 0.5 * (lo + hi)
            over = mid * np.sqrt(cols.stiffening(mid / tt)) > vv
            hi = np.where(over, mid, hi)
            lo = np.where(over, lo, mid)
        u[stiff] = 0.5 * (lo + hi)
    return u


def solve_contact(
    gap0_mm: np.ndarray,
    grid: Grid,
    load_n: float,
    modulus_kpa: float | np.ndarray,
    thickness_mm: float | np.ndarray | None = None,
    *,
    poisson: float = DEFAULT_POISSON,
    moment_y_nmm: float | None = None,
    roll_deg: float | None = None,
    tol: float = 1e-6,
    max_iter: int = 2000,
    initial: ContactResult | None = None,
    nonlinear: bool = True,
    nonlinear_tol: float = 1e-3,
    max_outer: int = 100,
    dtype: str = "float64",
    top_layer: tuple[float, float] | None = None,
) -> ContactResult:
    """Pressure between a rigid tool and soft tissue over bone for a given load (and roll moment or angle).

    Parameters
    ----------
    gap0_mm : array (ny, nx)
        Initial separation between tool and undeformed skin at zero approach; ``inf`` where there is no
        tool. [mm]
    grid : Grid
        Grid of the arrays (x across the back, 0 on the midline). [mm]
    load_n : float
        Total normal force the tool carries. [N]
    modulus_kpa : float or array
        Young's modulus of the soft-tissue column. [kPa]
    thickness_mm : float or array, optional
        Soft-tissue thickness from skin to bone; ``None`` = homogeneous half-space (no bone). [mm]
    poisson : float
        Poisson's ratio of the tissue. [-]
    moment_y_nmm : float, optional
        Prescribed moment of the contact pressure about the y axis through x = 0, sum(p x dA); the roll
        angle is then solved for. [N mm]
    roll_deg : float, optional
        Prescribed roll angle (default 0 when no moment is given). [degrees]
    tol : float
        Relative change of pressure (L1, normalised by the load) at which CG stops. [-]
    max_iter : int
        Most CG iterations per inner solve.
    initial : ContactResult, optional
        Previous solution on the same grid, used as warm start.
    nonlinear : bool
        Apply the neo-Hookean bottoming-out stiffening (only with a finite thickness).
    nonlinear_tol : float
        Only for ``STIFFENING_SOLVER = "fixed-point"`` (the default solver is exact to ``tol``): relative (L1)
        change of the pressure field between outer (stiffening) iterations at which they stop; the
        pressure-weighted change of the compliance scaling must be below 2 x this and its largest change below
        5 %. Also the tolerance of the first, loose secant on the roll angle under a prescribed moment. [-]
    max_outer : int
        Most outer (stiffening) iterations (fixed-point solver).
    dtype : str
        ``"float64"`` or ``"float32"`` for the FFTs.
    top_layer : (float, float), optional
        ``(thickness_mm, modulus_kpa)`` of a uniform softer top layer (skin and subcutaneous fat) bonded over the
        rest of each tissue column, whose modulus is then ``modulus_kpa``: the layer kernels are those of two
        bonded layers over bone (:func:`~spinerelease.contact.kernels.layered_surface_compliance`). ``None``:
        one material per column. Needs ``thickness_mm``. [mm, kPa]

    Returns
    -------
    ContactResult

    References
    ----------
    Polonsky IA, Keer LM (1999). Wear 231, 206-219. Liu S, Wang Q, Liu G (2000). Wear 243, 101-111.
    """
    citations.use("polonsky1999")
    if dtype == "float32":
        tol = max(tol, 1e-5)  # single precision cannot resolve smaller relative changes
    g0 = np.asarray(gap0_mm, dtype=float)
    if g0.shape != grid.shape:
        raise InputError(f"gap array shape {g0.shape} does not match the grid {grid.shape}")
    if np.any(np.isnan(g0)):
        raise InputError("the gap contains NaN values")
    active = np.isfinite(g0)
    if not active.any():
        raise InputError("the gap is infinite everywhere: the tool does not touch the back window")
    load = check_positive("load", load_n, "N")
    check_range("Poisson's ratio", poisson, 0.0, 0.5)
    if dtype not in ("float64", "float32"):
        raise InputError(f"dtype must be float64 or float32, got {dtype!r}")
    if moment_y_nmm is not None and roll_deg is not None:
        raise InputError("give either a roll moment or a roll angle, not both")
    if moment_y_nmm is not None:
        check_finite("roll moment", moment_y_nmm)
    roll = 0.0 if roll_deg is None else check_range("roll angle", roll_deg, -45, 45, "degrees")
    E = _field("tissue modulus", modulus_kpa, grid.shape, positive=True)
    T = None if thickness_mm is None else _field("tissue thickness", thickness_mm, grid.shape, positive=True)
    if top_layer is not None:
        if T is None:
            raise InputError("a top layer needs the tissue thickness (it lies over the rest of the column)")
        if len(top_layer) != 2:
            raise InputError("top_layer must be (thickness_mm, modulus_kpa)")
        top_layer = (
            check_positive("top layer thickness", top_layer[0], "mm"),
            check_positive("top layer modulus", top_layer[1], "kPa"),
        )
        if poisson >= 0.5:
            raise InputError("the two-layer tissue model needs Poisson's ratio below 0.5 (0.49 by default)")
    check_memory("the contact solve", 4 * grid.nx * grid.ny * 16 * 10)

    # crop to the bounding box of the possible contact (pressure is zero wherever there is no tool)
    sl = _bounding_box(active)
    h0 = np.where(active[sl], g0[sl], np.inf)
    fin = np.isfinite(h0)
    big = float(h0[fin].max() - h0[fin].min()) + 1e3
    h0 = np.where(fin, h0 - h0[fin].min(), big)  # "no tool" = an unreachable gap
    x = grid.x_mm[sl[1]][None, :] * np.ones((h0.shape[0], 1))
    cell = grid.cell_area_mm2
    Ec = E[sl]
    Tc = None if T is None else T[sl]
    op = _Operator(h0.shape, grid.spacing_mm, Ec, Tc, poisson, dtype, top_layer)
    columns = None if Tc is None else _Columns.build(Tc, Ec, top_layer, grid.spacing_mm)
    W = load * 1e3  # N -> kPa mm^2

    p_init = s_init = None
    if initial is not None and moment_y_nmm is not None and np.isfinite(initial.roll_deg):
        roll = float(np.clip(initial.roll_deg, -45.0, 45.0))  # secant on the roll starts from the warm start
    if initial is not None and initial.pressure_kpa.shape == grid.shape:
        p_init = initial.pressure_kpa[sl]
        if initial.compliance_scale is not None and Tc is not None and nonlinear:
            s_init = np.clip(initial.compliance_scale[sl], 1e-6, 1.0)  # warm start of the stiffening too
    slope_init = None if initial is None or s_init is None else initial.log_force_slope_per_mm
    state = {"p": p_init, "iters": 0, "conv": True, "u": None, "approach": 0.0, "scale": s_init, "slope": slope_init}

    def gap_at(roll_d: float) -> np.ndarray:
        """Initial gap on the cropped window at roll angle ``roll_d``, lowest tool point at zero."""
        h = np.where(fin, h0 - np.tan(np.radians(roll_d)) * x, big)
        return h - h[fin].min()

    def solve_at(roll_d: float, frozen: bool = False) -> float:
        h = gap_at(roll_d)
        scale = state["scale"] if state["scale"] is not None else np.ones_like(h)
        op.set_scaling(scale)
        stiffening = nonlinear and Tc is not None and not frozen
        if stiffening and STIFFENING_SOLVER == "approach":
            p0, s0, appr0 = state["p"], state["scale"], None
            if p0 is None:  # no warm start: a coarse solve estimates the approach
                start = _coarse_stiffened_start(h, Tc, W, cell, grid.spacing_mm, Ec, poisson, max_iter, top_layer)
                if start is not None:
                    appr0, it_c = start
                    state["iters"] += it_c
            p, u, appr, it, conv, scale, slope = _solve_stiffening_by_approach(
                op, h, columns, W, cell, p0, s0, tol, max_iter, dtype, max(tol, 1e-6), appr0, state["slope"]
            )
            state["slope"] = slope
            state["iters"] += it
            state.update(p=p, u=u, approach=appr, h=h, scale=scale, conv=conv)
            return float((p * x).sum() * cell * 1e-3)
        scaled = PRECONDITION and nonlinear and Tc is not None

        def cg(tol_: float, refine_: str | None) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
            if scaled:
                return _pk_cg_scaled(op, scale, h, W, cell, state["p"], tol_, max_iter, refine_)
            return _pk_cg(op, h, W, cell, state["p"], tol_, max_iter, refine_)

        inner_tol = max(tol, 1e-3) if stiffening else tol
        prev_step = p_prev = prev_strain = prev_scale = None
        prev_beta = 1.0
        final = not stiffening
        outer_ok = not stiffening
        for _ in range(max_outer + 1 if stiffening else 1):
            cg_tol = tol if final else inner_tol
            # loose solves run in single precision; tight ones start there and refine (MIXED_PRECISION)
            loose = cg_tol >= SINGLE_PRECISION_TOL
            op.set_precision("float32" if loose or MIXED_PRECISION else dtype)
            refine = dtype if not loose and MIXED_PRECISION else None
            p, u, appr, it, conv = cg(cg_tol, refine)
            state["iters"] += it
            state["conv"] = conv  # only the last (full-accuracy) inner solve decides
            state["p"] = p
            if final:
                break
            strain = u / Tc
            beta = 1.0
            if SECANT_EXPONENT and prev_strain is not None:
                ds = np.log(np.maximum(scale, 1e-12) / np.maximum(prev_scale, 1e-12))
                de = np.log(np.maximum(strain, 1e-9) / np.maximum(prev_strain, 1e-9))
                ok = np.abs(ds) > 1e-3
                beta = np.where(ok, np.clip(de / np.where(ok, ds, 1.0), BETA_MIN, 1.0), prev_beta)
            prev_strain, prev_scale, prev_beta = strain, scale, beta
            new = _local_scale_update(scale, strain, exponent=beta, columns=columns)
            # converged when the pressure field no longer moves (relative L1), the scaling under the pressure has
            # settled (pressure-weighted mean within 2 x nonlinear_tol) and nowhere changes by more than 5 %
            # (relative: bottomed-out elements have small scalings that an absolute test would ignore)
            change_s = float(np.abs(new / scale - 1.0).max())
            change = float(np.abs(p - p_prev).sum() / p.sum()) if p_prev is not None else 1.0
            p_prev = p.copy()
            rel = np.abs(new / scale - 1.0)
            change_w = float((p * rel).sum() / p.sum())  # pressure-weighted change of the scaling
            if change < nonlinear_tol and change_w < 2 * nonlinear_tol and change_s < 0.05:
                # converged on the stiffening: one final solve at full accuracy with this scaling
                outer_ok = final = True
                if inner_tol <= tol:
                    break
                continue
            inner_tol = max(tol, min(inner_tol, INNER_TOL_FACTOR * max(change, change_s)))
            step = np.log(new / scale)
            scale, prev_step = _extrapolated_scale(scale, step, prev_step), step
            if not scaled:
                op.set_scaling(scale)
        state["conv"] = state["conv"] and outer_ok
        if not outer_ok:
            # no convergence of the stiffening: still finish with an accurate solve for the last scaling
            op.set_precision("float32" if MIXED_PRECISION else dtype)
            p, u, appr, it, conv = cg(tol, dtype if MIXED_PRECISION else None)
            state["iters"] += it
            state["p"] = p
        state["u"], state["approach"], state["h"], state["scale"] = u, appr, h, scale
        return float((p * x).sum() * cell * 1e-3)

    reduced = None
    if moment_y_nmm is None and (Tc is None or not nonlinear) and DOMAIN_REDUCTION:
        h_r = gap_at(roll)
        reduced = _solve_reduced(
            op, h_r, W, cell, grid.spacing_mm, Ec, Tc, poisson, dtype, tol, max_iter, p_init, top_layer
        )
    if reduced is not None:
        p_r, u_r, appr_r, it_r, conv_r = reduced
        state.update(p=p_r, u=u_r, approach=appr_r, h=h_r, iters=it_r, conv=conv_r)
    elif moment_y_nmm is None:
        solve_at(roll)
    else:
        target = float(moment_y_nmm)
        xs = x[fin]
        if not (xs.min() * load < target < xs.max() * load):
            raise InputError(
                f"a roll moment of {target:.0f} N mm cannot be carried by this tool under {load:.0f} N "
                f"(the tool spans x = {xs.min():.0f}..{xs.max():.0f} mm)"
            )
        # secant iteration on the roll angle (the moment is close to linear in tan(roll)), warm-started, first
        # with the stiffening updated at every angle (to the moment's noise level, the stiffening tolerance),
        # then with the converged stiffening frozen, where the moment is smooth in the angle; falls back to
        # bracketing + Brent's method if the first secant does not settle
        scale_m = max(abs(target), 1e-3 * load * float(np.abs(xs).max()))

        def secant(r0: float, step: float, rtol: float, frozen: bool) -> tuple[float, bool]:
            m0 = solve_at(r0, frozen) - target
            if abs(m0) < rtol * scale_m:
                return r0, True
            r1 = r0 + (step if m0 < 0 else -step)
            m1 = solve_at(r1, frozen) - target
            for _ in range(12):
                if abs(m1) < rtol * scale_m:
                    return r1, True
                if m1 == m0:
                    break
                r2 = float(np.clip(r1 - m1 * (r1 - r0) / (m1 - m0), -45.0, 45.0))
                r0, m0 = r1, m1
                r1, m1 = r2, solve_at(r2, frozen) - target
            return r1, False

        stiff = nonlinear and Tc is not None
        first_step = 2.0 if initial is None else 0.25
        # a warm start carrying (nearly) this moment has the better angle; otherwise (a cold start, or a warm
        # start from another posture, e.g. lying back before a leg is extended) the roll angle of the same
        # problem on a coarse grid starts the secant close by
        near = initial is not None and abs(initial.moment_y_nmm - target) < 0.02 * scale_m
        if not near and stiff and COARSE_ROLL_START:
            c = int(np.sqrt(h0.size / STIFFENING_COARSE_ELEMENTS))
            if c >= 2:
                sub = (slice(None, None, c), slice(None, None, c))
                gc = Grid(
                    len(range(0, grid.nx, c)), len(range(0, grid.ny, c)), grid.spacing_mm * c, grid.x0_mm, grid.y0_mm
                )
                try:
                    coarse = solve_contact(
                        g0[sub],
                        gc,
                        load,
                        E[sub],
                        T[sub],
                        poisson=poisson,
                        moment_y_nmm=target,
                        tol=1e-4,
                        max_iter=max_iter,
                        nonlinear_tol=1e-3,
                        dtype="float32",
                        top_layer=top_layer,
                    )
                    roll, first_step = coarse.roll_deg, 0.25
                    state["iters"] += coarse.iterations
                    # a warm start from another posture is a poor start at this angle: the first solve starts
                    # cold (from its own coarse approach)
                    state["p"] = state["scale"] = None
                except InputError:
                    pass  # the coarse grid cannot carry this moment: start from the given angle
        # the exact stiffening solver makes the moment a smooth function of the angle: one secant to the final
        # tolerance; the fixed-point solver is converged only to nonlinear_tol, so its secant stops there and
        # a second one runs with the stiffening frozen
        exact = STIFFENING_SOLVER == "approach"
        r1, done = secant(roll, first_step, max(1e-4, 10 * nonlinear_tol) if stiff and not exact else 1e-4, False)
        if not done:
            lo, hi = -45.0, 45.0
            if (solve_at(lo) - target) > 0 or (solve_at(hi) - target) < 0:
                raise InputError("no roll angle within 45 degrees balances the requested roll moment")
            r1 = optimize.brentq(lambda r: solve_at(r) - target, lo, hi, xtol=1e-3, maxiter=60)
            solve_at(r1)
        if stiff and not exact:
            r1, done = secant(r1, 0.02, 1e-4, True)
            state["conv"] = state["conv"] and done
        roll = r1

    p_c, u_c, h_c = state["p"], state["u"], state["h"]
    P = np.zeros(grid.shape)
    P[sl] = p_c
    U = np.zeros(grid.shape)
    U[sl] = u_c
    gap = np.full(grid.shape, np.inf)
    gc = np.clip(h_c + u_c - state["approach"], 0.0, None)
    gc[p_c > 0] = 0.0
    gap[sl] = np.where(fin, gc, np.inf)
    total = float(P.sum() * cell * 1e-3)
    if total > 0:
        cx = float((P.sum(axis=0) * grid.x_mm).sum() / P.sum())
        cy = float((P.sum(axis=1) * grid.y_mm).sum() / P.sum())
    else:
        cx = cy = float("nan")
    # approach of the body relative to first touch of the original (unrolled) gap
    scale_full = None
    if state["scale"] is not None:
        scale_full = np.ones(grid.shape)
        scale_full[sl] = state["scale"]
    return ContactResult(
        grid=grid,
        pressure_kpa=P,
        gap_mm=gap,
        contact=P > 0,
        displacement_mm=U,
        approach_mm=float(state["approach"]),
        roll_deg=float(roll),
        total_force_n=total,
        center_of_force_mm=(cx, cy),
        iterations=int(state["iters"]),
        converged=bool(state["conv"]),
        compliance_scale=scale_full,
        log_force_slope_per_mm=state["slope"],
    )


def _field(name: str, value: float | np.ndarray, shape: tuple[int, int], positive: bool) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        a = np.full(shape, float(a))
    if a.shape != shape:
        raise InputError(f"{name} shape {a.shape} does not match the grid {shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains NaN or infinite values")
    if positive and np.any(a <= 0):
        raise InputError(f"{name} must be positive everywhere")
    return a


def label_forces_n(pressure_kpa: np.ndarray, labels: np.ndarray, cell_area_mm2: float) -> dict[int, float]:
    """Force carried by each integer label present in ``labels`` (regions, peaks). [N]"""
    lab = np.asarray(labels)
    if lab.shape != np.shape(pressure_kpa):
        raise InputError(f"label map shape {lab.shape} does not match pressure map {np.shape(pressure_kpa)}")
    flat = lab.ravel().astype(np.int64)
    if flat.size and flat.min() < 0:
        raise InputError("labels must be non-negative integers")
    sums = np.bincount(flat, weights=np.asarray(pressure_kpa, dtype=float).ravel()) * cell_area_mm2 * 1e-3
    return {int(k): float(sums[k]) for k in np.unique(flat)}


def region_forces_n(result: ContactResult, labels: np.ndarray) -> dict[int, float]:
    """Force carried by each integer label (regions, peaks) of ``labels`` for a contact result. [N]"""
    return label_forces_n(result.pressure_kpa, labels, result.grid.cell_area_mm2)
