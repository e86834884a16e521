"""Influence kernels of the boundary-element contact model (surface displacement per unit pressure).

Two elastic foundations:

* the homogeneous half-space, with Love's (1929) closed-form displacement under uniform pressure on a
  rectangular element, evaluated at element centres and convolved without periodic images by zero padding
  to twice the domain (Hockney 1970; Liu, Wang & Liu 2000);
* an elastic layer of thickness ``h`` bonded to a rigid base (bone) with a frictionless top surface, whose
  surface compliance in Fourier space is known in closed form (Carbone & Mangialardi 2008, eq. A.30; the same
  expression as ContactMechanics' ``thickness`` option). Its Green's function decays over a few layer
  thicknesses, so a periodic evaluation on a grid padded by several thicknesses is free of image effects.

All kernels are returned in Fourier space (``rfft2`` layout) for a padded grid; :func:`kernel_cache_info`
reports cache use. Units: lengths in mm, moduli in kPa, so displacement [mm] = kernel [mm/kPa] * pressure [kPa].
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft as sfft

from .. import citations
from ..errors import InputError


def contact_modulus_kpa(modulus_kpa: float, poisson: float) -> float:
    """Plane-strain (contact) modulus ``E* = E / (1 - nu^2)``. [kPa]

    References
    ----------
    Johnson KL (1985). Contact Mechanics, Cambridge University Press, section 3.9.
    """
    return float(modulus_kpa) / (1.0 - float(poisson) ** 2)


def _corner(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Antiderivative F with d2F/dXdY = 1/sqrt(X^2+Y^2) (X, Y never zero on element-centre offsets)."""
    r = np.sqrt(X * X + Y * Y)
    return X * np.log(Y + r) + Y * np.log(X + r)


def love_displacement(x_mm: np.ndarray, y_mm: np.ndarray, a_mm: float, b_mm: float, e_star_kpa: float) -> np.ndarray:
    """Surface displacement of a half-space under unit uniform pressure on a rectangle. [mm per kPa]

    Parameters
    ----------
    x_mm, y_mm : array
        Position relative to the rectangle centre. [mm]
    a_mm, b_mm : float
        Half side lengths of the rectangle along x and y. [mm]
    e_star_kpa : float
        Contact modulus E/(1-nu^2). [kPa]

    Notes
    -----
    ``u = 1/(pi E*) * integral over the rectangle of 1/r``, evaluated exactly as a signed sum of corner
    antiderivatives.

    References
    ----------
    Love AEH (1929). The stress produced in a semi-infinite solid by pressure on part of the boundary.
    Phil Trans R Soc A 228, 377-420. Johnson KL (1985). Contact Mechanics, eq. (3.25).
    """
    citations.use("love1929")
    X1, X2 = x_mm + a_mm, x_mm - a_mm
    Y1, Y2 = y_mm + b_mm, y_mm - b_mm
    s = _corner(X1, Y1) - _corner(X1, Y2) - _corner(X2, Y1) + _corner(X2, Y2)
    return s / (np.pi * e_star_kpa)


def padded_shape(ny: int, nx: int, extra_mm: float = 0.0, spacing_mm: float = 1.0) -> tuple[int, int]:
    """Padded FFT grid for a non-periodic convolution: at least twice the domain plus ``extra_mm``.

    Each side is the next fast FFT length, except that powers of two of 256 and more are replaced by the next
    fast length above them: the column transforms of a power-of-two grid stride through memory by a power of
    two and thrash the cache (double precision, 512^2: 6.5 ms per pruned convolution vs 1.9 ms at 540^2,
    ``benchmarks/contact.py``).
    """
    extra = int(np.ceil(extra_mm / spacing_mm))

    def side(n: int) -> int:
        m = sfft.next_fast_len(n, real=True)
        return sfft.next_fast_len(m + 1, real=True) if m >= 256 and m & (m - 1) == 0 else m

    return (side(2 * ny + extra), side(2 * nx + extra))


