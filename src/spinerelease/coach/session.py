"""Guided session logic: timed protocol steps, pause/skip/repeat, pain ratings, adaptation, streaks.

Pure logic, separated from input/output: a :class:`Clock` (real or fake) and a :class:`Prompter` (the Rich
terminal UI or a scripted one for tests) are passed in; the :class:`~spinerelease.coach.store.HistoryStore`
keeps what happened. The steps are the same :data:`~spinerelease.posture.PSO_SPINE_PROTOCOL` the simulator
solves (one description, two uses).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from ..posture.protocol import PSO_SPINE_PROTOCOL, ProtocolStep
from .store import HistoryStore, SessionRow

#: Extra forearm support on top of the simulator's minimum for a first session (comfort margin). [-]
FIRST_SESSION_MARGIN = 0.15
#: Change of forearm support between sessions after low / high reported pain. [-]
SUPPORT_STEP_DOWN = 0.05
SUPPORT_STEP_UP = 0.10
#: Mean pain (0-10) at or below which support is reduced, at or above which it is increased.
LOW_PAIN = 3.0
HIGH_PAIN = 7.0
#: Most forearm support the coach suggests. [-]
MAX_SUPPORT = 0.9


class Clock(Protocol):
    def now(self) -> datetime: ...
    def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall clock; ``speed`` > 1 runs timers faster (for demos and tests)."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = max(1e-6, float(speed))

    def now(self) -> datetime:
        return datetime.now().astimezone()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.speed)


class FakeClock:
    """A clock that advances only when slept on."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


class Prompter(Protocol):
    """What the session asks of its user interface."""

    def show_step(self, step: ProtocolStep, index: int, total: int) -> None: ...
    def tick(self, step: ProtocolStep, elapsed_s: float, cue: str) -> str: ...
    def pause_menu(self, step: ProtocolStep) -> str: ...
    def ask_pain(self, step: ProtocolStep) -> int: ...
    def after_step(self, step: ProtocolStep) -> str: ...
    def message(self, text: str) -> None: ...


def breathing_cue(elapsed_s: float, inhale_s: float = 4.0, exhale_s: float = 6.0) -> str:
    """``"inhale"`` or ``"exhale"`` at ``elapsed_s`` into paced breathing (4 s in, 6 s out by default)."""
    return "inhale" if (elapsed_s % (inhale_s + exhale_s)) < inhale_s else "exhale"


@dataclass(frozen=True)
class Plan:
    """What the coach suggests for today's session."""

    tool: str
    target: str
    level: str
    offset_x_mm: float
    forearm_support: float
    min_support: float
    reason: str


def adapt_support(previous: Sequence[SessionRow], min_support: float) -> tuple[float, str]:
    """Forearm support for the next session from recent pain ratings; never below ``min_support``.

    Rule: first session -> simulator minimum + :data:`FIRST_SESSION_MARGIN`; afterwards start from the last
    session's support and lower it by :data:`SUPPORT_STEP_DOWN` if its mean pain was <= :data:`LOW_PAIN`, raise
    it by :data:`SUPPORT_STEP_UP` if >= :data:`HIGH_PAIN`; always within [min_support, MAX_SUPPORT]. The
    minimum is the simulator's least support that keeps the predicted pressure under the pain threshold.
    """
    rated = [s for s in previous if s.mean_pain is not None and s.steps_done > 0]
    if not rated:
        s = min(MAX_SUPPORT, min_support + FIRST_SESSION_MARGIN)
        return s, f"first session: simulator minimum {min_support:.0%} + {FIRST_SESSION_MARGIN:.0%} comfort margin"
    last = rated[-1]
    s = last.forearm_support
    if last.mean_pain <= LOW_PAIN:
        s -= SUPPORT_STEP_DOWN
        why = f"last session's pain was low ({last.mean_pain:.1f}/10): a little less support"
    elif last.mean_pain >= HIGH_PAIN:
        s += SUPPORT_STEP_UP
        why = f"last session's pain was high ({last.mean_pain:.1f}/10): more support"
    else:
        why = f"last session's pain was moderate ({last.mean_pain:.1f}/10): same support"
    s = min(MAX_SUPPORT, max(min_support, s))
    if s == min_support:
        why += f" (held at the simulator's minimum {min_support:.0%})"
    return round(s, 2), why


def streak_days(sessions: Sequence[SessionRow], today: date) -> int:
    """Consecutive days, ending today or yesterday, with at least one session that completed a step."""
    days = {s.started_at.date() for s in sessions if s.steps_done > 0}
    d = today if today in days else today - timedelta(days=1)
    n = 0
    while d in days:
        n += 1
        d -= timedelta(days=1)
    return n


def sessions_per_week(sessions: Sequence[SessionRow]) -> dict[str, int]:
    """Number of sessions with a completed step per ISO week (``"2026-W48"``)."""
    out: dict[str, int] = {}
    for s in sessions:
        if s.steps_done > 0:
            y, w, _ = s.started_at.isocalendar()
            key = f"{y}-W{w:02d}"
            out[key] = out.get(key, 0) + 1
    return out


