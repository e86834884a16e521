"""``spinerelease tools list|show``: the tool library."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ._common import console, handle_errors


def _resolve(name: str, spacing: float):
    from ..tools import get_tool, load_tool

    if Path(name).suffix.lower() in (".json", ".yaml", ".yml", ".stl"):
        return load_tool(name, spacing_mm=spacing)
    return get_tool(name, spacing_mm=spacing)


def register(app: typer.Typer) -> None:
    """Add the ``tools`` sub-app."""
    tools_app = typer.Typer(help="Built-in and user massage tools.", no_args_is_help=True)
    app.add_typer(tools_app, name="tools")

    @tools_app.command("list")
    @handle_errors
    def list_cmd() -> None:
        """List the built-in tools."""
        from ..tools import get_tool, list_tools

        t = Table(title="built-in tools")
        for c in ("name", "peaks", "height [mm]", "size [mm]", "description"):
            t.add_column(c)
        for name, desc in list_tools():
            tool = get_tool(name, spacing_mm=2.0)
            w, ln = tool.size_mm
            t.add_row(name, str(len(tool.peaks)), f"{tool.max_height_mm:.0f}", f"{w:.0f} x {ln:.0f}", desc)
        console.print(t)

    @tools_app.command("show")
    @handle_errors
    def show_cmd(
        name: str = typer.Argument(..., help="Built-in tool name or a JSON/YAML/STL file."),
        png: Path | None = typer.Option(None, "--png", help="Write top view and sections to this PNG."),
        spacing: float = typer.Option(1.0, "--spacing", help="Grid spacing [mm]."),
    ) -> None:
        """Describe a tool; with --png draw its top view and sections through the peaks."""
        from ..report.figures import save_png, tool_figure

        tool = _resolve(name, spacing)
        t = Table(title=f"{tool.name}: {tool.description}")
        for c in ("peak", "x [mm]", "y [mm]", "height [mm]", "tip radius [mm]"):
            t.add_column(c, justify="right")
        for p in tool.peaks:
            t.add_row(p.name, f"{p.x_mm:.1f}", f"{p.y_mm:.1f}", f"{p.height_mm:.1f}", f"{p.tip_radius_mm:.1f}")
        console.print(t)
        if png:
            save_png(tool_figure(tool), png)
            console.print(f"wrote {png}")
