"""The workflow layer (like pvlib's ModelChain): tool -> anatomy -> posture -> contact -> assess.

:func:`simulate` solves one posture state (a protocol step) for one body and one tool placement;
:func:`simulate_protocol` solves every loaded step of the protocol, including the breathing time series;
:func:`compare` runs two tools on the same body and load; :func:`suggest_setup` searches placement and forearm
support for the coach; :func:`advise` computes corrections (lateral/vertical shift, forearm support) by
re-solving. Every stage stays callable on its own; this module holds no physics of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from . import citations
from .anatomy import BONE_REGIONS, MUSCLE_REGIONS, REGION_NAMES, REGIONS, Back, Body, make_back
from .assess import VERDICT_OK, Assessment, assess
from .assess.thresholds import threshold_map_kpa
from .contact import ContactResult, solve_contact
from .errors import InputError, check_choice, check_range
from .posture import PSO_SPINE_PROTOCOL, PostureLoad, ProtocolStep, breathing_cycle, get_step, tool_load
from .tools import Tool, get_tool, load_tool

#: Margin of back around the tool's footprint included in the contact window. [mm]
WINDOW_MARGIN_MM = 20.0

#: Vertebral levels suggested for each coach target (upper, mid, lower back). The PSO-Spine instructions
#: name the thoracic and lumbar paraspinals as targets; these are the middle level of each region.
TARGET_LEVELS = {"upper": "T4", "mid": "T8", "lower": "L3"}


@dataclass(frozen=True)
class SimulationConfig:
    """Inputs of one simulation (all plain values, so a config can be stored, sent over HTTP or swept).

    Attributes
    ----------
    stature_cm, mass_kg, sex, body_fat_pct, age_years : body. [cm, kg, -, %, years]
    tool : str
        Built-in tool name (``spinerelease.tools.list_tools()``) or a path to a JSON/YAML/STL tool.
    level : str
        Vertebral level under the tool centre (``"T1"`` .. ``"L5"``).
    offset_x_mm : float or None
        Lateral offset of the tool centre from the midline (positive = person's right); None = the tool's
        own default (0 for tools that straddle the spine, one erector column for a single ball). [mm]
    offset_y_mm : float
        Shift along the spine from the level (positive = caudal). [mm]
    step : str
        Protocol step key (``spinerelease.posture.PSO_SPINE_PROTOCOL``).
    forearm_support : float or None
        Override of the step's forearm support fraction (0..1). [-]
    roll_deg : float or None
        Override of the step's roll angle. [degrees]
    spacing_mm : float
        Grid spacing of tool, back and contact. [mm]
    tool_params : dict
        Parameters passed to the built-in tool function (e.g. ``peak_spacing_mm``).
    tissue_model : str
        ``"layers"`` (default): skin and fat over muscle over bone, two bonded layers in the contact kernels;
        ``"column"``: one material per tissue column, fat and muscle in series (the model before this option).
        Checked against the 3D FEM with fat over muscle in docs/validation.md.
    """

    stature_cm: float = 178.0
    mass_kg: float = 80.0
    sex: str = "male"
    body_fat_pct: float | None = None
    age_years: float = 35.0
    tool: str = "pso-spine"
    level: str = "T7"
    offset_x_mm: float | None = None
    offset_y_mm: float = 0.0
    step: str = "lie_back"
    forearm_support: float | None = None
    roll_deg: float | None = None
    spacing_mm: float = 1.0
    tool_params: dict = field(default_factory=dict)
    tissue_model: str = "layers"

    def body(self) -> Body:
        return Body(
            stature_cm=self.stature_cm,
            mass_kg=self.mass_kg,
            sex=self.sex,
            body_fat_pct=self.body_fat_pct,
            age_years=self.age_years,
        )

    def protocol_step(self) -> ProtocolStep:
        st = get_step(self.step, PSO_SPINE_PROTOCOL)
        if not st.loaded:
            raise InputError(
                f"in step {self.step!r} the back is not on the tool; choose one of "
                + ", ".join(s.key for s in PSO_SPINE_PROTOCOL if s.loaded)
            )
        if self.forearm_support is not None:
            st = replace(st, forearm_support=check_range("forearm support", self.forearm_support, 0, 0.95))
        if self.roll_deg is not None:
            st = replace(st, roll_deg=check_range("roll angle", self.roll_deg, -45, 45, "degrees"))
        return st


#: Tissue compression (indentation over thickness) up to which the fast contact engine's single-cell pressure is
#: within the 15 % target of the large-strain finite-element reference (the fast engine's compression at FEM strain
#: 0.95 on 33 mm of muscle; docs/calibration.md); beyond it the tissue is a thin film over the bone and the
#: assessment lists the peak in ``beyond_validated``. The 1 cm^2 probe average stays within 5 % of the reference
#: further, to FEM strain 0.99 on muscle. [-]
VALIDATED_COMPRESSION = 0.96

#: Tissue models of :class:`SimulationConfig` (``tissue_model``).
TISSUE_MODELS = ("layers", "column")


def tissue_inputs(back: Back, model: str = "layers") -> tuple[np.ndarray, tuple[float, float] | None]:
    """Modulus field and top layer that :func:`~spinerelease.contact.solve_contact` gets for a tissue model.

    ``"layers"``: muscle modulus, with skin and fat as a bonded top layer (:meth:`Back.tissue_layers`);
    ``"column"``: the series (fat + muscle) column modulus and no top layer.
    """
    model = check_choice("tissue model", model, TISSUE_MODELS)
    if model == "column":
        return back.tissue_modulus_kpa, None
    return back.tissue_layers()


@dataclass(frozen=True)
class SimulationResult:
    """Result of :func:`simulate`: inputs, the back window, the placed tool, load, contact and assessment."""

    config: SimulationConfig
    body: Body
    tool: Tool
    back: Back
    tool_center_mm: tuple[float, float]
    tool_height_mm: np.ndarray
    peak_labels: np.ndarray
    load: PostureLoad
    contact: ContactResult
    assessment: Assessment
    references: tuple[str, ...]


def resolve_tool(name_or_path: str, spacing_mm: float, params: dict | None = None) -> Tool:
    """A built-in tool by name, or a user tool from a JSON/YAML/STL path."""
    if any(name_or_path.lower().endswith(ext) for ext in (".json", ".yaml", ".yml", ".stl")):
        return (
            load_tool(name_or_path, spacing_mm=spacing_mm) if _accepts_spacing(load_tool) else load_tool(name_or_path)
        )
    return get_tool(name_or_path, spacing_mm=spacing_mm, **(params or {}))


def _accepts_spacing(func: Callable) -> bool:
    import inspect

    return "spacing_mm" in inspect.signature(func).parameters


def initial_gap_mm(back_surface_mm: np.ndarray, tool_height_mm: np.ndarray) -> np.ndarray:
    """Initial separation between the rigid tool and the undeformed skin at first touch. [mm]

    ``gap0 = c - surface - tool`` with ``c`` chosen so that ``min(gap0) = 0``; ``inf`` where there is no tool.
    """
    tool = np.asarray(tool_height_mm, dtype=float)
    has_tool = np.isfinite(tool)
    if not has_tool.any():
        raise InputError("the tool does not overlap the back window")
    g = -(np.asarray(back_surface_mm, dtype=float) + np.where(has_tool, tool, 0.0))
    g = g - g[has_tool].min()
    return np.where(has_tool, g, np.inf)


def level_pitch(surface_mm: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Remove the mean slope along y of the back surface over the tool footprint. [mm]

    The trunk pitches freely about the tool (supported by the pelvis and head at its ends), so it settles with
    the back's local tangent parallel to the tool top; only the curvature of the back over the tool remains.
    Assumption of this model: the pitching moment about the tool centre is zero.
    """
    n = footprint.sum(axis=1)
    prof = np.where(n > 0, np.where(footprint, surface_mm, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)
    rows = np.flatnonzero(n > 0)
    if rows.size < 2:
        return surface_mm
    slope, _ = np.polyfit(rows.astype(float), prof[rows], 1)
    return surface_mm - slope * np.arange(surface_mm.shape[0])[:, None]


def place(
    config: SimulationConfig, back: Back | None = None, tool: Tool | None = None
) -> tuple[Body, Tool, Back, tuple[float, float]]:
    """Build body, tool and the back window around the tool for ``config``."""
    body = config.body()
    tool = tool or resolve_tool(config.tool, config.spacing_mm, config.tool_params)
    full = back or make_back(body, spacing_mm=config.spacing_mm)
    cx = float(tool.default_offset_x_mm if config.offset_x_mm is None else config.offset_x_mm)
    cy = float(full.level_y(config.level) + config.offset_y_mm)
    w = tool.grid.nx * tool.grid.spacing_mm + 2 * WINDOW_MARGIN_MM
    h = tool.grid.ny * tool.grid.spacing_mm + 2 * WINDOW_MARGIN_MM
    win = full.window(cx, cy, w, h)
    return body, tool, win, (cx, cy)


def simulate(
    config: SimulationConfig | None = None,
    *,
    back: Back | None = None,
    tool_obj: Tool | None = None,
    surface_offset_mm: np.ndarray | None = None,
    load_factor: float = 1.0,
    initial: ContactResult | None = None,
    **kwargs,
) -> SimulationResult:
    """Solve one posture state: the contact of the tool with the back and its assessment.

    Parameters
    ----------
    config : SimulationConfig, optional
        Inputs; keyword arguments override or replace its fields (``simulate(tool="pso-rite", level="L3")``).
    back : Back, optional
        A pre-built full back for the body (saves rebuilding it in loops).
    tool_obj : Tool, optional
        A pre-built tool (overrides ``config.tool``).
    surface_offset_mm : array, optional
        Extra posterior displacement of the back surface on the window grid (e.g. breathing). [mm]
    load_factor : float
        Multiplier of the static posture load (e.g. breathing). [-]
    initial : ContactResult, optional
        Warm start for the contact solver.

    Returns
    -------
    SimulationResult
    """
    cfg = replace(config or SimulationConfig(), **kwargs) if kwargs else (config or SimulationConfig())
    body, tool, win, (cx, cy) = place(cfg, back, tool_obj)
    step = cfg.protocol_step()
    th = tool.height_on(win.grid, cx, cy)
    labels = tool.peak_labels_on(win.grid, cx, cy)
    surface = level_pitch(win.surface_mm, np.isfinite(th))
    if surface_offset_mm is not None:
        surface = surface + surface_offset_mm
    gap0 = initial_gap_mm(surface, th)
    tool_top = float(np.nanmax(np.where(np.isfinite(th), th, np.nan)))
    load = tool_load(body, cy, step, levels_mm=win.levels_mm, tool_height_mm=tool_top)
    force = load.force_n * load_factor
    roll_kwargs: dict = {"moment_y_nmm": load.moment_y_nmm * load_factor} if step.roll_deg != 0 else {"roll_deg": 0.0}
    modulus, top_layer = tissue_inputs(win, cfg.tissue_model)
    contact = solve_contact(
        gap0, win.grid, force, modulus, win.tissue_thickness_mm, initial=initial, top_layer=top_layer, **roll_kwargs
    )
    thresholds = threshold_map_kpa(win.region, body.sex)
    thick = np.asarray(win.tissue_thickness_mm, dtype=float)
    compression = np.divide(
        contact.displacement_mm, thick, out=np.zeros_like(thick), where=contact.contact & (thick > 0)
    )
    a = assess(
        contact.pressure_kpa,
        win.grid.x_mm,
        win.grid.y_mm,
        win.region,
        thresholds,
        labels,
        [p.name for p in tool.peaks],
        REGION_NAMES,
        MUSCLE_REGIONS,
        BONE_REGIONS,
        REGIONS["SPINOUS"],
        compression=compression,
        validated_compression=VALIDATED_COMPRESSION,
    )
    citations.use(*tool.sources, *win.sources)
    return SimulationResult(cfg, body, tool, win, (cx, cy), th, labels, load, contact, a, tuple(citations.used_keys()))


# --------------------------------------------------------------------------------------------------------------
# Advice: corrections computed by re-solving
# --------------------------------------------------------------------------------------------------------------

#: Lateral/vertical search range and step of the placement search (coarse scan, then refinement). [mm]
SHIFT_SEARCH_RANGE_MM = 40.0
SHIFT_SEARCH_STEP_MM = 4.0
#: Highest forearm support fraction the advice may ask for (holding nearly all weight means not using the tool).
MAX_ADVISED_SUPPORT = 0.9


@dataclass(frozen=True)
class Advice:
    """Computed corrections for one simulated state.

    Attributes
    ----------
    messages : list of str
        Plain-language advice with the numbers.
    shift_x_mm, shift_y_mm : float or None
        Suggested move of the tool (positive = towards the person's right / towards the pelvis). [mm]
    forearm_support : float or None
        Suggested forearm support fraction. [-]
    """

    messages: list[str]
    shift_x_mm: float | None = None
    shift_y_mm: float | None = None
    forearm_support: float | None = None


def _is_ok(a: Assessment, max_ratio: float = 1.0) -> bool:
    return a.verdict == VERDICT_OK and a.max_threshold_ratio <= max_ratio


def _search_shift(res: SimulationResult, axis: str, back: Back) -> float | None:
    """Smallest tool shift along ``axis`` ("x" or "y") that takes the spinous share under tolerance."""
    cfg = res.config
    base = res.tool_center_mm[0] if axis == "x" else cfg.offset_y_mm
    steps = np.arange(SHIFT_SEARCH_STEP_MM, SHIFT_SEARCH_RANGE_MM + 1e-9, SHIFT_SEARCH_STEP_MM)
    shifts = [s * sign for s in steps for sign in (1, -1)]
    for d in shifts:
        kw = {"offset_x_mm": base + d} if axis == "x" else {"offset_y_mm": base + d}
        try:
            r = simulate(cfg, back=back, tool_obj=res.tool, initial=res.contact, **kw)
        except InputError:
            continue
        if r.assessment.verdict != "peak on bone":
            return float(d)
    return None


def _search_support(res: SimulationResult, back: Back, tol: float = 0.01, metric: str = "threshold") -> float | None:
    """Smallest forearm support fraction that keeps the probe-averaged pressure under the pain threshold
    everywhere (``metric="threshold"``) or the tissue compression within the validated range
    (``metric="compression"``)."""
    cfg = res.config
    lo = (
        res.load.forearms_n / max(res.load.forearms_n + res.load.force_n, 1e-9)
        if cfg.forearm_support is None
        else cfg.forearm_support
    )
    lo = float(lo)

    def over(s: float) -> bool:
        try:
            a = simulate(cfg, back=back, tool_obj=res.tool, forearm_support=s, initial=res.contact).assessment
        except InputError:  # so much support that the tool carries no load: nothing is exceeded
            return False
        return a.max_threshold_ratio > 1.0 if metric == "threshold" else bool(a.beyond_validated)

    hi = MAX_ADVISED_SUPPORT
    if over(hi):
        return None
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if over(mid):
            lo = mid
        else:
            hi = mid
    return float(np.ceil(hi * 100) / 100)


def advise(res: SimulationResult, back: Back | None = None) -> Advice:
    """Compute advice for a simulated state by re-solving with moved tool or more forearm support.

    - Peak on bone: the smallest lateral shift (then vertical shift) of the tool that takes the force on the
      spinous processes under the tolerance, found by re-solving at shifts of increasing size.
    - Too much pressure: the smallest forearm-support fraction that keeps the probe-averaged pressure under the
      pressure-pain threshold everywhere, found by bisection.
    - Within tolerance: the remaining margin to the threshold.
    """
    full = back or make_back(res.body, spacing_mm=res.config.spacing_mm)
    a = res.assessment
    msgs: list[str] = []
    sx = sy = sup = None
    if a.verdict == "peak on bone":
        sx = _search_shift(res, "x", full)
        if sx is not None:
            side = "right" if sx > 0 else "left"
            msgs.append(
                f"{a.spinous_share:.0%} of the force is on the spinous processes (bone): move the tool "
                f"{abs(sx):.0f} mm to your {side} so the peaks sit on the muscles beside the spine."
            )
        else:
            sy = _search_shift(res, "y", full)
            if sy is not None:
                way = "down (towards the pelvis)" if sy > 0 else "up (towards the head)"
                msgs.append(f"{a.spinous_share:.0%} of the force is on bone: move the tool {abs(sy):.0f} mm {way}.")
            else:
                msgs.append(
                    f"{a.spinous_share:.0%} of the force is on bone and no shift within "
                    f"{SHIFT_SEARCH_RANGE_MM:.0f} mm fixes it: this tool does not fit this back at this level."
                )
    elif a.max_threshold_ratio > 1.0:
        sup = _search_support(res, full)
        if sup is not None:
            msgs.append(
                f"Pressure reaches {a.max_threshold_ratio:.0%} of the pain threshold: hold about "
                f"{sup:.0%} of your upper-body weight on your forearms (or a pillow under the shoulders)."
            )
        else:
            msgs.append(
                f"Pressure reaches {a.max_threshold_ratio:.0%} of the pain threshold even with "
                f"{MAX_ADVISED_SUPPORT:.0%} support: choose a softer tool or a lower level."
            )
    else:
        msgs.append(
            f"Peaks on muscle, {a.spinous_share:.1%} of the force on the spinous processes; pressure at "
            f"{a.max_threshold_ratio:.0%} of the pain threshold ({a.threshold_margin:.0%} margin)."
        )
    if a.beyond_validated:
        msgs.append(compression_warning(a))
        sup_c = _search_support(res, full, metric="compression")
        if sup_c is not None:
            msgs.append(
                f"Holding about {sup_c:.0%} of your upper-body weight on your forearms keeps the tissue under every "
                f"peak within {a.validated_compression:.0%} compression."
            )
            sup = sup_c if sup is None else max(sup, sup_c)
    return Advice(msgs, sx, sy, sup)


def compression_warning(a: Assessment) -> str:
    """Plain-language note for peaks that squeeze the tissue beyond the validated compression (empty if none)."""
    if not a.beyond_validated:
        return ""
    names = ", ".join(a.beyond_validated)
    left = 1 - a.max_compression
    left_txt = f"{left:.0%}" if left >= 0.005 else "less than 1 %"
    return (
        f"Under {names} the tissue is squeezed to {left_txt} of its thickness, a thin layer "
        f"over the bone and beyond the {a.validated_compression:.0%} compression up to which the model's "
        "single-cell pressure is checked against the finite-element reference; there the single-cell maximum was "
        "off by up to 60 %. The 1 cm² probe average that the verdict uses stayed within 5 % of the reference up to "
        "99 % compression on muscle 10-33 mm thick; with skin and fat over the muscle it is checked up to 81 %."
    )


# --------------------------------------------------------------------------------------------------------------
# Protocol, comparison, coach suggestion
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreathingSeries:
    """Contact metrics over a breathing cycle."""

    t_s: np.ndarray
    force_n: np.ndarray
    peak_pressure_kpa: np.ndarray
    max_threshold_ratio: np.ndarray
    spinous_share: np.ndarray


@dataclass(frozen=True)
class ProtocolResult:
    """Every loaded protocol step solved, plus the breathing time series."""

    steps: tuple[SimulationResult, ...]
    breathing: BreathingSeries | None


def simulate_protocol(
    config: SimulationConfig | None = None,
    *,
    breathing_samples: int = 12,
    progress: Callable[[str], None] | None = None,
) -> ProtocolResult:
    """Solve each loaded step of the PSO-Spine protocol for ``config`` (its ``step`` field is ignored).

    The breathing step is solved over one deep breath: the posture stage gives the chest-wall displacement and
    load factor over time; the displacement is added to the back surface over the rib cage.
    """
    cfg = config or SimulationConfig()
    body = cfg.body()
    full = make_back(body, spacing_mm=cfg.spacing_mm)
    tool = resolve_tool(cfg.tool, cfg.spacing_mm, cfg.tool_params)
    results = []
    series = None
    prev: ContactResult | None = None
    for st in PSO_SPINE_PROTOCOL:
        if not st.loaded:
            continue
        r = simulate(cfg, back=full, tool_obj=tool, step=st.key, initial=prev)
        results.append(r)
        prev = r.contact
        if progress:
            progress(st.key)
        if st.breathing and breathing_samples > 0:
            series = _breathing_series(r, full, tool, breathing_samples)
    return ProtocolResult(tuple(results), series)


def _breathing_series(r: SimulationResult, full: Back, tool: Tool, n: int) -> BreathingSeries:
    cyc = breathing_cycle(r.body, n_samples=n)
    ribs = np.isin(
        r.back.region,
        (
            REGIONS["RIB_L"],
            REGIONS["RIB_R"],
            REGIONS["ERECTOR_L"],
            REGIONS["ERECTOR_R"],
            REGIONS["MULTIFIDUS_L"],
            REGIONS["MULTIFIDUS_R"],
        ),
    )
    thoracic = r.back.grid.mesh()[1] <= r.back.level_y("T12")
    mask = (ribs & thoracic).astype(float)
    f, pk, ra, sh = [], [], [], []
    prev = r.contact
    for i in range(len(cyc.t_s)):
        s = simulate(
            r.config,
            back=full,
            tool_obj=tool,
            surface_offset_mm=mask * cyc.rib_expansion_mm[i],
            load_factor=float(cyc.load_factor[i]),
            initial=prev,
        )
        prev = s.contact
        f.append(s.contact.total_force_n)
        pk.append(s.assessment.summary.peak_pressure_kpa)
        ra.append(s.assessment.max_threshold_ratio)
        sh.append(s.assessment.spinous_share)
    return BreathingSeries(np.asarray(cyc.t_s), np.asarray(f), np.asarray(pk), np.asarray(ra), np.asarray(sh))


@dataclass(frozen=True)
class Claim:
    """A claim about the tools and whether the simulation supports it."""

    text: str
    supported: bool
    evidence: str


@dataclass(frozen=True)
class Comparison:
    """Two tools on the same body, level and posture, and the claims checked."""

    a: SimulationResult
    b: SimulationResult
    claims: tuple[Claim, ...]


def force_evenness(peak_forces_n: list[float] | np.ndarray) -> float:
    """Evenness of force over the peaks: 1 - coefficient of variation of per-peak force (1 = perfectly even)."""
    f = np.asarray(peak_forces_n, dtype=float)
    if f.size < 2 or f.mean() <= 0:
        return 1.0 if f.size == 1 else 0.0
    return float(1.0 - f.std() / f.mean())


def compare(
    tool_a: str = "pso-spine", tool_b: str = "pso-rite", config: SimulationConfig | None = None, **kwargs
) -> Comparison:
    """Simulate two tools on the same body, level and posture and check the seed's claims with numbers."""
    cfg = replace(config or SimulationConfig(), **kwargs) if kwargs else (config or SimulationConfig())
    full = make_back(cfg.body(), spacing_mm=cfg.spacing_mm)
    ra = simulate(replace(cfg, tool=tool_a), back=full)
    rb = simulate(replace(cfg, tool=tool_b), back=full)
    A, B = ra.assessment, rb.assessment
    da = float(ra.contact.displacement_mm.max())
    db = float(rb.contact.displacement_mm.max())
    ea = force_evenness([p.summary.force_n for p in A.peaks])
    eb = force_evenness([p.summary.force_n for p in B.peaks])
    claims = (
        Claim(
            f"{tool_b} has deeper, more concentrated peaks than {tool_a}",
            # the probe average, not the single-element maximum: the latter sits where the tissue under a tip is a
            # thin film over the bone, beyond the range checked against the FEM (docs/validation.md)
            B.probe_peak_kpa > A.probe_peak_kpa and db > da,
            f"peak pressure over a 1 cm² probe {B.probe_peak_kpa:.0f} vs {A.probe_peak_kpa:.0f} kPa, "
            f"tissue indentation {db:.1f} vs {da:.1f} mm",
        ),
        Claim(
            f"{tool_a} spreads the force more evenly over its peaks",
            len(A.peaks) > len(B.peaks) or ea > eb,
            f"{len(A.peaks)} peaks (evenness {ea:.2f}) vs {len(B.peaks)} peaks (evenness {eb:.2f}); "
            f"per-peak force {', '.join(f'{p.summary.force_n:.0f}' for p in A.peaks)} N vs "
            f"{', '.join(f'{p.summary.force_n:.0f}' for p in B.peaks)} N",
        ),
        Claim(
            f"{tool_a} keeps the pressure off the spinous processes",
            A.spinous_share <= 0.05,
            f"{A.spinous_share:.1%} of force on spinous processes ({tool_b}: {B.spinous_share:.1%})",
        ),
        Claim(
            f"{tool_a} leaves a larger margin to the pain threshold than {tool_b}",
            A.max_threshold_ratio < B.max_threshold_ratio,
            f"probe-averaged peak at {A.max_threshold_ratio:.0%} vs {B.max_threshold_ratio:.0%} of the "
            "pressure-pain threshold",
        ),
    )
    return Comparison(ra, rb, claims)


@dataclass(frozen=True)
class SetupSuggestion:
    """Where to put the tool and how much forearm support to start with (used by the coach)."""

    level: str
    offset_x_mm: float
    forearm_support: float
    peak_pressure_kpa: float
    threshold_kpa: float
    summary: str


def suggest_setup(
    body: Body, tool: str = "pso-spine", target: str = "mid", *, spacing_mm: float = 2.0
) -> SetupSuggestion:
    """Suggest the level, lateral offset and the least forearm support that stays under the pain threshold.

    Parameters
    ----------
    body : Body
    tool : str
        Tool name or path.
    target : str
        ``"upper"``, ``"mid"`` or ``"lower"`` back.
    spacing_mm : float
        Grid spacing for the search (2 mm keeps the coach responsive). [mm]
    """
    if target not in TARGET_LEVELS:
        raise InputError(f"target must be one of {', '.join(TARGET_LEVELS)}; got {target!r}")
    level = TARGET_LEVELS[target]
    cfg = SimulationConfig(
        stature_cm=body.stature_cm,
        mass_kg=body.mass_kg,
        sex=body.sex,
        body_fat_pct=body.body_fat_pct,
        age_years=body.age_years,
        tool=tool,
        level=level,
        step="lie_back",
        spacing_mm=spacing_mm,
    )
    full = make_back(body, spacing_mm=spacing_mm)
    r = simulate(cfg, back=full)
    offset = 0.0
    if r.assessment.verdict == "peak on bone":
        d = _search_shift(r, "x", full)
        offset = d or 0.0
        r = simulate(cfg, back=full, offset_x_mm=offset)
    support = 0.0
    if r.assessment.max_threshold_ratio > 1.0:
        s = _search_support(r, full)
        support = MAX_ADVISED_SUPPORT if s is None else s
        r = simulate(cfg, back=full, offset_x_mm=offset, forearm_support=support)
    a = r.assessment
    thr = a.probe_peak_kpa / a.max_threshold_ratio if a.max_threshold_ratio > 0 else float("nan")
    where = "centred on the spine" if offset == 0 else f"{offset:+.0f} mm off centre"
    summary = (
        f"Place the tool at {level} (the {target} back), {where}; "
        f"hold {support:.0%} of your upper-body weight on your forearms to start. Predicted peak pressure "
        f"{a.probe_peak_kpa:.0f} kPa vs a pain threshold of {thr:.0f} kPa."
    )
    return SetupSuggestion(level, offset, support, a.probe_peak_kpa, thr, summary)
