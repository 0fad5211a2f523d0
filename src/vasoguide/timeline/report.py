"""Charts and self-contained HTML pages for a replayed stay and for an audit.

Matplotlib (Agg) draws PNGs; the HTML pages embed them as data URIs, so one file travels alone.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
from matplotlib.figure import Figure

from ..display import number_text, rounded, unit_text

__all__ = [
    "audit_figures",
    "audit_header",
    "audit_html",
    "decision_rows",
    "figure_png",
    "replay_title",
    "stay_figure",
    "stay_html",
]

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
table.figures th{width:28em;font-weight:normal;background:#fafafa}table.meta th{width:14em}
td:first-child{white-space:nowrap}dt{font-family:monospace;margin-top:.4em}dd{margin-left:1.5em;color:#444}
"""


def figure_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _robust_top(values: Sequence[float], floor: float) -> float:
    """An axis top that a lone spike does not set.

    A largest distinct value more than 10 times the next one is a spike (a mis-charted rate:
    7.3 among 0.1s), set aside, at most two of them; then, with many values, the top is 1.3 x
    the 95th percentile unless the largest is within twice that (it then shows whole).
    """
    vals = sorted(v for v in values if v is not None and math.isfinite(v))
    if not vals:
        return floor
    distinct = sorted(set(vals))
    for _ in range(2):
        if len(distinct) > 1 and distinct[-2] > 0 and distinct[-1] > 10 * distinct[-2]:
            distinct.pop()
    vals = [v for v in vals if v <= distinct[-1]]
    p95 = vals[min(len(vals) - 1, int(0.95 * len(vals)))]
    top = vals[-1] * 1.08 if vals[-1] <= 2 * p95 else p95 * 1.3
    return max(top, floor)


def _beyond(ax: Any, points: list[tuple[datetime, float]], top: float, unit: str) -> bool:
    """Points above the axis top drawn at the top edge as marked points with their value."""
    over = [(t, v) for t, v in points if v > top]
    for t, v in over:
        ax.annotate(f"{number_text(float(f'{v:.3g}'))} {unit}", (t, top), fontsize=7,
                    xytext=(2, -10), textcoords="offset points", color="#b00")
    if over:
        ax.scatter([t for t, _ in over], [top] * len(over), marker="^", color="#b00", s=28,
                   zorder=5, clip_on=False, label="above the axis (value shown)")
    return bool(over)