@lru_cache(maxsize=32)
def halfspace_kernel_ft(
    ny: int, nx: int, shape: tuple[int, int], spacing_mm: float, e_star_kpa: float, dtype: str = "float64"
) -> np.ndarray:
    """Fourier transform of the Love influence kernel on a zero-padded grid (cached). [mm/kPa]

    The kernel is sampled at offsets ``-n+1 .. n-1`` and wrapped into the padded array so that the circular
    convolution equals the linear (non-periodic) one on the original ``ny x nx`` domain (Liu et al. 2000).
    """
    citations.use("hockney1970", "liu2000")
    iy, ix = _offsets(ny), _offsets(nx)
    Y, X = np.meshgrid(iy * spacing_mm, ix * spacing_mm, indexing="ij")
    h = spacing_mm / 2
    return _wrapped_ft(love_displacement(X, Y, h, h, e_star_kpa), iy, ix, shape, dtype)


def _offsets(n: int) -> np.ndarray:
    """Element offsets ``0 .. n-1, -n+1 .. -1`` of a kernel acting on ``n`` elements (FFT order)."""
    return np.r_[0:n, -n + 1 : 0]


def _wrapped_ft(values: np.ndarray, iy: np.ndarray, ix: np.ndarray, shape: tuple[int, int], dtype: str) -> np.ndarray:
    """Spectrum of a kernel given at offsets ``(iy, ix)``, wrapped into a zero-padded grid ``shape``."""
    w = np.zeros(shape)
    w[np.ix_(iy % shape[0], ix % shape[1])] = values
    return sfft.rfft2(w.astype(dtype), workers=-1)


@lru_cache(maxsize=64)
def layer_kernel_ft(
    shape: tuple[int, int],
    spacing_mm: float,
    e_star_kpa: float,
    poisson: float,
    thickness_mm: float,
    dtype: str = "float64",
    top_mm: float = 0.0,
    top_kpa: float = 0.0,
) -> np.ndarray:
    """Fourier-space compliance of an elastic layer bonded to a rigid base, for square elements. [mm/kPa]

    Parameters
    ----------
    shape : tuple of int
        Padded (periodic) grid shape ``(My, Mx)``.
    spacing_mm : float
        Element side. [mm]
    e_star_kpa : float
        Contact modulus E/(1-nu^2) of the layer. [kPa]
    poisson : float
        Poisson's ratio of the layer (<= 0.5). [-]
    thickness_mm : float
        Layer thickness. [mm]
    dtype : str
        Precision of the returned spectrum.
    top_mm, top_kpa : float
        A softer top layer (skin and fat) of this thickness and Young's modulus, bonded over the rest of the
        column (``thickness_mm - top_mm`` of modulus ``E = E*(1 - nu^2)``); 0: one layer. Its compliance comes
        from :func:`layered_surface_compliance`, interpolated (cubic in log-log) from a table of
        :data:`LAYER_TABLE_POINTS` wavenumbers. [mm, kPa]

    Notes
    -----
    Surface stiffness of the layer at wavenumber k (rad/mm), frictionless top, bonded bottom
    (Carbone & Mangialardi 2008, eq. A.30)::

        S(k) = E*/2 k (kappa cosh 2kh + 2 (kh)^2 + c) / (kappa sinh 2kh - 2kh),
        kappa = 3 - 4 nu,  c = 4 nu (2 nu - 3) + 5.

    For kh -> infinity this tends to the half-space E* k / 2; for kh -> 0 and nu = 1/2 to
    3 E* / (4 k^2 h^3), i.e. the thin incompressible layer ``u = -(h^3 / 3 mu) laplacian(p)`` (Jaffar 1989).
    The k = 0 term is the uniaxial-strain compliance ``h (1+nu)(1-2nu) / (E (1-nu))`` (zero when
    incompressible). Element shape: uniform pressure over the square element (sinc^2 factor) and
    displacement sampled at its centre.

    References
    ----------
    Carbone G, Mangialardi L (2008). Analysis of the adhesive contact of confined layers by using a Green's
    function approach. J Mech Phys Solids 56, 684-706.
    Jaffar MJ (1989). Asymptotic behaviour of thin elastic layers bonded and unbonded to a rigid foundation.
    Int J Mech Sci 31, 229-235.
    """
    citations.use("carbone2008", "jaffar1989")
    My, Mx = shape
    ky = 2 * np.pi * np.fft.fftfreq(My, spacing_mm)
    kx = 2 * np.pi * sfft.rfftfreq(Mx, spacing_mm)
    KY, KX = np.meshgrid(ky, kx, indexing="ij")
    k = np.sqrt(KX**2 + KY**2)
    e_kpa = e_star_kpa * (1 - poisson**2)  # E from E*
    layers = [(thickness_mm, e_kpa)]
    if top_mm > 0:
        layers = [(min(top_mm, thickness_mm), top_kpa)]
        if thickness_mm > top_mm:
            layers.append((thickness_mm - top_mm, e_kpa))
        comp = _tabulated_compliance(k, tuple(layers), poisson)
    else:
        q = k * thickness_mm
        kap = 3 - 4 * poisson
        c = 4 * poisson * (2 * poisson - 3) + 5
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            corr = (kap * np.cosh(2 * q) + 2 * q**2 + c) / (kap * np.sinh(2 * q) - 2 * q)
            corr = np.where(np.isfinite(corr) & (q < 300), corr, 1.0)
            stiff = 0.5 * e_star_kpa * k * corr
            comp = np.where(k > 0, 1.0 / stiff, 0.0)
    # k = 0: uniaxial-strain compliances of the layers in series
    comp[0, 0] = sum(t * (1 + poisson) * (1 - 2 * poisson) / (e * (1 - poisson)) for t, e in layers)
    # uniform pressure over a square element of side dx: sinc^2 form factor
    shape_factor = np.sinc(KX * spacing_mm / (2 * np.pi)) * np.sinc(KY * spacing_mm / (2 * np.pi))
    # unnormalised rfft convention: multiply by element area / cell area = 1 (pressure is per element)
    return (comp * shape_factor).astype(np.complex128 if dtype == "float64" else np.complex64)


