"""``spinerelease anatomy show``: the parametric back."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ._common import console, handle_errors


def register(app: typer.Typer) -> None:
    """Add the ``anatomy`` sub-app."""
    anat = typer.Typer(help="The parametric back.", no_args_is_help=True)
    app.add_typer(anat, name="anatomy")

    @anat.command("show")
    @handle_errors
    def show_cmd(
        stature: float = typer.Option(178.0, "--stature", help="Stature [cm]."),
        mass: float = typer.Option(80.0, "--mass", help="Body mass [kg]."),
        sex: str = typer.Option("male", "--sex", help="male or female."),
        body_fat: float | None = typer.Option(None, "--body-fat", help="Body fat [%]."),
        age: float = typer.Option(35.0, "--age", help="Age [years]."),
        spacing: float = typer.Option(2.0, "--spacing", help="Grid spacing [mm]."),
        png: Path | None = typer.Option(None, "--png", help="Write the region/thickness map here."),
    ) -> None:
        """Print the vertebral levels and tissue figures; with --png draw the back map."""
        from ..anatomy import REGIONS, Body, make_back
        from ..report.figures import back_figure, save_png

        back = make_back(Body(stature, mass, sex, body_fat, age), spacing_mm=spacing)
        b = back.body
        console.print(
            f"{b.stature_cm:.0f} cm, {b.mass_kg:.0f} kg, {b.sex}, BMI {b.bmi:.1f}, body fat {b.body_fat:.1f} %"
        )
        t = Table(title="levels")
        for c in ("level", "y [mm]", "over spinous [mm]", "over erector spinae [mm]"):
            t.add_column(c, justify="right")
        for lvl, y in back.levels_mm.items():
            j = int(round((y - back.grid.y0_mm) / back.grid.spacing_mm))
            row, reg = back.tissue_thickness_mm[j], back.region[j]
            sp = row[reg == REGIONS["SPINOUS"]].mean()
            es = row[(reg == REGIONS["ERECTOR_L"]) | (reg == REGIONS["ERECTOR_R"])].max()
            t.add_row(lvl, f"{y:.0f}", f"{sp:.1f}", f"{es:.1f}")
        console.print(t)
        if png:
            save_png(back_figure(back), png)
            console.print(f"wrote {png}")
