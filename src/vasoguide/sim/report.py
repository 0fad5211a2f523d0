"""The simulation report: one self-contained HTML page with plots, and the per-patient table."""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .measures import MEASURES, calibration, summarise
from .run import SimResult

__all__ = ["SweepPoint", "write_report", "write_table"]

_COLORS = {"vasoguide": "#1f77b4", "manual": "#d62728", "closed-loop": "#2ca02c"}
CALIBRATION_TARGET = {"in": (0.37, 0.43), "below": (0.25, 0.36)}  # SIMULATOR.md 5.4

LIMITS = """
<ul>
<li>A model, not a trial. PK is from healthy volunteers (Li 2024) with clearance scaled by
severity from 23 ICU patients (Beloeil 2005); the MAP response is a paediatric Emax (Oualha
2014) carried over to adults. The Emax cap makes a share of patient-time unreachable with
norepinephrine alone, whatever the policy.</li>
<li>No heart rate, cardiac output, fluids, lactate or urine: the engine's titration advice does
not read them, and no sourced model links them to the dose here.</li>
<li>Every patient is septic, volume-resuscitated, with a central line; other shock types,
volume questions and permissive targets are not exercised.</li>
<li>The disease course (wander, steps, recovery) and the arterial-line noise are assumptions
([M]/[C] tags); the manual-care nurse is fitted to readings, not to time.</li>
<li>The virtual nurse follows every advice after a fixed delay; real adherence is lower.</li>
<li>The closed-loop controller is ours, tuned on this simulator; it is a reference, not a
published device.</li>
</ul>
"""


@dataclass(frozen=True)
class SweepPoint:
    step: float
    interval: float
    summary: dict[str, dict[str, float]]
    engine_calls: int
    # measure -> (mean, lo, hi) of the per-patient difference from the packaged default
    paired: dict[str, tuple[float, float, float]] = field(default_factory=dict)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(x: float, digits: int = 1) -> str:
    return "-" if math.isnan(x) else f"{x:.{digits}f}"


def _paired(s: SweepPoint, name: str) -> str:
    if name not in s.paired:
        return "-"
    mean, lo, hi = s.paired[name]
    return f"{mean:+.1f} [{_fmt(lo)} to {_fmt(hi)}]"


