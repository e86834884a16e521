"""Deep indentation: frictionless contact on the true (deformed) normal of a rigid rounded cone.

:class:`~spinerelease.contact.fem.axisym.AxisymmetricContact` prescribes the *vertical* position of a contact
node (the tool pushes along z only), a small-slope assumption that fails once the contact reaches the flank of
a peak (a/R > ~0.5) and stops Newton's method at a few millimetres of indentation. This module replaces it by
the exact frictionless constraint of a top-surface node on the analytic tool surface, enforced by Lagrange
multipliers:

    g_i(u) = z_tool(x_r,i) - x_z,i >= 0,   lambda_i >= 0,   lambda_i g_i = 0,

with ``x = X + u`` the current node position and ``z_tool(r) = H - d + h(r)`` the surface of the tool, whose apex
is at depth ``d`` (the approach) below the undeformed skin ``z = H``. The reaction on node ``i`` is
``lambda_i grad g_i = lambda_i (h'(x_r), -1)``, normal to the tool wherever the node sits on it. Equilibrium
``R_int(u) = sum_i lambda_i grad g_i`` and the complementarity conditions are solved together by a semi-smooth
Newton method (primal-dual active set: node i is active where ``lambda_i - c g_i > 0``; Alart & Curnier 1991;
Hintermueller, Ito & Kunisch 2002), with the consistent tangent including the tool's curvature term
``-lambda_i h''(x_r)`` (a node-to-rigid-surface constraint; Wriggers 2006, ch. 4).

The approach is the control variable (displacement control): :func:`indentation_curve` steps it up with an
adaptive increment, warm-starting each step from the last converged state, and hits each requested load by a
secant (Illinois) iteration between the two converged states that bracket it. It reports how deep the mesh
could be driven before Newton's method failed (elements inverting), so a caller always sees the reach of the
reference instead of a silent extrapolation.

The tool is the PSO-Spine's peak shape (:func:`spinerelease.tools.base.rounded_peak_mm`): a spherical cap of
the tip radius blended tangentially into a cone of the flank angle.

Units: mm, kPa, N (1 kPa mm^2 = 1e-3 N).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ... import citations
from ...errors import InputError, check_positive, check_range
from .axisym import AxisymmetricContact, FemResult, Layer, _Diverged, _IllinoisBracket

#: Most halvings of a Newton step that would invert an element.
_MAX_HALVINGS = 6


def rounded_cone_profile(
    r_mm: np.ndarray, tip_radius_mm: float, flank_angle_deg: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Height of a rounded conical peak's surface above its apex, with its first and second derivative.

    The surface is a spherical cap of radius ``R`` blended tangentially into a cone of slope
    ``tan(flank_angle)`` at ``r_t = R sin(flank_angle)`` (the shape of :func:`spinerelease.tools.base.rounded_peak_mm`).

    Parameters
    ----------
    r_mm : array
        Radial distance from the peak's axis. [mm]
    tip_radius_mm : float
        Radius of the spherical cap. [mm]
    flank_angle_deg : float
        Slope of the cone flank from horizontal. [degrees]

    Returns
    -------
    h : ndarray
        Height above the apex. [mm]
    dh_dr : ndarray
        Slope. [-]
    d2h_dr2 : ndarray
        Curvature of the profile (``1/R`` at the apex, 0 on the cone). [1/mm]
    """
    R = float(tip_radius_mm)
    a = np.radians(flank_angle_deg)
    r = np.abs(np.asarray(r_mm, dtype=float))
    r_t = R * np.sin(a)
    cap = r <= r_t
    rc = np.minimum(r, r_t)
    s = np.sqrt(R * R - rc * rc)
    h = np.where(cap, R - s, R * (1 - np.cos(a)) + (r - r_t) * np.tan(a))
    dh = np.where(cap, rc / s, np.tan(a))
    ddh = np.where(cap, R * R / s**3, 0.0)
    return h, dh, ddh


