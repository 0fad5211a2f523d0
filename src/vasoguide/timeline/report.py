"""Charts and self-contained HTML pages for a replayed stay and for an audit.

Matplotlib (Agg) draws PNGs; the HTML pages embed them as data URIs, so one file travels alone.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["audit_figures", "audit_html", "figure_png", "stay_figure", "stay_html"]

_DECISION_COLOURS = {
    "START_NOREPINEPHRINE": "#d62728",
    "INCREASE_NOREPINEPHRINE": "#ff7f0e",
    "CONTINUE_NOREPINEPHRINE": "#1f77b4",
    "DECREASE_NOREPINEPHRINE": "#2ca02c",
    "RESUSCITATE_FIRST": "#9467bd",
    "PERMISSIVE_HYPOTENSION": "#8c564b",
    "NOT_INDICATED": "#bbbbbb",
    "INSUFFICIENT_DATA": "#7f7f7f",
}

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.note{color:#555;font-size:13px}img{max-width:100%}
"""


def figure_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def stay_figure(
    title: str,
    pressures: dict[str, list[tuple[datetime, float]]],
    decisions: Sequence[dict[str, Any]],
    ne_dose: list[tuple[datetime, float | None]],
    nee: list[tuple[datetime, float | None]],
    fluids: list[tuple[datetime, float | None]],
) -> Figure:
    """Pressure against the target band, NE dose, fluids and decisions on one time axis."""
    fig, axes = plt.subplots(
        4, 1, figsize=(12, 9), sharex=True, gridspec_kw={"height_ratios": [3, 1.4, 1.2, 0.8]}
    )
    ax_bp, ax_ne, ax_fl, ax_dec = axes
    evaluated = [d for d in decisions if d.get("decision")]
    measures = {d["target_measure"] for d in evaluated if d.get("target_measure")}
    for measure, style in (("map", dict(color="#1f77b4", s=10)), ("sbp", dict(color="#aaa", s=6))):
        pts = pressures.get(measure, [])
        if pts:
            ax_bp.scatter([t for t, _ in pts], [v for _, v in pts], label=measure.upper(), **style)
    band = [d for d in evaluated if d.get("target_low") is not None]
    if band:
        times = [d["time"] for d in band]
        lows = [d["target_low"] for d in band]
        highs = [d["target_high"] if d["target_high"] is not None else d["target_low"]
                 for d in band]
        ax_bp.step(times, lows, where="post", color="#d62728", lw=1.2,
                   label="target low (" + "/".join(sorted(measures)).upper() + ")")
        if any(d["target_high"] is not None for d in band):
            ax_bp.fill_between(times, lows, highs, step="post", color="#2ca02c", alpha=0.15,
                               label="target band")
    ax_bp.set_ylabel("mmHg")
    ax_bp.legend(loc="upper right", fontsize=8)
    ax_bp.set_title(title)
    if ne_dose:
        ax_ne.step([t for t, _ in ne_dose], [v if v is not None else float("nan")
                                             for _, v in ne_dose],
                   where="post", color="#ff7f0e", label="norepinephrine")
    if nee:
        ax_ne.step([t for t, _ in nee], [v if v is not None else float("nan") for _, v in nee],
                   where="post", color="#444",
                   lw=0.8, ls="--", label="NE-equivalent")
    ax_ne.set_ylabel("ug/kg/min")
    ax_ne.legend(loc="upper right", fontsize=8)
    if fluids:
        ax_fl.step([t for t, _ in fluids], [v if v is not None else float("nan")
                                            for _, v in fluids],
                   where="post", color="#9467bd")
    ax_fl.set_ylabel("fluids mL/kg")
    codes = [c for c in _DECISION_COLOURS if any(d.get("decision") == c for d in evaluated)]
    for i, code in enumerate(codes):
        ts = [d["time"] for d in evaluated if d["decision"] == code]
        ax_dec.scatter(ts, [i] * len(ts), color=_DECISION_COLOURS[code], s=12, marker="|")
    ax_dec.set_yticks(range(len(codes)), [c.replace("_NOREPINEPHRINE", " NE") for c in codes],
                      fontsize=7)
    ax_dec.set_ylim(-0.5, max(len(codes), 1) - 0.5)
    ax_dec.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))  # type: ignore[no-untyped-call]
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            if isinstance(v, float):
                text = f"{v:.3g}"
            elif isinstance(v, list):
                text = ", ".join(map(str, v))
            elif isinstance(v, datetime):
                text = v.strftime("%Y-%m-%d %H:%M")
            else:
                text = "" if v is None else str(v)
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _page(title: str, parts: list[str]) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


