"""``spinerelease coach``: guided, timed sessions with a local history."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from .. import DISCLAIMER
from ._common import console, handle_errors

DB = typer.Option(None, "--db", help="History database (default: user data dir, or $SPINERELEASE_DB).")


def _store(db: Path | None):
    from ..coach import HistoryStore

    return HistoryStore(db)


def _body(store, stature, mass, sex):
    from ..anatomy import Body
    from ..errors import InputError

    prof = store.profile() or {}
    if stature is not None or mass is not None or sex is not None:
        prof = {
            "stature_cm": stature if stature is not None else prof.get("stature_cm"),
            "mass_kg": mass if mass is not None else prof.get("mass_kg"),
            "sex": sex or prof.get("sex", "male"),
        }
        if prof["stature_cm"] is None or prof["mass_kg"] is None:
            raise InputError("give both --stature and --mass the first time (they are stored for next time)")
        Body(prof["stature_cm"], prof["mass_kg"], prof["sex"])
        store.save_profile(prof)
    if not prof:
        raise InputError("no body profile stored yet: run with --stature, --mass and --sex once")
    return Body(prof["stature_cm"], prof["mass_kg"], prof["sex"])


def register(app: typer.Typer) -> None:
    """Add the ``coach`` sub-app."""
    coach = typer.Typer(help="Guided PSO-Spine session with a local history.", invoke_without_command=True)
    app.add_typer(coach, name="coach")

    @coach.callback()
    @handle_errors
    def run(
        ctx: typer.Context,
        target: str = typer.Option("mid", "--target", help="upper, mid or lower back."),
        tool: str = typer.Option("pso-spine", "--tool", help="Tool name."),
        db: Path | None = DB,
        stature: float | None = typer.Option(None, "--stature", help="Stature [cm] (stored)."),
        mass: float | None = typer.Option(None, "--mass", help="Body mass [kg] (stored)."),
        sex: str | None = typer.Option(None, "--sex", help="male or female (stored)."),
        speed: float = typer.Option(1.0, "--speed", min=0.01, max=10000, help="Timer speed-up (demo/testing)."),
        yes: bool = typer.Option(False, "--yes", help="Acknowledge the medical disclaimer non-interactively."),
        simulate: bool = typer.Option(
            True, "--simulate/--no-simulate", help="Ask the simulator where to place the tool and how much support."
        ),
    ) -> None:
        """Run a guided session (steps, timers, pain ratings); subcommands show and manage the history."""
        if ctx.invoked_subcommand is not None:
            return
        from rich.prompt import Confirm

        from ..coach import RealClock, make_plan, run_session
        from ..coach.ui import RichPrompter
        from ..errors import InputError
        from ..workflow import TARGET_LEVELS, SetupSuggestion

        if target not in TARGET_LEVELS:
            raise InputError(f"target must be one of {', '.join(TARGET_LEVELS)}; got {target!r}")
        store = _store(db)
        clock = RealClock(speed)
        if not store.disclaimer_acknowledged():
            console.print(f"[bold yellow]Medical disclaimer[/]\n{DISCLAIMER}")
            if not (yes or Confirm.ask("Do you understand and accept?", console=console)):
                raise InputError("the disclaimer must be acknowledged before the first session")
            store.acknowledge_disclaimer(clock.now())
        body = _body(store, stature, mass, sex)

        def fallback(b, t, tg):
            lvl = TARGET_LEVELS[tg]
            return SetupSuggestion(
                lvl, 0.0, 0.0, float("nan"), float("nan"), f"Place the tool centred on the spine at {lvl}."
            )

        with console.status("simulating your back to plan the session..."):
            plan = make_plan(store, body, tool, target, None if simulate else fallback)
        console.print(f"[bold]Plan:[/] {plan.reason}")
        try:
            outcome = run_session(store, clock, RichPrompter(console), plan)
        except EOFError:
            raise InputError("input ended before the session finished; the completed steps were saved") from None
        console.print(f"session {outcome.status}: {outcome.steps_recorded} steps saved to {store.path}")

    @coach.command("history")
    @handle_errors
    def history(
        db: Path | None = DB, png: Path | None = typer.Option(None, "--png", help="Plot pain and sessions per week.")
    ) -> None:
        """Show past sessions, the current streak and sessions per week."""
        from ..coach import sessions_per_week, streak_days

        store = _store(db)
        rows = store.sessions()
        t = Table(title=f"history ({store.path})")
        for c in ("date", "tool", "target", "level", "support", "steps", "mean pain", "status"):
            t.add_column(c)
        for s in rows:
            t.add_row(
                s.started_at.strftime("%Y-%m-%d %H:%M"),
                s.tool,
                s.target,
                s.level,
                f"{s.forearm_support:.0%}",
                str(s.steps_done),
                "-" if s.mean_pain is None else f"{s.mean_pain:.1f}",
                s.status,
            )
        console.print(t)
        console.print(
            f"streak: {streak_days(rows, datetime.now().date())} day(s); sessions per week: "
            f"{sessions_per_week(rows) or 'none yet'}"
        )
        if png:
            from ..report.figures import history_figure, save_png

            save_png(history_figure(rows), png)
            console.print(f"wrote {png}")

    @coach.command("export")
    @handle_errors
    def export(
        db: Path | None = DB,
        csv: Path | None = typer.Option(None, "--csv", help="Write steps as CSV."),
        json_path: Path | None = typer.Option(None, "--json", help="Write everything as JSON."),
    ) -> None:
        """Export the history to CSV and/or JSON."""
        from ..errors import InputError

        if csv is None and json_path is None:
            raise InputError("give --csv PATH and/or --json PATH")
        store = _store(db)
        if csv:
            console.print(f"wrote {store.export_csv(csv)}")
        if json_path:
            console.print(f"wrote {store.export_json(json_path)}")

    @coach.command("delete-all")
    @handle_errors
    def delete_all(db: Path | None = DB, yes: bool = typer.Option(False, "--yes", help="Confirm.")) -> None:
        """Delete every stored session (asks for confirmation)."""
        from rich.prompt import Confirm

        store = _store(db)
        if not (yes or Confirm.ask("Delete every stored session?", console=console, default=False)):
            console.print("nothing deleted")
            return
        console.print(f"deleted {store.delete_all()} session(s)")

    @coach.command("profile")
    @handle_errors
    def profile(
        db: Path | None = DB,
        stature: float | None = typer.Option(None, "--stature"),
        mass: float | None = typer.Option(None, "--mass"),
        sex: str | None = typer.Option(None, "--sex"),
    ) -> None:
        """Store or show the body profile used to plan sessions."""
        store = _store(db)
        b = _body(store, stature, mass, sex)
        console.print(f"profile: {b.stature_cm:.0f} cm, {b.mass_kg:.0f} kg, {b.sex}")