def _legend(ax: Any, loc: str = "upper left") -> None:
    """A legend only when something is labelled (no empty legend box, no warning)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc=loc, fontsize=8, ncol=2)


def stay_figure(
    title: str,
    pressures: dict[str, list[tuple[datetime, float]]],
    decisions: Sequence[dict[str, Any]],
    ne_dose: list[tuple[datetime, float | None]],
    nee: list[tuple[datetime, float | None]],
    fluids: list[tuple[datetime, float | None]],
    *,
    flagged: Sequence[dict[str, Any]] = (),
    weight_kg: float | None = None,
    tz: str = "UTC",
) -> Figure:
    """Pressure against the shaded target band, NE dose, cumulative fluids and decisions.

    Rows not used (artefacts, unit problems, rejected doses: `flagged`) are marked points,
    never part of a line; a spike beyond a robust axis top is drawn at the edge with its
    value. Fluids are cumulative mL (never decreasing). Times are in `tz`.
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    fig, axes = plt.subplots(
        4, 1, figsize=(12, 9.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.5, 1.2, 0.9]}
    )
    ax_bp, ax_ne, ax_fl, ax_dec = axes
    evaluated = [d for d in decisions if d.get("decision")]
    mmhg = unit_text("mm[Hg]")
    dose_unit = unit_text("ug/kg/min")
    # pressure axis: robust top, never below the band's upper bound
    all_bp = [v for m in ("map", "sbp") for _, v in pressures.get(m, [])]
    highs = [d["target_high"] for d in evaluated if d.get("target_high") is not None]
    top = _robust_top(all_bp, max([*highs, 100.0]) + 10)
    band = [d for d in evaluated if d.get("target_low") is not None]
    if band:
        times = [d["time"] for d in band]
        lows = [d["target_low"] for d in band]
        ups = [d["target_high"] if d.get("target_high") is not None else top for d in band]
        measures = "/".join(sorted({d["target_measure"].upper() for d in band}))
        open_top = any(d.get("target_high") is None for d in band)
        ax_bp.fill_between(times, lows, ups, step="post", color="#2ca02c", alpha=0.15,
                           label=f"target band ({measures}"
                                 + (", no upper bound)" if open_top else ")"))
        ax_bp.step(times, lows, where="post", color="#2ca02c", lw=1)
    for measure, style in (("map", dict(color="#1f77b4", s=10)), ("sbp", dict(color="#999", s=6))):
        pts = pressures.get(measure, [])
        if pts:
            ax_bp.scatter([t for t, _ in pts], [min(v, top) for _, v in pts],
                          label=measure.upper(), **style)
            _beyond(ax_bp, [(t, v) for t, v in pts], top, mmhg)
    bad_bp = [f for f in flagged if f["code"] in ("map", "sbp") and f["numeric_value"] is not None]
    if bad_bp:
        ax_bp.scatter([f["time"] for f in bad_bp],
                      [min(max(f["numeric_value"], 0), top) for f in bad_bp],
                      marker="x", color="#b00", s=24, label="artefact (not used)")
    ax_bp.set_ylim(0, top)
    ax_bp.set_ylabel(mmhg)
    ax_bp.set_title(title, fontsize=11)
    _legend(ax_bp)
    dose_vals = [v for _, v in ne_dose if v is not None] + [v for _, v in nee if v is not None]
    dose_top = _robust_top(dose_vals, 0.1)
    if ne_dose:
        ax_ne.step([t for t, _ in ne_dose],
                   [min(v, dose_top) if v is not None else float("nan") for _, v in ne_dose],
                   where="post", color="#ff7f0e", label="norepinephrine")
        _beyond(ax_ne, [(t, v) for t, v in ne_dose if v is not None], dose_top, dose_unit)
    if nee:
        ax_ne.step([t for t, _ in nee],
                   [min(v, dose_top) if v is not None else float("nan") for _, v in nee],
                   where="post", color="#444", lw=0.8, ls="--", label="NE-equivalent")
    bad_ne = [f for f in flagged if f["code"] == "infusion.norepinephrine"]
    if bad_ne:
        kinds = sorted({str(f["quality"]).replace("_", " ") for f in bad_ne})
        ax_ne.scatter([f["time"] for f in bad_ne], [dose_top * 0.95] * len(bad_ne), marker="x",
                      color="#b00", s=28,
                      label=f"{len(bad_ne)} rates not used ({', '.join(kinds)})")
        # each value written out only while they stay readable
        for f in bad_ne if len(bad_ne) <= 8 else []:
            if f["numeric_value"] is not None:
                value = number_text(float(f"{f['numeric_value']:.3g}"))
                ax_ne.annotate(
                    f"{value} {unit_text(f['unit'] or '?')}",
                    (f["time"], dose_top * 0.95), fontsize=7, xytext=(-40, -11),
                    textcoords="offset points", color="#b00")
    ax_ne.set_ylim(0, dose_top)
    ax_ne.set_ylabel(dose_unit)
    if not ne_dose and not bad_ne:
        ax_ne.text(0.5, 0.5, "no norepinephrine charted", transform=ax_ne.transAxes,
                   ha="center", va="center", color="#777")
    _legend(ax_ne, "center left")  # the unused rates are marked along the top
    fl_pts = [(t, v) for t, v in fluids if v is not None]
    if fl_pts:
        ax_fl.step([t for t, _ in fl_pts], [v for _, v in fl_pts], where="post",
                   color="#9467bd")
        last = fl_pts[-1][1]
        per_kg = (f" = {number_text(rounded(last / weight_kg, 'mL/kg'))} mL/kg at "
                  f"{number_text(rounded(weight_kg, 'kg'))} kg (first weight)"
                  if weight_kg else "")
        ax_fl.set_title(f"cumulative fluids: {number_text(rounded(last, 'mL'))} mL{per_kg}",
                        fontsize=9, loc="left")
    else:
        ax_fl.text(0.5, 0.5, "no fluids charted", transform=ax_fl.transAxes, ha="center",
                   va="center", color="#777")
    ax_fl.set_ylabel("cumulative\nfluids, mL")
    codes = [c for c in _DECISION_COLOURS if any(d.get("decision") == c for d in evaluated)]
    for i, code in enumerate(codes):
        ts = [d["time"] for d in evaluated if d["decision"] == code]
        ax_dec.scatter(ts, [i] * len(ts), color=_DECISION_COLOURS[code], s=12, marker="|")
    ax_dec.set_yticks(range(len(codes)), [c.replace("_NOREPINEPHRINE", " NE").replace("_", " ")
                                          .lower() for c in codes], fontsize=7)
    ax_dec.set_ylim(-0.5, max(len(codes), 1) - 0.5)
    # Evenly spaced ticks: with interval multiples, a 2-day locator restarts on the 1st of
    # the month and puts the 31st and the 1st side by side (labels overlapped).
    ax_dec.xaxis.set_major_locator(mdates.AutoDateLocator(  # type: ignore[no-untyped-call]
        tz=zone, maxticks=9, interval_multiples=False))
    ax_dec.xaxis.set_major_formatter(
        mdates.DateFormatter("%Y-%m-%d\n%H:%M", tz=zone))  # type: ignore[no-untyped-call]
    ax_dec.set_xlabel(f"time ({tz})")
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