DECISION_COLUMNS = ("time", "pressure", "target_measure", "target_low", "target_high",
                    "ne_dose_ug_kg_min", "decision", "alerts")


def stay_html(
    title: str, png: bytes, decisions: Sequence[dict[str, Any]], notes: Sequence[str]
) -> str:
    """One stay: the chart and the decision table (evaluated decisions only)."""
    evaluated = [d for d in decisions if d.get("decision")]
    return _page(title, [
        f"<h1>{html.escape(title)}</h1>",
        "<p class='note'>Decision support replayed as of each decision time from data at or "
        "before it; not a judgement of the care given.</p>",
        f"<img alt='timeline chart' src='{_data_uri(png)}'>",
        "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes),
        f"<h2>Decisions ({len(evaluated)})</h2>",
        _table(evaluated, DECISION_COLUMNS),
    ])


def audit_figures(metrics: list[dict[str, Any]]) -> bytes:
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    delays = [m["minutes_criteria_to_ne"] for m in metrics
              if m.get("minutes_criteria_to_ne") is not None]
    axes[0].hist([d / 60 for d in delays], bins=20, color="#d62728")
    axes[0].set_title(f"criteria first met -> NE start (h), n={len(delays)}")
    fin = [m["fraction_in_target_on_ne"] for m in metrics
           if m.get("fraction_in_target_on_ne") is not None]
    below = [m["fraction_below_target_on_ne"] for m in metrics
             if m.get("fraction_below_target_on_ne") is not None]
    axes[1].hist([fin, below], bins=10, range=(0, 1), label=["in target", "below target"],
                 color=["#2ca02c", "#d62728"])
    axes[1].set_title(f"fraction of time on NE, n={len(fin)} stays")
    axes[1].legend(fontsize=8)
    doses = [m["ne_max_ug_kg_min"] for m in metrics if m.get("ne_max_ug_kg_min") is not None]
    axes[2].hist(doses, bins=20, color="#ff7f0e")
    axes[2].set_title("max NE dose per stay (ug/kg/min)")
    fig.tight_layout()
    return figure_png(fig)


def audit_html(
    dataset: str,
    headline: dict[str, Any],
    metrics: list[dict[str, Any]],
    quality: list[dict[str, Any]],
    caveats: Sequence[str],
    definitions: dict[str, str],
) -> str:
    head_rows = [{"figure": k, "value": v, "definition": definitions.get(k, "")}
                 for k, v in headline.items()]
    ne_rows = [m for m in metrics if m.get("on_ne")]
    return _page(f"vasoguide audit: {dataset}", [
        f"<h1>vasoguide audit: {html.escape(dataset)}</h1>",
        "<p class='note'>Practice measured against the protocol's decision support, replayed "
        "as of each decision time. Thresholds come from the engine's Assessments.</p>",
        "<h2>Headline</h2>", _table(head_rows, ("figure", "value", "definition")),
        f"<img alt='audit charts' src='{_data_uri(audit_figures(metrics))}'>",
        "<h2>Caveats</h2><ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in caveats)
        + "</ul>",
        "<h2>Charting problems found</h2>",
        _table(quality, ("code", "quality", "rows", "stays")),
        f"<h2>Stays on norepinephrine ({len(ne_rows)})</h2>",
        _table(ne_rows, ("stay_id", "care_unit", "ne_start", "minutes_criteria_to_ne",
                         "ne_start_volume_not_confirmed", "fraction_in_target_on_ne",
                         "fraction_below_target_on_ne", "ne_max_ug_kg_min",
                         "premature_vasopressor_decisions", "abrupt_stops",
                         "dose_above_limit_decisions", "unit_unknown_rows")),
    ])
