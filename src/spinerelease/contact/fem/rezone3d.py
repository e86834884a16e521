"""Rezoning of the 3D tissue slab: a fresh mesh laid out over the deformed configuration.

Under a rounded tip pressed deep into the slab the skin flows around the tip and the skin faces next to the apex
are stretched several-fold (the back slab at 37 N: 2.5 -> 11.5 mm) until Newton's method no longer converges.
Rezoning lays a new mesh over the current (deformed) configuration and carries the state over to it
(Belytschko, Liu & Moran 2000, ch. 7): the tissue is hyperelastic, so its state is fully defined by the
reference (undeformed) position of each material point, and a new mesh only needs, for each of its nodes, its
current position and the reference position of the material point there.

The new layout keeps the slab's structured topology. Its vertices lie, in the *current* configuration, on the
original vertical mesh lines ``x = x_i``, ``y = y_j``: the skin vertex on the deformed skin surface above
``(x_i, y_j)``, the bone vertex on the bone, and the vertices between them at the original depth fractions of
the current column height. Each vertex's reference position is found by inverting the old mesh's deformed
triquadratic map (:func:`invert_q2`), and becomes a vertex of the new *reference* mesh (a total-Lagrangian
mesh again, whose elements are no longer boxes but are undistorted in the current configuration). The new
mesh's other Q2 nodes take the old deformation at their reference positions; the pressure (Q1) is
interpolated; the contact set is carried over by interpolating the old active-node indicator. The next load
step's Newton iterations start from that state.

References
----------
Belytschko T, Liu WK, Moran B (2000). Nonlinear Finite Elements for Continua and Structures. Wiley, ch. 7.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ... import citations
from ...errors import InputError
from .solid3d import SlabContact, _Diverged

#: Newton iterations of the inverse element map before a candidate element is given up. [-]
INVERSE_ITERATIONS = 30
#: How far outside an element's parent cube (in parent coordinates) a point found by the inverse map may lie and
#: still count as inside it (points on the slab's faces, found with rounding). [-]
INSIDE_TOLERANCE = 1e-6
#: The same for a point that lies in no element by ``INSIDE_TOLERANCE``: on the mesh's boundary, which a curved
#: element face approximates only to rounding; it is taken from the element it is nearest outside of. [-]
BOUNDARY_TOLERANCE = 1e-3


def _shapes_1d(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadratic Lagrange shape functions on the nodes -1, 0, 1 and their derivatives, shape ``t.shape + (3,)``."""
    L = np.stack([0.5 * t * (t - 1.0), 1.0 - t * t, 0.5 * t * (t + 1.0)], axis=-1)
    dL = np.stack([t - 0.5, -2.0 * t, t + 0.5], axis=-1)
    return L, dL


