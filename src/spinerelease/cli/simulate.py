"""``spinerelease simulate``, ``compare`` and ``report``: thin wrappers over :mod:`spinerelease.workflow`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ._common import console, handle_errors, progress

STATURE = typer.Option(178.0, "--stature", help="Stature [cm].")
MASS = typer.Option(80.0, "--mass", help="Body mass [kg].")
SEX = typer.Option("male", "--sex", help="male or female.")
FAT = typer.Option(None, "--body-fat", help="Body fat [%]; estimated from BMI, age and sex when omitted.")
AGE = typer.Option(35.0, "--age", help="Age [years] (body-fat estimate, breathing volumes).")
LEVEL = typer.Option("T7", "--level", help="Vertebral level under the tool centre (T1..L5).")
OFFX = typer.Option(0.0, "--offset-x", help="Lateral offset of the tool centre, + = your right [mm].")
OFFY = typer.Option(0.0, "--offset-y", help="Shift along the spine from the level, + = towards the pelvis [mm].")
STEP = typer.Option(
    "lie_back", "--step", help="Protocol step: forearms, check, lie_back, breathing, leg_left, leg_right."
)
SUPPORT = typer.Option(None, "--forearm-support", help="Fraction of upper-body weight held on forearms (0-0.95).")
ROLL = typer.Option(None, "--roll", help="Roll onto one side, + = right [degrees].")
SPACING = typer.Option(1.0, "--spacing", help="Grid spacing [mm].")
TISSUE = typer.Option(
    "layers",
    "--tissue-model",
    help="layers: skin and fat over muscle over bone (default); column: one series modulus per tissue column.",
)


def _config(
    tool: str,
    stature: float,
    mass: float,
    sex: str,
    body_fat: float | None,
    age: float,
    level: str,
    offset_x: float,
    offset_y: float,
    step: str,
    forearm_support: float | None,
    roll: float | None,
    spacing: float,
    tissue_model: str = "layers",
):
    from ..errors import check_choice
    from ..workflow import TISSUE_MODELS, SimulationConfig

    tissue_model = check_choice("tissue model", tissue_model, TISSUE_MODELS)

    cfg = SimulationConfig(
        stature_cm=stature,
        mass_kg=mass,
        sex=sex,
        body_fat_pct=body_fat,
        age_years=age,
        tool=tool,
        level=level.upper(),
        offset_x_mm=offset_x,
        offset_y_mm=offset_y,
        step=step,
        forearm_support=forearm_support,
        roll_deg=roll,
        spacing_mm=spacing,
        tissue_model=tissue_model,
    )
    cfg.body()  # validate body inputs before any heavy work
    cfg.protocol_step()
    return cfg


def _result_dict(res, advice=None) -> dict:
    from ..workflow import compression_warning

    a = res.assessment
    s = a.summary
    return {
        "tool": res.tool.name,
        "level": res.config.level,
        "step": res.config.step,
        "tissue_model": res.config.tissue_model,
        "force_n": res.contact.total_force_n,
        "peak_pressure_kpa": s.peak_pressure_kpa,
        "probe_peak_pressure_kpa": a.probe_peak_kpa,
        "mean_pressure_kpa": s.mean_pressure_kpa,
        "contact_area_mm2": s.contact_area_mm2,
        "center_of_force_mm": list(s.center_of_force_mm),
        "muscle_force_n": a.muscle_force_n,
        "bone_force_n": a.bone_force_n,
        "spinous_share": a.spinous_share,
        "max_threshold_ratio": a.max_threshold_ratio,
        "max_compression": a.max_compression,
        "validated_compression": a.validated_compression,
        "beyond_validated": list(a.beyond_validated),
        "verdict": a.verdict,
        "peaks": [
            {
                "name": p.name,
                "force_n": p.summary.force_n,
                "peak_pressure_kpa": p.summary.peak_pressure_kpa,
                "mean_pressure_kpa": p.summary.mean_pressure_kpa,
                "contact_area_mm2": p.summary.contact_area_mm2,
                "threshold_ratio": p.max_threshold_ratio,
                "max_compression": p.max_compression,
            }
            for p in a.peaks
        ],
        "advice": advice.messages if advice else ([compression_warning(a)] if a.beyond_validated else []),
    }


def _print_result(res, advice=None) -> None:
    d = _result_dict(res, advice)
    t = Table(title=f"{d['tool']} at {d['level']} ({d['step']})")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_row("force on tool", f"{d['force_n']:.1f} N")
    t.add_row("peak pressure / 1 cm² probe", f"{d['peak_pressure_kpa']:.0f} / {d['probe_peak_pressure_kpa']:.0f} kPa")
    t.add_row("mean pressure", f"{d['mean_pressure_kpa']:.0f} kPa")
    t.add_row("contact area", f"{d['contact_area_mm2']:.0f} mm²")
    t.add_row("centre of force", "({:.1f}, {:.1f}) mm".format(*d["center_of_force_mm"]))
    t.add_row("on spinous processes", f"{d['spinous_share']:.1%}")
    t.add_row("% of pain threshold", f"{d['max_threshold_ratio']:.0%}")
    t.add_row("tissue compression (max)", f"{d['max_compression']:.0%}")
    console.print(t)
    pt = Table(title="per peak")
    for c in ("peak", "force [N]", "peak [kPa]", "area [mm²]", "% threshold", "compression"):
        pt.add_column(c, justify="right")
    for p in d["peaks"]:
        pt.add_row(
            p["name"],
            f"{p['force_n']:.1f}",
            f"{p['peak_pressure_kpa']:.0f}",
            f"{p['contact_area_mm2']:.0f}",
            f"{p['threshold_ratio']:.0%}",
            f"{p['max_compression']:.0%}",
        )
    console.print(pt)
    colour = "green" if d["verdict"].startswith("on muscle") else "red"
    console.print(f"[bold {colour}]verdict: {d['verdict']}[/]")
    for m in d["advice"]:
        console.print(f"  • {m}")


def register(app: typer.Typer) -> None:
    """Add ``simulate``, ``compare`` and ``report`` to the CLI."""

    @app.command("simulate")
    @handle_errors
    def simulate_cmd(
        tool: str = typer.Option("pso-spine", "--tool", help="Tool name or JSON/YAML/STL path."),
        stature: float = STATURE,
        mass: float = MASS,
        sex: str = SEX,
        body_fat: float | None = FAT,
        age: float = AGE,
        level: str = LEVEL,
        offset_x: float = OFFX,
        offset_y: float = OFFY,
        step: str = STEP,
        forearm_support: float | None = SUPPORT,
        roll: float | None = ROLL,
        spacing: float = SPACING,
        tissue_model: str = TISSUE,
        advice: bool = typer.Option(True, "--advice/--no-advice", help="Compute corrections."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    ) -> None:
        """Simulate one protocol step: pressure on muscle vs bone, per-peak force, verdict and advice."""
        from ..workflow import advise, simulate

        cfg = _config(
            tool,
            stature,
            mass,
            sex,
            body_fat,
            age,
            level,
            offset_x,
            offset_y,
            step,
            forearm_support,
            roll,
            spacing,
            tissue_model,
        )
        res = simulate(cfg)
        adv = advise(res) if advice else None
        if as_json:
            typer.echo(json.dumps(_result_dict(res, adv), indent=2))
        else:
            _print_result(res, adv)

    @app.command("compare")
    @handle_errors
    def compare_cmd(
        tool_a: str = typer.Argument("pso-spine"),
        tool_b: str = typer.Argument("pso-rite"),
        stature: float = STATURE,
        mass: float = MASS,
        sex: str = SEX,
        body_fat: float | None = FAT,
        age: float = AGE,
        level: str = LEVEL,
        step: str = STEP,
        spacing: float = SPACING,
        tissue_model: str = TISSUE,
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
        png: Path | None = typer.Option(None, "--png", help="Write side-by-side pressure maps."),
    ) -> None:
        """Compare two tools on the same body, level and step, and check the seed's claims."""
        from ..report.figures import comparison_maps, save_png
        from ..workflow import compare

        cfg = _config(
            tool_a, stature, mass, sex, body_fat, age, level, 0.0, 0.0, step, None, None, spacing, tissue_model
        )
        cmp = compare(tool_a, tool_b, cfg)
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "a": _result_dict(cmp.a),
                        "b": _result_dict(cmp.b),
                        "claims": [
                            {"claim": c.text, "supported": c.supported, "evidence": c.evidence} for c in cmp.claims
                        ],
                    },
                    indent=2,
                )
            )
        else:
            _print_result(cmp.a)
            _print_result(cmp.b)
            t = Table(title="claims")
            t.add_column("claim")
            t.add_column("supported")
            t.add_column("evidence")
            for c in cmp.claims:
                t.add_row(c.text, "[green]yes[/]" if c.supported else "[red]no[/]", c.evidence)
            console.print(t)
        if png:
            save_png(comparison_maps(cmp.a, cmp.b), png)
            console.print(f"wrote {png}")

    @app.command("report")
    @handle_errors
    def report_cmd(
        tool: str = typer.Option("pso-spine", "--tool", help="Tool name or JSON/YAML/STL path."),
        stature: float = STATURE,
        mass: float = MASS,
        sex: str = SEX,
        body_fat: float | None = FAT,
        age: float = AGE,
        level: str = LEVEL,
        offset_x: float = OFFX,
        spacing: float = SPACING,
        compare_with: str = typer.Option(
            "pso-rite", "--compare-with", help="Second tool for the comparison section ('' = none)."
        ),
        breathing_samples: int = typer.Option(
            12, "--breathing-samples", min=0, max=200, help="Time samples over one deep breath."
        ),
        out: Path = typer.Option(Path("spinerelease-report.html"), "--out", help="HTML report path."),
        png_dir: Path | None = typer.Option(
            Path("spinerelease-report"), "--png-dir", help="Folder for PNG copies of every figure."
        ),
    ) -> None:
        """Simulate the whole protocol and write a self-contained HTML report (and PNG figures)."""
        from ..posture import loaded_steps
        from ..report import write_report
        from ..workflow import advise, compare, simulate_protocol

        cfg = _config(tool, stature, mass, sex, body_fat, age, level, offset_x, 0.0, "lie_back", None, None, spacing)
        n_steps = len(loaded_steps()) + (1 if compare_with else 0) + 2
        with progress() as bar:
            task = bar.add_task("protocol steps", total=n_steps)
            proto = simulate_protocol(
                cfg,
                breathing_samples=breathing_samples,
                progress=lambda key: bar.update(task, advance=1, description=f"step {key}"),
            )
            main = next(r for r in proto.steps if r.config.step == "lie_back")
            bar.update(task, description="advice")
            adv = advise(main)
            bar.update(task, advance=1)
            cmp = None
            if compare_with:
                bar.update(task, description=f"compare with {compare_with}")
                cmp = compare(tool, compare_with, cfg)
                bar.update(task, advance=1)
            bar.update(task, description="writing report")
            path = write_report(proto, out, comparison=cmp, advice=adv, png_dir=png_dir)
            bar.update(task, advance=1)
        console.print(f"[bold]verdict:[/] {main.assessment.verdict}")
        for m in adv.messages:
            console.print(f"  • {m}")
        console.print(f"wrote {path}" + (f" and PNG figures in {png_dir}/" if png_dir else ""))
