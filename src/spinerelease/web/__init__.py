"""Local web app (``spinerelease serve``): pages to simulate and compare tools, the coach's history, a JSON API.

Needs the ``web`` extra (FastAPI, uvicorn, python-multipart). :func:`create_app` builds the application.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # import FastAPI only when the app is actually built
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'spinerelease.web' has no attribute {name!r}")
