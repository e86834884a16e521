"""User tools from a JSON/YAML description or an STL mesh.

Description format (mm)::

    {"name": "my-tool", "base": {"width_mm": 150, "length_mm": 120, "height_mm": 25},
     "flank_angle_deg": 55,
     "peaks": [{"x_mm": -30, "y_mm": 0, "height_mm": 70, "tip_radius_mm": 10}, ...]}

An STL mesh is rasterized by casting vertical rays from above onto its top surface; heights are measured from
the mesh's lowest point (the floor). The mesh must be closed (watertight), non-degenerate and finite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import ndimage

from ..errors import InputError, check_finite, check_memory, check_range
from ..grid import MAX_GRID_POINTS, Grid
from .base import Peak, Tool, rounded_peak_mm, tool_grid, validate_dimension

#: Largest STL file accepted. [bytes]
MAX_STL_BYTES = 50 * 1024**2
#: Most triangles accepted in a mesh.
MAX_FACES = 500_000
#: Largest description file accepted. [bytes]
MAX_DESCRIPTION_BYTES = 1024**2


def _num(d: dict, key: str, where: str) -> float:
    if key not in d:
        raise InputError(f"{where}: missing field {key!r}")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{where}: {key} must be a number, got {v!r}")
    return check_finite(f"{where}: {key}", v)


def tool_from_description(desc: dict[str, Any], spacing_mm: float = 1.0) -> Tool:
    """Build a :class:`Tool` from a description dictionary (see the module docstring)."""
    if not isinstance(desc, dict):
        raise InputError("tool description must be a mapping with 'base' and 'peaks'")
    name = str(desc.get("name", "custom-tool"))[:80]
    base = desc.get("base")
    if not isinstance(base, dict):
        raise InputError("tool description: missing 'base' mapping (width_mm, length_mm, height_mm)")
    W = validate_dimension("base width_mm", _num(base, "width_mm", "base"), 5, 1500)
    L = validate_dimension("base length_mm", _num(base, "length_mm", "base"), 5, 1500)
    bh = validate_dimension("base height_mm", _num(base, "height_mm", "base"), 0.5, 500)
    fa = check_range("flank_angle_deg", desc.get("flank_angle_deg", 55.0), 20, 80, "degrees")
    raw = desc.get("peaks")
    if not isinstance(raw, list) or not raw:
        raise InputError("tool description: 'peaks' must be a non-empty list")
    if len(raw) > 50:
        raise InputError("tool description: at most 50 peaks")
    peaks = []
    for i, pk in enumerate(raw):
        where = f"peak {i + 1}"
        if not isinstance(pk, dict):
            raise InputError(f"{where} must be a mapping with x_mm, y_mm, height_mm, tip_radius_mm")
        x, y = _num(pk, "x_mm", where), _num(pk, "y_mm", where)
        h = validate_dimension(f"{where} height_mm", _num(pk, "height_mm", where), 0.5, 500)
        r = validate_dimension(f"{where} tip_radius_mm", _num(pk, "tip_radius_mm", where), 0.5, 500)
        if abs(x) > W / 2 or abs(y) > L / 2:
            raise InputError(f"{where} at ({x:g}, {y:g}) mm lies outside the {W:g} x {L:g} mm base")
        if h <= bh:
            raise InputError(f"{where}: height {h:g} mm must be above the base height {bh:g} mm")
        peaks.append(Peak(str(pk.get("name", f"peak {i + 1}")), x, y, h, r))
    for i in range(len(peaks)):
        for j in range(i):
            if np.hypot(peaks[i].x_mm - peaks[j].x_mm, peaks[i].y_mm - peaks[j].y_mm) < 1e-9:
                raise InputError(f"peaks {j + 1} and {i + 1} are at the same position")
    n = (W / spacing_mm) * (L / spacing_mm)
    if n > MAX_GRID_POINTS:
        raise InputError(f"tool of {W:g} x {L:g} mm at {spacing_mm:g} mm spacing is too large for the grid")
    grid = tool_grid(W, L, spacing_mm)
    X, Y = grid.mesh()
    z = np.full(grid.shape, bh)
    for pk in peaks:
        z = np.maximum(z, rounded_peak_mm(X, Y, pk.x_mm, pk.y_mm, pk.height_mm, pk.tip_radius_mm, fa))
    return Tool(
        name,
        str(desc.get("description", "user tool from a description")),
        grid,
        z,
        np.ones(grid.shape, dtype=bool),
        tuple(peaks),
        (),
        {"base": {"width_mm": W, "length_mm": L, "height_mm": bh}, "flank_angle_deg": fa},
    )


def _read_text(path: Path, limit: int) -> str:
    if not path.is_file():
        raise InputError(f"tool file not found: {path}")
    if path.stat().st_size > limit:
        raise InputError(f"tool file {path.name} is larger than {limit // 1024} KiB")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"tool file {path.name} is not UTF-8 text") from None


def tool_from_mesh(
    mesh_or_path: Any, spacing_mm: float = 1.0, name: str | None = None, units_scale: float = 1.0
) -> Tool:
    """Rasterize the top surface of a closed triangle mesh into a tool height field.

    Parameters
    ----------
    mesh_or_path : trimesh.Trimesh or path
        The mesh, or an STL file.
    spacing_mm : float
        Grid spacing. [mm]
    name : str, optional
    units_scale : float
        Factor converting mesh units to mm (e.g. 1000 for metres). [-]
    """
    import trimesh

    if isinstance(mesh_or_path, (str, Path)):
        path = Path(mesh_or_path)
        if not path.is_file():
            raise InputError(f"mesh file not found: {path}")
        if path.stat().st_size > MAX_STL_BYTES:
            raise InputError(f"mesh file {path.name} is larger than {MAX_STL_BYTES // 1024**2} MiB")
        try:
            mesh = trimesh.load(path, file_type="stl", force="mesh")
        except Exception as exc:  # trimesh raises many types for malformed files
            raise InputError(f"could not read {path.name} as an STL mesh: {exc}") from None
        name = name or path.stem
    else:
        mesh = mesh_or_path
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise InputError("the mesh has no triangles")
    check_range("units scale", units_scale, 1e-6, 1e6)
    v = np.asarray(mesh.vertices, dtype=float)
    if not np.all(np.isfinite(v)):
        raise InputError("the mesh has NaN or infinite vertex coordinates")
    areas = mesh.area_faces
    if np.any(areas <= 1e-12 * max(1.0, float(areas.max()))):
        raise InputError(
            f"the mesh has {int((areas <= 0).sum() or (areas <= 1e-12).sum())} degenerate (zero-area) triangles"
        )
    if not mesh.is_watertight:
        raise InputError("the mesh is not closed (not watertight): a tool must be a solid; repair it first")
    if abs(mesh.volume) <= 0:
        raise InputError("the mesh encloses no volume")
    mesh = mesh.copy()
    mesh.apply_scale(units_scale)
    lo, hi = mesh.bounds
    size = hi - lo
    n = (size[0] / spacing_mm + 3) * (size[1] / spacing_mm + 3)
    if n > MAX_GRID_POINTS:
        raise InputError(
            f"a {size[0]:.0f} x {size[1]:.0f} mm mesh at {spacing_mm:g} mm spacing needs {n:,.0f} "
            "grid points, too many; use a coarser spacing"
        )
    check_memory("rasterizing the mesh", n * 8 * 30)
    grid = Grid.centered(
        size[0] + 2 * spacing_mm,
        size[1] + 2 * spacing_mm,
        spacing_mm,
        center_mm=(float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2),
    )
    if len(mesh.faces) > MAX_FACES:
        raise InputError(
            f"the mesh has {len(mesh.faces):,} triangles, more than the {MAX_FACES:,} accepted; decimate it first"
        )
    top = rasterize_top_surface(np.asarray(mesh.triangles), grid)
    foot = np.isfinite(top)
    if not foot.any():
        raise InputError("no part of the mesh lies under the rays; is it empty?")
    height = np.where(foot, top - lo[2], 0.0)
    # recentre the grid on the footprint centre so the tool centre is (0, 0)
    grid = Grid(
        grid.nx, grid.ny, spacing_mm, grid.x0_mm - float(lo[0] + hi[0]) / 2, grid.y0_mm - float(lo[1] + hi[1]) / 2
    )
    peaks = find_peaks(height, foot, grid)
    return Tool(
        name or "mesh-tool", "user tool from an STL mesh", grid, height, foot, peaks, (), {"units_scale": units_scale}
    )


def rasterize_top_surface(triangles: np.ndarray, grid: Grid) -> np.ndarray:
    """Highest point of the triangles above each grid cell centre (a vertical ray cast); -inf if none. [mm]

    Each triangle is scan-converted over the grid points inside its bounding box with barycentric
    coordinates; the height is interpolated linearly and the maximum over triangles kept.
    """
    top = np.full(grid.shape, -np.inf)
    d = grid.spacing_mm
    x0, y0 = grid.x0_mm, grid.y0_mm
    xs, ys = grid.x_mm, grid.y_mm
    for tri in triangles:
        (ax, ay, az), (bx, by, bz), (cx, cy, cz) = tri
        det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
        if abs(det) < 1e-12:
            continue  # vertical triangle: invisible from above
        i0 = max(0, int(np.ceil((min(ax, bx, cx) - x0) / d - 1e-9)))
        i1 = min(grid.nx - 1, int(np.floor((max(ax, bx, cx) - x0) / d + 1e-9)))
        j0 = max(0, int(np.ceil((min(ay, by, cy) - y0) / d - 1e-9)))
        j1 = min(grid.ny - 1, int(np.floor((max(ay, by, cy) - y0) / d + 1e-9)))
        if i1 < i0 or j1 < j0:
            continue
        PX, PY = np.meshgrid(xs[i0 : i1 + 1], ys[j0 : j1 + 1])
        l1 = ((by - cy) * (PX - cx) + (cx - bx) * (PY - cy)) / det
        l2 = ((cy - ay) * (PX - cx) + (ax - cx) * (PY - cy)) / det
        l3 = 1.0 - l1 - l2
        eps = -1e-9
        inside = (l1 >= eps) & (l2 >= eps) & (l3 >= eps)
        if not inside.any():
            continue
        z = np.where(inside, l1 * az + l2 * bz + l3 * cz, -np.inf)
        sub = top[j0 : j1 + 1, i0 : i1 + 1]
        np.maximum(sub, z, out=sub)
    return top


def find_peaks(
    height_mm: np.ndarray, footprint: np.ndarray, grid: Grid, min_prominence_mm: float = 3.0, max_peaks: int = 20
) -> tuple[Peak, ...]:
    """Local maxima of a height field with their tip radius from the curvature (``R = -2 / laplacian``)."""
    h = np.where(footprint, height_mm, 0.0)
    d = grid.spacing_mm
    size = max(3, int(round(10.0 / d)) | 1)
    mx = ndimage.maximum_filter(h, size=size, mode="constant", cval=0.0)
    mn = ndimage.minimum_filter(h, size=4 * size + 1, mode="constant", cval=0.0)
    cand = (h == mx) & footprint & (h - mn >= min_prominence_mm)
    # candidates closer than the filter size belong to the same peak (plateaus, symmetric apexes)
    lab, n = ndimage.label(ndimage.binary_dilation(cand, iterations=max(1, size // 2)) & footprint)
    if n == 0:
        iy, ix = np.unravel_index(np.argmax(h), h.shape)
        centers = [(iy, ix)]
    else:
        centers = [
            tuple(int(c) for c in pos)
            for pos in ndimage.maximum_position(np.where(cand, h, -np.inf), lab, range(1, n + 1))
        ]
    centers = sorted(centers, key=lambda c: -h[c])[:max_peaks]
    lap = ndimage.laplace(ndimage.gaussian_filter(h, 1.0)) / d**2
    peaks = []
    for k, (iy, ix) in enumerate(centers):
        curv = -lap[iy, ix]
        r = float(np.clip(2.0 / curv, d, 1e3)) if curv > 0 else 1e3
        peaks.append(Peak(f"peak {k + 1}", float(grid.x_mm[ix]), float(grid.y_mm[iy]), float(h[iy, ix]), r))
    return tuple(sorted(peaks, key=lambda p: (p.y_mm, p.x_mm)))


def load_tool(path: str | Path, spacing_mm: float = 1.0) -> Tool:
    """A user tool from a ``.json``, ``.yaml``/``.yml`` description or an ``.stl`` mesh."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext == ".stl":
        return tool_from_mesh(p, spacing_mm=spacing_mm)
    if ext not in (".json", ".yaml", ".yml"):
        raise InputError(f"unsupported tool file type {ext or '(none)'}: use .json, .yaml, .yml or .stl")
    text = _read_text(p, MAX_DESCRIPTION_BYTES)
    try:
        desc = json.loads(text) if ext == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"could not parse {p.name}: {str(exc).splitlines()[0]}") from None
    return tool_from_description(desc, spacing_mm=spacing_mm)