#: Depth, in units of 1/k, beyond which a layer's lower part is not propagated: a boundary that deep changes the
#: surface compliance at wavenumber k by about exp(-2 k d) (exp(-80) here). [-]
LAYER_PROPAGATION_DEPTH = 40.0
#: Wavenumbers of the log-spaced table from which :func:`layer_kernel_ft` interpolates a two-layer compliance.
LAYER_TABLE_POINTS = 1200


def _layer_state_matrix(modulus_kpa: float, poisson: float) -> np.ndarray:
    """``dy/dzeta = M y`` for ``y = (U, W, S/k, T/k)`` of a plane-strain Fourier mode ``exp(i k x)``, ``zeta = k z``.

    ``u_x = U(z) sin kx``, ``u_z = W(z) cos kx`` (z down, into the body), ``sigma_xz = S(z) sin kx``,
    ``sigma_zz = T(z) cos kx``; Navier's equations and Hooke's law give a first-order system whose matrix, in the
    scaled depth ``k z``, does not depend on ``k``. Moduli in kPa.
    """
    mu = modulus_kpa / (2 * (1 + poisson))
    lam = modulus_kpa * poisson / ((1 + poisson) * (1 - 2 * poisson))
    a = lam + 2 * mu
    return np.array(
        [
            [0.0, 1.0, 1.0 / mu, 0.0],
            [-lam / a, 0.0, 0.0, 1.0 / a],
            [4 * mu * (lam + mu) / a, 0.0, 0.0, lam / a],
            [0.0, 0.0, -1.0, 0.0],
        ]
    )


