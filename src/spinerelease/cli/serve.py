"""``spinerelease serve``: the local web app (FastAPI + uvicorn), bound to the loopback interface by default."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from ._common import console, err_console, fail


def is_loopback(host: str) -> bool:
    """True if ``host`` names the loopback interface (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command."""

    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback by default)."),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
        db: Path = typer.Option(None, "--db", help="Coach history database shown on the history page."),
        min_spacing: float = typer.Option(
            1.0, "--min-spacing", min=1.0, max=5.0, help="Finest grid spacing a request may ask for (mm)."
        ),
    ) -> None:
        """Start the local web app: simulate and compare tools, the coach's history, a JSON API (/openapi.json)."""
        try:
            import uvicorn

            from ..web import create_app
        except ModuleNotFoundError as exc:
            fail(f"the web app needs the 'web' extra ({exc.name} is missing): pip install 'spinerelease[web]'")
            return
        hosts = None
        if is_loopback(host):
            from ..web.app import LOCAL_HOSTS

            hosts = list(LOCAL_HOSTS)
        else:
            err_console.print(
                f"[bold yellow]warning:[/] binding to {host} makes the app reachable from other "
                "computers; it has no authentication.",
                highlight=False,
            )
        application = create_app(history_db=db, min_spacing_mm=min_spacing, allowed_hosts=hosts)
        shown = f"[{host}]" if ":" in host else host
        console.print(f"spinerelease web app on http://{shown}:{port}/  (Ctrl+C to stop)", highlight=False)
        uvicorn.run(application, host=host, port=port, log_level="warning")
