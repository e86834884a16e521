"""Axisymmetric finite-element reference model: a rigid rounded peak pressed into layered soft tissue on bone.

The tissue block is a cylinder of radius ``domain_radius_mm`` made of horizontal layers (skin, fat, muscle,
listed from the surface down) bonded to rigid, flat bone at its base (``u = 0``). The top surface is free
except where a rigid sphere (the rounded tool peak) touches it; the outer cylinder wall is traction free.

Discretisation: Taylor-Hood P2-P1 triangles (quadratic displacement, linear pressure) in the (r, z)
half-plane, a mixed displacement-pressure formulation that does not lock for nearly incompressible tissue.
Two material models:

* ``"linear"``: small-strain isotropic elasticity, ``sigma = 2 mu dev(eps) + p I``, ``p = kappa tr(eps)``;
* ``"neo-hookean"``: large-strain, decoupled compressible neo-Hookean solid (total Lagrangian)::

      psi = mu/2 (J^(-2/3) I1 - 3) + kappa/2 (J - 1)^2,   P = mu J^(-2/3) (F - I1/3 F^-T) + p J F^-T,

  with the pressure ``p`` an independent field, ``J - 1 - p/kappa = 0`` weakly (Simo & Taylor 1991),
  solved by Newton's method with the consistent tangent.

Contact is frictionless and enforced exactly by an active set on the top-surface nodes: an active node's
vertical displacement is prescribed to lie on the sphere (at its current radial position), a node leaves the
set when its reaction pulls on the tool, and joins when it penetrates. The approach (indentation) that
carries the requested force is found by a secant iteration on the force (load control). Pressures are
nominal (per undeformed area), obtained from the nodal reactions through the boundary mass matrix.
This vertical-contact constraint holds while the contact stays on the tip (a/R < ~0.5); for deep indentation,
with contact on the true normal of the PSO-Spine's peak, see :mod:`spinerelease.contact.fem.deep`.

With ``geometry="plane-strain"`` the same (r, z) mesh is the cross-section of a long block under a long tool (a
cylinder: a foam roller), symmetric about ``r = 0``: no hoop strain, volume weight 2 (both halves, per mm of
length) instead of ``2 pi r``, forces per mm of length. Checked against the plane-strain Hertz solution (Johnson
1985, sec. 4.2) in ``tests/test_fem_plane_strain.py``.

Units: mm, kPa, N (1 kPa mm^2 = 1e-3 N).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ... import citations
from ...errors import InputError, check_positive, check_range

#: Material models of :func:`solve_axisymmetric`.
MODELS = ("linear", "neo-hookean")

#: Geometries of the (r, z) model: a body of revolution about the axis ``r = 0``, or a cross-section in plane
#: strain (``r`` read as x across a long tool such as a foam roller, ``r = 0`` a plane of symmetry; forces per mm
#: of length).
GEOMETRIES = ("axisymmetric", "plane-strain")

#: Most triangles of an axisymmetric mesh (P2-P1: about 4.5 unknowns per triangle; the sparse LU of 200000
#: triangles needs about 2 GB).
MAX_TRIANGLES = 200_000


@dataclass(frozen=True)
class Layer:
    """One horizontal tissue layer.

    Attributes
    ----------
    name : str
    thickness_mm : float
        Layer thickness. [mm]
    modulus_kpa : float
        Small-strain Young's modulus. [kPa]
    """

    name: str
    thickness_mm: float
    modulus_kpa: float

    def __post_init__(self) -> None:
        check_positive(f"thickness of layer {self.name!r}", self.thickness_mm, "mm")
        check_positive(f"modulus of layer {self.name!r}", self.modulus_kpa, "kPa")


@dataclass(frozen=True)
class FemResult:
    """Solution of an axisymmetric FEM contact problem.

    Attributes
    ----------
    r_mm : ndarray
        Radial positions of the top-surface nodes (undeformed), sorted. [mm]
    pressure_kpa : ndarray
        Nominal contact pressure at those nodes (0 outside contact). [kPa]
    approach_mm : float
        Rigid approach of the sphere from first touch (indentation depth). [mm]
    force_n : float
        Total contact force (sum of the nodal reactions); per mm of length in plane strain
        (``extras["geometry"]``). [N, or N/mm]
    contact_radius_mm : float
        Radius of the contact circle (midway between the outermost active and innermost free node). [mm]
    bone_force_n : float
        Total normal reaction on the bone (equals ``force_n`` at equilibrium). [N]
    bone_peak_pressure_kpa : float
        Largest normal traction on the bone. [kPa]
    max_compressive_strain : float
        Largest compressive surface displacement divided by the local tissue thickness. [-]
    model : str
    n_dofs : int
    newton_iterations : int
    converged : bool
    load_error : float
        Relative mismatch between the requested and the achieved force. [-]
    r_current_mm : ndarray
        Deformed radial positions of the top-surface nodes. [mm]
    true_pressure_kpa : ndarray
        Cauchy (true) contact pressure at those nodes: force per deformed area, i.e. the pressure a sensor on
        the rigid tool reads. Equals ``pressure_kpa`` at small strain. [kPa]
    contact_radius_current_mm : float
        Radius of the contact circle on the deformed surface (on the tool). [mm]
    """

    r_mm: np.ndarray
    pressure_kpa: np.ndarray
    approach_mm: float
    force_n: float
    contact_radius_mm: float
    bone_force_n: float
    bone_peak_pressure_kpa: float
    max_compressive_strain: float
    model: str
    n_dofs: int
    newton_iterations: int
    converged: bool
    load_error: float
    r_current_mm: np.ndarray | None = None
    true_pressure_kpa: np.ndarray | None = None
    contact_radius_current_mm: float = float("nan")
    extras: dict = field(default_factory=dict)

    @property
    def peak_pressure_kpa(self) -> float:
        """Largest contact pressure. [kPa]"""
        return float(self.pressure_kpa.max())

    @property
    def plane_strain(self) -> bool:
        """The result is a plane-strain cross-section (forces per mm of length, areas per mm: widths)."""
        return self.extras.get("geometry") == "plane-strain"

    @property
    def contact_area_mm2(self) -> float:
        """Contact area ``pi a^2`` (undeformed surface); in plane strain the contact width ``2 a`` (area per mm of
        length). [mm^2, or mm]"""
        a = self.contact_radius_mm
        return float(2.0 * a if self.plane_strain else np.pi * a**2)

    @property
    def true_peak_pressure_kpa(self) -> float:
        """Largest Cauchy contact pressure (force per deformed area, as read on the tool). [kPa]"""
        return float(np.max(self.true_pressure_kpa)) if self.true_pressure_kpa is not None else float("nan")

    @property
    def contact_area_current_mm2(self) -> float:
        """Contact area on the deformed surface, ``pi a_current^2`` (the tool area in contact); in plane strain
        the width ``2 a_current``. [mm^2, or mm]"""
        a = self.contact_radius_current_mm
        return float(2.0 * a if self.plane_strain else np.pi * a**2)


def lame_from_young(modulus_kpa: float, poisson: float) -> tuple[float, float]:
    """Shear and bulk moduli ``mu = E / (2 (1 + nu))``, ``kappa = E / (3 (1 - 2 nu))``. [kPa]"""
    return modulus_kpa / (2 * (1 + poisson)), modulus_kpa / (3 * (1 - 2 * poisson))


# ---------------------------------------------------------------------------------------------------------------
# kinematics (axisymmetric): F = [[1+ur,r  ur,z  0], [uz,r  1+uz,z  0], [0  0  1+ur/r]]
# ---------------------------------------------------------------------------------------------------------------


def _grad3(value: np.ndarray, grad: np.ndarray, r: np.ndarray, axisymmetric: bool = True) -> np.ndarray:
    """3x3 displacement gradient of an axisymmetric field (components r, z, theta), or of a plane-strain field
    (components x, z, y; no out-of-plane strain) with ``axisymmetric=False``."""
    g = np.zeros((3, 3) + r.shape)
    g[:2, :2] = grad
    if axisymmetric:
        g[2, 2] = value[0] / r
    return g


def _inv3(a: np.ndarray) -> np.ndarray:
    """Inverse of a field of 3x3 matrices with the (r, z) block and the theta entry decoupled."""
    out = np.zeros_like(a)
    det2 = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
    out[0, 0] = a[1, 1] / det2
    out[1, 1] = a[0, 0] / det2
    out[0, 1] = -a[0, 1] / det2
    out[1, 0] = -a[1, 0] / det2
    out[2, 2] = 1.0 / a[2, 2]
    return out


def _ddot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij...,ij...->...", a, b)


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij...,jk...->ik...", a, b)


def _tr(a: np.ndarray) -> np.ndarray:
    return a[0, 0] + a[1, 1] + a[2, 2]


def _material(z: np.ndarray, tops: np.ndarray, mus: np.ndarray, kappas: np.ndarray) -> tuple[np.ndarray, ...]:
    """Shear and bulk moduli at heights ``z`` (layer ``i`` spans ``tops[i+1] < z < tops[i]``)."""
    idx = np.clip(np.searchsorted(-tops, -z) - 1, 0, len(mus) - 1)
    return mus[idx], kappas[idx]


class _Model:
    """Assembly of residual and tangent of the mixed u-p problem (axisymmetric, or plane strain per mm of length)."""

    def __init__(
        self,
        mesh,
        layers: list[Layer],
        poisson: float,
        model: str,
        intorder: int = 4,
        W: np.ndarray | None = None,
        geometry: str = "axisymmetric",
    ) -> None:
        from skfem import Basis, ElementTriP1, ElementTriP2, ElementVector

        self.mesh = mesh
        self.model = model
        self.axisymmetric = geometry == "axisymmetric"
        #: reference position minus mesh position of every P2 node (None: the mesh is the reference; a rezoned
        #: mesh is laid out in a deformed configuration and carries the map back to the reference)
        self.W = W
        self.ub = Basis(mesh, ElementVector(ElementTriP2()), intorder=intorder)
        self.pb = Basis(mesh, ElementTriP1(), intorder=intorder)
        self.nu = self.ub.N
        self.npr = self.pb.N
        thick = np.array([la.thickness_mm for la in layers])
        total = thick.sum()
        self.tops = total - np.concatenate([[0.0], np.cumsum(thick)])
        lm = [lame_from_young(la.modulus_kpa, poisson) for la in layers]
        self.mus = np.array([m for m, _ in lm])
        self.kappas = np.array([k for _, k in lm])
        self._K0 = None

    def assemble(self, U: np.ndarray, P: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        """Tangent matrix and internal-force residual at displacement ``U`` and pressure ``P``."""
        if self.model == "linear":
            if self._K0 is None:
                self._K0 = self._assemble_nl(np.zeros(self.nu), np.zeros(self.npr))[0]
            x = np.concatenate([U, P])
            return self._K0, self._K0 @ x
        return self._assemble_nl(U, P)

    def _assemble_nl(self, U: np.ndarray, P: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        from skfem import BilinearForm, LinearForm, asm

        tops, mus, kappas = self.tops, self.mus, self.kappas
        axi = self.axisymmetric
        # volume weight: 2 pi r per unit (r, z) area about the axis; in plane strain 2 (the mesh is the half x >= 0
        # of a section symmetric about x = 0, per mm of length), so forces are those of the whole section
        weight = 2 * np.pi if axi else 2.0

        rezoned = self.W is not None

        def prior(w):
            """Deformation gradient of the mesh's layout from the reference (identity unless rezoned), its
            volume ratio and the reference height (for the layer)."""
            if not rezoned:
                return None, 1.0, w.x[1]
            G = _grad3(np.asarray(w["w0"]), w["w0"].grad, w.x[0], axi)  # d(X - x~)/dx~
            G[0, 0] += 1
            G[1, 1] += 1
            G[2, 2] += 1
            detG = (G[0, 0] * G[1, 1] - G[0, 1] * G[1, 0]) * G[2, 2]
            return _inv3(G), detG, w.x[1] + np.asarray(w["w0"])[1]

        def grad(v, r, Fp):
            g = _grad3(np.asarray(v), v.grad, r, axi)
            return g if Fp is None else _mm(g, Fp)

        def state(w):
            r = w.x[0]
            Fp, detG, z_ref = prior(w)
            F = _grad3(np.asarray(w["u0"]), w["u0"].grad, r, axi)
            F[0, 0] += 1
            F[1, 1] += 1
            F[2, 2] += 1
            if Fp is not None:
                F = _mm(F, Fp)
            Fi = _inv3(F)
            FiT = np.swapaxes(Fi, 0, 1)
            J = (F[0, 0] * F[1, 1] - F[0, 1] * F[1, 0]) * F[2, 2]
            mu, kap = _material(z_ref, tops, mus, kappas)
            return (r if axi else 1.0) * detG, F, FiT, J, mu, kap, Fp, r

        @BilinearForm
        def k_uu(du, v, w):
            r, F, FiT, J, mu, _, Fp, rm = state(w)
            dF = grad(du, rm, Fp)
            dV = grad(v, rm, Fp)
            p = np.asarray(w["p0"])
            Jm = J ** (-2.0 / 3.0)
            I1 = _ddot(F, F)
            A = _ddot(FiT, dF)
            FdF = _ddot(F, dF)
            FiT_dFT_FiT = _mm(_mm(FiT, np.swapaxes(dF, 0, 1)), FiT)
            dP = mu * (
                -2.0 / 3.0 * Jm * A * (F - I1 / 3 * FiT) + Jm * (dF - 2.0 / 3.0 * FdF * FiT + I1 / 3 * FiT_dFT_FiT)
            )
            dP = dP + p * J * (A * FiT - FiT_dFT_FiT)
            return weight * r * _ddot(dP, dV)

        @BilinearForm
        def k_up(dp, v, w):  # trial: pressure, test: displacement
            r, F, FiT, J, _, _, Fp, rm = state(w)
            return weight * r * dp * J * _ddot(FiT, grad(v, rm, Fp))

        @BilinearForm
        def k_pp(dp, q, w):
            r, _, _, _, _, kap, _, _ = state(w)
            return -weight * r * dp * q / kap

        @LinearForm
        def r_u(v, w):
            r, F, FiT, J, mu, _, Fp, rm = state(w)
            p = np.asarray(w["p0"])
            I1 = _ddot(F, F)
            Pk = mu * J ** (-2.0 / 3.0) * (F - I1 / 3 * FiT) + p * J * FiT
            return weight * r * _ddot(Pk, grad(v, rm, Fp))

        @LinearForm
        def r_p(q, w):
            r, _, _, J, _, kap, _, _ = state(w)
            return weight * r * (J - 1 - np.asarray(w["p0"]) / kap) * q

        u0 = self.ub.interpolate(U)
        p0 = self.pb.interpolate(P)
        fields = {"u0": u0, "p0": p0}
        if rezoned:
            fields["w0"] = self.ub.interpolate(self.W)
        # an inverted element (J <= 0, tried by a damped Newton step) gives non-finite values, which the caller
        # detects and rejects; numpy need not warn about them
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            Kuu = asm(k_uu, self.ub, **fields)
            Kup = asm(k_up, self.pb, self.ub, **fields)
            Kpp = asm(k_pp, self.pb, **fields)
            K = sp.bmat([[Kuu, Kup], [Kup.T, Kpp]], format="csr")
            R = np.concatenate([asm(r_u, self.ub, **fields), asm(r_p, self.pb, **fields)])
        return K, R


def graded_points(length_mm: float, fine_mm: float, fine_extent_mm: float, growth: float) -> np.ndarray:
    """Points from 0 to ``length_mm``: uniform spacing ``fine_mm`` up to ``fine_extent_mm``, then growing."""
    pts = list(np.arange(0.0, min(fine_extent_mm, length_mm) + 1e-9, fine_mm))
    h = fine_mm
    while pts[-1] < length_mm - 1e-9:
        h *= growth
        pts.append(min(pts[-1] + h, length_mm))
    if length_mm - pts[-2] < 0.3 * (pts[-2] - pts[-3] if len(pts) > 2 else length_mm):
        pts.pop(-2)
    return np.array(pts)


def layered_depth_points(layers: list[Layer], fine_mm: float, fine_depth_mm: float, growth: float) -> np.ndarray:
    """Vertical mesh points (z from bone, 0, to the skin surface) that include every layer interface.

    Spacing is ``fine_mm`` within ``fine_depth_mm`` of the surface and grows by ``growth`` below it.
    """
    total = sum(la.thickness_mm for la in layers)
    depth = graded_points(total, fine_mm, fine_depth_mm, growth)  # measured from the surface down
    interfaces = np.cumsum([la.thickness_mm for la in layers])[:-1]
    depth = np.union1d(depth, interfaces)
    # drop points closer than a fifth of the local spacing to an interface (slivers)
    keep = [depth[0]]
    for d in depth[1:]:
        if d - keep[-1] > 0.2 * fine_mm or d in interfaces or d == depth[-1]:
            keep.append(d)
    depth = np.array(keep)
    return np.sort(total - depth)


def _sphere_gap_height(r_mm: np.ndarray, radius_mm: float) -> np.ndarray:
    """Height of a sphere's surface above its lowest point at radial distance r. [mm]"""
    rr = np.minimum(np.abs(r_mm), radius_mm * 0.999)
    return radius_mm - np.sqrt(radius_mm**2 - rr**2)