def _target_text(d: dict[str, Any]) -> str:
    if d.get("target_low") is None:
        return ""
    measure = (d.get("target_measure") or "").upper()
    low = number_text(d["target_low"])
    if d.get("target_high") is None:
        return f"{measure} ≥ {low}"
    return f"{measure} {low}–{number_text(d['target_high'])}"


def replay_title(
    dataset: str, stay: Any, decisions: Sequence[dict[str, Any]], weight_kg: float | None,
    shock_type: str | None,
) -> str:
    """ "eicu-demo stay 2705166 · shock type unknown · 70 kg · target MAP ≥ 65 mmHg"."""
    shock = shock_type or ("hemorrhagic (trauma stay)" if getattr(stay, "trauma", False)
                           else "unknown")
    weight = f"{number_text(rounded(weight_kg, 'kg'))} kg" if weight_kg else "weight unknown"
    targets: dict[str, int] = {}
    for d in decisions:
        if d.get("decision") and d.get("target_low") is not None:
            text = _target_text(d)
            targets[text] = targets.get(text, 0) + 1
    target = (f"target {max(targets, key=lambda k: targets[k])} {unit_text('mm[Hg]')}"
              + (" (mostly)" if len(targets) > 1 else "")) if targets else "no target set"
    return f"{dataset} stay {stay.stay_id} · shock type {shock} · {weight} · {target}"


def decision_rows(decisions: Sequence[dict[str, Any]], tz: str = "UTC") -> list[dict[str, str]]:
    """The decision table as a reader sees it: plain headers, times in `tz`, summaries."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    mmhg, dose = unit_text("mm[Hg]"), unit_text("ug/kg/min")
    out = []
    for d in decisions:
        if not d.get("decision"):
            continue
        p, ne = d.get("pressure"), d.get("ne_dose_ug_kg_min")
        out.append({
            f"Time ({tz})": d["time"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            f"Pressure ({mmhg})": "" if p is None else number_text(rounded(p, "mm[Hg]")),
            f"Target ({mmhg})": _target_text(d),
            f"Norepinephrine ({dose})": "" if ne is None else number_text(rounded(ne,
                                                                                "ug/kg/min")),
            "Decision": d["decision"].replace("_", " ").capitalize(),
            "Alerts": ", ".join(a.replace("_", " ").lower() for a in d.get("alerts") or []),
            "Summary": d.get("summary") or "",
        })
    return out


def stay_html(
    title: str, png: bytes, decisions: Sequence[dict[str, Any]], notes: Sequence[str],
    tz: str = "UTC",
) -> str:
    """One stay: the chart, notes (caveats, a STALE_DATA explanation) and the decision table
    with readable headers, times in `tz` and each decision's summary."""
    rows = decision_rows(decisions, tz)
    return _page(title, [
        f"<h1>{html.escape(title)}</h1>",
        "<p class='note'>Decision support replayed as of each decision time from data at or "
        "before it; not a judgement of the care given.</p>",
        f"<img alt='timeline chart' src='{_data_uri(png)}'>",
        "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes),
        f"<h2>Decisions ({len(rows)})</h2>",
        _table(rows, tuple(rows[0]) if rows else ("Decision",)),
    ])


