"""Posture: static equilibrium of body segments on the tool, breathing, and the protocol steps."""

from .protocol import PSO_SPINE_PROTOCOL, ProtocolStep, get_step, loaded_steps
from .statics import (
    BreathingCycle,
    PostureLoad,
    Segment,
    breathing_cycle,
    segment_table,
    tool_load,
    vital_capacity_l,
)

__all__ = [
    "PSO_SPINE_PROTOCOL",
    "BreathingCycle",
    "PostureLoad",
    "ProtocolStep",
    "Segment",
    "breathing_cycle",
    "get_step",
    "loaded_steps",
    "segment_table",
    "tool_load",
    "vital_capacity_l",
]
