"""`vasoguide simulate`: the in-silico evaluation, registered on the main app."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["register"]

_err = Console(stderr=True)
_out = Console()

SWEEP_STEPS = (0.01, 0.02, 0.05)  # ug/kg/min: FACTS 6 range 0.01-0.05
SWEEP_INTERVALS = (5.0, 10.0, 15.0)  # min: FACTS 6 "every 5-15 min"
SWEEP_STALENESS = (5.0, 10.0, 15.0, 30.0)  # min: pressure_max_age, with cuff readings


def _paired_with_default(
    sweep: list[Any], rows: list[list[dict[str, Any]]], site: Path | None
) -> list[Any]:
    """Each sweep point's per-patient difference from the site's own step and interval."""
    from dataclasses import replace as copy

    from ..protocol import load_protocol
    from .measures import paired_difference

    protocol = load_protocol(site=site) if site else load_protocol()
    step = float(protocol.settings["titration_step_weight"].value)
    interval = float(protocol.settings["titration_interval"].value)
    ref = next((r for s, r in zip(sweep, rows, strict=True)
                if abs(s.step - step) < 1e-9 and abs(s.interval - interval) < 1e-9), None)
    if ref is None:
        return sweep
    return [
        copy(s, paired={m: paired_difference(r, ref, m)
                        for m in ("pct_in", "pct_below", "pct_above")})
        for s, r in zip(sweep, rows, strict=True)
    ]


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        patients: Annotated[int, typer.Option("--patients", min=1, help="Patients.")] = 1000,
        hours: Annotated[float, typer.Option("--hours", min=0.5, help="Hours per patient.")] = 24,
        site: Annotated[Path | None, typer.Option("--site", help="Site settings file.")] = None,
        policy: Annotated[
            list[str] | None,
            typer.Option("--policy", help="vasoguide, manual, closed-loop (repeatable; "
                         "default all three)."),
        ] = None,
        seed: Annotated[int, typer.Option("--seed")] = 1,
        workers: Annotated[int, typer.Option("--workers", min=1)] = 2,
        measurement: Annotated[
            str, typer.Option("--measurement", help="arterial (every minute) or cuff.")
        ] = "arterial",
        params: Annotated[
            Path | None, typer.Option("--params", help="YAML overriding simulator parameters.")
        ] = None,
        sweep_patients: Annotated[
            int, typer.Option("--sweep-patients", min=0,
                              help="Patients per point of the step x interval sweep (0: none).")
        ] = 100,
        out: Annotated[Path, typer.Option("--out", help="Folder for the report.")] = Path(
            "simulation"
        ),
    ) -> None:
        """Simulate virtual patients under vasoguide's advice, manual care and closed loop."""
        from .measures import summarise
        from .policies import POLICIES
        from .report import SweepPoint, write_report, write_table
        from .run import SimConfig, simulate

        chosen = tuple(policy) if policy else POLICIES
        bad = [p for p in chosen if p not in POLICIES]
        if bad or measurement not in ("arterial", "cuff"):
            _err.print(f"vasoguide: unknown policy or measurement: {bad or measurement}",
                       markup=False)
            raise typer.Exit(2)
        cfg = SimConfig(patients, hours, seed, measurement, chosen, site, {}, params, workers)
        _err.print(f"simulating {patients} patients x {hours:g} h: {', '.join(chosen)}")
        res = simulate(cfg)
        sweep: list[SweepPoint] = []
        stale: list[SweepPoint] = []
        sweep_rows: list[list[dict[str, Any]]] = []
        if sweep_patients and "vasoguide" in chosen:
            for step in SWEEP_STEPS:
                for interval in SWEEP_INTERVALS:
                    sc = replace(
                        cfg, patients=sweep_patients, policies=("vasoguide",), traces=0,
                        settings={"titration_step_weight": step, "titration_interval": interval},
                    )
                    r = simulate(sc)
                    summary = summarise(r.rows)[("vasoguide",)]
                    calls = r.stats["vasoguide"]["engine_calls"]
                    sweep.append(SweepPoint(step, interval, summary, calls))
                    sweep_rows.append(r.rows)
                    _err.print(f"  sweep step {step:g} interval {interval:g}: "
                               f"{summary['pct_in']['mean']:.1f}% in band, "
                               f"{summary['pct_below']['mean']:.1f}% below ({r.seconds:.0f} s)")
            sweep = _paired_with_default(sweep, sweep_rows, site)
            for age in SWEEP_STALENESS:
                sc = replace(
                    cfg, patients=sweep_patients, policies=("vasoguide",), traces=0,
                    method="cuff", settings={"pressure_max_age": age},
                )
                r = simulate(sc)
                summary = summarise(r.rows)[("vasoguide",)]
                calls = r.stats["vasoguide"]["engine_calls"]
                stale.append(SweepPoint(0.0, age, summary, calls))
                _err.print(f"  cuff, staleness {age:g} min: {summary['pct_in']['mean']:.1f}% "
                           f"in band ({r.seconds:.0f} s)")
            import csv

            out.mkdir(parents=True, exist_ok=True)
            with (out / "sweep.csv").open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["step", "interval", "measure", "mean", "lo", "hi", "median"])
                for s in sweep:
                    for name, st in s.summary.items():
                        w.writerow([s.step, s.interval, name, st["mean"], st["lo"], st["hi"],
                                    st["median"]])
                for s in stale:  # step 0 marks the staleness rows (interval = max age)
                    for name, st in s.summary.items():
                        w.writerow(["staleness", s.interval, name, st["mean"], st["lo"],
                                    st["hi"], st["median"]])
        files = write_table(res, out)
        report = write_report(res, out, sweep, stale)
        for (pol,), stats in summarise(res.rows).items():
            _out.print(
                f"{pol:12s} in band {stats['pct_in']['mean']:5.1f}%  below "
                f"{stats['pct_below']['mean']:5.1f}%  above {stats['pct_above']['mean']:5.1f}%  "
                f"NE {stats['ne_total']['mean']:6.0f} ug/kg  titrations/h "
                f"{stats['titrations_per_h']['mean']:.2f}", highlight=False, soft_wrap=True,
            )
        _out.print(f"wrote {report}, {', '.join(str(f) for f in files)} "
                   f"({res.seconds:.0f} s)", highlight=False, soft_wrap=True)