def _fmt(value: float | None, unit: str) -> str:
    """A number for the report: rounded to its unit's precision, written by display.py."""
    if value is None or not math.isfinite(value):
        return "–"
    return number_text(rounded(value, unit))


def spread_text(headline: dict[str, Any], key: str, unit: str) -> str:
    """ "297 [105–805] min (n = 124 stays)": median [IQR] (n), one line."""
    n = headline.get(f"n_{key}") or 0
    if not n:
        return "no stay with a value"
    scale, shown = (100.0, "%") if unit == "%" else (1.0, unit)
    med, q1, q3 = (headline.get(f"{p}_{key}") for p in ("median", "q1", "q3"))

    def f(v: float | None) -> str:
        return _fmt(None if v is None else v * scale, shown)

    unit_part = f" {unit_text(shown)}" if shown != "%" else " %"
    return f"{f(med)} [{f(q1)}–{f(q3)}]{unit_part} (n = {n} stays)"


def count_text(n: Any, of: Any = None) -> str:
    if of:
        return f"{n} of {of} ({_fmt(100.0 * n / of, '%')} %)"
    return str(n)


# The report's figures: (section, label, key, how). `how` is a unit for "median [IQR] (n)"
# figures (headline keys median_/q1_/q3_/n_ + key), "count" (a headline count), "of:KEY" (a
# count out of another headline count) or "pooled" (a share of all time, in %).
REPORT_FIGURES: tuple[tuple[str, str, str, str], ...] = (
    ("Who is counted", "ICU stays read", "stays_read", "count"),
    ("Who is counted", "Stays with a usable blood pressure (replayed)", "stays_with_pressure",
     "of:stays_read"),
    ("Who is counted", "Stays on norepinephrine", "ne_stays", "of:stays_with_pressure"),
    ("Who is counted", "… of which without a usable dose (no unit, or dose rejected)",
     "ne_stays_without_dose", "of:ne_stays"),
    ("Who is counted", "Stays where the protocol advised starting norepinephrine",
     "stays_criteria_met", "of:stays_with_pressure"),
    ("Starting norepinephrine", "Time from first sustained hypotension to norepinephrine",
     "minutes_hypotension_to_ne", "min"),
    ("Starting norepinephrine", "Time from the protocol's start advice to norepinephrine",
     "minutes_criteria_to_ne", "min"),
    ("Starting norepinephrine", "Started before any start advice (or with none)",
     "ne_stays_started_before_criteria", "of:ne_stays"),
    ("Starting norepinephrine", "Started while volume was not confirmed",
     "ne_starts_volume_not_confirmed", "of:ne_starts_assessed"),
    ("Starting norepinephrine", "First dose", "ne_first_ug_kg_min", "ug/kg/min"),
    ("Blood pressure on norepinephrine", "Time on norepinephrine", "minutes_on_ne", "min"),
    ("Blood pressure on norepinephrine", "Time in the target band (per stay)",
     "fraction_in_target_on_ne", "%"),
    ("Blood pressure on norepinephrine", "Time below the target band (per stay)",
     "fraction_below_target_on_ne", "%"),
    ("Blood pressure on norepinephrine", "Time above the target band (per stay)",
     "fraction_above_target_on_ne", "%"),
    ("Blood pressure on norepinephrine", "All measured time: in / below / above the band",
     "pooled_fraction_in_target_on_ne", "pooled3"),
    ("Blood pressure on norepinephrine", "Time on norepinephrine resting on the rate hold "
     "(per stay)", "fraction_on_ne_held", "%"),
    ("Doses and weaning", "Highest dose", "ne_max_ug_kg_min", "ug/kg/min"),
    ("Doses and weaning", "Stays above the protocol's hard dose limit",
     "stays_dose_above_limit", "of:ne_stays"),
    ("Doses and weaning", "Stays at a high dose", "stays_high_dose", "of:ne_stays"),
    ("Doses and weaning", "Abrupt stops (from a dose above the wean threshold)",
     "abrupt_stops", "of:ne_stops"),
    ("Doses and weaning", "Stays with an abrupt stop", "stays_with_abrupt_stop", "of:ne_stays"),
    ("Data problems", "Rows without a usable unit", "unit_unknown_rows", "count"),
    ("Data problems", "Norepinephrine rows rejected as implausible in their unit",
     "dose_unit_suspect_rows", "count"),
    ("Data problems", "Rows outside the plausible range (artefacts)", "implausible_rows",
     "count"),
    ("Data problems", "Rows superseded by a correction", "rewritten_rows", "count"),
)