class _Diverged(RuntimeError):
    """Newton's method failed (inverted element, singular tangent or no convergence)."""


class AxisymmetricContact:
    """A meshed axisymmetric tissue block and its contact state, reused across approaches (continuation).

    Parameters
    ----------
    layers : list of Layer
        Tissue layers from the skin surface down to the bone.
    tip_radius_mm : float
        Radius of the rigid spherical peak. [mm]
    domain_radius_mm : float
        Radius of the tissue cylinder. [mm]
    poisson : float
        Poisson's ratio of every layer (< 0.5). [-]
    model : str
        ``"linear"`` or ``"neo-hookean"``.
    fine_mm : float
        Element size near the contact. [mm]
    fine_extent_mm : float
        Radial extent and depth of the finely meshed zone. [mm]
    growth : float
        Element size growth factor away from the contact. [-]
    peak_flank_deg : float, optional
        Press the PSO-Spine's rounded cone instead of a sphere. [degrees]
    geometry : str
        ``"axisymmetric"`` (default) or ``"plane-strain"``: the (r, z) mesh is then a cross-section of a long
        block pressed by a long tool (a cylinder of the tip radius, a foam roller), ``r`` the distance from the
        tool's mid-plane, and forces are per mm of length [N/mm], areas per mm of length (the contact width) [mm].
    """

    def __init__(
        self,
        layers: list[Layer],
        tip_radius_mm: float,
        domain_radius_mm: float,
        *,
        poisson: float = 0.49,
        model: str = "neo-hookean",
        fine_mm: float = 0.5,
        fine_extent_mm: float = 10.0,
        growth: float = 1.25,
        peak_flank_deg: float | None = None,
        geometry: str = "axisymmetric",
    ) -> None:
        from skfem import MeshTri

        if not layers:
            raise InputError("at least one tissue layer is needed")
        if model not in MODELS:
            raise InputError(f"unknown material model {model!r}; choose one of {MODELS}")
        if geometry not in GEOMETRIES:
            raise InputError(f"unknown geometry {geometry!r}; choose one of {GEOMETRIES}")
        self.geometry = geometry
        check_positive("tip radius", tip_radius_mm, "mm")
        check_positive("domain radius", domain_radius_mm, "mm")
        check_range("Poisson's ratio", poisson, 0.0, 0.49999)
        check_positive("element size", fine_mm, "mm")
        check_range("mesh growth factor", growth, 1.0, 2.0)
        citations.use("taylor1973", "simo1991")
        self.layers = list(layers)
        self.tip_radius_mm = float(tip_radius_mm)
        self.peak_flank_deg = None if peak_flank_deg is None else check_range("flank angle", peak_flank_deg, 10, 80)
        self.model_name = model
        self.thickness_mm = float(sum(la.thickness_mm for la in layers))
        rp = graded_points(domain_radius_mm, fine_mm, fine_extent_mm, growth)
        zp = layered_depth_points(self.layers, fine_mm, fine_extent_mm, growth)
        n_tri = 2 * (len(rp) - 1) * (len(zp) - 1)
        if n_tri > MAX_TRIANGLES:
            raise InputError(
                f"the finite-element mesh would have {n_tri} triangles (more than {MAX_TRIANGLES}, too large for "
                f"the direct solver's memory); use a larger element size than {fine_mm:g} mm or a smaller domain"
            )
        self.domain_radius_mm = float(domain_radius_mm)
        self.poisson = float(poisson)
        self._grid = (rp, zp)  # the reference mesh's radial and vertical points (rezoning maps them again)
        self._bind(MeshTri.init_tensor(rp, zp).with_defaults())
        self.U = np.zeros(self.nu)
        self.P = np.zeros(self.npr)
        self.active = np.zeros(len(self.top_z), dtype=bool)
        self.newton_total = 0

    def _bind(self, mesh, W: np.ndarray | None = None) -> None:
        """Build the model and the boundary index sets on ``mesh`` (with boundaries left, right, top, bottom).

        ``W`` (reference minus mesh position of the P2 nodes) is given for a rezoned mesh; the top surface nodes
        then sit at their mesh heights ``z_top`` instead of the undeformed skin height.
        """
        self.model = _Model(mesh, self.layers, self.poisson, self.model_name, W=W, geometry=self.geometry)
        ub = self.model.ub
        self.nu, self.npr = self.model.nu, self.model.npr
        self.n = self.nu + self.npr
        H = self.thickness_mm
        loc = ub.doflocs
        self.bottom = ub.get_dofs("bottom").all()
        self.axis = ub.get_dofs("left").all("u^1")
        top_z = ub.get_dofs("top").all("u^2")
        order = np.argsort(loc[0, top_z])
        self.top_z = top_z[order]
        top_r = ub.get_dofs("top").all("u^1")
        self.top_r = top_r[np.argsort(loc[0, top_r])]
        self.r_top = loc[0, self.top_z]
        if W is None:
            assert np.allclose(loc[1, self.top_z], H)
            self.z_top = np.full(len(self.top_z), H)
        else:
            self.z_top = loc[1, self.top_z].copy()
        self.fixed = np.unique(np.concatenate([self.bottom, self.axis]))
        self.bottom_z = ub.get_dofs("bottom").all("u^2")
        self._mass = self._boundary_mass("top")
        self._bmass = self._boundary_mass("bottom")

    def _boundary_mass(self, facets: str) -> tuple[np.ndarray, sp.csr_matrix]:
        """P2 boundary mass matrix (weight 2 pi r; 2 in plane strain, both halves of the section) on the named
        boundary, restricted to its dofs."""
        from skfem import BilinearForm, ElementTriP2, FacetBasis, asm

        fb = FacetBasis(self.model.mesh, ElementTriP2(), facets=self.model.mesh.boundaries[facets], intorder=5)

        axi = self.geometry == "axisymmetric"

        @BilinearForm
        def mass(u, v, w):
            return (2 * np.pi * w.x[0] if axi else 2.0) * u * v

        M = asm(mass, fb).tocsr()
        dofs = np.unique(fb.get_dofs(self.model.mesh.boundaries[facets]).all())
        dofs = dofs[np.argsort(fb.doflocs[0, dofs])]
        return dofs, M[dofs][:, dofs]

    def _current_boundary_mass(self) -> sp.csr_matrix:
        """Boundary mass matrix of the top surface in the deformed configuration (vertex displacements)."""
        from dataclasses import replace as _replace

        from skfem import BilinearForm, ElementTriP2, FacetBasis, asm

        mesh = self.model.mesh
        moved = _replace(mesh, doflocs=mesh.doflocs + self.U[self.model.ub.nodal_dofs])
        fb = FacetBasis(moved, ElementTriP2(), facets=moved.boundaries["top"], intorder=5)

        axi = self.geometry == "axisymmetric"

        @BilinearForm
        def mass(u, v, w):
            return (2 * np.pi * w.x[0] if axi else 2.0) * u * v

        dofs = self._mass[0]  # same scalar P2 numbering as on the undeformed mesh
        return asm(mass, fb).tocsr()[dofs][:, dofs]

    def _solve_fixed_active(self, approach_mm: float, tol: float, max_newton: int) -> tuple[int, bool]:
        """Newton iterations with the current active set; returns (iterations, converged)."""
        act_z = self.top_z[self.active]
        act_r = self.top_r[self.active]
        D = np.concatenate([self.fixed, act_z])
        free = np.setdiff1d(np.arange(self.n), D)
        scale = None
        for it in range(1, max_newton + 1):
            # prescribed values: zero on bone/axis, on the sphere at the current radial position for contact
            r_cur = self.r_top[self.active] + self.U[act_r]
            target = -approach_mm + self._tool_height(r_cur)
            x = np.concatenate([self.U, self.P])
            dx = np.zeros(self.n)
            dx[act_z] = target - x[act_z]
            dx[self.fixed] = -x[self.fixed]
            K, R = self.model.assemble(self.U, self.P)
            if not np.all(np.isfinite(R)):
                raise _Diverged("non-finite residual (element inverted)")
            rhs = -(R[free] + K[free][:, D] @ dx[D])
            # residual scale: the contact reactions (a converged state keeps them, so re-solves terminate)
            ref = max(np.abs(K[free][:, D] @ dx[D]).max(), np.abs(R[act_z]).max(initial=0.0), 1e-30)
            scale = ref if scale is None else max(scale, ref)
            try:
                dx[free] = splu(K[free][:, free].tocsc()).solve(rhs)
            except RuntimeError as exc:
                raise _Diverged(str(exc)) from None
            if not np.all(np.isfinite(dx)):
                raise _Diverged("non-finite Newton step")
            x = x + dx
            self.U, self.P = x[: self.nu], x[self.nu :]
            if self.model_name == "linear":
                return it, True
            res = np.abs(rhs).max() / scale
            step = np.abs(dx[: self.nu]).max() / max(self.thickness_mm, 1e-12)
            if res < tol and step < tol:
                return it, True
        return max_newton, False

    def save(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copy of the current state (displacement, pressure, active set)."""
        return self.U.copy(), self.P.copy(), self.active.copy()

    def restore(self, state: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Return to a state from :meth:`save`."""
        self.U, self.P, self.active = state[0].copy(), state[1].copy(), state[2].copy()

    def internal_force(self) -> np.ndarray:
        """Internal nodal force vector (reactions at constrained dofs). [kPa mm^2]"""
        return self.model.assemble(self.U, self.P)[1]

    def _tool_height(self, r_mm: np.ndarray) -> np.ndarray:
        """Height of the tool's surface above its lowest point at radial distance r: a sphere, or with
        ``peak_flank_deg`` the PSO-Spine's rounded cone (:func:`~spinerelease.contact.fem.deep.rounded_cone_profile`).
        [mm]"""
        if self.peak_flank_deg is None:
            return _sphere_gap_height(r_mm, self.tip_radius_mm)
        from .deep import rounded_cone_profile

        return rounded_cone_profile(np.abs(r_mm), self.tip_radius_mm, self.peak_flank_deg)[0]

    def solve_at(
        self, approach_mm: float, *, tol: float = 1e-7, max_newton: int = 30, max_active: int = 60
    ) -> tuple[float, bool]:
        """Equilibrium at a prescribed approach; returns (contact force [N], converged)."""
        # initial guess: nodes already at or beyond the sphere (at least the node on the axis)
        r_cur = self.r_top + self.U[self.top_r]
        self.active |= self.U[self.top_z] >= -approach_mm + self._tool_height(r_cur)
        self.active[0] = True
        conv = True
        loose = max(tol, 1e-4)
        for _ in range(max_active):
            it, ok = self._solve_fixed_active(approach_mm, loose, max_newton)
            self.newton_total += it
            if not ok:
                raise _Diverged("Newton's method did not converge")
            conv = ok
            f = self.internal_force()
            react = f[self.top_z]  # downward push of the tool: negative (internal force opposes)
            r_cur = self.r_top + self.U[self.top_r]
            pen = self.U[self.top_z] - (-approach_mm + self._tool_height(r_cur))
            tens = self.active & (react > 1e-10 * max(1.0, np.abs(react).max()))
            new = ~self.active & (pen > 1e-9 * max(approach_mm, 1e-9))
            if not tens.any() and not new.any():
                if loose > tol:  # active set settled: finish Newton's method at full accuracy
                    loose = tol
                    continue
                return -float(react[self.active].sum()) * 1e-3, conv
            # release the most tensile node(s) first, add penetrating ones
            self.active = (self.active & ~tens) | new
            if not self.active.any():
                self.active[0] = True
        return -float(self.internal_force()[self.top_z][self.active].sum()) * 1e-3, False

    def result(self, approach_mm: float, force_target_n: float, converged: bool) -> FemResult:
        """Post-process the current state into a :class:`FemResult`."""
        f = self.internal_force()
        fz = -f[self.top_z]  # nodal reactions of the tool
        force_n = -float(f[self.top_z][self.active].sum()) * 1e-3
        return self._package(approach_mm, force_target_n, converged, fz, self.active, force_n, f)

    def _package(
        self,
        approach_mm: float,
        force_target_n: float,
        converged: bool,
        surface_force: np.ndarray,
        active: np.ndarray,
        force_n: float,
        internal_force: np.ndarray,
        extras: dict | None = None,
    ) -> FemResult:
        """A :class:`FemResult` from the tool's nodal forces on the surface (``surface_force``, ``active`` nodes).

        Pressures come from the nodal forces through the consistent boundary mass matrix, nominal (undeformed
        surface) and true (deformed surface); the bone traction from the internal force at the bone.
        """
        dofs, M = self._mass
        if len(surface_force) != M.shape[0]:
            raise RuntimeError("boundary mass matrix and surface dofs do not match")
        pressure = splu(M.tocsc()).solve(surface_force)
        pressure = np.where(active, np.clip(pressure, 0.0, None), 0.0)
        true_p = splu(self._current_boundary_mass().tocsc()).solve(surface_force)
        true_p = np.where(active, np.clip(true_p, 0.0, None), 0.0)
        r_cur = self.r_top + self.U[self.top_r]
        idx = np.flatnonzero(active)
        last = idx.max() if len(idx) else 0
        nxt = min(last + 1, len(self.r_top) - 1)
        a = 0.5 * (self.r_top[last] + self.r_top[nxt])
        a_cur = 0.5 * (r_cur[last] + r_cur[nxt])
        bdofs, Mb = self._bmass
        bz = self.bottom_z[np.argsort(self.model.ub.doflocs[0, self.bottom_z])]
        fb = internal_force[bz]
        bone_p = splu(Mb.tocsc()).solve(fb)
        # compressive strain: surface displacement over total thickness
        strain = float(np.max(-(self.U[self.top_z] + (self.z_top - self.thickness_mm))) / self.thickness_mm)
        return FemResult(
            r_mm=self.r_top.copy(),
            pressure_kpa=pressure,
            approach_mm=float(approach_mm),
            force_n=force_n,
            contact_radius_mm=float(a),
            bone_force_n=float(fb.sum()) * 1e-3,
            bone_peak_pressure_kpa=float(np.max(bone_p)),
            max_compressive_strain=strain,
            model=self.model_name,
            n_dofs=self.n,
            newton_iterations=self.newton_total,
            converged=converged,
            load_error=abs(force_n - force_target_n) / force_target_n,
            r_current_mm=r_cur,
            true_pressure_kpa=true_p,
            contact_radius_current_mm=float(a_cur),
            extras={"geometry": self.geometry, **({} if extras is None else extras)},
        )


class _IllinoisBracket:
    """Bracket of a root of ``g`` (here log(force / load)) for the Illinois (modified regula falsi) method.

    Holds the lower and upper end, each with its approach, force, saved state and residual ``g``; :meth:`update`
    replaces the end on the new point's side and halves the other end's residual when the same side is replaced
    twice in a row (Dowell & Jarratt 1971), which keeps regula falsi from stalling on one end.
    """

    def __init__(self, lo: tuple, hi: tuple) -> None:
        self.d_lo, self.f_lo, self.s_lo, self.g_lo = lo
        self.d_hi, self.f_hi, self.s_hi, self.g_hi = hi
        self._side = 0

    def update(self, d: float, f: float, state: tuple, g: float) -> None:
        if g < 0:
            self.d_lo, self.f_lo, self.s_lo, self.g_lo = d, f, state, g
            if self._side == -1:
                self.g_hi *= 0.5
            self._side = -1
        else:
            self.d_hi, self.f_hi, self.s_hi, self.g_hi = d, f, state, g
            if self._side == 1:
                self.g_lo *= 0.5
            self._side = 1


def solve_axisymmetric(
    load_n: float,
    tip_radius_mm: float,
    layers: list[Layer],
    *,
    domain_radius_mm: float | None = None,
    poisson: float = 0.49,
    model: str = "neo-hookean",
    fine_mm: float | None = None,
    fine_extent_mm: float | None = None,
    growth: float = 1.25,
    load_tol: float = 2e-3,
    max_secant: int = 30,
    steps: int = 4,
    peak_flank_deg: float | None = None,
    geometry: str = "axisymmetric",
) -> FemResult:
    """Load-controlled frictionless indentation of layered tissue on bone by a rigid sphere (axisymmetric FEM).

    Parameters
    ----------
    load_n : float
        Force pressing the sphere into the tissue. [N]
    tip_radius_mm : float
        Sphere (peak tip) radius. [mm]
    layers : list of Layer
        Tissue layers from the skin surface down to the bone.
    domain_radius_mm : float, optional
        Radius of the tissue cylinder (default: 4 x total thickness, at least 6 x tip radius). [mm]
    poisson : float
        Poisson's ratio of every layer. [-]
    model : str
        ``"linear"`` (small strain) or ``"neo-hookean"`` (large strain).
    fine_mm : float, optional
        Element size in the contact zone (default: tip radius / 16). [mm]
    fine_extent_mm : float, optional
        Extent of the fine zone (default: 0.8 x tip radius). [mm]
    growth : float
        Element growth factor outside the fine zone. [-]
    load_tol : float
        Relative force tolerance of the load-control (secant) iteration. [-]
    max_secant : int
        Most secant iterations.
    steps : int
        Approach increments of the initial continuation (neo-Hookean model).
    peak_flank_deg : float, optional
        Press the PSO-Spine's rounded cone (the sphere blended into a cone of this flank angle) instead of a
        sphere. The contact is vertical either way (the surface slides freely under the tool; the true-normal
        model is :mod:`spinerelease.contact.fem.deep`). [degrees]
    geometry : str
        ``"axisymmetric"`` (default) or ``"plane-strain"`` (a cylinder of radius ``tip_radius_mm`` on a long
        block; ``load_n`` is then per mm of length [N/mm], see :class:`AxisymmetricContact`).

    Returns
    -------
    FemResult

    References
    ----------
    Taylor C, Hood P (1973). A numerical solution of the Navier-Stokes equations using the finite element
    technique. Computers & Fluids 1, 73-100.
    Simo JC, Taylor RL (1991). Quasi-incompressible finite elasticity in principal stretches. Continuum basis
    and numerical algorithms. Comput Methods Appl Mech Eng 85, 273-310.
    """
    load = check_positive("load", load_n, "N")
    R = check_positive("tip radius", tip_radius_mm, "mm")
    H = sum(la.thickness_mm for la in layers) if layers else 0.0
    if domain_radius_mm is None:
        domain_radius_mm = max(4.0 * H, 6.0 * R)
    fine = R / 16 if fine_mm is None else fine_mm
    extent = 0.8 * R if fine_extent_mm is None else fine_extent_mm
    prob = AxisymmetricContact(
        layers,
        R,
        domain_radius_mm,
        poisson=poisson,
        model=model,
        fine_mm=fine,
        fine_extent_mm=extent,
        growth=growth,
        peak_flank_deg=peak_flank_deg,
        geometry=geometry,
    )
    # first guess of the approach from a linear solve at a small indentation (force ~ d^1.5 .. d^3)
    d0 = 0.01 * min(H, R)
    lin = (
        AxisymmetricContact(
            layers,
            R,
            domain_radius_mm,
            poisson=poisson,
            model="linear",
            fine_mm=fine,
            fine_extent_mm=extent,
            growth=growth,
            peak_flank_deg=peak_flank_deg,
            geometry=geometry,
        )
        if model != "linear"
        else prob
    )
    f0, _ = lin.solve_at(d0)
    d_guess = min(d0 * (load / f0) ** (2.0 / 3.0), 0.9 * H)
    if model == "linear":
        prob.active[:] = False
        prob.U[:] = 0.0
    # march the approach up (halving the increment on failure) until the force brackets the load
    d_lo, f_lo, s_lo = 0.0, 0.0, prob.save()
    step = d_guess / (1 if model == "linear" else steps)
    d_hi = f_hi = s_hi = None
    while d_hi is None:
        d_try = min(d_lo + step, 0.97 * H)
        if d_try <= d_lo * (1 + 1e-9):
            raise InputError(f"the tissue cannot carry {load} N: it is squeezed to the bone before")
        try:
            f_try, _ = prob.solve_at(d_try)
        except _Diverged:
            prob.restore(s_lo)
            step *= 0.5
            if step < 1e-4 * d_guess:
                raise InputError("the finite-element solution diverged (load too large for the mesh)") from None
            continue
        if f_try >= load:
            d_hi, f_hi, s_hi = d_try, f_try, prob.save()
        else:
            d_lo, f_lo, s_lo = d_try, f_try, prob.save()
            step *= 1.5

    # Illinois (modified regula falsi) on log(force) - log(load) in log(approach), warm-started
    def g(f: float) -> float:
        return float(np.log(max(f, 1e-30) / load))

    b = _IllinoisBracket((d_lo, f_lo, s_lo, g(f_lo) if f_lo > 0 else -np.inf), (d_hi, f_hi, s_hi, g(f_hi)))
    d_cur, f_cur = d_hi, f_hi
    conv = True
    for _ in range(max_secant):
        if abs(f_cur - load) <= load_tol * load:
            break
        if not np.isfinite(b.g_lo):
            d_new = 0.5 * (b.d_lo + b.d_hi)
        else:
            l_lo, l_hi = np.log(b.d_lo), np.log(b.d_hi)
            d_new = float(np.exp(l_lo - b.g_lo * (l_hi - l_lo) / (b.g_hi - b.g_lo)))
            d_new = float(np.clip(d_new, b.d_lo + 0.02 * (b.d_hi - b.d_lo), b.d_hi - 0.02 * (b.d_hi - b.d_lo)))
        prob.restore(b.s_lo if abs(d_new - b.d_lo) < abs(b.d_hi - d_new) else b.s_hi)
        try:
            f_new, _ = prob.solve_at(d_new)
        except _Diverged:
            conv = False
            break
        d_cur, f_cur = d_new, f_new
        b.update(d_new, f_new, prob.save(), g(f_new))
    res = prob.result(d_cur, load, conv)
    if res.load_error > 10 * load_tol:
        res = FemResult(**{**res.__dict__, "converged": False})
    return res
