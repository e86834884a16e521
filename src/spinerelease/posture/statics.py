"""Static equilibrium of the supine body on the tool: force and roll moment the tool carries.

Model (sagittal plane): the head-trunk segments of de Leva (1996) form a rigid beam along the spine, lying
supine. Supports: the pelvis on the floor at the hip-joint level (s = 0), the tool at its level, the head on
the floor (carrying the head's weight) when ``step.head_on_floor``, and the forearms at shoulder level
carrying ``step.forearm_support`` of the head-trunk weight. The arms rest on the floor and the legs (knees bent,
feet on the floor, or one leg extended) load the floor, not the tool. Forces and the moment about the pelvis
balance; if the pelvis would have to pull (tool far caudal), the pelvis lifts and the shoulders take its place.
Rolling by ``step.roll_deg`` about the spine axis moves the trunk's centre of mass sideways by
``h_com sin(roll)`` (h_com: height of the centre of mass above the back, half the chest depth), which the tool
carries as a roll moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .. import params
from ..errors import InputError, check_finite
from .protocol import ProtocolStep

if TYPE_CHECKING:
    from ..anatomy import Body

G_M_S2 = 9.80665  # standard gravity (ISO 80000-3)


@dataclass(frozen=True)
class Segment:
    """A body segment: mass fraction, CoM fraction from its cranial end, length scaled to the body."""

    name: str
    mass_fraction: float
    com_fraction: float
    length_mm: float


def _sex_index(sex: str) -> int:
    if sex not in ("male", "female"):
        raise InputError(f"sex must be male or female, got {sex!r}")
    return 0 if sex == "male" else 1


def segment_table(sex: str, stature_cm: float | None = None) -> dict[str, Segment]:
    """Head and trunk segments of de Leva (1996), lengths scaled isometrically to ``stature_cm``.

    References
    ----------
    de Leva P (1996). Adjustments to Zatsiorsky-Seluyanov's segment inertia parameters. J Biomech 29,
    1223-1230, Tables 1 and 4.
    """
    i = _sex_index(sex)
    t = params.load("segments_deleva1996")
    ref = float(t.value("reference_stature")[i])
    k = 1.0 if stature_cm is None else stature_cm * 10.0 / ref
    out = {}
    for name in ("head", "upper_trunk", "middle_trunk", "lower_trunk", "upper_arm", "forearm", "hand"):
        mass = float(t.value(f"{name}_mass_pct")[i]) / 100.0
        com = float(t.value(f"{name}_com_pct")[i]) / 100.0 if f"{name}_com_pct" in t.parameters else 0.5
        length = float(t.value(f"{name}_length")[i]) * k if f"{name}_length" in t.parameters else 0.0
        out[name] = Segment(name, mass, com, length)
    return out


@dataclass(frozen=True)
class PostureLoad:
    """Loads of one posture state.

    Attributes
    ----------
    force_n : float
        Normal force on the tool. [N]
    moment_y_nmm : float
        Roll moment the tool carries, sum(p x dA) about the midline (positive = more load on the right). [N mm]
    head_n, forearms_n, pelvis_n, shoulders_n : float
        Other supports. [N]
    tool_y_mm : float
        Tool position along the spine (back frame). [mm]
    step_key : str
    lateral_shift_mm : float
        Sideways shift of the trunk's centre of mass from the roll. [mm]
    """

    force_n: float
    moment_y_nmm: float
    head_n: float
    forearms_n: float
    pelvis_n: float
    shoulders_n: float
    tool_y_mm: float
    step_key: str
    lateral_shift_mm: float = 0.0

    @property
    def feet_n(self) -> float:  # legs load the floor directly in this model
        return 0.0


def _spine_coordinate_mm(body: Body, y_mm: float, segs: dict[str, Segment]) -> tuple[float, float]:
    """Distance of back-frame position y (T1 = 0) above the hip joints along the trunk, and of CERV. [mm]"""
    p = params.load("posture")
    scale = (
        body.stature_cm
        * 10.0
        / float(params.load("segments_deleva1996").value("reference_stature")[_sex_index(body.sex)])
    )
    s_cerv = segs["lower_trunk"].length_mm + segs["middle_trunk"].length_mm + segs["upper_trunk"].length_mm
    return s_cerv - float(p.value("c7_t1_spacing")) * scale - y_mm, s_cerv


def tool_load(
    body: Body,
    tool_y_mm: float,
    step: ProtocolStep,
    *,
    levels_mm: dict[str, float] | None = None,
    tool_height_mm: float = 70.0,
    head_support: str = "floor",
) -> PostureLoad:
    """Force and roll moment on a tool under the back at ``tool_y_mm`` in protocol state ``step``.

    Parameters
    ----------
    body : Body
    tool_y_mm : float
        Tool position along the spine (back frame: T1 spinous process = 0, caudal positive). [mm]
    step : ProtocolStep
        Forearm support fraction, head support, roll angle.
    levels_mm : dict, optional
        Vertebral level positions (only used to check the tool is on the trunk).
    tool_height_mm : float
        Height of the tool top above the floor (the trunk is lifted by it; small-angle: does not change the
        lever arms). [mm]
    head_support : str
        ``"floor"`` or ``"pillow"`` (both carry the head's weight when ``step.head_on_floor``) or ``"none"``.

    Returns
    -------
    PostureLoad
    """
    check_finite("tool position", tool_y_mm)
    check_finite("tool height", tool_height_mm)
    if head_support not in ("floor", "pillow", "none"):
        raise InputError(f"head_support must be floor, pillow or none; got {head_support!r}")
    segs = segment_table(body.sex, body.stature_cm)
    W = body.mass_kg * G_M_S2
    s_t, s_cerv = _spine_coordinate_mm(body, tool_y_mm, segs)
    if not 20.0 <= s_t <= s_cerv - 10.0:
        raise InputError(f"the tool at y = {tool_y_mm:.0f} mm is not under the trunk (T1 to the pelvis)")
    lt, mt, ut, hd = segs["lower_trunk"], segs["middle_trunk"], segs["upper_trunk"], segs["head"]
    # centres of mass above the hip joints along the trunk (CoM fractions are from the cranial end)
    parts = [
        (lt.mass_fraction * W, lt.length_mm * (1 - lt.com_fraction)),
        (mt.mass_fraction * W, lt.length_mm + mt.length_mm * (1 - mt.com_fraction)),
        (ut.mass_fraction * W, lt.length_mm + mt.length_mm + ut.length_mm * (1 - ut.com_fraction)),
        (hd.mass_fraction * W, s_cerv + hd.length_mm * (1 - hd.com_fraction)),
    ]
    w_total = sum(w for w, _ in parts)
    moment = sum(w * s for w, s in parts)
    head_on = step.head_on_floor and head_support != "none"
    f_head = hd.mass_fraction * W if head_on else 0.0
    s_head = parts[-1][1]
    f_fa = step.forearm_support * w_total
    s_sh = s_cerv - float(params.load("posture").value("shoulder_below_cervicale"))
    # moments about the pelvis support (s = 0)
    f_tool = (moment - f_head * s_head - f_fa * s_sh) / s_t
    f_pelvis = w_total - f_tool - f_head - f_fa
    f_sh = 0.0
    if f_pelvis < 0:  # pelvis lifts: supports are the tool and the shoulders (+ head, forearms)
        f_pelvis = 0.0
        # moments about the shoulders
        f_tool = ((w_total - f_head - f_fa) * s_sh - moment + f_head * s_head) / (s_sh - s_t)
        f_sh = w_total - f_tool - f_head - f_fa
    if f_tool <= 0:
        raise InputError(
            f"with {step.forearm_support:.0%} forearm support the tool carries no load; lower the forearm support"
        )
    chest_depth = (
        float(params.load("anatomy").value("chest_depth"))
        * body.stature_cm
        * 10.0
        / float(params.load("anatomy").value("reference_stature"))
    )
    h_com = float(params.load("posture").value("trunk_com_height_fraction")) * chest_depth
    shift = h_com * np.sin(np.radians(step.roll_deg))
    return PostureLoad(
        force_n=float(f_tool),
        moment_y_nmm=float(f_tool * shift),
        head_n=float(f_head),
        forearms_n=float(f_fa),
        pelvis_n=float(f_pelvis),
        shoulders_n=float(f_sh),
        tool_y_mm=float(tool_y_mm),
        step_key=step.key,
        lateral_shift_mm=float(shift),
    )


@dataclass(frozen=True)
class BreathingCycle:
    """One paced deep breath.

    Attributes
    ----------
    t_s : ndarray
        Time. [s]
    lung_volume_l : ndarray
        Volume above end-expiration. [L]
    rib_expansion_mm : ndarray
        Posterior displacement of the thoracic back surface (into the tool). [mm]
    trunk_lift_mm : ndarray
        Same displacement read as a lift of the trunk off the floor. [mm]
    load_factor : ndarray
        Multiplier of the static tool load (1: breathing moves no mass between supports in this model). [-]
    """

    t_s: np.ndarray
    lung_volume_l: np.ndarray
    rib_expansion_mm: np.ndarray
    trunk_lift_mm: np.ndarray
    load_factor: np.ndarray


def vital_capacity_l(body: Body) -> float:
    """Vital capacity from the ECSC reference equations (Quanjer et al. 1993). [L]"""
    p = params.load("posture")
    a, b, c = p.value("vital_capacity_male" if body.sex == "male" else "vital_capacity_female")
    return max(1.0, float(a) * body.stature_cm / 100.0 + float(b) * body.age_years + float(c))


def breathing_cycle(
    body: Body, *, inhale_s: float | None = None, exhale_s: float | None = None, n_samples: int = 12
) -> BreathingCycle:
    """Lung volume and back-surface motion over one paced deep breath.

    Volume rises as ``sin^2`` over the inhale and falls as ``cos^2`` over the exhale; the posterior
    displacement of the thoracic back is proportional to the volume.
    """
    p = params.load("posture")
    ti = float(inhale_s if inhale_s is not None else p.value("inhale_s"))
    te = float(exhale_s if exhale_s is not None else p.value("exhale_s"))
    if ti <= 0 or te <= 0 or not np.isfinite(ti + te):
        raise InputError("inhale and exhale times must be positive")
    if int(n_samples) != n_samples or n_samples < 2 or n_samples > 1000:
        raise InputError("n_samples must be a whole number from 2 to 1000")
    t = np.linspace(0.0, ti + te, int(n_samples))
    dv = float(p.value("deep_breath_fraction_of_vc")) * vital_capacity_l(body)
    v = np.where(t <= ti, dv * np.sin(np.pi * t / (2 * ti)) ** 2, dv * np.cos(np.pi * (t - ti) / (2 * te)) ** 2)
    disp = float(p.value("back_displacement_per_litre")) * v
    return BreathingCycle(t, v, disp, disp.copy(), np.ones_like(t))
