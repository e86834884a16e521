"""Rezoning of the 3D tissue slab: a fresh mesh laid out over the deformed configuration.

Under a rounded tip pressed deep into the slab the skin flows around the tip and the skin faces next to the apex
are stretched several-fold (the back slab at 37 N: 2.5 -> 11.5 mm) until Newton's method no longer converges.
Rezoning lays a new mesh over the current (deformed) configuration and carries the state over to it
(Belytschko, Liu & Moran 2000, ch. 7): the tissue is hyperelastic, so its state is fully defined by the
reference (undeformed) position of each material point, and a new mesh only needs, for each of its nodes, its
current position and the reference position of the material point there.

The new layout keeps the slab's structured topology (the old layout, or a finer one to measure the mesh
error). All its Q2 nodes lie, in the *current* configuration, on the layout's vertical node lines
``x = x_i``, ``y = y_j``: the skin node on the deformed skin surface above ``(x_i, y_j)``, the bone node on the
bone, and the nodes between them at the layout's depth fractions of the current column height. Each node's
reference position is found by inverting the old mesh's deformed triquadratic map (:func:`invert_q2`); these
positions make the new *reference* mesh, a total-Lagrangian mesh again whose elements are curved (isoparametric
Q2) there and regular in the current configuration. The displacement of each node is its current minus its
reference position, the pressure (Q1) is interpolated, and the contact set is carried over by interpolating the
old active-node indicator. The next load step's Newton iterations start from that state.

Stops 21-23 placed only the *vertices* so and gave the reference mesh straight edges, with the mid-edge nodes'
current positions taken from the old map. Once the skin wraps a tip's flank (the back slab beyond 38 N) the
reference elements between the ridge and the tips are sheared so much that a few elements of the carried state
were inverted (at 45, 50 and 64 N); with curved reference elements the smallest Jacobian of the carried state at
64 N is 0.37.

References
----------
Belytschko T, Liu WK, Moran B (2000). Nonlinear Finite Elements for Continua and Structures. Wiley, ch. 7.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ... import citations
from ...errors import InputError
from .solid3d import SlabContact, _Diverged, _lattice, _node_lines

#: Newton iterations of the inverse element map before a candidate element is given up. [-]
INVERSE_ITERATIONS = 30
#: How far outside an element's parent cube (in parent coordinates) a point found by the inverse map may lie and
#: still count as inside it (points on the slab's faces, found with rounding). [-]
INSIDE_TOLERANCE = 1e-6
#: The same for a point that lies in no element by ``INSIDE_TOLERANCE``: on the mesh's boundary, which a curved
#: element face approximates only to rounding; it is taken from the element it is nearest outside of. [-]
BOUNDARY_TOLERANCE = 1e-3
#: Points per parent axis of the lattice whose nearest point starts the second try of the inverse map, for the
#: points the first (from the nearest element node) did not place: 17 since stop 26, when the back slab's 78 N
#: state (an element beside the spinous ridge whose map folds in part of it, Jacobian determinant -0.37 to 1.98)
#: could not be rezoned with 9 (one point lost; 13 finds it). [-]
FALLBACK_LATTICE = 17
#: Lattice values evaluated at once in that second try (bounds its memory: about 8 bytes x 3 x this). [-]
FALLBACK_BATCH_VALUES = 1 << 22


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


def _newton_inverse(
    nodes: np.ndarray, targets: np.ndarray, xi: np.ndarray, tol: float, max_step: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method for the parent points ``xi`` where the Q2 maps of elements ``nodes`` reach ``targets``,
    from the given start; steps longer than ``max_step`` (parent units, largest component) are shortened.

    Returns the parent points and whether each converged (residual below ``tol``)."""
    xi = xi.copy()
    for _ in range(INVERSE_ITERATIONS):
        val, jac = q2_map(nodes, xi)
        r = val - targets
        if np.all(np.linalg.norm(r, axis=1) < tol):
            break
        ok = np.abs(np.linalg.det(jac)) > 1e-300
        step = np.zeros_like(xi)
        step[ok] = np.linalg.solve(jac[ok], r[ok][..., None])[..., 0]
        size = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, max_step / np.maximum(size, 1e-300))
        xi = np.clip(xi - step, -3.0, 3.0)
    val, _ = q2_map(nodes, xi)
    return xi, np.linalg.norm(val - targets, axis=1) < tol


