"""`vasoguide serve` and `vasoguide trail verify`, added to the main CLI by `register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

SettingsOpt = Annotated[
    Path | None,
    typer.Option("--settings", help="Settings file (TOML, JSON or YAML); else VASOGUIDE_SETTINGS."),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Trail database URL (sqlite:///path or postgresql://...)."),
]


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default loopback).")]
    = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    settings_file: SettingsOpt = None,
    db: DbOpt = None,
    auth: Annotated[str | None, typer.Option(help="auto (JWT off loopback), jwt or none.")]
    = None,
) -> None:
    """Run the HTTP service: /assess, CDS Hooks, the bedside page (Ctrl-C stops it)."""
    import uvicorn

    from .app import create_app
    from .settings import load_settings

    try:
        settings = load_settings(settings_file, host=host, port=port, database_url=db, auth=auth)
        app = create_app(settings)
    except ValueError as exc:
        typer.echo(f"vasoguide: cannot serve: {exc}", err=True)
        raise typer.Exit(2) from None
    mode = "JWT required" if settings.auth_enabled else "open (loopback, local use)"
    typer.echo(f"vasoguide: http://{settings.host}:{settings.port}/ ({mode}); trail "
               f"{settings.database_url.split('://')[0]}", err=True)
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=settings.access_log,
                log_level="info")


trail_app = typer.Typer(help="The audit trail of assessments, cards and feedback.",
                        no_args_is_help=True)


@trail_app.command("verify")
def verify(settings_file: SettingsOpt = None, db: DbOpt = None) -> None:
    """Recompute the hash chain; exit 0 when intact, 1 with every break listed."""
    from .settings import load_settings
    from .trail import Trail

    settings = load_settings(settings_file, database_url=db)
    result = Trail(settings.database_url).verify()
    if result.ok:
        typer.echo(f"trail intact: {result.count} records; head {result.head}")
        return
    for problem in result.problems:
        typer.echo(f"trail broken: {problem}", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `serve` and the `trail` group to the main `vasoguide` command."""
    app.command("serve")(serve)
    app.add_typer(trail_app, name="trail")
