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

Where a skin node slides across the blend of the tip into the cone (the tool's curvature jumps from ``1/R`` to
0), full Newton steps can jump back and forth across it for ever with the same active set; a step that points
back against the one before therefore halves the steps that follow, down to 1/64, and the step length doubles
again while they do not (``oscillation_damping``).

The approach is the control variable (displacement control): :func:`indentation_curve` steps it up with an
adaptive increment, warm-starting each step from the last converged state, and hits each requested load by a
secant (Illinois) iteration between the two converged states that bracket it. It reports how deep the mesh
could be driven before Newton's method failed (elements inverting), so a caller always sees the reach of the
reference instead of a silent extrapolation.

Deeper still, the mesh under the tip is squeezed flat: with ``rezone_distortion`` the continuation lays a fresh
mesh over the deformed tissue whenever elements are distorted past that stretch ratio, carrying the map back to
the reference (:meth:`NormalContact.rezone`), and with ``tie_surface`` the skin's midside nodes follow their
vertices radially, which removes the node-to-node slip oscillation of collocated contact on quadratic elements.

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


def default_fine_extent_mm(thickness_mm: float) -> float:
    """Radial extent of :func:`indentation_curve`'s fine mesh zone when none is given: 1.2 tissue thicknesses,
    at least 20 mm. [mm]"""
    return max(1.2 * float(thickness_mm), 20.0)


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