def figure_value(headline: dict[str, Any], key: str, how: str) -> str:
    if how == "count":
        return count_text(headline.get(key, 0))
    if how.startswith("of:"):
        return count_text(headline.get(key, 0), headline.get(how[3:]))
    if how == "pooled3":
        parts = [headline.get(f"pooled_fraction_{w}_target_on_ne")
                 for w in ("in", "below", "above")]
        return " / ".join(_fmt(None if v is None else 100 * v, "%") for v in parts) + " %"
    return spread_text(headline, key, how)


def _definition_key(key: str, how: str) -> str:
    return key if how in ("count", "pooled3") or how.startswith("of:") else f"median_{key}"


def _plain(value: float, _pos: int) -> str:
    """Axis tick as clinicians write numbers ("0.1", "100"), never "10^-1"."""
    return number_text(float(f"{value:.3g}")) if value > 0 else ""


_PLAIN = mticker.FuncFormatter(_plain)


def audit_figures(metrics: list[dict[str, Any]]) -> bytes:
    """Delays, time in target and doses per stay: box plots with every stay as a point.

    Outliers do not squash the rest: delays and doses are drawn on log axes (a zero delay is
    drawn at the axis floor and counted in the title).
    """
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))

    def col(name: str, scale: float = 1.0) -> list[float]:
        return [m[name] * scale for m in metrics if m.get(name) is not None]

    def boxes(ax: Any, series: list[list[float]], labels: list[str], log: bool) -> None:
        rng = np.random.default_rng(0)  # fixed jitter: the same picture every run
        shown = [s if s else [float("nan")] for s in series]
        ax.boxplot(shown, showfliers=False, widths=0.5)
        for i, s in enumerate(series, 1):
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(s)), s, s=8, alpha=0.45,
                       color="#555")
        ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
        if log and any(v > 0 for s in series for v in s):  # log needs a positive value
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(_PLAIN)

    hypo, crit = col("minutes_hypotension_to_ne", 1 / 60), col("minutes_criteria_to_ne", 1 / 60)
    floor = 1 / 60  # one minute, in hours
    zeros = sum(1 for v in hypo + crit if v < floor)
    boxes(axes[0], [[max(v, floor) for v in hypo], [max(v, floor) for v in crit]],
          [f"first hypotension\n(n = {len(hypo)})", f"start advice\n(n = {len(crit)})"], True)
    axes[0].set_ylabel("hours to norepinephrine (log)")
    axes[0].set_title("Time to norepinephrine" + (f" ({zeros} under 1 min drawn at 1 min)"
                                                  if zeros else ""), fontsize=10)
    shares = [col(f"fraction_{w}_target_on_ne", 100) for w in ("in", "below", "above")]
    boxes(axes[1], shares, [f"{w}\n(n = {len(s)})" for w, s in
                            zip(("in band", "below", "above"), shares, strict=True)], False)
    axes[1].set_ylim(-3, 103)
    axes[1].set_ylabel("% of measured time on norepinephrine")
    axes[1].set_title("Blood pressure on norepinephrine, per stay", fontsize=10)
    first, top = col("ne_first_ug_kg_min"), col("ne_max_ug_kg_min")
    boxes(axes[2], [first, top], [f"first dose\n(n = {len(first)})",
                                  f"highest dose\n(n = {len(top)})"], True)
    axes[2].set_ylabel(f"norepinephrine, {unit_text('ug/kg/min')} (log)")
    axes[2].set_title("Doses per stay", fontsize=10)
    fig.tight_layout()
    return figure_png(fig)


