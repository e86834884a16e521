"""Three-dimensional finite-element reference model: a rigid tool pressed into a soft-tissue slab on bone.

The slab's top (the skin) is the plane ``z = 0``; its bottom is the rigid bone surface ``z = -t(x, y)`` (for
the back: thin tissue over the spinous-process ridge, thick tissue over the laminae and the erector spinae),
to which the tissue is bonded (``u = 0``). The side faces carry rollers (zero normal displacement, no shear
traction: the tissue continues beyond the cut); with ``symmetric=True`` only ``x >= 0`` is meshed and the
plane ``x = 0`` is a symmetry plane (``u_x = 0``).

Mesh: a structured box of hexahedra, graded in x and y, mapped vertically so that the bottom follows
``-t(x, y)`` (every column of elements spans the local tissue thickness).

Discretisation: Taylor-Hood Q2-Q1 hexahedra (triquadratic displacement, trilinear continuous pressure), a
mixed displacement-pressure formulation that is inf-sup stable and does not lock for nearly incompressible
tissue. Two material models, as in :mod:`.axisym`:

* ``"linear"``: small-strain isotropic elasticity, ``sigma = 2 mu dev(eps) + p I``, ``tr(eps) = p / kappa``;
* ``"neo-hookean"``: large-strain decoupled neo-Hookean solid (total Lagrangian),
  ``P = mu J^(-2/3) (F - I1/3 F^-T) + p J F^-T`` with ``J - 1 = p / kappa`` weakly (Simo & Taylor 1991),
  solved by Newton's method with the consistent tangent.

The modulus may vary from point to point (a callable of x, y and depth below the skin): the per-column modulus
the fast engine uses, or skin/fat/muscle layers.

Contact is frictionless and enforced exactly by an active set on the top-surface nodes: an active node lies on
the rigid tool, ``u_z = g0(x + u_x, y + u_y) - d``, where ``g0`` is the tool's initial gap and ``d`` the rigid
approach. With ``contact_point="normal"`` this constraint is eliminated exactly (node on a rigid surface,
Wriggers 2006, ch. 4): the active node's horizontal displacements stay unknowns, its vertical one follows them,
and the chain rule (the gap's slope, and its curvature in the tangent) makes the tool's reaction normal to its
surface, as on a frictionless tool. The other choices push vertically only (as in :mod:`.axisym` and the fast
engine): the gap is read at the node's current (``"current"``) or undeformed (``"reference"``) horizontal
position. Load control is exact:
``d`` is one extra unknown whose conjugate force is the total contact force, so every active-set iteration
solves directly for the approach that carries the load. A node leaves the set when its reaction pulls on the
tool, and joins when it penetrates it.

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
from .axisym import MODELS, lame_from_young

#: Field of the slab geometry or material: ``f(x_mm, y_mm) -> values`` (arrays of equal shape).
Field2D = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: Modulus field ``E(x_mm, y_mm, depth_mm) -> kPa``, depth measured from the skin downwards (>= 0).
Field3D = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

#: How the large-strain model holds a skin node on the tool. ``"normal"``: on the tool surface, pushed along the
#: surface's normal (frictionless contact on the true normal; needs the gap's derivatives). ``"current"``: the
#: gap is read at the node's current horizontal position but the tool pushes vertically only (a frictionless
#: *horizontal* contact plane through the node). ``"reference"``: the gap at the node's undeformed position (the
#: same small-slip assumption as the fast engine, whose pressure cells stay fixed under the tool).
CONTACT_POINTS = ("normal", "current", "reference")
#: Gap value that stands for "no tool here" inside the solver (never reached). [mm]
NO_TOOL_GAP_MM = 1.0e6


def skin_mass_matrix(positions_mm: np.ndarray, n_gauss: int = 3) -> sp.csr_matrix:
    """Scalar mass matrix ``M_ij = int N_i N_j dA`` of a structured skin surface of 9-node quadratic faces.

    The faces are the Q2 hexahedra's top faces: the nodes form a ``(ny, nx)`` grid with odd ``ny, nx``, vertices
    on even lines. The shape functions are the biquadratic Lagrange ones; the area element is that of the
    bilinear face through each face's four vertices (the geometry of the hexahedral mesh, whose elements are
    trilinear maps), so a flat face gives the exact mass. Computed on the surface alone, with no inverse of
    the 3D element map, so it works on faces the tips have squeezed and sheared. [mm^2]

    Parameters
    ----------
    positions_mm : array, shape (3, ny, nx)
        Node positions (undeformed, or deformed for the current area). [mm]
    n_gauss : int
        Gauss points per direction: 3 (default) is exact on a flat parallelogram face and is the rule of the
        scikit-fem facet basis (``intorder=5``) used before, whose matrices it reproduces to round-off;
        on a warped face 4 points change the entries by less than 1e-3 of the largest.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (ny nx, ny nx)
        Rows and columns in the grid's row-major order.
    """
    P = np.asarray(positions_mm, dtype=float)
    if P.ndim != 3 or P.shape[0] != 3:
        raise InputError(f"skin positions must have shape (3, ny, nx), got {P.shape}")
    ny, nx = P.shape[1:]
    nodes = _skin_faces(ny, nx)
    t, w = np.polynomial.legendre.leggauss(n_gauss)
    N = _q2_face_rule(n_gauss)[0]
    L, dL = np.stack([0.5 * (1.0 - t), 0.5 * (1.0 + t)]), np.array([-0.5, 0.5])
    ones = np.ones(n_gauss)
    V = P.reshape(3, -1)[:, nodes[:, [0, 2, 6, 8]]].reshape(3, -1, 2, 2)  # vertices (c, face, y, x)
    # the bilinear face X(eta, xi) = sum V_ij L_i(eta) L_j(xi) and its two tangents at the points (q, r)
    X_xi = np.einsum("cfij,iq,j,r->cfqr", V, L, dL, ones)
    X_eta = np.einsum("cfij,i,jr,q->cfqr", V, dL, L, ones)
    dA = np.linalg.norm(np.cross(X_xi, X_eta, axis=0), axis=0) * np.outer(w, w)  # (nf, q, r)
    Me = np.einsum("aq,bq,fq->fab", N, N, dA.reshape(nodes.shape[0], -1))
    rows = np.repeat(nodes, 9, axis=1).ravel()
    cols = np.tile(nodes, (1, 9)).ravel()
    return sp.csr_matrix((Me.ravel(), (rows, cols)), shape=(ny * nx, ny * nx))


def _skin_faces(ny: int, nx: int) -> np.ndarray:
    """Node numbers (row-major on the ``(ny, nx)`` skin grid) of each 9-node face, (n_faces, 9), the face's
    nodes in row-major order (along y, then x); vertices on even grid lines."""
    if ny % 2 == 0 or nx % 2 == 0 or min(ny, nx) < 3:
        raise InputError(f"the skin grid must have odd ny, nx >= 3 (9-node faces), got {ny} x {nx}")
    fy, fx = np.meshgrid(np.arange(0, ny - 1, 2), np.arange(0, nx - 1, 2), indexing="ij")
    ly, lx = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    return (fy.ravel()[:, None] + ly.ravel()) * nx + fx.ravel()[:, None] + lx.ravel()


def _q2_face_rule(n_gauss: int) -> tuple[np.ndarray, ...]:
    """Biquadratic Lagrange shapes of a 9-node face and their derivatives at ``n_gauss`` x ``n_gauss`` Gauss
    points on [-1, 1]^2: ``N, dN/dxi, dN/deta`` (9, nq) (node order as :func:`_skin_faces`; xi along x) and the
    weights (nq,)."""
    t, w = np.polynomial.legendre.leggauss(n_gauss)
    q = np.stack([0.5 * t * (t - 1.0), 1.0 - t**2, 0.5 * t * (t + 1.0)])  # (3, n)
    dq = np.stack([t - 0.5, -2.0 * t, t + 0.5])
    N = np.einsum("aq,br->abqr", q, q).reshape(9, -1)  # node (a along y, b along x), point (q along y, r along x)
    dN_dxi = np.einsum("aq,br->abqr", q, dq).reshape(9, -1)
    dN_deta = np.einsum("aq,br->abqr", dq, q).reshape(9, -1)
    return N, dN_dxi, dN_deta, np.outer(w, w).ravel()


def skin_quadrature(xy_mm: np.ndarray, values: np.ndarray, n_gauss: int = 8) -> tuple[np.ndarray, ...]:
    """Gauss points of the skin's 9-node faces in the horizontal plane, with a nodal field's value there.

    Parameters
    ----------
    xy_mm : array, shape (2, ny, nx)
        Horizontal node positions (e.g. the deformed skin's). [mm]
    values : array, shape (ny, nx)
        Nodal values of a field, interpolated with the faces' biquadratic shape functions (e.g. pressure).
    n_gauss : int
        Gauss points per face and direction.

    Returns
    -------
    x, y, value, weight : arrays, shape (n_faces * n_gauss^2,)
        Point positions [mm], the field there and the point's share of the projected area [mm^2]; ``sum(value *
        weight)`` over all points is the field's integral over the projected skin.
    """
    xy = np.asarray(xy_mm, dtype=float)
    v = np.asarray(values, dtype=float)
    if xy.ndim != 3 or xy.shape[0] != 2 or v.shape != xy.shape[1:]:
        raise InputError("skin positions must have shape (2, ny, nx) and the values (ny, nx)")
    nodes = _skin_faces(*v.shape)
    N, Nx, Ne, w = _q2_face_rule(n_gauss)
    X, Y = xy[0].ravel()[nodes], xy[1].ravel()[nodes]  # (nf, 9)
    det = (X @ Nx) * (Y @ Ne) - (X @ Ne) * (Y @ Nx)
    return (X @ N).ravel(), (Y @ N).ravel(), (v.ravel()[nodes] @ N).ravel(), (np.abs(det) * w).ravel()


#: Smallest in-plane stretch at which the smooth surface of a neo-Hookean solid compressed in plane strain gives
#: way to a crease, a fold of the surface into self-contact: compressive strain 0.35 (Hong, Zhao & Suo 2009, who
#: compare it with experiments on elastomers and gels). Linear perturbation puts the surface instability later,
#: at a stretch of 0.544 (Biot 1963). A finite-element model without self-contact cannot form the crease: beyond
#: this stretch its smooth surface is not the neo-Hookean solid's state of least energy. [-]
CREASE_ONSET_STRETCH = 0.65


def skin_principal_stretches(reference_mm: np.ndarray, current_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Principal in-plane stretches of a surface given on a structured lattice of material points. [-]

    With ``G`` and ``g`` the metric tensors of the lattice's two directions in the reference and the current
    configuration (tangents by central differences along the lattice, one-sided at its edges), the squared
    principal stretches are the eigenvalues of ``G^-1 g``: the roots of ``det(g - lambda^2 G) = 0``.

    Parameters
    ----------
    reference_mm, current_mm : array, shape (3, ny, nx)
        Positions ``(x, y, z)`` of the same material points before and after the deformation. [mm]

    Returns
    -------
    smaller, larger : arrays, shape (ny, nx)
        The two principal stretches at each point (``smaller <= larger``; 1 = unstretched). [-]

    References
    ----------
    Holzapfel GA (2000). Nonlinear Solid Mechanics: A Continuum Approach for Engineering. Wiley, Chichester
    (chapter 2, kinematics).
    """
    citations.use("holzapfel2000")
    ref = np.asarray(reference_mm, dtype=float)
    cur = np.asarray(current_mm, dtype=float)
    if ref.ndim != 3 or ref.shape[0] != 3 or cur.shape != ref.shape or min(ref.shape[1:]) < 2:
        raise InputError("surface positions must both have shape (3, ny, nx) with ny, nx >= 2")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(cur))):
        raise InputError("surface positions must be finite")

    def metric(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b = np.gradient(pos, axis=2), np.gradient(pos, axis=1)
        return (a * a).sum(0), (a * b).sum(0), (b * b).sum(0)

    G11, G12, G22 = metric(ref)
    g11, g12, g22 = metric(cur)
    det_g_ref = G11 * G22 - G12**2
    if np.any(det_g_ref <= 0):
        raise InputError("the reference lattice is degenerate (coincident or collinear points)")
    # det(g - s G) = det(G) s^2 - (g11 G22 + g22 G11 - 2 g12 G12) s + det(g) = 0
    half_b = 0.5 * (g11 * G22 + g22 * G11 - 2.0 * g12 * G12) / det_g_ref
    c = (g11 * g22 - g12**2) / det_g_ref
    root = np.sqrt(np.clip(half_b**2 - c, 0.0, None))
    small, large = np.clip(half_b - root, 0.0, None), half_b + root
    return np.sqrt(small), np.sqrt(large)


def contact_area_mm2(
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    active: np.ndarray,
    samples: int = 4,
    current_xy_mm: np.ndarray | None = None,
) -> float:
    """Area of the contact zone on a structured node grid: where the bilinearly interpolated active-node
    indicator is at least 1/2 (the contact edge midway between the last active and the first free node). [mm^2]

    Parameters
    ----------
    x_mm, y_mm : array
        Node lines. [mm]
    active : ndarray of bool, shape (len(y_mm), len(x_mm))
        Nodes in contact.
    samples : int
        Sampling points per node interval and direction (midpoint rule).
    current_xy_mm : ndarray, shape (2, len(y_mm), len(x_mm)), optional
        Current horizontal positions of the nodes. The zone is then measured on the deformed surface projected
        onto the horizontal plane (each sample weighted by the Jacobian of the bilinear map of its node cell):
        the area of the tool in contact, what the axisymmetric model's ``contact_area_current_mm2`` and the
        fast engine's contact cells measure. Default: on the undeformed surface.
    """
    x = np.asarray(x_mm, dtype=float)
    y = np.asarray(y_mm, dtype=float)
    a = np.asarray(active, dtype=float)
    ts = (np.arange(samples) + 0.5) / samples
    T, S = np.meshgrid(ts, ts, indexing="ij")  # t along y, s along x; shape (samples, samples)
    S, T = S[..., None, None], T[..., None, None]
    ind = (1 - S) * (1 - T) * a[:-1, :-1] + S * (1 - T) * a[:-1, 1:] + (1 - S) * T * a[1:, :-1] + S * T * a[1:, 1:]
    if current_xy_mm is None:
        det = np.diff(y)[:, None] * np.diff(x)[None, :]  # (ny-1, nx-1)
    else:
        c = np.asarray(current_xy_mm, dtype=float)
        d_s = (1 - T) * (c[:, None, None, :-1, 1:] - c[:, None, None, :-1, :-1]) + T * (
            c[:, None, None, 1:, 1:] - c[:, None, None, 1:, :-1]
        )
        d_t = (1 - S) * (c[:, None, None, 1:, :-1] - c[:, None, None, :-1, :-1]) + S * (
            c[:, None, None, 1:, 1:] - c[:, None, None, :-1, 1:]
        )
        det = np.abs(d_s[0] * d_t[1] - d_s[1] * d_t[0])
    return float(np.sum((ind >= 0.5) * det) / samples**2)


def face_mean_max(values: np.ndarray) -> float:
    """Largest mean of a Q2 skin field over one element face: Simpson weights ``(1, 4, 1) x (1, 4, 1) / 36`` on
    each face's nine nodes (corner lines at even node indices). A smoother peak than the nodal maximum, which
    carries the corner/midside oscillation of a quadratic surface; the 3D counterpart of the axisymmetric
    model's largest facet mean. [same unit as ``values``]
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[0] < 3 or v.shape[1] < 3 or v.shape[0] % 2 == 0 or v.shape[1] % 2 == 0:
        raise InputError(f"a Q2 skin field needs an odd number (>= 3) of node lines each way, got {v.shape}")
    w = np.array([1.0, 4.0, 1.0])
    rows = [v[k : v.shape[0] - 2 + k : 2] for k in range(3)]
    acc = sum(w[a] * w[b] * rows[a][:, b : v.shape[1] - 2 + b : 2] for a in range(3) for b in range(3))
    return float(acc.max() / 36.0)


class _Diverged(RuntimeError):
    """Newton's method failed (inverted element, singular tangent or no convergence)."""


@dataclass(frozen=True)
class Slab3DResult:
    """Solution of a 3D slab contact problem (top-surface fields on the structured node grid).

    Attributes
    ----------
    x_mm, y_mm : ndarray
        Coordinates of the top-surface node lines (undeformed); fields below have shape ``(len(y), len(x))``.
        With a symmetric model only ``x >= 0``. [mm]
    pressure_kpa : ndarray
        Nominal contact pressure (per undeformed area; 0 outside contact). [kPa]
    true_pressure_kpa : ndarray
        Cauchy contact pressure (per deformed area: what a sensor on the tool reads); with contact on the true
        normal, the normal push of the tool per deformed area. [kPa]
    reaction_n : ndarray
        Nodal contact reactions (downward push of the tool on each node). [N]
    active : ndarray of bool
        Nodes in contact.
    deflection_mm : ndarray
        Downward displacement of the top-surface nodes. [mm]
    approach_mm : float
        Rigid approach of the tool from first touch. [mm]
    force_n : float
        Total contact force on the whole (mirrored) slab. [N]
    bone_force_n : float
        Total vertical reaction on the bone (whole slab); equals ``force_n`` at equilibrium. [N]
    contact_area_mm2 : float
        Contact area on the undeformed surface (whole slab; :func:`contact_area_mm2`). [mm^2]
        ``contact_area_current_mm2`` is the area of the tool in contact (deformed surface, projected).
    model : str
    n_dofs : int
    n_elements : int
    newton_iterations : int
    active_set_iterations : int
    converged : bool
    residual : float
        Equilibrium residual: largest out-of-balance force on an unconstrained unknown relative to the largest
        nodal contact reaction. [-]
    symmetric : bool
        Whether the model is the x >= 0 half of a slab symmetric about x = 0.
    extras : dict
        Anything else (bone reaction map, max strain, ...).
    """

    x_mm: np.ndarray
    y_mm: np.ndarray
    pressure_kpa: np.ndarray
    true_pressure_kpa: np.ndarray
    reaction_n: np.ndarray
    active: np.ndarray
    deflection_mm: np.ndarray
    approach_mm: float
    force_n: float
    bone_force_n: float
    contact_area_mm2: float
    model: str
    n_dofs: int
    n_elements: int
    newton_iterations: int
    active_set_iterations: int
    converged: bool
    residual: float
    symmetric: bool
    extras: dict = field(default_factory=dict)

    @property
    def peak_pressure_kpa(self) -> float:
        """Largest nominal contact pressure. [kPa]"""
        return float(self.pressure_kpa.max())

    @property
    def true_peak_pressure_kpa(self) -> float:
        """Largest Cauchy contact pressure. [kPa]"""
        return float(self.true_pressure_kpa.max())

    @property
    def true_face_peak_pressure_kpa(self) -> float:
        """Largest face mean of the Cauchy contact pressure (:func:`face_mean_max`). [kPa]"""
        return face_mean_max(self.true_pressure_kpa)

    @property
    def skin_stretches(self) -> tuple[np.ndarray, np.ndarray]:
        """Principal in-plane stretches of the skin at its nodes (:func:`skin_principal_stretches`; the skin is
        the slab's flat top, ``z = 0``, before the load). Compare the smaller with :data:`CREASE_ONSET_STRETCH`:
        below it the smooth skin of the model is past where a neo-Hookean surface creases. [-]"""
        xy_ref = self.extras.get("skin_xy_reference_mm")
        xy_cur = self.extras.get("skin_xy_current_mm")
        if xy_ref is None or xy_cur is None:
            raise InputError("the result does not hold the skin's reference and current positions")
        ref = np.concatenate([np.asarray(xy_ref, dtype=float), np.zeros((1, *self.deflection_mm.shape))])
        cur = np.concatenate([np.asarray(xy_cur, dtype=float), -self.deflection_mm[None]])
        return skin_principal_stretches(ref, cur)

    @property
    def skin_min_stretch(self) -> float:
        """Smallest principal in-plane stretch of the skin (:attr:`skin_stretches`); below
        :data:`CREASE_ONSET_STRETCH` the model's smooth skin is past the onset of creasing. [-]"""
        citations.use("hong2009", "biot1963")
        return float(self.skin_stretches[0].min())

    @property
    def contact_area_current_mm2(self) -> float:
        """Area of the tool in contact: the contact zone on the deformed surface, projected onto the horizontal
        plane (whole slab). The small-strain (linear) model measures on the undeformed surface:
        ``contact_area_mm2``. [mm^2]"""
        xy = self.extras.get("skin_xy_current_mm")
        if xy is None or self.model == "linear":
            return self.contact_area_mm2
        area = contact_area_mm2(self.x_mm, self.y_mm, self.active, current_xy_mm=xy)
        return (2.0 if self.symmetric else 1.0) * area


# ---------------------------------------------------------------------------------------------------------------
# mesh
# ---------------------------------------------------------------------------------------------------------------


def graded_axis(
    lo_mm: float,
    hi_mm: float,
    fine_mm: float,
    fine_zones: list[tuple[float, float]],
    growth: float,
    anchors_mm: list[float] | None = None,
):
    """Mesh points from ``lo_mm`` to ``hi_mm``: spacing ``fine_mm`` inside the fine zones, growing outside.

    Parameters
    ----------
    lo_mm, hi_mm : float
        Ends of the axis. [mm]
    fine_mm : float
        Element size inside the fine zones. [mm]
    fine_zones : list of (float, float)
        Intervals meshed finely (clipped to the axis). [mm]
    growth : float
        Growth factor of the element size away from the fine zones (>= 1). [-]
    anchors_mm : list of float, optional
        Positions that must be mesh points (e.g. under each tool tip, so that no element straddles an apex):
        the nearest interior point moves there, by at most half an element. [mm]

    Returns
    -------
    ndarray
        Sorted points including both ends. [mm]
    """
    check_positive("element size", fine_mm, "mm")
    check_range("mesh growth factor", growth, 1.0, 3.0)
    if not hi_mm > lo_mm:
        raise InputError(f"mesh axis must have hi > lo, got {lo_mm:g}..{hi_mm:g} mm")
    zones = sorted((max(a, lo_mm), min(b, hi_mm)) for a, b in fine_zones if min(b, hi_mm) > max(a, lo_mm))
    # target element size h(s): fine_mm inside zones, growing geometrically with distance outside
    s = np.linspace(lo_mm, hi_mm, 20001)
    dist = np.full_like(s, np.inf)
    for a, b in zones:
        dist = np.minimum(dist, np.clip(np.maximum(a - s, s - b), 0.0, None))
    if not zones:
        dist = np.zeros_like(s)
    if growth > 1.0:
        h = fine_mm + (growth - 1.0) * dist  # geometric growth: h_{k+1} = g h_k <=> dh/ds = g - 1
    else:
        h = np.full_like(s, fine_mm)
    # number of elements from integral of 1/h, then equidistribute
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (1 / h[1:] + 1 / h[:-1]) * np.diff(s))])
    n = max(1, int(np.round(cum[-1])))
    pts = np.interp(np.linspace(0.0, cum[-1], n + 1), cum, s)
    for a in anchors_mm or []:
        if lo_mm < a < hi_mm and pts.size > 2:
            k = 1 + int(np.argmin(np.abs(pts[1:-1] - a)))
            if pts[k - 1] < a < pts[k + 1]:
                pts[k] = a
    return pts


