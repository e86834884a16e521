"""Entry point of the ``spinerelease`` command.

Each stage's commands live in their own module ``spinerelease.cli.<name>`` exposing ``register(app)``;
this module only assembles them.
"""

from __future__ import annotations

import importlib

import typer

from .. import DISCLAIMER, __version__

app = typer.Typer(
    name="spinerelease",
    help="Simulate, compare and guide gravity-loaded self-massage tools on the back. " + DISCLAIMER,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: CLI modules, each with a ``register(app)`` function.
COMMAND_MODULES = ("tools", "anatomy", "simulate", "coach", "serve", "sweep", "contact")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spinerelease {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Simulate, compare and guide gravity-loaded self-massage tools on the back."""


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"spinerelease.cli.{_name}")
    except ModuleNotFoundError as _exc:  # module not written yet, or an optional extra is missing
        if _exc.name and _exc.name.startswith("spinerelease.cli"):
            continue
        raise
    _mod.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
