"""Guided-session coach: the protocol as timed steps, pain ratings, adaptation, SQLite history."""

from .session import (
    FakeClock,
    Plan,
    RealClock,
    ScriptedPrompter,
    adapt_support,
    breathing_cue,
    make_plan,
    run_session,
    sessions_per_week,
    streak_days,
)
from .store import SCHEMA_VERSION, HistoryStore, default_db_path

__all__ = [
    "SCHEMA_VERSION",
    "FakeClock",
    "HistoryStore",
    "Plan",
    "RealClock",
    "ScriptedPrompter",
    "adapt_support",
    "breathing_cue",
    "default_db_path",
    "make_plan",
    "run_session",
    "sessions_per_week",
    "streak_days",
]
