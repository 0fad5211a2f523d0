"""`vasoguide export`: stays of any dataset as FHIR R4 Bundles (the CDS team's test bed).

Registered on the main app like the timeline's commands; needs the `data` extra. Bad input
prints one sentence and exits 2.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["export", "register"]

_err = Console(stderr=True)


def export(
    stay: Annotated[list[int] | None, typer.Option(
        "--stay", help="Stay id to export (repeat the option; default: every stay with "
        "norepinephrine).")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="`demo` (the bundled CLIF demo), a folder of CLIF, MEDS, MIMIC or "
        "eICU tables, or a name under $VASOGUIDE_DATA.")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="Write only what was known at this time (ISO 8601 with a UTC offset); "
        "default: the whole stay, final versions.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the Bundles.")] = Path("out"),
    site: Annotated[Path | None, typer.Option("--site", help="Site settings file (YAML).")
                    ] = None,
) -> None:
    """Write stays as FHIR R4 collection Bundles: vitals, lactate, urine output, weight,
    conditions, infusions and fluids (one file per stay)."""
    from ..roundtrip import ne_stays
    from ..timeline.cli import _fail, _open, _protocol
    from ..timeline.replay import default_concentration
    from ..timeline.stay import StayNotFoundError, load_stay
    from .export import bundle_of, export_stay

    moment: datetime | None = None
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            _fail(f"--at {at!r} is not an ISO 8601 time")
        if moment.tzinfo is None:
            _fail("--at needs a UTC offset (for example 2150-01-01T08:00:00+00:00)")
    protocol = _protocol(site)
    conc = default_concentration(protocol)
    es = _open(dataset)
    stays = stay or ne_stays(es)
    out.mkdir(parents=True, exist_ok=True)
    for sid in stays:
        try:
            st = load_stay(es, sid)
        except StayNotFoundError as exc:
            _fail(str(exc))
        items = export_stay(st, dataset=es.dataset, default_concentration_ug_ml=conc)
        bundle = bundle_of(items, moment)
        path = out / f"{es.dataset}-stay-{sid}.fhir.json"
        path.write_text(json.dumps(bundle, indent=1), encoding="utf-8")
        _err.print(f"wrote {path} ({len(bundle['entry'])} resources)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `export` to the main vasoguide app."""
    app.command("export")(export)