def depth_fractions(n_layers: int, top_fraction: float = 0.3) -> np.ndarray:
    """Element-layer boundaries through the thickness as fractions 0 (skin) .. 1 (bone), finer at the skin.

    The first element is ``top_fraction`` as thick as a uniform layer; sizes grow geometrically to the bone.
    """
    if int(n_layers) != n_layers or n_layers < 1:
        raise InputError(f"number of element layers through the thickness must be a whole number >= 1, got {n_layers}")
    check_range("top layer fraction", top_fraction, 0.05, 1.0)
    n = int(n_layers)
    if n == 1 or top_fraction == 1.0:
        return np.linspace(0.0, 1.0, n + 1)
    # geometric sizes h_k = h0 r^k with h0 = top_fraction / n and sum = 1: solve for r
    from scipy.optimize import brentq

    h0 = top_fraction / n
    r = brentq(lambda q: h0 * (q**n - 1) / (q - 1) - 1.0, 1.0 + 1e-9, 10.0)
    out = np.concatenate([[0.0], np.cumsum(h0 * r ** np.arange(n))])
    out /= out[-1]
    out[-1] = 1.0
    return out


def slab_mesh(x_mm: np.ndarray, y_mm: np.ndarray, fractions: np.ndarray, thickness: Field2D):
    """Hexahedral slab: the box ``x_mm x y_mm x fractions`` mapped so that z runs from 0 down to ``-t(x, y)``.

    Returns
    -------
    skfem.MeshHex
        With boundaries ``top``, ``bottom``, ``xmin``, ``xmax``, ``ymin``, ``ymax``.
    """
    from skfem import MeshHex

    x = np.asarray(x_mm, dtype=float)
    y = np.asarray(y_mm, dtype=float)
    f = np.asarray(fractions, dtype=float)
    for name, a in (("x", x), ("y", y), ("depth fraction", f)):
        if a.ndim != 1 or a.size < 2 or not np.all(np.diff(a) > 0):
            raise InputError(f"{name} mesh points must be a strictly increasing 1-D array of at least 2 points")
    if not (f[0] == 0.0 and f[-1] == 1.0):
        raise InputError("depth fractions must run from 0 (skin) to 1 (bone)")
    box = MeshHex.init_tensor(x, y, -f[::-1])
    tol = 1e-9
    box = box.with_boundaries(
        {
            "top": lambda p: np.abs(p[2]) < tol,
            "bottom": lambda p: np.abs(p[2] + 1.0) < tol,
            "xmin": lambda p: np.abs(p[0] - x[0]) < tol,
            "xmax": lambda p: np.abs(p[0] - x[-1]) < tol,
            "ymin": lambda p: np.abs(p[1] - y[0]) < tol,
            "ymax": lambda p: np.abs(p[1] - y[-1]) < tol,
        }
    )
    p = box.doflocs.copy()
    t = np.asarray(thickness(p[0], p[1]), dtype=float)
    if t.shape != p[0].shape or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise InputError("tissue thickness must be finite and positive over the whole slab")
    p[2] = p[2] * t
    from dataclasses import replace

    return replace(box, doflocs=p)


