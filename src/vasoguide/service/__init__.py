"""The HTTP service: the only part of vasoguide that knows HTTP.

`create_app(settings)` builds the FastAPI app (contract endpoint, CDS Hooks, bedside page);
`register(typer_app)` adds `serve` and `trail verify` to the CLI.
"""

from __future__ import annotations

from .app import create_app
from .settings import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings"]
