"""``spinerelease sweep`` and ``design``: population sweeps and tool design optimisation."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ._common import console, handle_errors, progress


def register(app: typer.Typer) -> None:
    """Add ``sweep`` and ``design``."""

    @app.command("sweep")
    @handle_errors
    def sweep_cmd(
        tool: str = typer.Option("pso-spine", "--tool", help="Tool name or path."),
        n: int = typer.Option(50, "--n", min=1, max=100000, help="People sampled."),
        levels: str = typer.Option("T4,T7,T10", "--levels", help="Comma-separated vertebral levels."),
        steps: str = typer.Option("lie_back", "--steps", help="Comma-separated protocol steps."),
        spacing: float = typer.Option(2.0, "--spacing", help="Grid spacing [mm]."),
        out: Path = typer.Option(Path("sweep-results"), "--out", help="Result folder (resumable)."),
        scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler address, or 'serial'."),
        workers: int | None = typer.Option(None, "--workers", min=1, help="Local Dask workers."),
        seed: int = typer.Option(0, "--seed", help="Random seed of the population."),
        png: Path | None = typer.Option(None, "--png", help="Histogram and failure-map figure."),
        tissue_model: str = typer.Option(
            "layers", "--tissue-model", help="layers (skin and fat over muscle) or column (one series modulus)."
        ),
    ) -> None:
        """Run a tool over a sampled population x levels x steps; report who it fits."""
        from ..report.figures import save_png
        from ..sweep import make_items, run_sweep, sample_population, summarize, sweep_figure

        people = sample_population(n, seed=seed)
        items = make_items(
            people,
            [v.strip().upper() for v in levels.split(",") if v.strip()],
            [s.strip() for s in steps.split(",") if s.strip()],
            tool,
            spacing,
            tissue_model=tissue_model,
        )
        with progress() as bar:
            task = bar.add_task("bodies", total=len(items))
            df = run_sweep(
                items,
                out,
                scheduler=scheduler,
                workers=workers,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        summary = summarize(df)
        console.print_json(json.dumps(summary))
        if png and len(df):
            save_png(sweep_figure(df), png)
            console.print(f"wrote {png}")

    @app.command("design")
    @handle_errors
    def design_cmd(
        n: int = typer.Option(12, "--n", min=1, max=1000, help="People in the design sample."),
        levels: str = typer.Option("T7", "--levels", help="Comma-separated vertebral levels."),
        peaks: str = typer.Option("4,5", "--peaks", help="Peak counts to try."),
        spacing: float = typer.Option(3.0, "--spacing", help="Grid spacing [mm]."),
        evals: int = typer.Option(25, "--evals", min=1, max=1000, help="Evaluations per peak count."),
        seed: int = typer.Option(0, "--seed"),
        png: Path | None = typer.Option(None, "--png", help="Before/after figure."),
    ) -> None:
        """Optimise the PSO-Spine's peak spacing, height and tip radius for a sampled population."""
        from ..report.figures import save_png
        from ..sweep import design_figure, optimize_design, sample_population

        people = sample_population(n, seed=seed)
        with progress() as bar:
            task = bar.add_task("designs evaluated", total=None)
            res = optimize_design(
                people,
                [v.strip().upper() for v in levels.split(",")],
                ("lie_back",),
                [int(p) for p in peaks.split(",")],
                spacing,
                evals,
                progress=lambda k, rate: bar.update(task, completed=k, description=f"designs (last {rate:.0%})"),
            )
        console.print(
            f"PSO-Spine {res.baseline_params}: pass rate {res.baseline_pass_rate:.0%} "
            f"(objective {res.baseline_objective:.3f})"
        )
        console.print(
            f"optimised {res.best_params}: pass rate {res.best_pass_rate:.0%} "
            f"(objective {res.best_objective:.3f}) after {res.evaluations} designs"
        )
        if png:
            save_png(design_figure(res), png)
            console.print(f"wrote {png}")