def make_plan(store: HistoryStore, body, tool: str, target: str, suggester: Callable | None = None) -> Plan:
    """Today's plan: the simulator's placement and minimum support, adapted to the user's history.

    ``suggester(body, tool, target)`` returns an object with ``level``, ``offset_x_mm``, ``forearm_support``
    and ``summary`` (default: :func:`spinerelease.workflow.suggest_setup`, imported lazily).
    """
    if suggester is None:
        from ..workflow import suggest_setup as suggester
    sug = suggester(body, tool, target)
    previous = [s for s in store.sessions() if s.tool == tool and s.target == target]
    support, why = adapt_support(previous, float(sug.forearm_support))
    return Plan(
        tool,
        target,
        sug.level,
        float(sug.offset_x_mm),
        support,
        float(sug.forearm_support),
        f"{sug.summary} Today: {support:.0%} support ({why}).",
    )


@dataclass
class SessionOutcome:
    session_id: int
    status: str
    steps_recorded: int


def run_session(
    store: HistoryStore,
    clock: Clock,
    ui: Prompter,
    plan: Plan,
    protocol: Sequence[ProtocolStep] = PSO_SPINE_PROTOCOL,
    tick_s: float = 1.0,
) -> SessionOutcome:
    """Run a guided session; every completed or skipped step is committed as it ends.

    ``ui.tick`` is called every ``tick_s`` of a step's timer and may return ``"pause"``; the pause menu
    returns ``"resume"``, ``"skip"``, ``"repeat"`` or ``"quit"``. After a step ``ui.after_step`` returns
    ``"next"``, ``"repeat"`` or ``"quit"``.
    """
    sid = store.start_session(clock.now(), plan.tool, plan.target, plan.level, plan.forearm_support, plan.reason)
    try:
        return _run_steps(store, clock, ui, sid, protocol, tick_s)
    except BaseException:
        # input closed or the program interrupted: completed steps are already committed; mark the session
        store.finish_session(sid, clock.now(), "aborted")
        raise


def _run_steps(
    store: HistoryStore, clock: Clock, ui: Prompter, sid: int, protocol: Sequence[ProtocolStep], tick_s: float
) -> SessionOutcome:
    recorded = 0
    i = 0
    repeats: dict[str, int] = {}
    status = "completed"
    while i < len(protocol):
        step = protocol[i]
        ui.show_step(step, i, len(protocol))
        started = clock.now()
        elapsed = 0.0
        action = "done"
        while elapsed < step.duration_s:
            dt = min(tick_s, step.duration_s - elapsed)
            try:
                clock.sleep(dt)
                interrupted = False
            except KeyboardInterrupt:  # Ctrl-C in the terminal pauses the step
                interrupted = True
            elapsed += dt
            cue = breathing_cue(elapsed) if step.breathing else ""
            if ui.tick(step, elapsed, cue) == "pause" or interrupted:
                choice = ui.pause_menu(step)
                if choice == "resume":
                    continue
                action = choice
                break
        if action == "quit":
            status = "aborted"
            break
        if action == "repeat":
            repeats[step.key] = repeats.get(step.key, 0) + 1
            continue
        pain = ui.ask_pain(step) if (action == "done" and step.ask_pain) else None
        store.record_step(
            sid,
            step.key,
            started,
            clock.now(),
            "done" if action == "done" else "skipped",
            pain,
            repeats.get(step.key, 0),
            elapsed,
        )
        recorded += 1
        nxt = ui.after_step(step) if action == "done" else "next"
        if nxt == "quit":
            status = "aborted"
            break
        if nxt == "repeat":
            repeats[step.key] = repeats.get(step.key, 0) + 1
            continue
        i += 1
    store.finish_session(sid, clock.now(), status)
    return SessionOutcome(sid, status, recorded)


class ScriptedPrompter:
    """A prompter driven by a script, for tests and non-interactive runs.

    ``answers``: pain ratings in order; ``pauses``: ``{step_key: choice}`` to pause once in that step's first
    tick and answer the pause menu with ``choice``; ``after``: ``{step_key: "repeat"|"quit"}``.
    """

    def __init__(
        self,
        answers: Sequence[int] = (),
        pauses: dict[str, str] | None = None,
        after: dict[str, str] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.answers = list(answers)
        self.pauses = dict(pauses or {})
        self.after = dict(after or {})
        self.log = log or (lambda s: None)
        self.cues: list[str] = []

    def show_step(self, step: ProtocolStep, index: int, total: int) -> None:
        self.log(f"step {index + 1}/{total}: {step.title}")

    def tick(self, step: ProtocolStep, elapsed_s: float, cue: str) -> str:
        if cue and (not self.cues or self.cues[-1] != cue):
            self.cues.append(cue)
        return "pause" if step.key in self.pauses else "ok"

    def pause_menu(self, step: ProtocolStep) -> str:
        return self.pauses.pop(step.key)

    def ask_pain(self, step: ProtocolStep) -> int:
        return self.answers.pop(0) if self.answers else 0

    def after_step(self, step: ProtocolStep) -> str:
        return self.after.pop(step.key, "next")

    def message(self, text: str) -> None:
        self.log(text)