def nested_dissection(ijk: np.ndarray, leaf: int = 64) -> np.ndarray:
    """Fill-reducing ordering of the unknowns of a structured Q2 mesh by geometric nested dissection.

    ``ijk`` holds each unknown's integer position on the mesh's node lattice (vertices at even indices,
    mid-edge/face/cell nodes at odd ones). Unknowns strictly on either side of a vertex plane never share an
    element, so the unknowns on a vertex plane separate the two halves; halves are ordered first (recursively),
    separators last (George 1973). With it the sparse LU of the 3D mixed system is ~100x cheaper in time and
    memory than with minimum-degree orderings.

    Parameters
    ----------
    ijk : ndarray of int, shape (3, n)
        Lattice indices of the unknowns.
    leaf : int
        Blocks of at most this many unknowns are not split further.

    Returns
    -------
    ndarray of int
        Permutation: ``order[k]`` is the unknown placed k-th.

    References
    ----------
    George A (1973). Nested dissection of a regular finite element mesh. SIAM J Numer Anal 10, 345-363.
    """
    out: list[np.ndarray] = []

    def split(idx: np.ndarray) -> None:
        if idx.size <= leaf:
            out.append(idx)
            return
        c = ijk[:, idx]
        lo, hi = c.min(axis=1), c.max(axis=1)
        ax = int(np.argmax(hi - lo))
        if hi[ax] - lo[ax] < 3:
            out.append(idx)
            return
        v = c[ax]
        cut = int(np.median(v))
        cut += cut % 2  # vertex planes are at even lattice indices
        cut = int(np.clip(cut, lo[ax] + 1 + (lo[ax] + 1) % 2, hi[ax] - 1 - (hi[ax] - 1) % 2))
        split(idx[v < cut])
        split(idx[v > cut])
        out.append(idx[v == cut])

    split(np.arange(ijk.shape[1]))
    return np.concatenate(out)


# ---------------------------------------------------------------------------------------------------------------
# assembly
# ---------------------------------------------------------------------------------------------------------------


def _node_lines(pts: np.ndarray) -> np.ndarray:
    """The Q2 node lines along one axis of a structured mesh: its vertex lines and their midpoints, in order."""
    return np.sort(np.concatenate([pts, 0.5 * (pts[1:] + pts[:-1])]))


#: The last lattice computed (:func:`_lattice`): a rezoning needs the new layout's lattice before it builds the
#: problem, which needs it again.
_LATTICE_CACHE: dict[tuple[bytes, bytes, bytes], np.ndarray] = {}


