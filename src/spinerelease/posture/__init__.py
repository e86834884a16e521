"""Posture: static equilibrium of body segments on the tool, and the protocol steps."""

from .protocol import PSO_SPINE_PROTOCOL, ProtocolStep, get_step, loaded_steps

__all__ = ["PSO_SPINE_PROTOCOL", "ProtocolStep", "get_step", "loaded_steps"]