def facet_mean_pressure_kpa(r_mm: np.ndarray, z_mm: np.ndarray, p_kpa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of a quadratic (P2) surface pressure over each facet of an axisymmetric surface.

    The surface nodes alternate vertex, mid-side, vertex, ... (``2 E + 1`` nodes for ``E`` facets); each facet is
    the straight segment between its two vertices, area element ``2 pi r ds``. The mean is the facet's force
    over its area, the quantity a pressure sensor (or an element of the fast engine) of the facet's size reads;
    unlike the nodal values it does not carry the node-to-node oscillation of multiplier-recovered pressures.

    Parameters
    ----------
    r_mm, z_mm : array
        Node positions, in surface order. [mm]
    p_kpa : array
        Nodal pressure. [kPa]

    Returns
    -------
    r_centre : ndarray
        Radius of each facet's midpoint. [mm]
    p_mean : ndarray
        Area-weighted mean pressure of each facet. [kPa]
    """
    r, z, p = (np.asarray(a, dtype=float) for a in (r_mm, z_mm, p_kpa))
    if r.size < 3 or r.size % 2 == 0 or not (r.shape == z.shape == p.shape):
        raise InputError("facet means need 2 E + 1 surface nodes (vertex, mid-side, vertex, ...)")
    xg, wg = np.polynomial.legendre.leggauss(4)
    sg = 0.5 * (xg + 1.0)
    wg = 0.5 * wg
    phi = np.stack([(1 - sg) * (1 - 2 * sg), 4 * sg * (1 - sg), sg * (2 * sg - 1)])  # (3, nq)
    ra, rb = r[0:-1:2], r[2::2]
    length = np.hypot(rb - ra, z[2::2] - z[0:-1:2])
    rq = ra[:, None] + (rb - ra)[:, None] * sg[None, :]  # (E, nq)
    w = wg[None, :] * rq * length[:, None]  # 2 pi cancels in the mean
    pe = np.stack([p[0:-1:2], p[1::2], p[2::2]], axis=1)  # (E, 3)
    pq = pe @ phi  # (E, nq)
    area = w.sum(axis=1)
    mean = np.divide((pq * w).sum(axis=1), area, out=np.zeros_like(area), where=area > 0)
    return 0.5 * (ra + rb), mean


class NormalContact(AxisymmetricContact):
    """Axisymmetric tissue block indented by a rigid rounded cone, contact on the true normal.

    Parameters are those of :class:`~spinerelease.contact.fem.axisym.AxisymmetricContact`, plus

    flank_angle_deg : float
        Flank slope of the peak from horizontal (the PSO-Spine's 55 degrees by default). [degrees]
    """

    def __init__(
        self,
        layers: list[Layer],
        tip_radius_mm: float,
        domain_radius_mm: float,
        *,
        flank_angle_deg: float = 55.0,
        **kwargs,
    ) -> None:
        super().__init__(layers, tip_radius_mm, domain_radius_mm, **kwargs)
        self.flank_angle_deg = check_range("flank angle", flank_angle_deg, 10.0, 80.0, "degrees")
        citations.use("alart1991", "hintermuller2002", "wriggers2006")
        self.lam = np.zeros(len(self.top_z))  # contact multipliers (nodal normal-force measure) [kPa mm^2]
        # complementarity scale: force per mm of gap of one surface element (order of E h)
        e_max = max(la.modulus_kpa for la in self.layers)
        self._fine = 2.0 * float(np.diff(self.r_top[:2])[0])  # element size (P2: two nodes per edge) [mm]
        self._c = e_max * self._fine
        free = np.ones(self.n, dtype=bool)
        free[self.fixed] = False
        self._free = np.flatnonzero(free)

    # ------------------------------------------------------------------ state
    def save(self) -> tuple[np.ndarray, ...]:
        return self.U.copy(), self.P.copy(), self.active.copy(), self.lam.copy()

    def restore(self, state: tuple[np.ndarray, ...]) -> None:
        self.U, self.P, self.active, self.lam = (s.copy() for s in state)

    def gap(self, approach_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gap of every top-surface node to the tool (>= 0 admissible) with the tool's slope and curvature there."""
        x_r = self.r_top + self.U[self.top_r]
        x_z = self.thickness_mm + self.U[self.top_z]
        h, dh, ddh = rounded_cone_profile(x_r, self.tip_radius_mm, self.flank_angle_deg)
        return self.thickness_mm - approach_mm + h - x_z, dh, ddh

    # ------------------------------------------------------------------ solve
    def solve_at(
        self, approach_mm: float, *, tol: float = 1e-8, max_newton: int = 25, **_: object
    ) -> tuple[float, bool]:
        """Equilibrium at a prescribed approach (semi-smooth Newton); returns (contact force [N], converged).

        Raises ``_Diverged`` when Newton's method fails (an element inverts or the iteration does not settle);
        the state is then undefined and the caller restores a saved one.
        """
        n, free, tr, tz = self.n, self._free, self.top_r, self.top_z
        fscale = None
        K, R_int = self.model.assemble(self.U, self.P)
        if not np.all(np.isfinite(R_int)):
            raise _Diverged("non-finite residual (element inverted)")
        for it in range(1, max_newton + 1):
            g, dh, _ = self.gap(approach_mm)
            act = (self.lam - self._c * g) > 0
            ia = np.flatnonzero(act)
            na = len(ia)
            G = sp.csr_matrix(
                (np.concatenate([dh[ia], -np.ones(na)]), (np.tile(np.arange(na), 2), np.concatenate([tr[ia], tz[ia]]))),
                shape=(na, n),
            )
            # the profile's curvature jumps where the cap meets the cone; a node sitting there would make the
            # tangent jump between iterations and Newton's method chatter, so the tangent takes the curvature
            # averaged over half an element either side (the residual and the gap stay exact)
            x_r = self.r_top[ia] + self.U[tr[ia]]
            ddh_t = 0.5 * sum(
                rounded_cone_profile(x_r + s, self.tip_radius_mm, self.flank_angle_deg)[2]
                for s in (-0.5 * self._fine, 0.5 * self._fine)
            )
            K_curv = sp.csr_matrix((-self.lam[ia] * ddh_t, (tr[ia], tr[ia])), shape=(n, n))
            res = R_int - G.T @ self.lam[ia]
            fscale = max(fscale or 0.0, np.abs(self.lam).max(initial=0.0), np.abs(R_int[free]).max(initial=0.0), 1e-30)
            A = sp.bmat([[(K + K_curv)[free][:, free], -G[:, free].T], [-G[:, free], None]], format="csc")
            rhs = np.concatenate([-res[free], g[ia]])
            try:
                sol = splu(A).solve(rhs)
            except RuntimeError as exc:
                raise _Diverged(str(exc)) from None
            if not np.all(np.isfinite(sol)):
                raise _Diverged("non-finite Newton step")
            du = np.zeros(n)
            du[free] = sol[: len(free)]
            # damped step: halve it while it would invert an element (the full step is taken when it can be)
            t = 1.0
            for _ in range(_MAX_HALVINGS + 1):
                U_new, P_new = self.U + t * du[: self.nu], self.P + t * du[self.nu :]
                K, R_int = self.model.assemble(U_new, P_new)
                if np.all(np.isfinite(R_int)):
                    break
                t *= 0.5
            else:
                raise _Diverged("non-finite residual (element inverted)")
            self.U, self.P = U_new, P_new
            du *= t
            lam = np.zeros_like(self.lam)
            lam[ia] = self.lam[ia] + t * sol[len(free) :]
            self.lam = lam
            self.active = act
            step = np.abs(du[: self.nu]).max() / self.thickness_mm
            r_norm = np.abs(res[free]).max() / fscale
            if it > 1 and step < tol and r_norm < 1e3 * tol:
                g_new = self.gap(approach_mm)[0]
                if np.array_equal((self.lam - self._c * g_new) > 0, act):
                    self.newton_total += it
                    return float(self.lam.sum()) * 1e-3, True
        self.newton_total += max_newton
        raise _Diverged("Newton's method did not converge")

    # ------------------------------------------------------------------ post-processing
    def result(self, approach_mm: float, force_target_n: float, converged: bool) -> FemResult:
        """Post-process the current state: nominal and true normal pressure (and their facet means), contact
        radii, bone reaction."""
        g, dh, _ = self.gap(approach_mm)
        fn = self.lam * np.sqrt(1.0 + dh**2)  # normal force of each node on the tool [kPa mm^2]
        res = self._package(
            approach_mm,
            force_target_n,
            converged,
            fn,
            self.lam > 0,
            float(self.lam.sum()) * 1e-3,
            self.internal_force(),
        )
        facet_r, facet_p = facet_mean_pressure_kpa(
            res.r_current_mm, self.thickness_mm + self.U[self.top_z], res.true_pressure_kpa
        )
        res.extras.update(
            contact="normal",
            flank_angle_deg=self.flank_angle_deg,
            min_gap_mm=float(g.min()),
            facet_r_mm=facet_r,
            facet_pressure_kpa=facet_p,
            facet_peak_pressure_kpa=float(facet_p.max()),
        )
        return res


@dataclass(frozen=True)
class IndentationCurve:
    """Results of :func:`indentation_curve`.

    Attributes
    ----------
    results : list of FemResult
        One per requested load that the FEM reached, in increasing order.
    loads_n : list of float
        The requested loads. [N]
    reach_approach_mm : float
        Deepest converged approach. [mm]
    reach_force_n : float
        Force at that approach. [N]
    stopped : str
        Why the continuation stopped (``"done"`` when every load was reached).
    path : list of (approach [mm], force [N])
        Every converged continuation step.
    """

    results: list[FemResult]
    loads_n: list[float]
    reach_approach_mm: float
    reach_force_n: float
    stopped: str
    path: list[tuple[float, float]] = field(default_factory=list)


def indentation_curve(
    loads_n: list[float],
    layers: list[Layer],
    *,
    tip_radius_mm: float,
    flank_angle_deg: float = 55.0,
    domain_radius_mm: float | None = None,
    poisson: float = 0.49,
    fine_mm: float = 1.0,
    fine_extent_mm: float | None = None,
    growth: float = 1.2,
    load_tol: float = 2e-3,
    max_step_fraction: float = 0.06,
    min_step_fraction: float = 4e-3,
    log: Callable[[str], None] | None = None,
) -> IndentationCurve:
    """Large-strain (neo-Hookean) indentation of layered tissue on bone by a rounded cone, to a list of loads.

    Displacement-controlled continuation of :class:`NormalContact` (adaptive approach increments, halved on
    failure), with each load located by an Illinois secant on ``log(force)`` between the converged states that
    bracket it.

    Parameters
    ----------
    loads_n : list of float
        Loads to report. [N]
    layers : list of Layer
        Tissue layers from the skin surface down to the bone.
    tip_radius_mm, flank_angle_deg : float
        Peak shape (tip radius [mm], flank slope from horizontal [degrees]).
    domain_radius_mm : float, optional
        Radius of the tissue cylinder (default: 5 x the tissue thickness, at least 120 mm). [mm]
    poisson : float
        Poisson's ratio. [-]
    fine_mm : float
        Element size in the contact zone. [mm]
    fine_extent_mm : float, optional
        Radial extent of the fine zone (default: 1.2 x the tissue thickness, at least 20 mm). [mm]
    growth : float
        Element growth factor outside the fine zone. [-]
    load_tol : float
        Relative force tolerance. [-]
    max_step_fraction, min_step_fraction : float
        Largest approach increment, and the increment below which the continuation gives up, as fractions of
        the tissue thickness. [-]
    log : callable, optional
        Called with a line of progress after every continuation step.

    Returns
    -------
    IndentationCurve
        The loads reached, and the reach of the mesh when it could not go deeper.

    References
    ----------
    Alart P, Curnier A (1991). A mixed formulation for frictional contact problems prone to Newton like solution
    methods. Comput Methods Appl Mech Eng 92, 353-375.
    Hintermueller M, Ito K, Kunisch K (2002). The primal-dual active set strategy as a semismooth Newton method.
    SIAM J Optim 13, 865-888.
    Wriggers P (2006). Computational Contact Mechanics, 2nd ed. Springer.
    """
    if not layers:
        raise InputError("at least one tissue layer is needed")
    loads = sorted(check_positive("load", float(x), "N") for x in loads_n)
    if not loads:
        raise InputError("give at least one load")
    H = float(sum(la.thickness_mm for la in layers))
    check_positive("element size", fine_mm, "mm")
    radius = domain_radius_mm if domain_radius_mm is not None else max(5.0 * H, 120.0)
    extent = fine_extent_mm if fine_extent_mm is not None else max(1.2 * H, 20.0)
    prob = NormalContact(
        layers,
        tip_radius_mm,
        radius,
        flank_angle_deg=flank_angle_deg,
        poisson=poisson,
        model="neo-hookean",
        fine_mm=fine_mm,
        fine_extent_mm=extent,
        growth=growth,
    )
    results: list[FemResult] = []
    path: list[tuple[float, float]] = []
    d_lo, f_lo, s_lo = 0.0, 0.0, prob.save()
    d_prev, s_prev = None, None  # the converged state before (d_lo, s_lo), for the predictor
    step = 0.02 * H
    k = 0  # next load to locate
    stopped = "done"
    while k < len(loads):
        d_try = min(d_lo + step, 0.98 * H)
        if d_try <= d_lo:
            stopped = f"the tissue is squeezed onto the bone (approach {d_lo:.2f} mm, {f_lo:.3g} N)"
            break
        if step < min_step_fraction * H:
            stopped = f"Newton's method failed beyond an approach of {d_lo:.2f} mm ({f_lo:.3g} N)"
            break
        if s_prev is not None:
            prob.restore(_blend(s_prev, s_lo, (d_try - d_prev) / (d_lo - d_prev)))
        try:
            f_try, _ = prob.solve_at(d_try)
        except _Diverged:
            prob.restore(s_lo)
            step *= 0.5
            continue
        s_try = prob.save()
        path.append((d_try, f_try))
        if log is not None:
            log(f"approach {d_try:.3f} mm: {f_try:.4g} N (Newton iterations so far {prob.newton_total})")
        while k < len(loads) and f_try >= loads[k]:
            results.append(_locate(prob, loads[k], (d_lo, f_lo, s_lo), (d_try, f_try, s_try), load_tol))
            k += 1
        prob.restore(s_try)
        d_prev, s_prev = d_lo, s_lo
        d_lo, f_lo, s_lo = d_try, f_try, s_try
        step = min(step * 1.5, max_step_fraction * H)
    return IndentationCurve(results, loads, d_lo, f_lo, stopped, path)


def _blend(s_a: tuple, s_b: tuple, w: float) -> tuple:
    """Predictor: the state ``(1 - w) s_a + w s_b`` (``w > 1`` extrapolates); contact where a multiplier is left."""
    U, P, lam = ((1.0 - w) * a + w * b for a, b in zip(s_a[:2] + s_a[3:], s_b[:2] + s_b[3:], strict=True))
    lam = np.clip(lam, 0.0, None)
    return U, P, lam > 0, lam


def _locate(prob: NormalContact, load: float, lo: tuple, hi: tuple, tol: float, max_iter: int = 30) -> FemResult:
    """Illinois secant on log(force / load) between two converged, bracketing states."""
    (d_lo, f_lo, s_lo), (d_hi, f_hi, s_hi) = lo, hi
    if abs(f_hi - load) <= tol * load:
        prob.restore(s_hi)
        return prob.result(d_hi, load, True)

    def g(f: float) -> float:
        return float(np.log(max(f, 1e-30) / load))

    b = _IllinoisBracket((d_lo, f_lo, s_lo, g(f_lo) if f_lo > 0 else -np.inf), (d_hi, f_hi, s_hi, g(f_hi)))
    d_cur, conv = d_hi, False
    for _ in range(max_iter):
        if np.isfinite(b.g_lo):
            d_new = b.d_lo - b.g_lo * (b.d_hi - b.d_lo) / (b.g_hi - b.g_lo)
        else:
            d_new = 0.5 * (b.d_lo + b.d_hi)
        d_new = float(np.clip(d_new, b.d_lo + 0.01 * (b.d_hi - b.d_lo), b.d_hi - 0.01 * (b.d_hi - b.d_lo)))
        prob.restore(_blend(b.s_lo, b.s_hi, (d_new - b.d_lo) / (b.d_hi - b.d_lo)))
        try:
            f_new, _ = prob.solve_at(d_new)
        except _Diverged:
            prob.restore(b.s_hi)
            return prob.result(b.d_hi, load, False)
        d_cur = d_new
        if abs(f_new - load) <= tol * load:
            conv = True
            break
        b.update(d_new, f_new, prob.save(), g(f_new))
    return prob.result(d_cur, load, conv)
