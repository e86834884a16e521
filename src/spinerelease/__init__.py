"""spinerelease: simulate, compare and guide gravity-loaded self-massage tools on the back.

Data path: tools -> anatomy -> posture -> contact -> assess -> report. Every stage is callable on its own;
:func:`spinerelease.simulate` ties them together for the common workflow.

This is a simulation, not medical advice: consult a doctor before using a massage tool on your back.
"""

from __future__ import annotations

from typing import Any

from .citations import cite
from .errors import InputError
from .grid import Grid

__version__ = "0.1.0"

DISCLAIMER = (
    "spinerelease is a simulation and education tool, not a medical device and not medical advice. "
    "Consult a doctor or physiotherapist before using a massage tool on your back, especially with back pain, "
    "osteoporosis, a spinal condition, pregnancy, recent injury or surgery. Stop if you feel sharp pain, "
    "numbness or tingling."
)

_WORKFLOW = ("simulate", "simulate_protocol", "compare", "advise", "suggest_setup", "SimulationConfig")


def __getattr__(name: str) -> Any:
    # the workflow imports every stage; load it on first use so `import spinerelease` stays light
    if name in _WORKFLOW:
        from . import workflow

        return getattr(workflow, name)
    raise AttributeError(f"module 'spinerelease' has no attribute {name!r}")


__all__ = ["DISCLAIMER", "Grid", "InputError", "__version__", "cite", *_WORKFLOW]