def _propagator(m: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``expm(t m)`` for every ``t`` (stacked), for a state matrix ``m`` of :func:`_layer_state_matrix`.

    ``m``'s eigenvalues are +1 and -1, each a Jordan block of size 2 (the layer's solutions ``exp(+-kz)``,
    ``z exp(+-kz)``), so by Cayley-Hamilton ``expm(t m) = a0 + a1 m + a2 m^2 + a3 m^3`` with the coefficients
    that match ``exp(t lambda)`` and its derivative at ``lambda = +-1``.
    """
    t = np.asarray(t, dtype=float)[:, None, None]
    c, s = np.cosh(t), np.sinh(t)
    a3 = (t * c - s) / 2
    a2 = t * s / 2
    a1 = s - a3
    a0 = c - a2
    m2 = m @ m
    return a0 * np.eye(4) + a1 * m + a2 * m2 + a3 * (m2 @ m)


def _orthonormalise(y: np.ndarray) -> np.ndarray:
    """Orthonormal basis (Gram-Schmidt) of the span of the two columns of each stacked 4 x 2 matrix."""
    a = y[:, :, 0] / np.linalg.norm(y[:, :, 0], axis=1, keepdims=True)
    b = y[:, :, 1] - (a * y[:, :, 1]).sum(axis=1, keepdims=True) * a
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return np.stack([a, b], axis=2)


def layered_surface_compliance(
    k_rad_mm: np.ndarray, layers: tuple[tuple[float, float], ...], poisson: float
) -> np.ndarray:
    """Surface compliance of bonded elastic layers on a rigid base, frictionless top. [mm/kPa]

    Parameters
    ----------
    k_rad_mm : array
        Wavenumbers, > 0. [rad/mm]
    layers : tuple of (thickness_mm, modulus_kpa)
        The layers from the surface down (e.g. fat over muscle); bonded to each other and to rigid bone below.
    poisson : float
        Poisson's ratio of every layer (< 0.5). [-]

    Returns
    -------
    array
        ``w(k) / p(k)``: surface displacement (into the body) per unit surface pressure of wavenumber ``k``.

    Notes
    -----
    Transfer-matrix solution of the layered elastic system (Burmister 1945): in each layer the state
    ``(U, W, S/k, T/k)`` (displacements and the tractions on horizontal planes) obeys a linear system with a
    constant matrix in the scaled depth ``k z`` (:func:`_layer_state_matrix`). The two solutions that vanish on
    the bone (``U = W = 0``) are carried up through the layers in steps of at most one unit of ``k z``, the
    interfaces passing all four components on, and re-orthonormalised after every step, so that the growing
    exponentials ``exp(k z)`` do not swamp them (Conte 1966). At the surface the combination with zero shear
    traction gives ``W / (-T)``. Depths beyond :data:`LAYER_PROPAGATION_DEPTH` / k are not propagated (their effect
    on the surface is below round-off). A surface mode ``exp(i k.x)`` of a laterally infinite, isotropic system is
    a plane-strain problem in the direction of ``k``, so the compliance depends on ``|k|`` only. One layer
    reproduces Carbone & Mangialardi's closed form to 1e-8 (tests/test_layered.py).

    References
    ----------
    Burmister DM (1945). J Appl Phys 16, 89-94. Conte SD (1966). SIAM Review 8, 309-321.
    """
    citations.use("burmister1945", "conte1966")
    if not 0.0 <= poisson < 0.5:
        raise InputError(f"the layered compliance needs 0 <= Poisson's ratio < 0.5, got {poisson:g}")
    k = np.asarray(k_rad_mm, dtype=float).ravel()
    y = np.zeros((k.size, 4, 2))
    y[:, 2, 0] = 1.0  # rigid, bonded base: U = W = 0, tractions free
    y[:, 3, 1] = 1.0
    thick = np.array([t for t, _ in layers], dtype=float)
    above = np.concatenate([[0.0], np.cumsum(thick)[:-1]])  # depth of each layer's top [mm]
    for i in range(len(layers) - 1, -1, -1):
        # the layer's span in units of 1/k, without what lies deeper than the propagation depth
        span = np.clip(np.minimum(k * thick[i], LAYER_PROPAGATION_DEPTH - k * above[i]), 0.0, None)
        n = np.ceil(span).astype(int)
        if not n.any():
            continue
        step = span / np.maximum(n, 1)
        p = _propagator(_layer_state_matrix(layers[i][1], poisson), -step)
        for s in range(int(n.max())):
            act = n > s
            y[act] = _orthonormalise(p[act] @ y[act])
    c = np.stack([y[:, 2, 1], -y[:, 2, 0]], axis=1)  # zero shear traction at the surface
    w = (y[:, 1, :] * c).sum(axis=1)
    t = (y[:, 3, :] * c).sum(axis=1)
    return (w / (-k * t)).reshape(np.shape(k_rad_mm))


def _tabulated_compliance(k: np.ndarray, layers: tuple[tuple[float, float], ...], poisson: float) -> np.ndarray:
    """:func:`layered_surface_compliance` on the array ``k`` (0 where ``k = 0``), through a log-spaced table."""
    from scipy.interpolate import CubicSpline

    pos = k > 0
    kmin, kmax = float(k[pos].min()), float(k.max())
    table = np.geomspace(kmin, kmax, LAYER_TABLE_POINTS) if kmax > kmin else np.array([kmin])
    c = layered_surface_compliance(table, layers, poisson)
    out = np.zeros_like(k)
    if table.size == 1:
        out[pos] = c[0]
    else:
        out[pos] = np.exp(CubicSpline(np.log(table), np.log(c))(np.log(k[pos])))
    return out


#: Margin of the periodic grid on which the real-space layer kernel is sampled, in layer thicknesses: the
#: periodic images change the displacements by less than 3e-4 of their peak (tests/test_layered.py). [-]
LAYER_SAMPLE_THICKNESSES = 12.0


@lru_cache(maxsize=64)
def layer_kernel_zero_padded_ft(
    ny: int,
    nx: int,
    shape: tuple[int, int],
    spacing_mm: float,
    e_star_kpa: float,
    poisson: float,
    thickness_mm: float,
    dtype: str = "float64",
    top_mm: float = 0.0,
    top_kpa: float = 0.0,
) -> np.ndarray:
    """Bonded-layer compliance for a non-periodic convolution on an ``ny x nx`` domain (cached). [mm/kPa]

    The layer's influence coefficients are sampled in real space from :func:`layer_kernel_ft` on a periodic grid
    larger than the domain by :data:`LAYER_SAMPLE_THICKNESSES` layer thicknesses (images negligible), kept at
    offsets ``-n+1 .. n-1`` and wrapped into the zero-padded grid ``shape`` (at least twice the domain), as for
    the half-space (Liu et al. 2000): the circular convolution on ``shape`` is then the linear one on the domain,
    with no periodic images at all, on a grid that does not grow with the layer thickness. ``top_mm``,
    ``top_kpa``: a softer top layer, as in :func:`layer_kernel_ft`.
    """
    citations.use("liu2000")
    extra = int(np.ceil(LAYER_SAMPLE_THICKNESSES * thickness_mm / spacing_mm))
    big = (sfft.next_fast_len(ny + extra, real=True), sfft.next_fast_len(nx + extra, real=True))
    spectrum = layer_kernel_ft(big, spacing_mm, e_star_kpa, poisson, thickness_mm, "float64", top_mm, top_kpa)
    return circulant_on_domain_ft(spectrum, big, ny, nx, shape, dtype)


def circulant_on_domain_ft(
    spectrum: np.ndarray, periodic_shape: tuple[int, int], ny: int, nx: int, shape: tuple[int, int], dtype: str
) -> np.ndarray:
    """A circulant kernel restricted to an ``ny x nx`` domain, as a spectrum on the zero-padded grid ``shape``.

    ``spectrum`` (``rfft2`` layout) defines a periodic convolution on ``periodic_shape``. Its real-space values at
    the offsets ``-n+1 .. n-1`` that occur between elements of the domain are wrapped into ``shape`` (at least
    twice the domain), where the circular convolution is the linear one (Liu et al. 2000): the result acts on the
    domain exactly as the periodic kernel does between the domain's elements.
    """
    k = sfft.irfft2(spectrum, s=periodic_shape)
    iy, ix = _offsets(ny), _offsets(nx)
    return _wrapped_ft(k[np.ix_(iy % periodic_shape[0], ix % periodic_shape[1])], iy, ix, shape, dtype)


def padded_rfft2(values: np.ndarray, shape: tuple[int, int], workers: int = -1) -> np.ndarray:
    """``rfft2(values, s=shape)`` of a block zero-padded to ``shape``, skipping the transforms of zero rows.

    The real transform runs along x on the ``ny`` data rows only, then the complex one along y over the padded
    length; the result equals ``scipy.fft.rfft2(values, s=shape)`` (pruned FFT: the zero rows cost nothing).
    """
    a = sfft.rfft(values, n=shape[1], axis=1, workers=workers)
    return sfft.fft(a, n=shape[0], axis=0, workers=workers, overwrite_x=True)


def cropped_irfft2(
    spectrum: np.ndarray, shape: tuple[int, int], out_shape: tuple[int, int], workers: int = -1
) -> np.ndarray:
    """``irfft2(spectrum, s=shape)[:ny, :nx]``, transforming along x only the ``ny`` rows that are kept.

    ``spectrum`` is overwritten (pass a temporary).
    """
    ny, nx = out_shape
    b = sfft.ifft(spectrum, axis=0, workers=workers, overwrite_x=True)[:ny]
    return sfft.irfft(b, n=shape[1], axis=1, workers=workers)[:, :nx]


def kernel_cache_info() -> dict[str, object]:
    """Hit/miss statistics of the kernel caches."""
    return {
        "halfspace": halfspace_kernel_ft.cache_info(),
        "layer": layer_kernel_ft.cache_info(),
        "layer_zero_padded": layer_kernel_zero_padded_ft.cache_info(),
    }