def q2_map(nodes: np.ndarray, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value and Jacobian of tensor-product quadratic (Q2) maps at parent points.

    Parameters
    ----------
    nodes : ndarray, shape (m, 3, ..., 3, c)
        The nodal values of ``m`` elements on their ``3^d`` lattice nodes (d = 2 or 3 parent dimensions), ``c``
        components each.
    xi : ndarray, shape (m, d)
        Parent coordinates in [-1, 1]^d.

    Returns
    -------
    value : ndarray, shape (m, c)
    jacobian : ndarray, shape (m, c, d)
        Derivatives with respect to the parent coordinates.
    """
    d = xi.shape[1]
    L, dL = _shapes_1d(xi)  # (m, d, 3)
    if d == 2:
        val = np.einsum("mabc,ma,mb->mc", nodes, L[:, 0], L[:, 1])
        jac = np.stack(
            [
                np.einsum("mabc,ma,mb->mc", nodes, dL[:, 0], L[:, 1]),
                np.einsum("mabc,ma,mb->mc", nodes, L[:, 0], dL[:, 1]),
            ],
            axis=-1,
        )
    elif d == 3:
        val = np.einsum("mabkc,ma,mb,mk->mc", nodes, L[:, 0], L[:, 1], L[:, 2])
        jac = np.stack(
            [
                np.einsum("mabkc,ma,mb,mk->mc", nodes, dL[:, 0], L[:, 1], L[:, 2]),
                np.einsum("mabkc,ma,mb,mk->mc", nodes, L[:, 0], dL[:, 1], L[:, 2]),
                np.einsum("mabkc,ma,mb,mk->mc", nodes, L[:, 0], L[:, 1], dL[:, 2]),
            ],
            axis=-1,
        )
    else:
        raise InputError(f"Q2 maps are defined here in 2 or 3 dimensions, got {d}")
    return val, jac


def element_nodes(lattice: np.ndarray) -> np.ndarray:
    """The 3^d node blocks of every element of a structured Q2 lattice.

    ``lattice`` has shape ``(2 n_1 + 1, ..., 2 n_d + 1, c)`` (vertices at even indices); the result has shape
    ``(n_1 * ... * n_d, 3, ..., 3, c)``, elements in C order of their (i, j[, k]) indices.
    """
    d = lattice.ndim - 1
    n = [(s - 1) // 2 for s in lattice.shape[:d]]
    if any(2 * k + 1 != s or k < 1 for k, s in zip(n, lattice.shape[:d], strict=True)):
        raise InputError(f"a Q2 lattice needs an odd number (>= 3) of node lines each way, got {lattice.shape[:d]}")
    start = np.stack(np.meshgrid(*[2 * np.arange(k) for k in n], indexing="ij"), axis=-1).reshape(-1, d)
    off = np.stack(np.meshgrid(*[np.arange(3)] * d, indexing="ij"), axis=-1).reshape(-1, d)
    idx = start[:, None, :] + off[None, :, :]  # (E, 3^d, d)
    blocks = lattice[tuple(idx[..., a] for a in range(d))]  # (E, 3^d, c)
    return blocks.reshape(len(start), *([3] * d), lattice.shape[-1])


def invert_q2(nodes: np.ndarray, targets: np.ndarray, candidates: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Element and parent coordinates of points in a mesh of curved Q2 elements (inverse isoparametric map).

    Each point is tried in the ``candidates`` elements whose centres are nearest (then in more, for the points
    not yet found), by Newton's method on the element's map; it belongs to the first element in which the
    iteration converges inside the parent cube.

    Parameters
    ----------
    nodes : ndarray, shape (E, 3, ..., 3, d)
        Node positions of the elements (:func:`element_nodes`), d = 2 or 3. [mm]
    targets : ndarray, shape (m, d)
        The points. [mm]
    candidates : int
        Elements tried first per point.

    Returns
    -------
    elem : ndarray of int, shape (m,)
    xi : ndarray, shape (m, d)
        Parent coordinates, clipped to [-1, 1].

    Raises
    ------
    _Diverged
        When a point lies in no element (outside the mesh, or the mesh is folded).
    """
    E = nodes.shape[0]
    d = targets.shape[1]
    centre = nodes[(slice(None),) + (1,) * d]  # (E, d): the centre node
    tree = cKDTree(centre)
    scale = float(np.ptp(centre, axis=0).max()) if E > 1 else 1.0
    tol = 1e-10 * max(scale, 1.0)
    m = targets.shape[0]
    elem = np.full(m, -1)
    xi_out = np.zeros((m, d))
    best = np.full(m, np.inf)  # smallest excess outside the parent cube of a converged candidate so far
    tried = 0
    for k in (min(candidates, E), min(4 * candidates, E), E):
        todo = np.flatnonzero(best > INSIDE_TOLERANCE)
        if todo.size == 0 or k <= tried:
            break
        _, cand = tree.query(targets[todo], k=k)
        cand = np.asarray(cand).reshape(todo.size, -1)
        for c in range(tried, k):
            keep = best[todo] > INSIDE_TOLERANCE
            left, e = todo[keep], cand[keep, c]
            if left.size == 0:
                break
            tgt = targets[left]
            # start from the element's node nearest to the point (a curved element's map can have spurious roots
            # outside its parent cube that Newton's method finds from the centre)
            flat = nodes[e].reshape(left.size, 3**d, d)
            near = np.argmin(((flat - tgt[:, None, :]) ** 2).sum(axis=2), axis=1)
            xi = np.stack(np.unravel_index(near, (3,) * d), axis=1).astype(float) - 1.0
            for _ in range(INVERSE_ITERATIONS):
                val, jac = q2_map(nodes[e], xi)
                r = val - tgt
                conv = np.linalg.norm(r, axis=1) < tol
                if conv.all():
                    break
                ok = np.abs(np.linalg.det(jac)) > 1e-300
                step = np.zeros_like(xi)
                step[ok] = np.linalg.solve(jac[ok], r[ok][..., None])[..., 0]
                xi = np.clip(xi - step, -3.0, 3.0)
            val, _ = q2_map(nodes[e], xi)
            conv = np.linalg.norm(val - tgt, axis=1) < tol
            excess = np.abs(xi).max(axis=1) - 1.0
            better = conv & (excess < best[left])
            best[left[better]] = excess[better]
            elem[left[better]] = e[better]
            xi_out[left[better]] = xi[better]
        tried = k
    lost = best > BOUNDARY_TOLERANCE
    if np.any(lost):
        raise _Diverged(f"{int(lost.sum())} point(s) lie in no element of the mesh (outside it, or it folds)")
    return elem, np.clip(xi_out, -1.0, 1.0)


def _on_lattice(ijk: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values ``(c, n)`` of points with lattice indices ``ijk`` (3, n) arranged on that lattice ``(I, J, K, c)``."""
    shape = tuple(int(v) + 1 for v in ijk.max(axis=1))
    out = np.full((*shape, values.shape[0]), np.nan)
    out[ijk[0], ijk[1], ijk[2]] = values.T
    return out


def _node_lattice(prob: SlabContact, values: np.ndarray) -> np.ndarray:
    """Per-node values ``(c, n_nodes)`` of the slab's Q2 nodes arranged on its node lattice ``(I, J, K, c)``."""
    return _on_lattice(prob.lattice[:, 0 : prob.nu : 3], values)


def _vertex_pressure(prob: SlabContact) -> np.ndarray:
    """The pressure unknowns (Q1, on the vertices) on the vertex lattice ``(nx, ny, nz)``."""
    return _on_lattice(prob.lattice[:, prob.nu :] // 2, prob.x[None, prob.nu :])[..., 0]


def _q1_at(vertex: np.ndarray, elem: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """Trilinear (Q1) interpolation of a vertex-lattice field ``(nx, ny, nz)`` at parent points of elements
    numbered in C order of their (i, j, k) indices."""
    nx, ny, nz = vertex.shape
    i, rest = np.divmod(elem, (ny - 1) * (nz - 1))
    j, k = np.divmod(rest, nz - 1)
    w = [np.stack([0.5 * (1.0 - xi[:, a]), 0.5 * (1.0 + xi[:, a])]) for a in range(3)]
    out = np.zeros(elem.size)
    for a in range(2):
        for b in range(2):
            for c in range(2):
                out += w[0][a] * w[1][b] * w[2][c] * vertex[i + a, j + b, k + c]
    return out


def with_reference(prob: SlabContact, reference_mm: np.ndarray) -> SlabContact:
    """A new slab problem like ``prob`` (layout, materials, tool, contact options) on another reference mesh
    (vertex positions ``(3, n_vertices)``); its state is zero, its ``verbose`` setting that of ``prob``."""
    x, y, fr = prob.layout
    try:
        new = SlabContact(
            x,
            y,
            fr,
            prob.thickness_fn,
            prob.modulus_fn,
            prob.gap_fn,
            poisson=prob.poisson,
            model=prob.model_name,
            symmetric=prob.symmetric,
            contact_point=prob.contact_point,
            gap_derivatives=prob.gap_derivatives,
            tie_surface=prob.tie_surface,
            curvature=prob.curvature,
            reference_mm=reference_mm,
        )
    except InputError as exc:
        raise _Diverged(f"the rezoned mesh is not valid ({exc})") from None
    new.verbose = prob.verbose
    return new


def rezone_slab(prob: SlabContact) -> SlabContact:
    """A new mesh laid out over the current configuration of ``prob``, with the state carried over to it.

    See the module docstring. The returned problem has the same layout, material, tool and contact options; its
    reference mesh's vertices are the reference positions of the material points at the new layout's vertices,
    its displacements those of the old solution at its nodes, the pressure interpolated, the approach the same,
    and the active set the old one interpolated at the new skin nodes. ``prob`` is not changed.

    Raises
    ------
    _Diverged
        When a new node lies outside the old mesh or the new reference mesh folds (the caller keeps the old
        problem).
    """
    if prob.model_name == "linear":
        raise InputError("rezoning is for the large-strain model (the linear model has no deformed configuration)")
    citations.use("belytschko2000")
    x_lines, y_lines, fr = prob.layout
    nx, ny, nz = x_lines.size, y_lines.size, fr.size
    sb = prob.asm.sb
    ref = sb.doflocs
    cur = ref + prob.x[: prob.nu].reshape(-1, 3).T
    Lref, Lcur = _node_lattice(prob, ref), _node_lattice(prob, cur)
    pv = _vertex_pressure(prob)
    # 1. the deformed skin above each layout line crossing: height and the material point there
    skin_cur = element_nodes(Lcur[:, :, -1, :])  # (faces, 3, 3, 3)
    skin_ref = element_nodes(Lref[:, :, -1, :2])
    X, Y = np.meshgrid(x_lines, y_lines, indexing="ij")  # (nx, ny)
    targets = np.stack([X.ravel(), Y.ravel()], axis=1)
    f_id, f_xi = invert_q2(skin_cur[..., :2], targets)
    z_top = q2_map(skin_cur[f_id][..., 2:], f_xi)[0][:, 0].reshape(nx, ny)
    skin_xy_ref = q2_map(skin_ref[f_id], f_xi)[0].reshape(nx, ny, 2)
    # 2. the new vertices in the current configuration: on the layout's vertical lines, at the layout's depth
    #    fractions of the current column height (vertex lattice k = 0 at the bone, nz - 1 at the skin)
    t = np.asarray(prob.thickness_fn(X, Y), dtype=float)
    frac = fr[::-1]  # fraction below the skin at k = 0 .. nz - 1
    zc = -t[..., None] + (1.0 - frac)[None, None, :] * (z_top + t)[..., None]
    if np.any(np.diff(zc, axis=2) <= 0):
        raise _Diverged("the deformed skin reaches the bone; cannot rezone")
    vcur = np.stack([np.broadcast_to(X[..., None], zc.shape), np.broadcast_to(Y[..., None], zc.shape), zc], -1)
    # 3. their reference positions and pressures, through the old deformed mesh (bone vertices do not move)
    vref = vcur.copy()
    pnew = pv.copy()
    inner = vcur[:, :, 1:-1, :].reshape(-1, 3)
    old_cur, old_ref = element_nodes(Lcur), element_nodes(Lref)
    e_id, e_xi = invert_q2(old_cur, inner)
    vref[:, :, 1:-1, :] = q2_map(old_ref[e_id], e_xi)[0].reshape(nx, ny, nz - 2, 3)
    pnew[:, :, 1:-1] = _q1_at(pv, e_id, e_xi).reshape(nx, ny, nz - 2)
    # the skin vertices from the skin's own map (the skin faces next to a deep tip are stretched several-fold,
    # and curved: inverting the 3D elements there is less reliable), the pressure on the top face of the
    # element under each skin face (parent coordinate +1 through the thickness)
    vref[:, :, -1, :2] = skin_xy_ref
    vref[:, :, -1, 2] = 0.0  # the skin stays the skin, the sides their planes (rollers)
    fi, fj = np.divmod(f_id, ny - 1)
    top_elem = (fi * (ny - 1) + fj) * (nz - 1) + (nz - 2)
    pnew[:, :, -1] = _q1_at(pv, top_elem, np.column_stack([f_xi, np.ones(f_id.size)])).reshape(nx, ny)
    vref[0, :, :, 0], vref[-1, :, :, 0] = x_lines[0], x_lines[-1]
    vref[:, 0, :, 1], vref[:, -1, :, 1] = y_lines[0], y_lines[-1]
    # 4. the new problem on that reference mesh
    vl = prob.lattice[:, prob.nu :] // 2  # vertex lattice index of each mesh vertex
    new = with_reference(prob, np.ascontiguousarray(vref[vl[0], vl[1], vl[2]].T))
    # 5. displacements at the new mesh's Q2 nodes: the old deformation at their reference positions
    q = new.asm.sb.doflocs
    n_id, n_xi = invert_q2(old_ref, q.T)
    qcur = q2_map(old_cur[n_id], n_xi)[0].T
    U = qcur - q
    x = np.zeros(new.n)
    x[: new.nu] = U.T.ravel()
    x[new.nu :] = pnew[vl[0], vl[1], vl[2]]
    x[new.fixed] = 0.0
    new.x = x
    new.approach = prob.approach
    # 6. contact set: the old active-node indicator at the new skin nodes' material points
    act_old = prob.active.reshape(prob.top_shape).T.astype(float)[..., None]  # (I, J, 1) on the skin lattice
    a_id, a_xi = invert_q2(skin_ref, new.xy_top.T)
    ind = q2_map(element_nodes(act_old)[a_id], a_xi)[0][:, 0]
    carried = (ind >= 0.5) & np.isfinite(new.g0_top)
    if carried.any():  # otherwise the new problem's own first guess (the node nearest the tool)
        new.active = carried
    new.rezones = prob.rezones + 1
    new.newton_total, new.active_iterations = prob.newton_total, prob.active_iterations
    return new