def _lattice(x: np.ndarray, y: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Lattice indices (3, n_unknowns) of the displacement (3 per node) and pressure unknowns of the slab
    (read-only; the last layout's is kept)."""
    key = tuple(np.ascontiguousarray(v, dtype=float).tobytes() for v in (x, y, fractions))
    if key in _LATTICE_CACHE:
        return _LATTICE_CACHE[key]
    out = _lattice_uncached(x, y, fractions)
    out.flags.writeable = False
    _LATTICE_CACHE.clear()
    _LATTICE_CACHE[key] = out
    return out


def _lattice_uncached(x: np.ndarray, y: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    from skfem import Basis, ElementHex2, MeshHex

    box = MeshHex.init_tensor(x, y, -fractions[::-1])
    loc = Basis(box, ElementHex2()).doflocs

    def index(v: np.ndarray, pts: np.ndarray) -> np.ndarray:
        return np.searchsorted(_node_lines(pts), v - 1e-9 * (1 + np.abs(v)))

    ijk = np.stack([index(loc[0], x), index(loc[1], y), index(loc[2], -fractions[::-1])])
    return np.concatenate([np.repeat(ijk, 3, axis=1), ijk[:, : box.nvertices]], axis=1)


#: Systems at least this large go to MKL PARDISO when the optional ``pypardiso`` package is installed
#: (``pip install .[fem-mkl]``; about 2.5x faster than SuperLU on the 118k-unknown back slab). [unknowns]
PARDISO_MIN_SIZE = 20000

#: Inertia correction of the large-strain Newton step (:meth:`SlabContact._newton_step`): when the tangent has
#: more negative eigenvalues than pressure unknowns (the displacement tangent, pressure condensed, is not positive
#: definite), the displacement block's diagonal is raised by a fraction of its own magnitude: first this one, or
#: a third of the last shift used (:data:`INERTIA_SHIFT_DECREASE`), then :data:`INERTIA_SHIFT_GROWTH` times more
#: until the inertia is right, at most to :data:`INERTIA_SHIFT_MAX` (the inertia correction of Waechter & Biegler
#: 2006; Nocedal & Wright 2006, sec. 3.4). [-]
INERTIA_SHIFT_START = 1.0e-4
INERTIA_SHIFT_DECREASE = 1.0 / 3.0
INERTIA_SHIFT_GROWTH = 4.0
INERTIA_SHIFT_MAX = 1.0


def _pardiso():
    """The optional ``pypardiso`` module, or None."""
    try:
        import pypardiso
    except ImportError:
        return None
    return pypardiso


class _Factorization:
    """A sparse direct factorisation of a symmetric matrix: solves with one refinement step, and its inertia.

    SuperLU (``backend="superlu"``, the default) factorises in the given (nested-dissection) order: the mixed u-p
    matrix is symmetric quasi-definite (SPD displacement block, negative definite pressure block), so it
    factorises stably with diagonal pivots in any symmetric order (Vanderbei 1995). ``"pardiso"``: MKL PARDISO
    for real symmetric indefinite matrices (its own ordering and Bunch-Kaufman pivoting; Schenk & Gaertner 2004),
    chosen by default for systems of :data:`PARDISO_MIN_SIZE` unknowns or more when ``pypardiso`` is installed.

    ``negative`` is the number of negative eigenvalues of the matrix (Sylvester's law of inertia): the negative
    pivots of SuperLU's diagonal-pivot factorisation ``A = L D L^T`` (read off the diagonal of ``U = D L^T``), or
    PARDISO's reported inertia (``iparm(23)``).
    """

    def __init__(self, A: sp.csr_matrix, order: np.ndarray, backend: str | None = None) -> None:
        pardiso = _pardiso()
        if backend is None:
            backend = "pardiso" if pardiso is not None and A.shape[0] >= PARDISO_MIN_SIZE else "superlu"
        self.A = A
        self.backend = backend
        if backend == "pardiso":
            if pardiso is None:
                raise InputError("the PARDISO backend needs the optional package pypardiso (pip install .[fem-mkl])")
            citations.use("schenk2004")
            self._solver = pardiso.PyPardisoSolver(mtype=-2)  # real symmetric indefinite, upper triangle
            self._upper = sp.triu(A, format="csr")
            self._solver.factorize(self._upper)
            self.negative = int(self._solver.iparm[22])
            return
        self.order = order
        self._Ap = A[order][:, order].tocsc()
        self._lu = splu(self._Ap, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        self.negative = int(np.count_nonzero(self._lu.U.diagonal() < 0))

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``A^-1 b`` with one step of iterative refinement."""
        if self.backend == "pardiso":
            x = self._solver.solve(self._upper, b)
            x += self._solver.solve(self._upper, b - self.A @ x)
            return x
        bp = b[self.order]
        xp = self._lu.solve(bp)
        xp += self._lu.solve(bp - self._Ap @ xp)
        x = np.empty_like(xp)
        x[self.order] = xp
        return x

    def free(self) -> None:
        """Release the factors (PARDISO keeps them in its own memory)."""
        if self.backend == "pardiso":
            self._solver.free_memory(everything=True)
        else:
            self._lu = None


class _Assembler:
    """Vectorised residual and tangent of the mixed u-p problem on Q2-Q1 hexahedra."""

    def __init__(self, mesh, modulus: Field3D, thickness: Field2D, poisson: float, chunk: int = 400) -> None:
        from skfem import Basis, ElementHex1, ElementHex2

        self.sb = Basis(mesh, ElementHex2(), intorder=4)
        self.pb = Basis(mesh, ElementHex1(), quadrature=self.sb.quadrature)
        sb, pb = self.sb, self.pb
        self.ns, self.npr = sb.N, pb.N
        self.nu = 3 * self.ns
        self.n = self.nu + self.npr
        nel = sb.nelems
        self.nel = nel
        # gradients (nel, nq, 27, 3), pressure shapes (nel, nq, 8), weights (nel, nq)
        self.G = np.stack([np.moveaxis(b[0].grad, 0, -1) for b in sb.basis], axis=2)
        self.Phi = np.stack([b[0].value for b in pb.basis], axis=2)
        self.dx = np.asarray(sb.dx)
        if np.any(self.dx <= 0):
            raise InputError("the slab mesh has inverted or degenerate elements")
        xq = sb.global_coordinates().value  # (3, nel, nq)
        depth = -xq[2]
        E = np.asarray(modulus(xq[0], xq[1], depth), dtype=float)
        if E.shape != depth.shape or not np.all(np.isfinite(E)) or np.any(E <= 0):
            raise InputError("tissue modulus must be finite and positive over the whole slab")
        self.mu, self.kappa = lame_from_young(E, poisson)
        udofs = sb.element_dofs.T  # (nel, 27) scalar node numbers
        self.udofs = udofs
        self.pdofs = pb.element_dofs.T  # (nel, 8)
        gd = np.concatenate([(3 * udofs[:, :, None] + np.arange(3)).reshape(nel, 81), self.nu + self.pdofs], axis=1)
        self.gdofs = gd
        self.chunk = chunk
        # sparse pattern and scatter map (once)
        rows = np.repeat(gd, gd.shape[1], axis=1).ravel()
        cols = np.tile(gd, (1, gd.shape[1])).ravel()
        key = rows.astype(np.int64) * self.n + cols
        ukey, self.scatter = np.unique(key, return_inverse=True)
        r = ukey // self.n
        c = ukey % self.n
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=self.n))])
        self.indices = c.astype(np.int32)
        self.nnz = ukey.size
        self._K0: sp.csr_matrix | None = None

    def matrix(self, data: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))

    def assemble(self, x: np.ndarray, tangent: bool = True) -> tuple[sp.csr_matrix | None, np.ndarray]:
        """Tangent matrix and internal-force vector (kPa mm^2) at the state ``x = [U, P]``."""
        U = x[: self.nu].reshape(-1, 3)
        P = x[self.nu :]
        R = np.zeros(self.n)
        data = np.zeros(self.nnz) if tangent else None
        ne = 89
        for s in range(0, self.nel, self.chunk):
            e = slice(s, min(s + self.chunk, self.nel))
            G, Phi, dx = self.G[e], self.Phi[e], self.dx[e]
            mu, kap = self.mu[e], self.kappa[e]
            Ue = U[self.udofs[e]]  # (ne, 27, 3)
            F = np.einsum("eac,eqaJ->eqcJ", Ue, G)
            F[..., 0, 0] += 1.0
            F[..., 1, 1] += 1.0
            F[..., 2, 2] += 1.0
            J = np.linalg.det(F)
            if np.any(J <= 0) or not np.all(np.isfinite(J)):
                raise _Diverged("inverted element")
            FiT = np.swapaxes(np.linalg.inv(F), -1, -2)
            p = np.einsum("em,eqm->eq", P[self.pdofs[e]], Phi)
            Jm = J ** (-2.0 / 3.0)
            I1 = np.einsum("eqij,eqij->eq", F, F)
            Pst = (mu * Jm)[..., None, None] * (F - (I1 / 3)[..., None, None] * FiT) + (p * J)[..., None, None] * FiT
            ru = np.einsum("eqcJ,eqaJ,eq->eac", Pst, G, dx).reshape(-1, 81)
            rp = np.einsum("eq,eqm->em", (J - 1.0 - p / kap) * dx, Phi)
            gd = self.gdofs[e]
            R += np.bincount(gd.ravel(), weights=np.concatenate([ru, rp], axis=1).ravel(), minlength=self.n)
            if not tangent:
                continue
            # A_iJkL = dP_iJ / dF_kL at fixed p
            a = (mu * Jm)[..., None, None, None, None]
            dev = F - (I1 / 3)[..., None, None] * FiT
            eye = np.eye(3)
            A = (
                -2.0 / 3.0 * np.einsum("eqkL,eqiJ->eqiJkL", FiT, dev)
                + np.einsum("ik,JL->iJkL", eye, eye)[None, None]
                - 2.0 / 3.0 * np.einsum("eqkL,eqiJ->eqiJkL", F, FiT)
                + (I1 / 3)[..., None, None, None, None] * np.einsum("eqkJ,eqiL->eqiJkL", FiT, FiT)
            ) * a
            A += (p * J)[..., None, None, None, None] * (
                np.einsum("eqkL,eqiJ->eqiJkL", FiT, FiT) - np.einsum("eqkJ,eqiL->eqiJkL", FiT, FiT)
            )
            nc = G.shape[0]
            nq = G.shape[1]
            # Kuu[a i, b k] = sum_q G_aJ A_iJkL G_bL dx
            B = np.einsum("eqaJ,eqiJkL->eqLaik", G, A).reshape(nc, nq * 3, 27 * 9)
            Gw = np.swapaxes(G * dx[..., None, None], 2, 3).reshape(nc, nq * 3, 27)  # (e, q L, b)
            Kuu = np.matmul(np.swapaxes(B, 1, 2), Gw).reshape(nc, 27, 3, 3, 27)  # (e, a, i, k, b)
            Kuu = np.transpose(Kuu, (0, 1, 2, 4, 3)).reshape(nc, 81, 81)
            W = (J * dx)[..., None, None] * FiT  # (e, q, i, J)
            Kup = np.einsum("eqiJ,eqaJ,eqm->eaim", W, G, Phi).reshape(nc, 81, 8)
            Kpp = -np.einsum("eq,eqm,eqn->emn", dx / kap, Phi, Phi)
            Ke = np.empty((nc, ne, ne))
            Ke[:, :81, :81] = Kuu
            Ke[:, :81, 81:] = Kup
            Ke[:, 81:, :81] = np.swapaxes(Kup, 1, 2)
            Ke[:, 81:, 81:] = Kpp
            lo = s * ne * ne
            data += np.bincount(self.scatter[lo : lo + Ke.size], weights=Ke.ravel(), minlength=self.nnz)
        return (self.matrix(data) if tangent else None), R

    def linear(self) -> sp.csr_matrix:
        """Small-strain tangent (the neo-Hookean tangent at the undeformed state)."""
        if self._K0 is None:
            self._K0 = self.assemble(np.zeros(self.n))[0]
        return self._K0


# ---------------------------------------------------------------------------------------------------------------
# contact problem
# ---------------------------------------------------------------------------------------------------------------


class SlabContact:
    """A meshed tissue slab on bone and its contact state with a rigid tool (reused across load steps).

    Parameters
    ----------
    x_mm, y_mm : array
        Mesh lines across (x) and along (y) the slab; with ``symmetric=True`` x must start at 0. [mm]
    fractions : array
        Element-layer boundaries through the thickness, 0 (skin) .. 1 (bone) (:func:`depth_fractions`).
    thickness : callable
        Tissue thickness ``t(x, y)`` from skin to bone. [mm]
    modulus : callable
        Small-strain Young's modulus ``E(x, y, depth)``. [kPa]
    gap : callable
        Initial gap between the rigid tool and the flat skin, ``g0(x, y)`` (>= 0, ``inf`` where there is no
        tool), for a tool touching first where ``g0 = 0``. [mm]
    poisson : float
        Poisson's ratio (< 0.5). [-]
    model : str
        ``"linear"`` or ``"neo-hookean"``.
    symmetric : bool
        The slab, tool and loads are symmetric about x = 0 and only ``x >= 0`` is meshed.
    contact_point : str
        ``"normal"``, ``"current"`` or ``"reference"`` (see :data:`CONTACT_POINTS`; large-strain model only).
    gap_derivatives : callable, optional
        The gap as a smooth function with its derivatives, ``(x, y) -> (g, g_x, g_y, g_xx, g_xy, g_yy)``;
        required for ``contact_point="normal"``, where it replaces ``gap`` for the large-strain model. [mm, -, 1/mm]
    tie_surface : bool
        Tie the horizontal displacement of the skin's midside and face-centre nodes to the mean of their
        vertices' (eliminated from the Newton system): a bilinear horizontal displacement on every skin face.
        Removes the odd-even slip of collocated contact nodes on quadratic elements, which under the true normal
        makes the tangent nearly singular at depth (as ``tie_surface`` of :class:`.deep.NormalContact`).
    curvature : str
        The tool-curvature term of the tangent on the true normal. ``"exact"`` (default): the gap's Hessian at
        each active node, so the tangent is the exact derivative of the residual and Newton's method converges
        quadratically; once a Newton step points back against the one before (a node jumping across the blend of
        a tip into its flank, where the curvature jumps), the iteration goes on with ``"averaged"`` until three
        steps in a row have not turned back, then returns to the exact term.
        ``"averaged"``: the Hessian averaged over the finest element's width about each node (as up to stop 19;
        robust at a curvature jump, but the tangent is then off by a few per cent in the skin's sliding rows and
        the iteration converges only linearly).
    reference_mm : ndarray, shape (3, n_vertices) or (3, n_nodes), optional
        Positions of a rezoned reference mesh (same topology as the structured layout of ``x_mm``, ``y_mm``,
        ``fractions``; :func:`.rezone3d.rezone_slab`): of its vertices (trilinear elements), or of all its Q2 nodes
        in the order of the displacement nodes, shape ``(3, n_nodes)`` (curved, isoparametric elements). The skin
        must stay at z = 0 and the sides on their planes. Default: the structured slab itself.
    """

    def __init__(
        self,
        x_mm: np.ndarray,
        y_mm: np.ndarray,
        fractions: np.ndarray,
        thickness: Field2D,
        modulus: Field3D,
        gap: Field2D,
        *,
        poisson: float = 0.49,
        model: str = "linear",
        symmetric: bool = True,
        contact_point: str = "current",
        gap_derivatives: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, ...]] | None = None,
        tie_surface: bool = False,
        curvature: str = "exact",
        reference_mm: np.ndarray | None = None,
    ) -> None:
        if contact_point not in CONTACT_POINTS:
            raise InputError(f"contact point must be one of {CONTACT_POINTS}, got {contact_point!r}")
        if contact_point == "normal" and gap_derivatives is None:
            raise InputError("contact on the true normal needs the gap's derivatives (gap_derivatives)")
        if curvature not in ("exact", "averaged"):
            raise InputError(f"curvature must be 'exact' or 'averaged', got {curvature!r}")
        self.gap_derivatives = gap_derivatives
        self.contact_point = contact_point
        self.curvature = curvature
        #: whether the current Newton iteration uses the averaged curvature (see ``curvature``)
        self._averaged = curvature == "averaged"
        #: Width over which the tangent averages the tool's curvature (the finest element). [mm]
        self.curvature_window_mm = float(np.diff(np.asarray(x_mm, dtype=float)).min())
        if model not in MODELS:
            raise InputError(f"unknown material model {model!r}; choose one of {MODELS}")
        check_range("Poisson's ratio", poisson, 0.0, 0.49999)
        x = np.asarray(x_mm, dtype=float)
        if symmetric and abs(x[0]) > 1e-12:
            raise InputError("a symmetric slab model must start at x = 0 (the symmetry plane)")
        citations.use("taylor1973", "simo1991", "gustafsson2020")
        self.model_name = model
        self.symmetric = bool(symmetric)
        self.mesh = slab_mesh(x, y_mm, fractions, thickness)
        self.lattice = _lattice(x, np.asarray(y_mm, dtype=float), np.asarray(fractions, dtype=float))
        #: lines of the slab's structured layout (vertices), kept for rezoning
        self.layout = (x.copy(), np.asarray(y_mm, dtype=float).copy(), np.asarray(fractions, dtype=float).copy())
        #: whether the reference mesh is a rezoned one (vertices no longer on the layout's lines)
        self.rezoned = reference_mm is not None
        if reference_mm is not None:
            from dataclasses import replace

            from skfem import MeshHex2

            ref = np.asarray(reference_mm, dtype=float)
            m = self.mesh
            n_q2 = m.nvertices + m.nedges + m.nfacets + m.nelements
            if ref.shape not in (m.doflocs.shape, (3, n_q2)) or not np.all(np.isfinite(ref)):
                raise InputError(
                    f"a rezoned reference mesh needs finite positions of its vertices, shape {m.doflocs.shape}, or "
                    f"of all its Q2 nodes, shape {(3, n_q2)}; got {ref.shape}"
                )
            if ref.shape == m.doflocs.shape:  # trilinear elements (straight edges)
                self.mesh = replace(m, doflocs=np.ascontiguousarray(ref))
            else:  # curved (isoparametric triquadratic) elements, same topology and boundaries
                self.mesh = MeshHex2(np.ascontiguousarray(ref), m.t, _boundaries=m._boundaries)
        self.asm = _Assembler(self.mesh, modulus, thickness, poisson)
        self.modulus_fn, self.poisson = modulus, float(poisson)
        #: meshes laid out over a deformed configuration so far (:func:`.rezone3d.rezone_slab`)
        self.rezones = 0
        a = self.asm
        self.nu, self.n = a.nu, a.n
        loc = a.sb.doflocs
        self.gap_fn = gap
        self.thickness_fn = thickness
        # scalar node sets by boundary
        bd = {k: np.unique(a.sb.get_dofs(k).all()) for k in ("top", "bottom", "xmin", "xmax", "ymin", "ymax")}
        top = bd["top"]
        # order the top nodes on a structured (y, x) grid by their lattice indices (vertex lines and midpoints)
        self.xs, self.ys = (_node_lines(v) for v in self.layout[:2])
        ix, iy = self.lattice[0, 3 * top], self.lattice[1, 3 * top]
        order = np.lexsort((ix, iy))
        self.top = top[order]
        self.top_shape = (self.ys.size, self.xs.size)
        if self.top.size != self.xs.size * self.ys.size:
            raise RuntimeError("top-surface nodes do not form a structured grid")
        self.xy_top = loc[:2, self.top]
        self.top_z = 3 * self.top + 2
        self.top_xy_dofs = np.stack([3 * self.top, 3 * self.top + 1])
        fixed = [3 * bd["bottom"][:, None] + np.arange(3)]
        fixed.append(3 * bd["xmin"])  # symmetry plane (or roller): u_x = 0
        fixed.append(3 * bd["xmax"])
        fixed.append(3 * bd["ymin"] + 1)
        fixed.append(3 * bd["ymax"] + 1)
        self.fixed = np.unique(np.concatenate([f.ravel() for f in fixed]))
        self.bottom_z = 3 * bd["bottom"] + 2
        self.x = np.zeros(self.n)
        self.approach = 0.0
        g0 = np.asarray(gap(self.xy_top[0], self.xy_top[1]), dtype=float)
        if g0.shape != self.top.shape or np.any(np.isnan(g0)):
            raise InputError("the tool gap must be a number (or inf) at every skin node")
        if not np.isfinite(g0).any():
            raise InputError("the tool does not overlap the slab (the gap is infinite everywhere)")
        self.g0_top = g0
        self.active = np.zeros(self.top.size, dtype=bool)
        self.active[np.argmin(np.where(np.isfinite(g0), g0, np.inf))] = True
        self.weights = self._tributary_areas()
        self.newton_total = 0
        self.active_iterations = 0
        #: Newton steps taken with an inertia correction (:meth:`_newton_step`)
        self.inertia_corrections = 0
        self._last_shift = 0.0
        #: the last two converged states ``(load [N], x, approach)``, for the predictor of :meth:`solve`
        self._converged: list[tuple[float, np.ndarray, float]] = []
        self.log: list[tuple[int, int, int, float]] = []
        #: print each active-set iteration (``True`` or 1), and each Newton iteration too (2)
        self.verbose: bool | int = False
        self.residual = np.inf
        self.tie_surface = bool(tie_surface)
        self._ties = self._tie_rows() if self.tie_surface else None
        #: set to a list to record every Newton iteration in, as (approach, iteration, step length taken,
        #: relative Newton step, relative residual, active nodes)
        self.newton_trace: list[tuple] | None = None

    # -- helpers -------------------------------------------------------------------------------------------------
    def _top_mass(self, moved: bool = False) -> sp.csr_matrix:
        """Scalar Q2 mass matrix of the top surface (undeformed or deformed), on the top nodes in grid order."""
        ny, nx = self.top_shape
        pos = np.zeros((3, ny, nx))
        pos[:2] = self.xy_top.reshape(2, ny, nx)
        if moved:
            pos += self.x[np.stack([3 * self.top, 3 * self.top + 1, 3 * self.top + 2])].reshape(3, ny, nx)
        return skin_mass_matrix(pos)

    def _tributary_areas(self) -> np.ndarray:
        """Row sums of the top-surface mass matrix: area carried by each skin node (undeformed). [mm^2]"""
        return np.asarray(self._top_mass().sum(axis=1)).ravel()

    def _gap_at(self, xy: np.ndarray) -> np.ndarray:
        g = np.asarray(self.gap_fn(xy[0], xy[1]), dtype=float)
        return np.where(np.isfinite(g), g, NO_TOOL_GAP_MM)

    def _current_gap(self) -> np.ndarray:
        """Tool gap below each skin node (at its current horizontal position for the large-strain model)."""
        if self.model_name == "linear" or self.contact_point == "reference":
            return np.where(np.isfinite(self.g0_top), self.g0_top, NO_TOOL_GAP_MM)
        if self.contact_point == "normal":
            return self._gap_derivatives()[0]
        return self._gap_at(self.xy_top + self.x[self.top_xy_dofs])

    def _gap_derivatives(self, nodes: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """Smooth gap and its derivatives at the current horizontal positions of skin nodes (default: all)."""
        idx = slice(None) if nodes is None else nodes
        xy = self.xy_top[:, idx] + self.x[self.top_xy_dofs[:, idx]]
        out = [np.asarray(v, dtype=float) for v in self.gap_derivatives(xy[0], xy[1])]
        if not np.all(np.isfinite(out[0]) | (out[0] > 0)):
            raise _Diverged("non-finite tool gap")
        out[0] = np.where(np.isfinite(out[0]), out[0], NO_TOOL_GAP_MM)
        return tuple(out)

    def _tie_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The tied skin surface as (tied dof, master dof, weight) triplets: the horizontal displacement of each
        top edge's midside node is the mean of its two vertices', of each top face's centre node the mean of its
        four (a bilinear horizontal displacement on every skin face; fixed dofs stay fixed)."""
        ny, nx = self.top_shape
        grid = self.top.reshape(ny, nx)
        iy, ix = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        tied, master, weight = [], [], []
        for oy, ox in ((0, 1), (1, 0), (1, 1)):  # x-edge midsides, y-edge midsides, face centres
            sel = (iy % 2 == oy) & (ix % 2 == ox)
            corners = [(dy, dx) for dy in ((-1, 1) if oy else (0,)) for dx in ((-1, 1) if ox else (0,))]
            for dy, dx in corners:
                for c in (0, 1):
                    tied.append(3 * grid[sel] + c)
                    master.append(3 * grid[iy[sel] + dy, ix[sel] + dx] + c)
                    weight.append(np.full(int(sel.sum()), 1.0 / len(corners)))
        tied, master, weight = (np.concatenate(v) for v in (tied, master, weight))
        fixed = np.zeros(self.n, dtype=bool)
        fixed[self.fixed] = True
        keep = ~fixed[tied] & ~fixed[master]
        return tied[keep], master[keep], weight[keep]

    def _map(self, act_nodes: np.ndarray, normal: bool):
        """Unknowns of a Newton step and their map to the state.

        Returns ``free`` (the dofs that are unknowns: not fixed, not an active node's vertical displacement, not
        tied), ``T`` (the Jacobian of the state w.r.t. the unknowns and the approach, ``n x (free.size + 1)``)
        and ``curvature`` (``None``, or for contact on the true normal a function of the active nodes' vertical
        internal forces ``R_z`` giving ``sum_k R_z,k d^2 u_z,k / dv^2``, the gap's Hessian term of the tangent).
        """
        n = self.n
        act = self.top_z[act_nodes]
        dep = np.zeros(n, dtype=bool)
        dep[self.fixed] = True
        dep[act] = True
        tied = np.zeros(0, dtype=int)
        if self.tie_surface:
            tied, master, weight = self._ties
            dep[tied] = True
        free = np.flatnonzero(~dep)
        nf = free.size
        pos = np.full(n, -1)
        pos[free] = np.arange(nf)
        # horizontal-dof rows of the map (identity for unknowns, vertex means for tied dofs, 0 when fixed)
        rows = [free]
        cols = [np.arange(nf)]
        vals = [np.ones(nf)]
        if tied.size:
            rows.append(tied)
            cols.append(pos[master])
            vals.append(weight)
        H = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, nf + 1))
        d_col = sp.csr_matrix((-np.ones(act.size), (act, np.full(act.size, nf))), shape=(n, nf + 1))
        if not normal:
            return free, (H + d_col).tocsr(), None
        _, gx, gy, gxx, gxy, gyy = self._gap_derivatives(act_nodes)
        if self._averaged:
            # the tool's curvature jumps where a rounded tip meets its flank; a node sitting there can make the
            # tangent jump between iterations and Newton's method chatter; the averaged variant then takes the
            # curvature averaged over an element's width about the node (the residual and the gap stay exact)
            xy = self.xy_top[:, act_nodes] + self.x[self.top_xy_dofs[:, act_nodes]]
            h = 0.5 * self.curvature_window_mm
            curv = [self.gap_derivatives(xy[0] + sx, xy[1] + sy)[3:] for sx in (-h, h) for sy in (-h, h)]
            gxx, gxy, gyy = (0.25 * sum(np.asarray(c[i], dtype=float) for c in curv) for i in range(3))
        # u_z,k = g(X_k + u_x,k, Y_k + u_y,k) - d: the active rows are the slopes times the horizontal rows
        Sh = H[np.stack([3 * self.top[act_nodes], 3 * self.top[act_nodes] + 1], axis=1).ravel()]  # (2 na, nf+1)
        slopes = sp.csr_matrix(
            (np.stack([gx, gy], axis=1).ravel(), (np.repeat(act, 2), np.arange(2 * act.size))),
            shape=(n, 2 * act.size),
        )
        T = (H + d_col + slopes @ Sh).tocsr()
        na = act.size
        blk_r = np.repeat(np.arange(2 * na).reshape(na, 2), 2, axis=1).ravel()
        blk_c = np.tile(np.arange(2 * na).reshape(na, 2), (1, 2)).ravel()
        hess = np.stack([gxx, gxy, gxy, gyy], axis=1)  # (na, 4): row-major 2x2 blocks

        def curvature(Rz: np.ndarray) -> sp.csr_matrix:
            B = sp.csr_matrix(((Rz[:, None] * hess).ravel(), (blk_r, blk_c)), shape=(2 * na, 2 * na))
            return (Sh.T @ B @ Sh).tocsr()

        return free, T, curvature

    def _lift_columns(self, lift_mm: np.ndarray, nodes: np.ndarray, before_mm: np.ndarray | None = None) -> None:
        """Move skin nodes ``nodes`` (indices of the top grid) down/up by ``lift_mm``, and every node below each of
        them (the same lattice column) by ``lift_mm`` times the layout's fraction of the column height above the
        bone at its node line (0 at the bone, 1 at the skin). With ``before_mm`` the skin nodes' vertical
        displacements are first reset to those values. [mm]"""
        if before_mm is not None:
            self.x[self.top_z[nodes]] = before_mm
        ijk = self.lattice[:, 0 : self.nu : 3]  # node lattice indices, one column per (i, j)
        top_ijk = ijk[:, self.top[nodes]]
        on_skin = np.zeros((int(ijk[0].max()) + 1, int(ijk[1].max()) + 1))
        on_skin[top_ijk[0], top_ijk[1]] = lift_mm
        height = 1.0 + _node_lines(-self.layout[2][::-1])  # the layout's fraction of the column: 0 .. 1
        self.x[2 : self.nu : 3] += on_skin[ijk[0], ijk[1]] * height[ijk[2]]
        self.x[self.fixed] = 0.0

    def _enforce_ties(self) -> None:
        """Set the tied skin dofs to their vertices' mean (no-op without ``tie_surface``)."""
        if not self.tie_surface:
            return
        tied, master, weight = self._ties
        vals = np.zeros(self.n)
        np.add.at(vals, tied, weight * self.x[master])
        dofs = np.unique(tied)
        self.x[dofs] = vals[dofs]

    # -- solution ------------------------------------------------------------------------------------------------
    def _newton(self, load_kpa_mm2: float, tol: float, max_newton: int) -> int:
        """Newton iterations at fixed active set with the approach as unknown; returns iterations."""
        act = self.top_z[self.active]
        linear = self.model_name == "linear"
        normal = not linear and self.contact_point == "normal"
        act_nodes = np.flatnonzero(self.active)
        # x = T v + c: unknown dofs map to themselves, tied dofs to their vertices' mean, every active z-dof to
        # -d (+ its gap, + for the true normal its slope times the node's horizontal displacement)
        self._averaged = self.curvature == "averaged"
        free, T, curvature = self._map(act_nodes, normal)
        nf = free.size
        ref = max(load_kpa_mm2, 1e-30)
        damp, prev = 1.0, None  # step length of the oscillation damping; the last displacement step
        calm = 0  # Newton steps in a row that did not turn back
        for it in range(1, max_newton + 1):
            if normal and it > 1:
                free, T, curvature = self._map(act_nodes, normal)
            x = self.x
            # enforce the constraints exactly at the current approach, then Newton on (free, d)
            x[self.fixed] = 0.0
            self._enforce_ties()
            before = x[act].copy() if it == 1 else None  # for the fallback below
            x[act] = self._current_gap()[self.active] - self.approach
            if linear:
                K = self.asm.linear()
                R = K @ x
            else:
                try:
                    K, R = self.asm.assemble(x)
                except _Diverged:
                    if before is None:
                        raise
                    # moving the skin nodes just made active onto the tool inverts a thin element under the skin:
                    # move the columns below them with them instead, fading linearly to the bone
                    self._lift_columns(x[act] - before, act_nodes, before_mm=before)
                    K, R = self.asm.assemble(x)
            if not np.all(np.isfinite(R)):
                raise _Diverged("non-finite residual")
            r = T.T @ R
            r[nf] -= load_kpa_mm2  # conjugate force of the approach: the contact force
            Kr = (T.T @ K @ T).tocsr()
            if curvature is not None:
                Kr = (Kr + curvature(R[act])).tocsr()
            if it == 1:
                order = np.concatenate([nested_dissection(self.lattice[:, free]), [nf]])
            try:
                dv, shift = self._newton_step(Kr, r, order, n_pressure=0 if linear else int(np.sum(free >= self.nu)))
            except RuntimeError as exc:
                raise _Diverged(str(exc)) from None
            if not np.all(np.isfinite(dv)):
                raise _Diverged("non-finite Newton step")
            # backtracking: shorten the step while it would invert an element (large strain)
            x0, d0 = self.x.copy(), self.approach
            step = float(np.abs(dv[:nf][free < self.nu]).max(initial=0.0)) / max(abs(d0 + float(dv[nf])), 1e-9)
            dx = T @ dv
            for alpha in damp * 0.5 ** np.arange(11):
                self.x = x0 + alpha * dx
                self.approach = d0 + alpha * float(dv[nf])
                self.x[act] = self._current_gap()[self.active] - self.approach
                if linear or self._admissible():
                    break
            else:
                self.x, self.approach = x0, d0
                raise _Diverged("every Newton step length inverts an element")
            dv = alpha * dv
            res = float(np.abs(r[:nf]).max(initial=0.0)) / (ref / max(1.0, float(self.active.sum())))
            self.residual = res
            # a skin node sliding across the blend of a tip into its flank can make full Newton steps jump back
            # and forth across it with the same active set; while a step points back against the one before
            # without having shrunk to less than half of it (a converging Newton iteration's corrections shrink),
            # the next steps are halved (doubled again, up to the full step, when it does not; as in .deep)
            if normal:
                d_now = dv[:nf]
                dd = float(d_now @ d_now)
                turned = prev is not None and float(d_now @ prev) < -0.5 * dd and 4.0 * dd > float(prev @ prev)
                damp = max(0.5 * damp, 1.0 / 64.0) if turned else min(2.0 * damp, 1.0)
                prev = d_now
                if turned:  # chatter at a curvature jump: go on with the averaged term
                    self._averaged, calm = True, 0
                elif self._averaged and self.curvature == "exact":
                    # three calm steps in a row: back to the exact term, so the end converges quadratically
                    # (the averaged one converges only linearly: 0.97 per step on a rezoned slab at 38 N)
                    calm += 1
                    if calm >= 3:
                        self._averaged, calm = False, 0
            if self.newton_trace is not None:
                self.newton_trace.append((self.approach, it, float(alpha), step, res, int(act.size)))
            if int(self.verbose) >= 2:
                print(
                    f"    Newton {it}: approach {self.approach:.4f} mm, step length {alpha:.3g}, step {step:.1e}, "
                    f"residual {res:.1e}"
                    + (" (averaged curvature)" if self._averaged else "")
                    + (f" (inertia corrected, shift {shift:.1e})" if shift else ""),
                    flush=True,
                )
            if linear:
                return it
            if it > 1 and step < tol and not shift:  # a shifted step is shortened: small is not converged
                return it
        raise _Diverged(f"Newton's method did not converge in {max_newton} iterations")

    def _newton_step(
        self, Kr: sp.csr_matrix, r: np.ndarray, order: np.ndarray, n_pressure: int
    ) -> tuple[np.ndarray, float]:
        """Newton step ``-Kr^-1 r``, with an inertia correction where the tangent is not a stable one.

        ``Kr`` is the tangent in the unknowns (displacements, ``n_pressure`` pressures and the approach). Its
        pressure block is negative definite, so ``Kr`` has exactly ``n_pressure`` negative eigenvalues when the
        pressure-condensed displacement tangent is positive definite (Sylvester's law with the Schur complement).
        More mean that the iterate sits where the energy is not convex in some mode, and the plain step heads
        for a saddle of the energy instead of a minimum. On the back slab at 43 N this is the skin on a tip's
        flank sliding up round the tip (frictionless), and Newton's method wandered. Then the displacement
        block's diagonal is raised by ``shift`` times its own magnitude, growing from
        :data:`INERTIA_SHIFT_START` (or a third of the last shift used, so that a shift which only just fixes the
        inertia, and gives a very long step, is not tried again and again) by :data:`INERTIA_SHIFT_GROWTH` until
        the inertia is right (at most :data:`INERTIA_SHIFT_MAX`): the inertia correction of Waechter & Biegler
        (2006), a modified Newton step (Nocedal & Wright 2006, sec. 3.4) that descends the energy.
        Returns the step and the shift used (0 for the plain Newton step). ``n_pressure = 0`` skips the check
        (the linear model).
        """
        fac = _Factorization(Kr, order)
        shift = 0.0
        try:
            if n_pressure and fac.negative > n_pressure:
                citations.use("waechter2006", "nocedal2006")
                diag = Kr.diagonal()
                D = sp.diags(np.where(diag > 0, diag, 0.0)).tocsr()  # the pressures' diagonal is negative
                shift = max(INERTIA_SHIFT_START, INERTIA_SHIFT_DECREASE * self._last_shift)
                while True:
                    fac.free()
                    fac = _Factorization((Kr + shift * D).tocsr(), order)
                    if fac.negative <= n_pressure or shift >= INERTIA_SHIFT_MAX:
                        break
                    shift = min(shift * INERTIA_SHIFT_GROWTH, INERTIA_SHIFT_MAX)
                self.inertia_corrections += 1
                self._last_shift = shift
            return fac.solve(-r), shift
        finally:
            fac.free()

    def _predict(self, load_n: float) -> None:
        """Secant predictor: move the state to the linear extrapolation of the last two converged states to
        ``load_n`` (at most twice the last increment ahead), halved up to three times while an element inverts;
        nothing when the state is not at the last converged one (e.g. restored or rezoned) or the load is not
        ahead of it."""
        if len(self._converged) < 2:
            return
        (f0, x0, d0), (f1, x1, d1) = self._converged
        if f1 <= f0 or self.approach != d1 or not np.array_equal(self.x, x1):
            return
        theta = (load_n - f1) / (f1 - f0)
        if not 0.0 < theta <= 2.0:
            return
        for _ in range(4):
            self.x, self.approach = x1 + theta * (x1 - x0), d1 + theta * (d1 - d0)
            if self._admissible():
                return
            theta *= 0.5
        self.x, self.approach = x1.copy(), d1

    def _admissible(self) -> bool:
        """Whether the current state has no inverted element."""
        try:
            R = self.asm.assemble(self.x, tangent=False)[1]
        except _Diverged:
            return False
        return bool(np.all(np.isfinite(R)))

    def reactions(self) -> np.ndarray:
        """Downward push of the tool on each skin node (from the internal forces). [kPa mm^2]"""
        R = self.asm.linear() @ self.x if self.model_name == "linear" else self.asm.assemble(self.x, tangent=False)[1]
        return -R[self.top_z]

    def solve(
        self,
        load_n: float,
        *,
        initial_active: np.ndarray | None = None,
        tol: float = 1e-6,
        max_newton: int = 25,
        max_active: int = 40,
        predict: bool = True,
    ) -> bool:
        """Equilibrium under the contact force ``load_n`` (on the modelled part of the slab); warm-started.

        Parameters
        ----------
        load_n : float
            Force the tool exerts on the meshed slab (half the total with ``symmetric=True``). [N]
        initial_active : array of bool, optional
            Guess of the skin nodes in contact (shape of the top grid, ``(ny, nx)``); default: the previous set.
        tol : float
            Relative size of the last Newton step at which the large-strain iteration stops. [-]
        predict : bool
            Large strain, stepping on from two converged loads with the state still at the last one: start Newton's
            method from the state extrapolated linearly in the load (a secant predictor; Belytschko, Liu & Moran
            2000, ch. 6), shortened while it would invert an element, instead of from the last state.

        Returns
        -------
        bool
            Whether the active set settled (no tensile contact node, no penetrating free node).
        """
        W = check_positive("load", load_n, "N") * 1e3
        if predict and self.model_name != "linear":
            self._predict(float(load_n))
        if initial_active is not None:
            ia = np.asarray(initial_active, dtype=bool).ravel()
            if ia.shape != self.active.shape:
                raise InputError(f"initial active set must have shape {self.top_shape}")
            if ia.any():
                self.active = ia & np.isfinite(self.g0_top)
        if self.model_name != "linear" and not np.any(self.x):
            # large strain from the undeformed state: start Newton's method from the small-strain solution
            self.model_name = "linear"
            try:
                self.solve(load_n, tol=tol, max_newton=max_newton, max_active=max_active)
            finally:
                self.model_name = "neo-hookean"
            # the small-strain solution may invert elements under a sharp tool: scale it back until admissible
            for _ in range(12):
                if self._admissible():
                    break
                self.x *= 0.5
                self.approach *= 0.5
        seen: list[bytes] = []
        for _ in range(max_active):
            self.active_iterations += 1
            self.newton_total += self._newton(W, tol, max_newton)
            react = self.reactions()
            gap = self._current_gap() - self.approach  # allowed z-displacement
            uz = self.x[self.top_z]
            pen = uz - gap
            scale_r = max(float(np.abs(react[self.active]).max(initial=0.0)), 1e-30)
            scale_d = max(abs(self.approach), 1e-9)
            tens = self.active & (react < -1e-8 * scale_r)
            new = ~self.active & (pen > 1e-6 * scale_d)
            self.log.append((int(self.active.sum()), int(tens.sum()), int(new.sum()), float(self.approach)))
            if self.verbose:
                print(
                    f"  active set: {self.log[-1][0]} nodes, release {tens.sum()}, add {new.sum()}, "
                    f"approach {self.approach:.4f} mm, residual {self.residual:.1e}"
                    + (" (averaged curvature)" if self._averaged and self.curvature == "exact" else ""),
                    flush=True,
                )
            if not tens.any() and not new.any():
                if self.model_name != "linear":
                    self._converged = [*self._converged[-1:], (float(load_n), self.x.copy(), float(self.approach))]
                return True
            key = ((self.active & ~tens) | new).tobytes()
            if key in seen:  # cycling between sets: keep adding the penetrating nodes only
                self.active = self.active | new
                if not new.any():
                    return False
            else:
                seen.append(key)
                self.active = (self.active & ~tens) | new
            if not self.active.any():
                self.active[np.argmin(gap)] = True
        return False

    def result(self, converged: bool) -> Slab3DResult:
        """Post-process the current state into a :class:`Slab3DResult`."""
        sym = 2.0 if self.symmetric else 1.0
        react = np.where(self.active, self.reactions(), 0.0)
        M = self._top_mass().tocsc()
        p_nom = np.where(self.active, np.clip(splu(M).solve(react), 0.0, None), 0.0)
        normal = self.model_name != "linear" and self.contact_point == "normal"
        R = self.asm.linear() @ self.x if self.model_name == "linear" else self.asm.assemble(self.x, tangent=False)[1]
        if normal:
            # the tool pushes along its normal: the force's size is the vertical push times |(-g_x, -g_y, 1)|,
            # and each active node's horizontal internal force balances the horizontal part of that push
            _, gx, gy = self._gap_derivatives()[:3]
            push = react * np.sqrt(1.0 + gx**2 + gy**2)
        else:
            push = react
        if self.model_name == "linear":
            p_true = p_nom
        else:
            p_true = np.where(self.active, np.clip(splu(self._top_mass(moved=True).tocsc()).solve(push), 0, None), 0)
        # equilibrium of the unknowns (with the true normal, an active node's horizontal internal force balances
        # the horizontal part of the tool's push; a tied node's force is carried by its vertices)
        _, T, _ = self._map(np.flatnonzero(self.active), normal)
        self.residual = float(np.abs((T.T @ R)[:-1]).max(initial=0.0)) / max(float(np.abs(react).max()), 1e-30)
        bone = float(R[self.bottom_z].sum()) * 1e-3  # internal force on the bonded base = upward bone reaction
        force = float(react.sum()) * 1e-3
        # mirrored totals: nodes on the symmetry plane are shared by both halves (tributary areas already halved)
        ref_xy = self.xy_top.reshape(2, *self.top_shape)
        area = contact_area_mm2(
            self.xs, self.ys, self.active.reshape(self.top_shape), current_xy_mm=ref_xy if self.rezoned else None
        )
        t_top = np.asarray(self.thickness_fn(self.xy_top[0], self.xy_top[1]), dtype=float)
        strain = float(np.max(-self.x[self.top_z] / t_top))
        shp = self.top_shape
        return Slab3DResult(
            x_mm=self.xs.copy(),
            y_mm=self.ys.copy(),
            pressure_kpa=p_nom.reshape(shp),
            true_pressure_kpa=np.asarray(p_true).reshape(shp),
            reaction_n=(react * 1e-3).reshape(shp),
            active=self.active.reshape(shp).copy(),
            deflection_mm=(-self.x[self.top_z]).reshape(shp),
            approach_mm=float(self.approach),
            force_n=sym * force,
            bone_force_n=sym * bone,
            contact_area_mm2=sym * area,
            model=self.model_name,
            n_dofs=self.n,
            n_elements=self.asm.nel,
            newton_iterations=self.newton_total,
            active_set_iterations=self.active_iterations,
            converged=bool(converged),
            residual=float(self.residual),
            symmetric=self.symmetric,
            extras={
                "bone_reaction_n": R[self.bottom_z] * 1e-3,
                "bone_xy_mm": self.asm.sb.doflocs[:2, self.bottom_z // 3],
                "max_compressive_strain": strain,
                "skin_xy_current_mm": (self.xy_top + self.x[self.top_xy_dofs]).reshape(2, *shp),
                "skin_xy_reference_mm": ref_xy.copy(),
                "rezoned": self.rezoned,
                # where a skin node meets the tool: its reference position (small strain) or its current one
                "contact_point": "reference" if self.model_name == "linear" else self.contact_point,
            },
        )


def rounded_peak_block(
    *,
    fine_mm: float,
    n_layers: int,
    thickness_mm: float = 20.0,
    modulus_kpa: float = 15.0,
    tip_radius_mm: float = 10.0,
    flank_angle_deg: float = 55.0,
    half_width_mm: float = 30.0,
    fine_zone_mm: float = 10.0,
    tie_surface: bool = True,
    top_layer: tuple[float, float] | None = None,
    top_fraction: float = 0.4,
    curvature: str = "exact",
    blend_mm: float = 0.0,
    stretch: float = 1.0,
    ridge_mm: float = 0.0,
    bend_radius_mm: float = np.inf,
) -> SlabContact:
    """One rounded conical peak (:func:`spinerelease.tools.rounded_peak_derivatives`) on a neo-Hookean block
    (uniform, or with a softer ``top_layer``), half model, contact on the true normal: the 3D counterpart of the
    axisymmetric cases of :mod:`.deep` (defaults: the PSO-Spine's peak into 20 mm of muscle).

    Parameters
    ----------
    fine_mm : float
        Element size within ``+-fine_zone_mm`` of the peak, growing 1.5x outside. [mm]
    n_layers : int
        Element layers through the thickness (:func:`depth_fractions`, ``top_fraction``).
    thickness_mm, modulus_kpa : float
        Block thickness [mm] and small-strain Young's modulus [kPa].
    tip_radius_mm, flank_angle_deg : float
        The peak's tip radius [mm] and flank slope [degrees].
    half_width_mm : float
        Half width of the block (it spans ``[0, w] x [-w, w]``). [mm]
    fine_zone_mm : float
        Half width of the finely meshed zone about the peak. [mm]
    tie_surface : bool
        See :class:`SlabContact`.
    top_layer : (float, float), optional
        A softer layer on top, ``(thickness [mm], Young's modulus [kPa])`` (e.g. skin and fat over muscle), part of
        ``thickness_mm``; ``modulus_kpa`` is then the layer below. The material is chosen per integration point,
        so the interface need not be an element boundary.
    top_fraction : float
        Thickness of the skin-side element layer relative to a uniform layer (:func:`depth_fractions`). [-]
    curvature : str
        ``"exact"`` or ``"averaged"`` (see :class:`SlabContact`).
    blend_mm : float
        Half width of the C2 blend of the tip into its flank (:func:`spinerelease.tools.rounded_peak_derivatives`;
        0: the sharp construction). [mm]
    stretch : float
        The peak stretched along y by this factor, ``h(x, y / stretch)`` (1: the round peak): an elongated contact,
        between the round peak's all-round escape and a roller's one-way escape; the fine zone is stretched
        with it. [-]
    ridge_mm : float
        Instead of stretching it, the apex drawn out into a ridge this long (0: a point): a blunt-ended elongated
        peak, a short roller with the peak's rounded cone as its ends, whose contact is a stadium
        (:func:`spinerelease.tools.elongated_peak_derivatives`); straight along y, or, with ``bend_radius_mm``,
        along x bent towards +y (symmetric about the half model's plane x = 0). The fine zone follows it. [mm]
    bend_radius_mm : float
        The ridge's arc radius (``inf``: straight). [mm]
    """
    from ...tools import elongated_peak_derivatives

    shape = {"stretch": stretch, "ridge_mm": ridge_mm, "bend_radius_mm": bend_radius_mm}
    elongated_peak_derivatives(np.zeros(1), np.zeros(1), tip_radius_mm, flank_angle_deg, blend_mm, **shape)  # checks
    s_y = float(stretch)

    if blend_mm > 0:
        citations.use("neto2017")
    if top_layer is None:

        def modulus(X: np.ndarray, Y: np.ndarray, D: np.ndarray) -> np.ndarray:
            return np.full_like(X, modulus_kpa)
    else:
        t_top = check_range("top layer thickness", top_layer[0], 0.0, thickness_mm, "mm")
        e_top = check_positive("top layer modulus", top_layer[1], "kPa")

        def modulus(X: np.ndarray, Y: np.ndarray, D: np.ndarray) -> np.ndarray:
            return np.where(D <= t_top, e_top, modulus_kpa)

    def gap(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(-v for v in elongated_peak_derivatives(x, y, tip_radius_mm, flank_angle_deg, blend_mm, **shape))

    half_ridge = 0.5 * ridge_mm
    zone, zone_y = [(-fine_zone_mm, fine_zone_mm)], [(-fine_zone_mm * s_y, fine_zone_mm * s_y)]
    if ridge_mm and np.isinf(bend_radius_mm):
        zone_y = [(-fine_zone_mm - half_ridge, fine_zone_mm + half_ridge)]
    elif ridge_mm:  # along x, its ends bent towards +y by the arc's sagitta
        sag = bend_radius_mm * (1 - np.cos(half_ridge / bend_radius_mm))
        zone = [(-fine_zone_mm - half_ridge, fine_zone_mm + half_ridge)]
        zone_y = [(-fine_zone_mm, fine_zone_mm + sag)]
    return SlabContact(
        graded_axis(0.0, half_width_mm, fine_mm, zone, 1.5),
        graded_axis(-half_width_mm, half_width_mm, fine_mm, zone_y, 1.5),
        depth_fractions(n_layers, top_fraction),
        lambda X, Y: np.full_like(X, thickness_mm),
        modulus,
        lambda X, Y: gap(X, Y)[0],
        model="neo-hookean",
        contact_point="normal",
        gap_derivatives=gap,
        tie_surface=tie_surface,
        curvature=curvature,
    )
