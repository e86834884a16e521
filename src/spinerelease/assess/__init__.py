"""Assessment: pressure on muscle vs bone, per-peak force, pressure summaries, pain-threshold margin, advice."""

from .assessment import (
    ALGOMETER_PROBE_AREA_MM2,
    VERDICT_OK,
    VERDICT_ON_BONE,
    VERDICT_TOO_MUCH,
    Assessment,
    PeakAssessment,
    assess,
    probe_averaged_pressure,
)
from .metrics import PressureSummary, label_forces_n, summarize_pressure, threshold_ratio

__all__ = [
    "ALGOMETER_PROBE_AREA_MM2",
    "Assessment",
    "PeakAssessment",
    "PressureSummary",
    "VERDICT_OK",
    "VERDICT_ON_BONE",
    "VERDICT_TOO_MUCH",
    "assess",
    "label_forces_n",
    "probe_averaged_pressure",
    "summarize_pressure",
    "threshold_ratio",
]