def _plots(res: SimResult, sweep: Sequence[SweepPoint], out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = res.params.range("band")
    figs: dict[str, str] = {}
    policies = [p for p in res.config.policies if p in res.traces]
    if policies:
        k = min(4, res.traces[policies[0]]["true"].shape[0])
        fig, axes = plt.subplots(k, 2, figsize=(13, 2.8 * k), squeeze=False)
        fig.subplots_adjust(hspace=0.45)
        hours = np.arange(res.config.minutes) / 60.0
        for i in range(k):
            ax, bx = axes[i]
            ax.axhspan(lo, hi, color="#dddddd", label="target band")
            for pol in policies:
                tr = res.traces[pol]
                ax.plot(hours, tr["true"][i], lw=0.8, color=_COLORS.get(pol), label=pol)
                bx.step(hours, tr["ne"][i], lw=0.9, color=_COLORS.get(pol), where="post")
            row = next(r for r in res.rows if r["patient"] == i)
            ax.set_ylabel("true MAP (mmHg)")
            ax.set_ylim(35, 110)
            ax.set_title(f"patient {i}: {row['severity']}, responsiveness "
                         f"{row['responsiveness']:.2f}x", fontsize=9)
            bx.set_ylabel("NE (ug/kg/min)")
            if i == 0:
                ax.legend(fontsize=7, loc="upper right", ncol=4)
        axes[-1][0].set_xlabel("hours")
        axes[-1][1].set_xlabel("hours")
        figs["traces"] = _png(fig)
        fig.savefig(out / "traces.png", dpi=90, bbox_inches="tight")
        plt.close(fig)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for ax, (name, label) in zip(
        axes, [("pct_in", "% time in band"), ("pct_below", "% time below band"),
               ("ne_total", "total NE (ug/kg)")], strict=True
    ):
        data = [[r[name] for r in res.rows if r["policy"] == pol] for pol in res.config.policies]
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(res.config.policies) + 1), res.config.policies)
        ax.set_title(label, fontsize=10)
    figs["distributions"] = _png(fig)
    fig.savefig(out / "distributions.png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    if sweep:
        steps = sorted({s.step for s in sweep})
        intervals = sorted({s.interval for s in sweep})
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        for ax, (name, label, cmap) in zip(
            axes, [("pct_in", "mean % time in band", "Greens"),
                   ("pct_below", "mean % time below band", "Reds")], strict=True
        ):
            grid = np.full((len(intervals), len(steps)), np.nan)
            for s in sweep:
                grid[intervals.index(s.interval), steps.index(s.step)] = s.summary[name]["mean"]
            im = ax.imshow(grid, cmap=cmap, origin="lower", aspect="auto")
            for (yi, xi), v in np.ndenumerate(grid):
                ax.text(xi, yi, f"{v:.1f}", ha="center", va="center", fontsize=9)
            ax.set_xticks(range(len(steps)), [f"{s:g}" for s in steps])
            ax.set_yticks(range(len(intervals)), [f"{i:g}" for i in intervals])
            ax.set_xlabel("titration step (ug/kg/min)")
            ax.set_ylabel("titration interval (min)")
            ax.set_title(label, fontsize=10)
            fig.colorbar(im, ax=ax)
        figs["sweep"] = _png(fig)
        fig.savefig(out / "sweep.png", dpi=90, bbox_inches="tight")
        plt.close(fig)
    return figs


def _summary_table(groups: dict[tuple[str, ...], dict[str, dict[str, float]]],
                   head: Sequence[str], names: Sequence[str] | None = None) -> str:
    chosen = [m for m in MEASURES if names is None or m[0] in names]
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    th += "".join(f"<th>{html.escape(label)} ({unit})</th>" for _, label, unit in chosen)
    body = []
    for key, stats in groups.items():
        cells = "".join(f"<td>{html.escape(k)}</td>" for k in key)
        for name, _, _ in chosen:
            s = stats[name]
            cells += (f"<td>{_fmt(s['mean'])} [{_fmt(s['lo'])}-{_fmt(s['hi'])}]<br>"
                      f"<small>median {_fmt(s['median'])} (IQR {_fmt(s['q1'])}-"
                      f"{_fmt(s['q3'])})</small></td>")
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{th}</tr>{''.join(body)}</table>"


def write_table(res: SimResult, out: Path) -> list[Path]:
    """Per patient and policy: parameters and measures, as CSV and Parquet."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path, pq_path = out / "patients.csv", out / "patients.parquet"
    cols = list(res.rows[0].keys()) if res.rows else []
    for r in res.rows:
        cols += [k for k in r if k not in cols]
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(res.rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({c: [r.get(c) for r in res.rows] for c in cols})
    pq.write_table(table, pq_path)
    return [csv_path, pq_path]


def write_report(
    res: SimResult, out: Path, sweep: Sequence[SweepPoint] = (),
    stale: Sequence[SweepPoint] = (),
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    figs = _plots(res, sweep, out)
    cfg = res.config
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>vasoguide simulation</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;"
        "padding:0 1em}table{border-collapse:collapse;font-size:13px;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#f4f4f4}"
        "small{color:#555}img{max-width:100%}.note{background:#fff8e0;padding:.5em 1em}</style>"
        "</head><body>",
        "<h1>vasoguide in silico: virtual patients in shock</h1>",
        "<p class='note'><b>A model, not a trial.</b> Figures describe this simulator's "
        "patients, not real ones; see the limits below.</p>",
        f"<p>{cfg.patients} patients x {cfg.hours:g} h, seed {cfg.seed}, pressure from "
        f"{html.escape(cfg.method)}; policies on the same patients: "
        f"{html.escape(', '.join(cfg.policies))}. Band {res.params.range('band')[0]:g}-"
        f"{res.params.range('band')[1]:g} mmHg. Site file: "
        f"{html.escape(str(cfg.site) if cfg.site else 'none (packaged defaults)')}. "
        f"Wall time {res.seconds:.0f} s on {cfg.workers} worker(s).</p>",
        "<h2>Results by policy</h2><p>Mean [95% CI of the mean across patients]; median "
        "(IQR). Measures are time-weighted on the true MAP, minute by minute (SIMULATOR.md "
        "5.5).</p>",
        _summary_table(summarise(res.rows), ["policy"]),
    ]
    if "traces" in figs:
        parts.append("<h2>Example patients</h2><img src='data:image/png;base64,"
                     f"{figs['traces']}' alt='MAP traces with the target band'>")
    parts.append("<h2>Distributions across patients</h2><img src='data:image/png;base64,"
                 f"{figs['distributions']}' alt='time in band per policy'>")
    key = ["pct_in", "pct_below", "twa_below", "ne_total", "titrations_per_h"]
    parts += [
        "<h2>By severity</h2>",
        _summary_table(summarise(res.rows, ("policy", "severity")), ["policy", "severity"],
                       key),
        "<h2>By responsiveness</h2>",
        _summary_table(summarise(res.rows, ("policy", "responsiveness_class")),
                       ["policy", "responsiveness"], key),
    ]
    cal = calibration(res.rows)
    if cal["readings"]:
        ok = all(CALIBRATION_TARGET[k][0] <= cal[k] <= CALIBRATION_TARGET[k][1]
                 for k in CALIBRATION_TARGET)
        parts.append(
            "<h2>Manual-care calibration</h2><p>Share of the manual nurse's MAP readings "
            "while norepinephrine runs (target from the demo data, SIMULATOR.md 5.4): "
            f"below {cal['below']:.3f} (target 0.25-0.36), in band {cal['in']:.3f} "
            f"(target 0.37-0.43), above {cal['above']:.3f}; {cal['readings']:.0f} readings. "
            f"<b>{'within' if ok else 'OUTSIDE'} the target.</b></p>"
        )
    vg = res.stats.get("vasoguide")
    if vg and vg["engine_calls"]:
        calls = vg["engine_calls"]
        dec = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(vg.items())
                        if k.startswith("decision:"))
        parts.append(
            f"<h2>Engine</h2><p>{calls} calls to assess(); per call {vg['state_us'] / calls:.0f}"
            f" us building the PatientState and {vg['assess_us'] / calls:.0f} us in assess(). "
            f"Decisions: {html.escape(dec)}.</p>"
        )
    if sweep:
        rows = "".join(
            f"<tr><td>{s.step:g}</td><td>{s.interval:g}</td>"
            f"<td>{_fmt(s.summary['pct_in']['mean'])} [{_fmt(s.summary['pct_in']['lo'])}-"
            f"{_fmt(s.summary['pct_in']['hi'])}]</td>"
            f"<td>{_fmt(s.summary['pct_below']['mean'])}</td>"
            f"<td>{_fmt(s.summary['pct_above']['mean'])}</td>"
            f"<td>{_fmt(s.summary['twa_below']['mean'], 2)}</td>"
            f"<td>{_fmt(s.summary['ne_total']['mean'], 0)}</td>"
            f"<td>{_fmt(s.summary['titrations_per_h']['mean'], 2)}</td>"
            f"<td>{_paired(s, 'pct_in')}</td><td>{_paired(s, 'pct_below')}</td>"
            f"<td>{_paired(s, 'pct_above')}</td></tr>"
            for s in sweep
        )
        n = sweep[0].summary["pct_in"]["n"]
        parts += [
            f"<h2>Sweep: titration step x interval (vasoguide, {n:.0f} patients each)</h2>",
            f"<img src='data:image/png;base64,{figs['sweep']}' alt='sweep heatmaps'>",
            "<table><tr><th>step (ug/kg/min)</th><th>interval (min)</th><th>% in band "
            "[95% CI]</th><th>% below</th><th>% above</th><th>TWA below (mmHg)</th>"
            "<th>NE (ug/kg)</th><th>titrations/h</th><th>&Delta; in band vs default "
            "(paired, 95% CI)</th><th>&Delta; below</th><th>&Delta; above</th></tr>"
            f"{rows}</table>",
        ]
    if stale:
        rows = "".join(
            f"<tr><td>{s.interval:g}</td>"
            f"<td>{_fmt(s.summary['pct_in']['mean'])} [{_fmt(s.summary['pct_in']['lo'])}-"
            f"{_fmt(s.summary['pct_in']['hi'])}]</td>"
            f"<td>{_fmt(s.summary['pct_below']['mean'])}</td>"
            f"<td>{_fmt(s.summary['twa_below']['mean'], 2)}</td>"
            f"<td>{_fmt(s.summary['titrations_per_h']['mean'], 2)}</td>"
            f"<td>{s.engine_calls}</td></tr>"
            for s in stale
        )
        parts += [
            "<h2>Sweep: staleness (pressure_max_age) with cuff readings every "
            f"{res.params['cuff_interval']:g} min</h2>",
            "<table><tr><th>pressure_max_age (min)</th><th>% in band [95% CI]</th>"
            "<th>% below</th><th>TWA below (mmHg)</th><th>titrations/h</th>"
            f"<th>engine calls</th></tr>{rows}</table>",
        ]
    parts.append("<h2>Model limits</h2>" + LIMITS)
    prow = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td>"
        f"<td>{html.escape(d)}</td></tr>" for a, b, c, d in res.params.table()
    )
    parts.append("<h2>Parameters</h2><p>[V] seen in source, [D] derived, [M] assumption "
                 "suggested by the reference, [C] convention, [fit] fitted to the manual-care "
                 "figures.</p><table><tr><th>parameter</th><th>value</th><th>unit</th>"
                 f"<th>source</th></tr>{prow}</table></body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
