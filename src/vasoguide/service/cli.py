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
    from .app import create_app
    from .server import run
    from .settings import load_settings

    try:
        settings = load_settings(settings_file, host=host, port=port, database_url=db, auth=auth)
        app = create_app(settings)
    except ValueError as exc:
        typer.echo(f"vasoguide: cannot serve: {exc}", err=True)
        raise typer.Exit(2) from None
    mode = "JWT required" if settings.auth_enabled else "open (loopback, local use)"
    keyed = "keyed" if settings.trail_key_file else "unkeyed: set trail_key_file"
    typer.echo(f"vasoguide: http://{settings.host}:{settings.port}/ ({mode}); trail "
               f"{settings.database_url.split('://')[0]} ({keyed})", err=True)
    run(app, settings)  # header deadline, logs without exception messages (server.py)


trail_app = typer.Typer(help="The audit trail of assessments, cards and feedback.",
                        no_args_is_help=True)


CheckpointsOpt = Annotated[
    Path | None,
    typer.Option("--checkpoints", help="Checkpoint file to verify against (default: the "
                 "settings' trail_checkpoint_file)."),
]


@trail_app.command("verify")
def verify(
    settings_file: SettingsOpt = None, db: DbOpt = None, checkpoints: CheckpointsOpt = None,
) -> None:
    """Recompute the hash chain and check it against the exported checkpoints; exit 0 when
    intact, 1 with every break listed."""
    from .settings import load_settings
    from .trail import open_trail, read_checkpoints

    settings = load_settings(settings_file, database_url=db)
    trail = open_trail(settings.model_copy(update={"trail_checkpoint_file": None}))
    path = checkpoints or settings.trail_checkpoint_file
    marks = read_checkpoints(path) if path and Path(path).exists() else []
    if path and not marks:
        typer.echo(f"trail broken: no checkpoint in {path}", err=True)
        raise typer.Exit(1)
    result = trail.verify(marks)
    trail.close()
    if result.ok:
        against = f"; matches {len(marks)} checkpoints" if marks else "; no checkpoint given"
        keyed = "keyed" if settings.trail_key_file else "UNKEYED (no trail_key_file)"
        typer.echo(f"trail intact: {result.count} records; head {result.head}; {keyed}{against}")
        return
    for problem in result.problems:
        typer.echo(f"trail broken: {problem}", err=True)
    raise typer.Exit(1)


@trail_app.command("checkpoint")
def checkpoint(
    settings_file: SettingsOpt = None, db: DbOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="File to append the checkpoint "
                                             "to (default: trail_checkpoint_file).")] = None,
) -> None:
    """Append a signed checkpoint of the trail's head to a file outside the database."""
    from .settings import load_settings
    from .trail import export_checkpoint, open_trail

    settings = load_settings(settings_file, database_url=db)
    path = out or settings.trail_checkpoint_file
    if not path:
        typer.echo("vasoguide: give --out or set trail_checkpoint_file", err=True)
        raise typer.Exit(2)
    trail = open_trail(settings.model_copy(update={"trail_checkpoint_file": None}))
    mark = trail.checkpoint()
    trail.close()
    export_checkpoint(path, mark)
    typer.echo(f"checkpoint: record {mark.seq} {mark.hash} -> {path}")


@trail_app.command("keygen")
def keygen(path: Annotated[Path, typer.Argument(help="Key file to create (mode 0600).")]) -> None:
    """Create a trail key: 32 random bytes as 64 hex digits, readable by the owner only."""
    import os
    import secrets

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never overwrite a key
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    typer.echo(f"trail key written to {path}; set trail_key_file = \"{path}\"")


def register(app: typer.Typer) -> None:
    """Add `serve` and the `trail` group to the main `vasoguide` command."""
    app.command("serve")(serve)
    app.add_typer(trail_app, name="trail")
