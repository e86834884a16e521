"""Tools: rigid height fields of built-in massage tools and of user tools (JSON/YAML/STL)."""

from .base import (
    Peak,
    Tool,
    ellipsoid_cap_mm,
    elongated_peak_derivatives,
    ridge_coordinate,
    ridge_peak_derivatives,
    rounded_peak_derivatives,
    rounded_peak_mm,
)
from .builtin import (
    BUILTIN,
    foam_roller,
    get_tool,
    lacrosse_ball,
    list_tools,
    peanut_ball,
    pso_rite,
    pso_spine,
    therapist_hands,
)
from .io import find_peaks, load_tool, tool_from_description, tool_from_mesh

__all__ = [
    "BUILTIN",
    "Peak",
    "Tool",
    "ellipsoid_cap_mm",
    "elongated_peak_derivatives",
    "find_peaks",
    "foam_roller",
    "get_tool",
    "lacrosse_ball",
    "list_tools",
    "load_tool",
    "peanut_ball",
    "pso_rite",
    "pso_spine",
    "ridge_coordinate",
    "ridge_peak_derivatives",
    "rounded_peak_derivatives",
    "rounded_peak_mm",
    "therapist_hands",
    "tool_from_description",
    "tool_from_mesh",
]