def facet_mean_pressure_kpa(
    r_mm: np.ndarray, z_mm: np.ndarray, p_kpa: np.ndarray, *, axisymmetric: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of a quadratic (P2) surface pressure over each facet of an axisymmetric surface.

    The surface nodes alternate vertex, mid-side, vertex, ... (``2 E + 1`` nodes for ``E`` facets); each facet is
    the straight segment between its two vertices, area element ``2 pi r ds`` (``ds`` per mm of length of a
    plane-strain section, ``axisymmetric=False``). The mean is the facet's force
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
    w = wg[None, :] * (rq if axisymmetric else 1.0) * length[:, None]  # 2 pi cancels in the mean
    pe = np.stack([p[0:-1:2], p[1::2], p[2::2]], axis=1)  # (E, 3)
    pq = pe @ phi  # (E, nq)
    area = w.sum(axis=1)
    mean = np.divide((pq * w).sum(axis=1), area, out=np.zeros_like(area), where=area > 0)
    return 0.5 * (ra + rb), mean


class NormalContact(AxisymmetricContact):
    """Axisymmetric tissue block indented by a rigid rounded cone, contact on the true normal.

    Parameters are those of :class:`~spinerelease.contact.fem.axisym.AxisymmetricContact` (with ``geometry=
    "plane-strain"`` the cross-section of a long tool of this profile, a foam roller), plus

    flank_angle_deg : float
        Flank slope of the peak from horizontal (the PSO-Spine's 55 degrees by default). [degrees]
    tie_surface : bool
        Tie the radial displacement of each top edge's midside node to the mean of its two vertices' (eliminated
        from the Newton system): removes the odd-even slip of the skin nodes along the tool that shears the
        surface elements flat at depth. Default False (each node free).
    max_newton : int
        Most Newton iterations of a solve (:meth:`solve_at`).
    oscillation_damping : bool
        Halve Newton steps that point back against the one before (:meth:`solve_at`; default True).
    """

    def __init__(
        self,
        layers: list[Layer],
        tip_radius_mm: float,
        domain_radius_mm: float,
        *,
        flank_angle_deg: float = 55.0,
        tie_surface: bool = False,
        max_newton: int = 25,
        oscillation_damping: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(layers, tip_radius_mm, domain_radius_mm, **kwargs)
        self.flank_angle_deg = check_range("flank angle", flank_angle_deg, 10.0, 80.0, "degrees")
        citations.use("alart1991", "hintermuller2002", "wriggers2006")
        self.lam = np.zeros(len(self.top_z))  # contact multipliers (nodal normal-force measure) [kPa mm^2]
        self.rezones = 0  # meshes laid out over a deformed configuration so far
        #: a list to record every Newton iteration in, as (approach, iteration, damping, step, residual, active
        #: nodes); None (default): not recorded
        self.newton_trace: list[tuple] | None = None
        self.max_newton = int(check_range("Newton iterations", max_newton, 2, 1000))
        self.oscillation_damping = bool(oscillation_damping)
        self._approach = 0.0  # approach of the last solve [mm]
        # complementarity scale: force per mm of gap of one surface element (order of E h)
        e_max = max(la.modulus_kpa for la in self.layers)
        self._fine = 2.0 * float(np.diff(self.r_top[:2])[0])  # element size (P2: two nodes per edge) [mm]
        self._c = e_max * self._fine
        self.tie_surface = bool(tie_surface)
        self._set_free()

    def _set_free(self) -> None:
        """Unknowns of the Newton system: all but the bone and axis constraints; with ``tie_surface``, the
        radial displacement of each top edge's midside node follows its two vertices', ``T`` maps the remaining
        unknowns onto the free ones."""
        free = np.ones(self.n, dtype=bool)
        free[self.fixed] = False
        self._free = np.flatnonzero(free)
        nf = len(self._free)
        if not self.tie_surface:
            self._T = None
            return
        pos = np.full(self.n, -1)
        pos[self._free] = np.arange(nf)
        mids = self.top_r[1::2]
        keep = np.setdiff1d(np.arange(nf), pos[mids])
        col = np.full(nf, -1)
        col[keep] = np.arange(len(keep))
        rows, cols, vals = list(keep), list(col[keep]), [1.0] * len(keep)
        for k, m in enumerate(mids):
            for v in (self.top_r[2 * k], self.top_r[2 * k + 2]):
                if pos[v] >= 0:
                    rows.append(pos[m])
                    cols.append(col[pos[v]])
                    vals.append(0.5)
        self._T = sp.csr_matrix((vals, (rows, cols)), shape=(nf, len(keep)))

    # ------------------------------------------------------------------ state
    def save(self) -> tuple[np.ndarray, ...]:
        return self.U.copy(), self.P.copy(), self.active.copy(), self.lam.copy()

    def restore(self, state: tuple[np.ndarray, ...]) -> None:
        self.U, self.P, self.active, self.lam = (s.copy() for s in state)

    def gap(self, approach_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gap of every top-surface node to the tool (>= 0 admissible) with the tool's slope and curvature there."""
        x_r = self.r_top + self.U[self.top_r]
        x_z = self.z_top + self.U[self.top_z]
        h, dh, ddh = rounded_cone_profile(x_r, self.tip_radius_mm, self.flank_angle_deg)
        return self.thickness_mm - approach_mm + h - x_z, dh, ddh

    # ------------------------------------------------------------------ solve
    def solve_at(
        self, approach_mm: float, *, tol: float = 1e-8, max_newton: int | None = None, **_: object
    ) -> tuple[float, bool]:
        """Equilibrium at a prescribed approach (semi-smooth Newton); returns (contact force [N], converged).

        Raises ``_Diverged`` when Newton's method fails (an element inverts or the iteration does not settle);
        the state is then undefined and the caller restores a saved one.
        """
        n, free, tr, tz = self.n, self._free, self.top_r, self.top_z
        max_newton = self.max_newton if max_newton is None else int(max_newton)
        self._approach = float(approach_mm)
        fscale = None
        K, R_int = self.model.assemble(self.U, self.P)
        if not np.all(np.isfinite(R_int)):
            raise _Diverged("non-finite residual (element inverted)")
        damp, prev = 1.0, None  # step length of the oscillation damping; the last displacement step
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
            T = self._T
            if T is None:
                A = sp.bmat([[(K + K_curv)[free][:, free], -G[:, free].T], [-G[:, free], None]], format="csc")
                rhs = np.concatenate([-res[free], g[ia]])
            else:
                GT = G[:, free] @ T
                A = sp.bmat([[T.T @ (K + K_curv)[free][:, free] @ T, -GT.T], [-GT, None]], format="csc")
                rhs = np.concatenate([-(T.T @ res[free]), g[ia]])
            try:
                sol = splu(A).solve(rhs)
            except RuntimeError as exc:
                raise _Diverged(str(exc)) from None
            if not np.all(np.isfinite(sol)):
                raise _Diverged("non-finite Newton step")
            nred = len(free) if T is None else T.shape[1]
            du = np.zeros(n)
            du[free] = sol[:nred] if T is None else T @ sol[:nred]
            sol = np.concatenate([du[free], sol[nred:]])
            # damped step: halve it while it would invert an element (the full step is taken when it can be);
            # start from the oscillation damping (below)
            t = damp
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
            r_norm = np.abs(res[free] if T is None else T.T @ res[free]).max() / fscale
            if self.newton_trace is not None:
                self.newton_trace.append((self._approach, it, t, step, r_norm, na))
            # a skin node sliding across the blend of the tip into the flank (where the tool's curvature jumps)
            # can make full Newton steps jump back and forth across it for ever with the same active set; while
            # a step points back against the one before, the next steps are halved
            d_now = du[: self.nu]
            if self.oscillation_damping:
                turned = prev is not None and float(d_now @ prev) < -0.5 * float(d_now @ d_now)
                damp = max(0.5 * damp, 1.0 / 64.0) if turned else min(2.0 * damp, 1.0)
            prev = d_now
            if it > 1 and step < tol and r_norm < 1e3 * tol:
                g_new = self.gap(approach_mm)[0]
                if np.array_equal((self.lam - self._c * g_new) > 0, act):
                    self.newton_total += it
                    return float(self.lam.sum()) * 1e-3, True
        self.newton_total += max_newton
        raise _Diverged("Newton's method did not converge")

    # ------------------------------------------------------------------ rezoning
    def distortion(self) -> float:
        """Largest ratio of principal in-plane stretches of the deformation since the mesh was laid out, over
        the quadrature points (1 for a rigid motion, infinite where an element is inverted). A large value means
        elements are being sheared or squeezed flat."""
        grad = self.model.ub.interpolate(self.U).grad  # (2, 2, E, Q)
        F = np.moveaxis(grad.reshape(2, 2, -1), -1, 0) + np.eye(2)
        if np.any(np.linalg.det(F) <= 0):
            return np.inf
        sv = np.linalg.svd(F, compute_uv=False)  # (E Q, 2)
        return float(np.max(sv[:, 0] / sv[:, 1]))

    def rezone(self) -> None:
        """Lay out a fresh mesh over the current (deformed) configuration and carry the state over to it.

        The new mesh is the reference mesh's logical grid mapped onto the deformed block by transfinite
        (Coons) interpolation of its four deformed edges (bone, axis, skin, outer wall); it carries the map back
        to the reference (``W``, the reference position of each node, interpolated from the old mesh), so the
        hyperelastic stress keeps its reference and only the discretisation is renewed (rezoning; Belytschko,
        Liu & Moran 2000, ch. 7). The pressure field is interpolated, the displacement since the layout
        restarts at zero, the contact multipliers are recomputed by the next solve. Values at the new nodes are
        interpolated through the old mesh's curved (isoparametric P2) elements in their deformed positions
        (:func:`_interpolate_p2`).

        Raises ``_Diverged`` when the deformed skin folds, the mapped mesh folds or a new node lies outside the
        old mesh; the state is then undefined and the caller restores a saved one.
        """
        from dataclasses import replace

        from skfem import Basis, ElementTriP2, MeshTri

        citations.use("belytschko2000")
        old = self.model
        sb = Basis(old.mesh, ElementTriP2(), intorder=2)
        vec = _scalar_to_vector(sb, old.ub)
        pos = sb.doflocs
        cur = pos + self.U[vec]
        ref = pos + (old.W[vec] if old.W is not None else 0.0)
        pn = np.empty(sb.N)
        pv = self.P[old.pb.nodal_dofs[0]]
        pn[sb.nodal_dofs[0]] = pv
        pn[sb.facet_dofs[0]] = 0.5 * (pv[old.mesh.facets[0]] + pv[old.mesh.facets[1]])  # P1 is linear on edges
        # the deformed boundary curves
        rp, zp = self._grid
        H, Rd = self.thickness_mm, self.domain_radius_mm
        tr = self.r_top + self.U[self.top_r]
        tz = self.z_top + self.U[self.top_z]
        if np.any(np.diff(tr) <= 0):
            raise _Diverged("the deformed skin folds over itself; cannot rezone")
        right = np.unique(sb.get_dofs("right").all())
        right = right[np.argsort(pos[1, right])]
        wr, wz = cur[0, right], cur[1, right]
        xi, eta = rp / rp[-1], zp / zp[-1]
        XI, ETA = np.meshgrid(xi, eta, indexing="ij")
        top_r_at = XI * tr[-1]
        T = np.stack([top_r_at, np.interp(top_r_at, tr, tz)])
        B = np.stack([XI * Rd, np.zeros_like(XI)])
        L = np.stack([np.zeros_like(ETA), ETA * tz[0]])
        z_w = ETA * wz[-1]
        R = np.stack([np.interp(z_w, wz, wr), z_w])
        c00, c10 = np.array([0.0, 0.0]), np.array([Rd, 0.0])
        c01, c11 = np.array([0.0, tz[0]]), np.array([tr[-1], tz[-1]])
        pts = (
            (1 - ETA) * B
            + ETA * T
            + (1 - XI) * L
            + XI * R
            - ((1 - XI) * (1 - ETA))[None] * c00[:, None, None]
            - (XI * (1 - ETA))[None] * c10[:, None, None]
            - ((1 - XI) * ETA)[None] * c01[:, None, None]
            - (XI * ETA)[None] * c11[:, None, None]
        )
        logical = MeshTri.init_tensor(rp, zp).with_defaults()  # keeps the boundary names (facet indices)
        i = np.searchsorted(rp, logical.p[0])  # grid indices of each logical vertex
        j = np.searchsorted(zp, logical.p[1])
        mesh = replace(logical, doflocs=np.ascontiguousarray(pts[:, i, j]))
        if np.any(_signed_areas(mesh.p, mesh.t) * np.sign(_signed_areas(logical.p, logical.t)) <= 0):
            raise _Diverged("the rezoned mesh folds; cannot rezone")
        sb_new = Basis(mesh, ElementTriP2(), intorder=2)
        q = sb_new.doflocs
        vals = _interpolate_p2(cur, sb.element_dofs.T, np.vstack([ref, pn[None]]), q)
        ref_new, p_new = vals[:2], vals[2]
        # the boundaries map onto the reference boundaries exactly
        on = {name: np.unique(sb_new.get_dofs(name).all()) for name in ("bottom", "left", "right", "top")}
        ref_new[:, on["bottom"]] = q[:, on["bottom"]]
        ref_new[0, on["left"]] = 0.0
        ref_new[0, on["right"]] = Rd
        ref_new[1, on["top"]] = H
        self._bind(mesh, W=np.zeros(1))  # builds the bases; the map back to the reference is set below
        ub_new_vec = _scalar_to_vector(sb_new, self.model.ub)
        W = np.zeros(self.nu)
        W[ub_new_vec] = ref_new - q
        self.model.W = W
        self.U = np.zeros(self.nu)
        P = np.zeros(self.npr)
        P[self.model.pb.nodal_dofs[0]] = p_new[sb_new.nodal_dofs[0]]
        self.P = P
        self._set_free()
        self.rezones += 1
        # contact: nodes inside the old contact radius start active; the next solve sets the multipliers
        a_old = float(tr[self.lam > 0].max()) if np.any(self.lam > 0) else 0.0
        g = self.gap(self._approach)[0]
        act = self.r_top <= a_old + 1e-9
        self.lam = np.where(act, self._c * (np.clip(g, 0.0, None) + 1e-6 * self._fine), 0.0)
        self.active = act

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
            res.r_current_mm,
            self.z_top + self.U[self.top_z],
            res.true_pressure_kpa,
            axisymmetric=self.geometry == "axisymmetric",
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
    rezones : int
        How many times the mesh was laid out anew over the deformed tissue.
    """

    results: list[FemResult]
    loads_n: list[float]
    reach_approach_mm: float
    reach_force_n: float
    stopped: str
    path: list[tuple[float, float]] = field(default_factory=list)
    rezones: int = 0


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
    rezone_distortion: float | None = None,
    max_rezones: int = 60,
    tie_surface: bool = False,
    max_approach_fraction: float = 0.98,
    max_newton: int = 25,
    oscillation_damping: bool = True,
    geometry: str = "axisymmetric",
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
        Radial extent of the fine zone (default :func:`default_fine_extent_mm`: 1.2 x the tissue thickness, at least
        20 mm). [mm]
    growth : float
        Element growth factor outside the fine zone. [-]
    load_tol : float
        Relative force tolerance. [-]
    max_step_fraction, min_step_fraction : float
        Largest approach increment, and the increment below which the continuation gives up, as fractions of
        the tissue thickness. [-]
    log : callable, optional
        Called with a line of progress after every continuation step.
    rezone_distortion : float, optional
        Rezone (:meth:`NormalContact.rezone`) when an element's ratio of principal stretches since its mesh was
        laid out exceeds this, and when Newton's method fails before the step falls below
        ``min_step_fraction``. None (default): one mesh throughout. [-]
    max_rezones : int
        Most rezonings.
    tie_surface : bool
        Tie the radial displacement of each skin edge's midside node to the mean of its vertices'
        (:class:`NormalContact`).
    max_approach_fraction : float
        Deepest approach tried, as a fraction of the tissue thickness ("squeezed onto the bone"). [-]
    max_newton : int
        Most Newton iterations of one solve before the step counts as failed (the semi-smooth iteration
        converges slowly where skin nodes slide over the blend of the tip into the flank).
    oscillation_damping : bool
        Halve Newton steps that point back against the one before (default True; False: the full step
        whenever it inverts no element, for comparison).
    geometry : str
        ``"axisymmetric"`` (default: a peak) or ``"plane-strain"``: the cross-section of a long tool of this
        profile (a cylinder of radius ``tip_radius_mm`` with ``flank_angle_deg`` near 80, a foam roller) on a long
        block, symmetric about its mid-plane; loads and forces are then per mm of length [N/mm] and areas are
        contact widths [mm] (:class:`~spinerelease.contact.fem.axisym.AxisymmetricContact`).

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
    check_range("deepest approach", max_approach_fraction, 0.1, 0.999, "of the tissue thickness")
    radius = domain_radius_mm if domain_radius_mm is not None else max(5.0 * H, 120.0)
    extent = fine_extent_mm if fine_extent_mm is not None else default_fine_extent_mm(H)
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
        tie_surface=tie_surface,
        max_newton=max_newton,
        oscillation_damping=oscillation_damping,
        geometry=geometry,
    )
    results: list[FemResult] = []
    path: list[tuple[float, float]] = []
    d_lo, f_lo, s_lo = 0.0, 0.0, prob.save()
    d_prev, s_prev = None, None  # the converged state before (d_lo, s_lo), for the predictor
    step = 0.02 * H
    k = 0  # next load to locate
    stopped = "done"
    rezoned_at = None

    def rezone_at(d: float, why: str, distortion: float) -> tuple[float, tuple] | None:
        """Rezone at the converged approach ``d`` (``distortion``: the mesh's, for the log) and re-solve there;
        None (state unchanged) if that fails."""
        snapshot, state = dict(prob.__dict__), prob.save()
        try:
            prob.rezone()
            f_new, _ = prob.solve_at(d)
        except _Diverged as exc:
            prob.__dict__.update(snapshot)
            prob.restore(state)
            if log is not None:
                log(f"rezoning at {d:.3f} mm failed: {exc}")
            return None
        if log is not None:
            log(
                f"rezoned ({why}; distortion {distortion:.1f}) at {d:.3f} mm: force {f_lo:.4g} -> {f_new:.4g} N, "
                f"mesh {prob.rezones}"
            )
        return f_new, prob.save()

    while k < len(loads):
        d_try = min(d_lo + step, max_approach_fraction * H)
        if d_try <= d_lo:
            stopped = f"the tissue is squeezed onto the bone (approach {d_lo:.2f} mm, {f_lo:.3g} N)"
            break
        if step < min_step_fraction * H:
            if rezone_distortion is not None and rezoned_at != d_lo and prob.rezones < max_rezones and d_lo > 0:
                prob.restore(s_lo)
                redo = rezone_at(d_lo, "Newton's method failed", prob.distortion())
                rezoned_at = d_lo
                if redo is not None:
                    f_lo, s_lo = redo
                    d_prev, s_prev = None, None
                    step = 4.0 * min_step_fraction * H
                    continue
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
        if (
            rezone_distortion is not None
            and k < len(loads)
            and prob.rezones < max_rezones
            and (distortion := prob.distortion()) > rezone_distortion
        ):
            redo = rezone_at(d_lo, "elements distorted", distortion)
            rezoned_at = d_lo
            if redo is not None:
                f_lo, s_lo = redo
                d_prev, s_prev = None, None
    return IndentationCurve(results, loads, d_lo, f_lo, stopped, path, rezones=prob.rezones)


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


def _signed_areas(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Twice the signed area of each triangle ``t`` (3, E) of the points ``p`` (2, N)."""
    return (p[0, t[1]] - p[0, t[0]]) * (p[1, t[2]] - p[1, t[0]]) - (p[0, t[2]] - p[0, t[0]]) * (p[1, t[1]] - p[1, t[0]])


def _scalar_to_vector(sb, ub) -> np.ndarray:
    """Indices (2, N) of the r and z dofs of a vector P2 basis ``ub`` at each node of the scalar P2 basis ``sb``."""
    vec = np.empty((2, sb.N), dtype=int)
    vec[:, sb.nodal_dofs[0]] = ub.nodal_dofs
    vec[:, sb.facet_dofs[0]] = ub.facet_dofs
    return vec


def _p2_shape(xi: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P2 shape functions (6, ...) on the unit triangle and their derivatives (2, 6, ...), in skfem's node order
    (vertices 0, 1, 2; edges 0-1, 1-2, 0-2)."""
    l0, l1, l2 = 1.0 - xi - eta, xi, eta
    N = np.stack([l0 * (2 * l0 - 1), l1 * (2 * l1 - 1), l2 * (2 * l2 - 1), 4 * l0 * l1, 4 * l1 * l2, 4 * l0 * l2])
    z = np.zeros_like(xi)
    dxi = np.stack([1 - 4 * l0, 4 * l1 - 1, z, 4 * (l0 - l1), 4 * l2, -4 * l2])
    deta = np.stack([1 - 4 * l0, z, 4 * l2 - 1, -4 * l1, 4 * l1, 4 * (l0 - l2)])
    return N, np.stack([dxi, deta])


def _interpolate_p2(nodes: np.ndarray, elems: np.ndarray, values: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Interpolate P2 nodal ``values`` (k, N) of the curved P2 triangles ``elems`` (E, 6) with node positions
    ``nodes`` (2, N) at the points ``pts`` (2, Q).

    The isoparametric map of each of the 16 elements with the nearest centroids is inverted by Newton's method,
    and each point takes the element in which its smallest barycentric coordinate is largest: the containing
    one, or, for a point just outside through round-off, the nearest, with its local coordinates clipped into it.
    """
    from scipy.spatial import cKDTree

    xe = nodes[:, elems]  # (2, E, 6)
    cent = xe[:, :, :3].mean(axis=2)
    Q = pts.shape[1]
    _, cand = cKDTree(cent.T).query(pts.T, k=min(16, elems.shape[0]))  # (Q, k)
    kk = cand.shape[1]
    c = cand.ravel()
    target = np.repeat(pts, kk, axis=1)  # (2, Q k)
    xi = np.full(c.shape, 1.0 / 3.0)
    eta = np.full(c.shape, 1.0 / 3.0)
    xc = xe[:, c, :]  # (2, Q k, 6)
    for _ in range(12):
        N, dN = _p2_shape(xi, eta)
        x = np.einsum("dmn,nm->dm", xc, N)
        J = np.einsum("dmn,anm->dam", xc, dN)  # d x_d / d xi_a
        det = J[0, 0] * J[1, 1] - J[0, 1] * J[1, 0]
        det = np.where(np.abs(det) > 1e-300, det, 1e-300)
        r = target - x
        xi = np.clip(xi + (J[1, 1] * r[0] - J[0, 1] * r[1]) / det, -1.0, 2.0)
        eta = np.clip(eta + (-J[1, 0] * r[0] + J[0, 0] * r[1]) / det, -1.0, 2.0)
    N, _ = _p2_shape(xi, eta)
    miss = np.hypot(*(target - np.einsum("dmn,nm->dm", xc, N)))  # a spurious preimage of the quadratic map
    size = np.hypot(*(xc[:, :, 1] - xc[:, :, 0])) + np.hypot(*(xc[:, :, 2] - xc[:, :, 0]))
    bary = np.stack([1.0 - xi - eta, xi, eta]).min(axis=0)
    bary = np.where(miss <= 1e-6 * size, bary, -np.inf).reshape(Q, kk)
    if np.any(np.all(np.isinf(bary), axis=1)):
        raise _Diverged("a point of the new mesh lies in no element of the old one; cannot rezone")
    pick = np.arange(Q) * kk + np.argmax(bary, axis=1)
    e = c[pick]
    l1, l2 = np.clip(xi[pick], 0.0, 1.0), np.clip(eta[pick], 0.0, 1.0)
    s12 = l1 + l2
    over = s12 > 1.0
    l1[over], l2[over] = l1[over] / s12[over], l2[over] / s12[over]
    N, _ = _p2_shape(l1, l2)
    return np.einsum("kQn,nQ->kQ", values[:, elems[e]], N)
