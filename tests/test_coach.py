"""Tests of the guided-session coach and its SQLite history (issue 5)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from spinerelease.anatomy import Body
from spinerelease.cli.main import app
from spinerelease.coach import (
    SCHEMA_VERSION,
    FakeClock,
    HistoryStore,
    Plan,
    ScriptedPrompter,
    adapt_support,
    breathing_cue,
    make_plan,
    run_session,
    sessions_per_week,
    streak_days,
)
from spinerelease.coach.store import MIGRATIONS
from spinerelease.errors import InputError
from spinerelease.posture import PSO_SPINE_PROTOCOL
from spinerelease.workflow import SetupSuggestion

T0 = datetime(2026, 11, 2, 7, 0)
PLAN = Plan("pso-spine", "mid", "T8", 0.0, 0.3, 0.15, "test plan")


def fake_suggester(body, tool, target):
    return SetupSuggestion("T8", 0.0, 0.2, 300.0, 560.0, "Place the tool at T8.")


def n_rated(protocol=PSO_SPINE_PROTOCOL):
    return sum(s.ask_pain for s in protocol)


def test_scripted_session_records_every_step(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    clock = FakeClock(T0)
    ui = ScriptedPrompter(answers=[4] * 10)
    out = run_session(store, clock, ui, PLAN)
    assert out.status == "completed" and out.steps_recorded == len(PSO_SPINE_PROTOCOL)
    steps = store.steps(out.session_id)
    assert [s["step_key"] for s in steps] == [s.key for s in PSO_SPINE_PROTOCOL]
    assert sum(s["pain"] is not None for s in steps) == n_rated()
    total = sum(s.duration_s for s in PSO_SPINE_PROTOCOL)
    assert clock.now() - T0 == timedelta(seconds=total)
    assert "inhale" in ui.cues and "exhale" in ui.cues
    assert store.sessions()[0].status == "completed"


def test_pause_skip_repeat_and_quit(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    ui = ScriptedPrompter(
        answers=[5] * 20, pauses={"check": "skip", "breathing": "repeat"}, after={"leg_left": "repeat"}
    )
    out = run_session(store, FakeClock(T0), ui, PLAN)
    steps = store.steps(out.session_id)
    keys = [s["step_key"] for s in steps]
    assert [s["status"] for s in steps if s["step_key"] == "check"] == ["skipped"]
    assert keys.count("leg_left") == 2 and keys.count("breathing") == 1
    assert [s["repeat_index"] for s in steps if s["step_key"] == "breathing"] == [1]
    quit_ui = ScriptedPrompter(answers=[5] * 20, pauses={"lie_back": "quit"})
    out2 = run_session(store, FakeClock(T0 + timedelta(days=1)), quit_ui, PLAN)
    assert out2.status == "aborted"
    assert [s["step_key"] for s in store.steps(out2.session_id)] == ["seated", "forearms", "check"]


def test_adaptation_never_below_simulator_minimum():
    from spinerelease.coach.store import SessionRow

    def row(day, support, pain):
        return SessionRow(
            day, T0 + timedelta(days=day), None, "pso-spine", "mid", "T8", support, "completed", "", pain, 5
        )

    s0, why0 = adapt_support([], 0.2)
    assert s0 == pytest.approx(0.35) and "first session" in why0
    assert adapt_support([row(0, 0.35, 2.0)], 0.2)[0] == pytest.approx(0.30)
    assert adapt_support([row(0, 0.35, 8.0)], 0.2)[0] == pytest.approx(0.45)
    assert adapt_support([row(0, 0.35, 5.0)], 0.2)[0] == pytest.approx(0.35)
    assert adapt_support([row(0, 0.22, 1.0)], 0.2)[0] == pytest.approx(0.2)  # held at the minimum


def test_plan_adapts_over_sessions(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    body = Body(178, 80, "male")
    supports = []
    for day in range(4):
        plan = make_plan(store, body, "pso-spine", "mid", fake_suggester)
        supports.append(plan.forearm_support)
        run_session(store, FakeClock(T0 + timedelta(days=day)), ScriptedPrompter(answers=[2] * 10), plan)
    assert supports == pytest.approx([0.35, 0.30, 0.25, 0.20])
    assert min(supports) >= 0.2


def test_plan_uses_the_simulator():
    store_path = None
    body = Body(178, 80, "male")
    from spinerelease.workflow import suggest_setup

    sug = suggest_setup(body, "pso-spine", "mid", spacing_mm=4.0)
    assert sug.level == "T8" and 0.0 <= sug.forearm_support <= 0.9 and sug.peak_pressure_kpa > 0
    assert store_path is None


def test_streak_and_weeks(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    for day in (0, 1, 2, 7):
        run_session(store, FakeClock(T0 + timedelta(days=day)), ScriptedPrompter(answers=[3] * 10), PLAN)
    rows = store.sessions()
    assert streak_days(rows, (T0 + timedelta(days=7)).date()) == 1
    assert streak_days(rows, (T0 + timedelta(days=3)).date()) == 3
    assert sessions_per_week(rows) == {"2026-W45": 3, "2026-W46": 1}
    assert breathing_cue(1.0) == "inhale" and breathing_cue(5.0) == "exhale"


def test_export_and_delete(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    run_session(store, FakeClock(T0), ScriptedPrompter(answers=[6] * 10), PLAN)
    csv_path = store.export_csv(tmp_path / "h.csv")
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 1 + len(PSO_SPINE_PROTOCOL) and "step_key" in lines[0]
    data = json.loads(store.export_json(tmp_path / "h.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION and len(data["steps"]) == len(PSO_SPINE_PROTOCOL)
    assert store.delete_all() == 1 and store.sessions() == []


def test_corrupted_database_is_refused_and_left_untouched(tmp_path):
    p = tmp_path / "bad.sqlite"
    p.write_bytes(b"this is not a database at all" * 10)
    before = p.read_bytes()
    with pytest.raises(InputError, match="left untouched"):
        HistoryStore(p)
    assert p.read_bytes() == before


def test_newer_schema_is_refused(tmp_path):
    p = tmp_path / "new.sqlite"
    HistoryStore(p).close()
    c = sqlite3.connect(p)
    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    c.close()
    with pytest.raises(InputError, match="newer"):
        HistoryStore(p)


def test_migration_from_version_1_keeps_data(tmp_path):
    p = tmp_path / "old.sqlite"
    c = sqlite3.connect(p, isolation_level=None)
    c.executescript(MIGRATIONS[0])
    c.execute("PRAGMA user_version = 1")
    c.execute("PRAGMA application_id = 1397772849")
    c.execute(
        "INSERT INTO sessions(started_at, tool, target, level, forearm_support, status) "
        "VALUES ('2026-01-01T07:00:00', 'pso-spine', 'mid', 'T8', 0.3, 'completed')"
    )
    c.execute(
        "INSERT INTO steps(session_id, step_key, started_at, finished_at, status, pain) "
        "VALUES (1, 'lie_back', '2026-01-01T07:00:00', '2026-01-01T07:00:30', 'done', 4)"
    )
    c.close()
    store = HistoryStore(p)
    assert store.schema_version == SCHEMA_VERSION
    rows = store.sessions()
    assert len(rows) == 1 and rows[0].mean_pain == 4 and rows[0].note == ""


def test_cli_history_export_delete(tmp_path):
    db = tmp_path / "h.sqlite"
    store = HistoryStore(db)
    run_session(store, FakeClock(T0), ScriptedPrompter(answers=[3] * 10), PLAN)
    store.close()
    r = CliRunner().invoke(
        app, ["coach", "history", "--db", str(db), "--png", str(tmp_path / "h.png")], env={"COLUMNS": "200"}
    )
    assert r.exit_code == 0, r.output
    assert "pso-spine" in r.output and (tmp_path / "h.png").exists()
    r = CliRunner().invoke(app, ["coach", "export", "--db", str(db), "--csv", str(tmp_path / "x.csv")])
    assert r.exit_code == 0 and (tmp_path / "x.csv").exists()
    r = CliRunner().invoke(app, ["coach", "delete-all", "--db", str(db), "--yes"])
    assert r.exit_code == 0 and "deleted 1" in r.output
    bad = tmp_path / "bad.sqlite"
    bad.write_text("garbage")
    r = CliRunner().invoke(app, ["coach", "history", "--db", str(bad)])
    assert r.exit_code == 2 and "untouched" in r.output


def _answers():
    lines = []
    for s in PSO_SPINE_PROTOCOL:
        if s.ask_pain:
            lines.append("4")
        lines.append("n")
    return ("\n".join(lines) + "\n") * 2


def test_killed_coach_process_keeps_completed_steps(tmp_path):
    db = tmp_path / "kill.sqlite"
    env = dict(os.environ, COLUMNS="100")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spinerelease.cli.main",
            "coach",
            "--db",
            str(db),
            "--stature",
            "178",
            "--mass",
            "80",
            "--sex",
            "male",
            "--speed",
            "20",
            "--yes",
            "--no-simulate",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdin.write(_answers().encode())
    proc.stdin.flush()
    deadline = time.time() + 60
    n = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            try:
                c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                n = c.execute("SELECT count(*) FROM steps").fetchone()[0]
                c.close()
            except sqlite3.Error:
                n = 0
        if n >= 2:
            break
    assert proc.poll() is None, proc.stderr.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert n >= 2
    store = HistoryStore(db)  # integrity check passes, nothing lost
    steps = store.steps()
    assert len(steps) >= n
    assert [s["step_key"] for s in steps][:2] == ["seated", "forearms"]
    assert store.sessions()[0].status == "running"  # killed: never finished, but its steps are there