def invert_q2(nodes: np.ndarray, targets: np.ndarray, candidates: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Element and parent coordinates of points in a mesh of curved Q2 elements (inverse isoparametric map).

    Each point is tried in the ``candidates`` elements whose centres are nearest (then in more, for the points
    not yet found), by Newton's method on the element's map from the element node nearest to it; it belongs to
    the first element in which the iteration converges inside the parent cube. Points that no element takes are
    tried once more in their nearest elements from the nearest point of a finer parent lattice
    (:data:`FALLBACK_LATTICE`), with shortened steps.

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

    def _keep_better(left: np.ndarray, e: np.ndarray, xi: np.ndarray, conv: np.ndarray) -> None:
        excess = np.abs(xi).max(axis=1) - 1.0
        better = conv & (excess < best[left])
        best[left[better]] = excess[better]
        elem[left[better]] = e[better]
        xi_out[left[better]] = xi[better]

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
            _keep_better(left, e, *_newton_inverse(nodes[e], tgt, xi, tol))
        tried = k
    # second try for the points still in no element: in a strongly sheared element (skin wrapped round a tip) the
    # iteration from a node can cross a region where the map is nearly singular and leave the element; start
    # instead from the nearest point of a finer parent lattice, with steps of at most half the parent cube
    todo = np.flatnonzero(best > INSIDE_TOLERANCE)
    if todo.size:
        _, cand = tree.query(targets[todo], k=min(4 * candidates, E))
        cand = np.asarray(cand).reshape(todo.size, -1)
        g = np.linspace(-1.0, 1.0, FALLBACK_LATTICE)
        grid = np.stack(np.meshgrid(*[g] * d, indexing="ij"), axis=-1).reshape(-1, d)
        L = _shapes_1d(g)[0]  # (n, 3)
        for c in range(cand.shape[1]):
            keep = best[todo] > INSIDE_TOLERANCE
            left, e = todo[keep], cand[keep, c]
            if left.size == 0:
                break
            near = np.empty(left.size, dtype=int)
            batch = max(1, FALLBACK_BATCH_VALUES // FALLBACK_LATTICE**d)  # bounded memory
            for s in range(0, left.size, batch):
                b = slice(s, s + batch)
                if d == 2:
                    val = np.einsum("mabc,ga,hb->mghc", nodes[e[b]], L, L)
                else:
                    val = np.einsum("mabkc,ga,hb,ik->mghic", nodes[e[b]], L, L, L)
                val = val.reshape(val.shape[0], -1, d)
                near[b] = np.argmin(((val - targets[left[b]][:, None, :]) ** 2).sum(axis=2), axis=1)
            _keep_better(left, e, *_newton_inverse(nodes[e], targets[left], grid[near], tol, max_step=0.5))
    lost = best > BOUNDARY_TOLERANCE
    if np.any(lost):
        first = np.round(targets[np.flatnonzero(lost)[0]], 3).tolist()
        raise _Diverged(
            f"{int(lost.sum())} point(s) lie in no element of the mesh (outside it, or it folds); the first at {first}"
        )
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


def with_reference(
    prob: SlabContact, reference_mm: np.ndarray, layout: tuple[np.ndarray, ...] | None = None
) -> SlabContact:
    """A new slab problem like ``prob`` (materials, tool, contact options) on another reference mesh: positions
    ``(3, n)`` of its vertices or of all its Q2 nodes (:class:`.SlabContact`'s ``reference_mm``), on ``prob``'s
    layout or on ``layout = (x_mm, y_mm, fractions)``; its state is zero, its ``verbose`` setting that of ``prob``."""
    x, y, fr = prob.layout if layout is None else layout
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


def rezone_slab(prob: SlabContact, layout: tuple[np.ndarray, ...] | None = None) -> SlabContact:
    """A new mesh laid out over the current configuration of ``prob``, with the state carried over to it.

    See the module docstring. The new mesh has curved (isoparametric Q2) reference elements: every Q2 node is
    placed in the current configuration on the new layout's node lines, and its reference position is that of
    the material point there. The returned problem has the same material, tool and contact options; its
    displacements are the difference of the two positions at each node, the pressure interpolated, the approach
    the same, and the active set the old one interpolated at the new skin nodes; the new skin nodes in contact
    (and any that would penetrate the tool) are then moved onto the tool, the columns below them with them.
    ``prob`` is not changed.

    Parameters
    ----------
    prob : SlabContact
        A large-strain slab problem at a (converged) state.
    layout : tuple of ndarray, optional
        The new mesh's lines ``(x_mm, y_mm, fractions)`` (:class:`.SlabContact`), over the same box; e.g. the old
        layout with lines added under the tips, to measure the mesh error at the current load. Default: the
        layout of ``prob``.

    Raises
    ------
    InputError
        For the linear model, or a layout that does not span the old one's box.
    _Diverged
        When a new node lies outside the old mesh or the new reference mesh is not valid (the caller keeps the
        old problem).
    """
    if prob.model_name == "linear":
        raise InputError("rezoning is for the large-strain model (the linear model has no deformed configuration)")
    x_old, y_old, fr_old = prob.layout
    x_lines, y_lines, fr = (np.asarray(v, dtype=float) for v in (prob.layout if layout is None else layout))
    for name, new_v, old_v in (("x", x_lines, x_old), ("y", y_lines, y_old), ("depth fraction", fr, fr_old)):
        if new_v.ndim != 1 or new_v.size < 2 or not np.all(np.diff(new_v) > 0):
            raise InputError(f"the new layout's {name} lines must be strictly increasing, at least 2 of them")
        if abs(new_v[0] - old_v[0]) > 1e-9 or abs(new_v[-1] - old_v[-1]) > 1e-9:
            raise InputError(
                f"the new layout's {name} lines must span the old ones ({old_v[0]:g} to {old_v[-1]:g}), "
                f"got {new_v[0]:g} to {new_v[-1]:g}"
            )
    citations.use("belytschko2000")
    ref = prob.asm.sb.doflocs
    cur = ref + prob.x[: prob.nu].reshape(-1, 3).T
    Lref, Lcur = _node_lattice(prob, ref), _node_lattice(prob, cur)
    pv = _vertex_pressure(prob)
    nz_old = fr_old.size
    # the new node lines; the node lattice's depth index k runs from the bone (0) to the skin
    xs, ys = _node_lines(x_lines), _node_lines(y_lines)
    height = 1.0 + _node_lines(-fr[::-1])  # fraction of the column height above the bone: 0 .. 1
    nX, nY, nZ = xs.size, ys.size, height.size
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    targets = np.stack([X.ravel(), Y.ravel()], axis=1)
    # 1. the deformed skin and the bone above/below each node line crossing, and the material point on the skin
    skin_cur = element_nodes(Lcur[:, :, -1, :])  # (faces, 3, 3, 3)
    f_id, f_xi = invert_q2(skin_cur[..., :2], targets)
    z_top = q2_map(skin_cur[f_id][..., 2:], f_xi)[0][:, 0].reshape(nX, nY)
    skin_xy_ref = q2_map(element_nodes(Lref[:, :, -1, :2])[f_id], f_xi)[0].reshape(nX, nY, 2)
    bone = element_nodes(Lcur[:, :, 0, :])  # the bone does not move
    b_id, b_xi = invert_q2(bone[..., :2], targets)
    z_bone = q2_map(bone[b_id][..., 2:], b_xi)[0][:, 0].reshape(nX, nY)
    # 2. the new nodes in the current configuration: on the node lines, at the layout's fractions of the column
    zc = z_bone[..., None] + height[None, None, :] * (z_top - z_bone)[..., None]
    if np.any(np.diff(zc, axis=2) <= 0):
        raise _Diverged("the deformed skin reaches the bone; cannot rezone")
    ncur = np.stack([np.broadcast_to(X[..., None], zc.shape), np.broadcast_to(Y[..., None], zc.shape), zc], -1)
    # 3. their reference positions and pressures, through the old deformed mesh (bone nodes do not move)
    nref = ncur.copy()
    pn = np.zeros((nX, nY, nZ))
    old_cur, old_ref = element_nodes(Lcur), element_nodes(Lref)
    e_id, e_xi = invert_q2(old_cur, ncur[:, :, 1:-1, :].reshape(-1, 3))
    nref[:, :, 1:-1, :] = q2_map(old_ref[e_id], e_xi)[0].reshape(nX, nY, nZ - 2, 3)
    pn[:, :, 1:-1] = _q1_at(pv, e_id, e_xi).reshape(nX, nY, nZ - 2)
    # the skin nodes from the skin's own map (the skin faces next to a deep tip are stretched several-fold, and
    # curved: inverting the 3D elements there is less reliable); the skin stays the skin, the sides their planes
    nref[:, :, -1, :2] = skin_xy_ref
    nref[:, :, -1, 2] = 0.0
    if prob.tie_surface:  # the tied skin's midside nodes at their vertices' mean, as the ties require
        sk = nref[:, :, -1, :2]
        sk[1::2, 0::2] = 0.5 * (sk[0:-1:2, 0::2] + sk[2::2, 0::2])
        sk[0::2, 1::2] = 0.5 * (sk[0::2, 0:-1:2] + sk[0::2, 2::2])
        sk[1::2, 1::2] = 0.25 * (sk[0:-1:2, 0:-1:2] + sk[2::2, 0:-1:2] + sk[0:-1:2, 2::2] + sk[2::2, 2::2])
    nref[0, :, :, 0], nref[-1, :, :, 0] = xs[0], xs[-1]
    nref[:, 0, :, 1], nref[:, -1, :, 1] = ys[0], ys[-1]
    # the pressure on the skin and the bone from the faces of the elements there (parent coordinate +-1 through
    # the thickness); a face's number is its column's (i, j) in C order, the column's elements follow in k
    top_elem = f_id * (nz_old - 1) + (nz_old - 2)
    pn[:, :, -1] = _q1_at(pv, top_elem, np.column_stack([f_xi, np.ones(f_id.size)])).reshape(nX, nY)
    pn[:, :, 0] = _q1_at(pv, b_id * (nz_old - 1), np.column_stack([b_xi, -np.ones(b_id.size)])).reshape(nX, nY)
    # 4. the new problem on that reference mesh (nodes in the order of the displacement unknowns)
    ijk = _lattice(x_lines, y_lines, fr)[:, : 3 * nX * nY * nZ : 3]
    new = with_reference(
        prob, np.ascontiguousarray(nref[ijk[0], ijk[1], ijk[2]].T), None if layout is None else (x_lines, y_lines, fr)
    )
    x = np.zeros(new.n)
    x[: new.nu] = (ncur - nref)[ijk[0], ijk[1], ijk[2]].ravel()
    vl = new.lattice[:, new.nu :]
    x[new.nu :] = pn[vl[0], vl[1], vl[2]]
    x[new.fixed] = 0.0
    new.x = x
    new.approach = prob.approach
    # 5. contact set: the old active-node indicator at the new skin nodes' material points
    act_old = prob.active.reshape(prob.top_shape).T.astype(float)[..., None]  # (I, J, 1) on the skin lattice
    ind = q2_map(element_nodes(act_old)[f_id], f_xi)[0][:, 0].reshape(nX, nY).T.ravel()  # the top grid (y, x)
    carried = (ind >= 0.5) & np.isfinite(new.g0_top)
    if carried.any():  # otherwise the new problem's own first guess (the node nearest the tool)
        new.active = carried
    # 6. the old skin between its nodes is a Q2 interpolant and not on the tool (at 64 N on the back slab up to
    #    1.4 mm off): the new skin nodes in contact, and those that would penetrate, go onto the tool, the
    #    column below each with it, fading linearly to the bone (else the first Newton step inverts the thin
    #    elements under the skin)
    gap = new._current_gap() - new.approach - new.x[new.top_z]
    lift = np.where(new.active, gap, np.minimum(gap, 0.0))
    new._lift_columns(np.where(np.isfinite(lift), lift, 0.0), np.arange(new.top.size))
    new.rezones = prob.rezones + 1
    new.newton_total, new.active_iterations = prob.newton_total, prob.active_iterations
    return new