def trend_rows(metrics: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Per group (`period` = admission year, or `care_unit`): stays, NE stays, medians."""
    import statistics

    groups: dict[str, list[dict[str, Any]]] = {}
    for m in metrics:
        if by == "period":
            key = m["admission"].strftime("%Y") if m.get("admission") else None
        else:
            key = m.get(by)
        groups.setdefault(str(key) if key is not None else "unknown", []).append(m)
    out = []
    for key in sorted(groups):
        rows = groups[key]
        ne = [r for r in rows if r.get("on_ne")]

        def med(name: str, unit: str, scale: float = 1.0,
                ne: list[dict[str, Any]] = ne) -> str:
            vals = [r[name] * scale for r in ne if r.get(name) is not None]
            return f"{_fmt(statistics.median(vals), unit)} (n = {len(vals)})" if vals else "–"

        out.append({"group": key, "stays": len(rows), "on norepinephrine": len(ne),
                    "time in band, median %": med("fraction_in_target_on_ne", "%", 100),
                    "hypotension to norepinephrine, median min":
                        med("minutes_hypotension_to_ne", "min"),
                    "first dose, median mcg/kg/min": med("ne_first_ug_kg_min", "ug/kg/min")})
    return out


def audit_html(
    dataset: str,
    headline: dict[str, Any],
    metrics: list[dict[str, Any]],
    quality: list[dict[str, Any]],
    caveats: Sequence[str],
    definitions: dict[str, str],
    header: dict[str, str] | None = None,
) -> str:
    """The audit report: header, figures as "median [IQR] (n = stays)", charts, trends,
    exclusions and caveats, data problems, and the list of stays on norepinephrine."""
    header = header or {}
    parts = [f"<h1>Norepinephrine audit: {html.escape(dataset)}</h1>",
             "<table class='meta'>" + "".join(
                 f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                 for k, v in header.items()) + "</table>",
             "<p class='note'>Practice measured against the protocol's decision support, "
             "replayed as of each decision time from data at or before it. Thresholds come "
             "from the protocol (knowledge base and site settings). Not a judgement of the care "
             "of any one patient.</p>"]
    section = None
    rows: list[str] = []
    for sec, label, key, how in REPORT_FIGURES:
        if sec != section:
            if rows:
                parts.append("<table class='figures'>" + "".join(rows) + "</table>")
                rows = []
            parts.append(f"<h2>{html.escape(sec)}</h2>")
            section = sec
        dkey = _definition_key(key, how)
        rows.append(f"<tr><th><a href='#def-{dkey}'>{html.escape(label)}</a></th>"
                    f"<td>{html.escape(figure_value(headline, key, how))}</td></tr>")
    parts.append("<table class='figures'>" + "".join(rows) + "</table>")
    parts.append(f"<img alt='audit charts' src='{_data_uri(audit_figures(metrics))}'>")
    years = {m["admission"].year for m in metrics if m.get("admission") is not None}
    shifted = bool(years) and max(years) > datetime.now(UTC).year
    for by, title in (("period", "By year of admission"), ("care_unit", "By unit")):
        if by == "period" and shifted:
            parts.append(f"<h2>{title}</h2><p class='note'>Not shown: this dataset's dates are "
                         f"shifted for de-identification (years {min(years)}–{max(years)}), "
                         "so calendar periods mean nothing.</p>")
            continue
        trend = trend_rows(metrics, by)
        if len(trend) > 1:
            parts += [f"<h2>{title}</h2>", _table(trend, tuple(trend[0]))]
    exclusions = [
        f"{headline.get('stays_read', 0) - headline.get('stays_with_pressure', 0)} stays "
        "without a usable blood pressure: no decision time, not replayed.",
        f"{headline.get('ne_stays_without_dose', 0)} stays on norepinephrine without a usable "
        "dose: counted as exposure and in blood-pressure figures, not in dose figures.",
        f"{headline.get('dose_unit_suspect_rows', 0)} norepinephrine rows in "
        f"{headline.get('stays_with_dose_unit_suspect_rows', 0)} stays rejected as implausible "
        "in their unit: in no dose figure and no course.",
        f"{headline.get('unit_unknown_rows', 0)} rows without a usable unit, "
        f"{headline.get('implausible_rows', 0)} artefacts and "
        f"{headline.get('rewritten_rows', 0)} superseded rows are not used.",
    ]
    parts += ["<h2>Exclusions</h2><ul>"
              + "".join(f"<li>{html.escape(e)}</li>" for e in exclusions) + "</ul>",
              "<h2>Caveats of this dataset</h2><ul>"
              + "".join(f"<li>{html.escape(c)}</li>" for c in caveats) + "</ul>",
              "<h2>Data problems by concept</h2>",
              _table([{"concept": q["code"], "problem": q["quality"], "rows": q["rows"],
                       "stays": q["stays"]} for q in quality],
                     ("concept", "problem", "rows", "stays"))]
    ne_rows = [m for m in metrics if m.get("on_ne")]
    cols = {"stay_id": "stay", "care_unit": "unit", "ne_start": "norepinephrine from",
            "minutes_hypotension_to_ne": "min from hypotension",
            "minutes_criteria_to_ne": "min from start advice",
            "fraction_in_target_on_ne": "share in band", "ne_first_ug_kg_min":
            "first dose (mcg/kg/min)", "ne_max_ug_kg_min": "highest dose (mcg/kg/min)",
            "abrupt_stops": "abrupt stops", "dose_unit_suspect_rows": "rejected rows"}
    parts += [f"<h2>Stays on norepinephrine ({len(ne_rows)})</h2>",
              _table([{v: m.get(k) for k, v in cols.items()} for m in ne_rows],
                     tuple(cols.values()))]
    parts.append("<h2 id='definitions'>Definitions</h2><dl>" + "".join(
        f"<dt id='def-{html.escape(k)}'>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
        for k, v in definitions.items()) + "</dl>")
    return _page(f"Norepinephrine audit: {dataset}", parts)


# The site settings the audit's figures rest on (shown in the report header).
AUDIT_SETTINGS = ("infusion_rate_hold", "pressure_max_age", "default_concentration",
                  "abrupt_stop_above", "unit_suspect_weight")


def audit_header(
    dataset: str, protocol: Any, metrics: list[dict[str, Any]], licence: str,
    generated: datetime,
) -> dict[str, str]:
    """The report's header: what was measured, when, with which software and settings."""
    from .. import __version__

    admissions = [m["admission"] for m in metrics if m.get("admission") is not None]
    period = (f"{min(admissions):%Y-%m-%d} to {max(admissions):%Y-%m-%d} (ICU admissions; "
              "source dates may be shifted or anchored: see caveats)") if admissions else "–"
    settings = []
    for key in AUDIT_SETTINGS:
        s = protocol.settings.get(key)
        if s is not None:
            value = number_text(float(s.value)) if isinstance(s.value, int | float) \
                and not isinstance(s.value, bool) else str(s.value)
            settings.append(f"{key} = {value}{' ' + unit_text(s.unit) if s.unit else ''}")
    overrides = ", ".join(protocol.overrides) or "none (knowledge-base defaults)"
    return {
        "Dataset": dataset,
        "Period": period,
        "Generated": f"{generated:%Y-%m-%d %H:%M} {generated.tzname() or 'UTC'}",
        "Software": f"vasoguide {__version__}",
        "Knowledge base": f"{protocol.name} {protocol.version} ({protocol.digest})",
        "Site settings in force": "; ".join(settings) + f". Site overrides: {overrides}.",
        "Data licence": licence,
    }
