"""Trial measures (SIMULATOR.md 5.5), per patient and across the cohort.

Time-weighted on the true MAP at 1-minute resolution: % time in the band, below, above; depth
(time-weighted average below the lower edge) and duration of hypotension; time to first reach
target; total norepinephrine (ug/kg); titrations per hour; stops and restarts. Cohort figures
are means with a normal 95% CI across patients, and medians with the interquartile range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .cohort import Cohort
from .params import Params

__all__ = [
    "MEASURES",
    "episodes",
    "patient_measures",
    "responsiveness_class",
    "summarise",
    "trace_measures",
]

F = NDArray[np.float64]

# name, label, unit
MEASURES: tuple[tuple[str, str, str], ...] = (
    ("pct_in", "time in band", "%"),
    ("pct_below", "time below band", "%"),
    ("pct_above", "time above band", "%"),
    ("twa_below", "depth: time-weighted average below", "mmHg"),
    ("longest_below", "longest hypotension episode", "min"),
    ("episodes_below", "hypotension episodes", "n"),
    ("time_to_target", "time to first reach target", "min"),
    ("ne_total", "total norepinephrine", "ug/kg"),
    ("ne_peak", "peak norepinephrine", "ug/kg/min"),
    ("titrations_per_h", "titrations per hour", "/h"),
    ("stops", "stops", "n"),
    ("restarts", "restarts", "n"),
    ("pct_vasopressin", "time on vasopressin", "%"),
)


def episodes(below: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Number of runs of True per row, and the longest run per row (minutes)."""
    n, t = below.shape
    padded = np.zeros((n, t + 2), dtype=np.int8)
    padded[:, 1:-1] = below
    d = np.diff(padded, axis=1)
    counts = (d == 1).sum(axis=1)
    longest = np.zeros(n, dtype=np.int64)
    for i in np.flatnonzero(counts):
        starts = np.flatnonzero(d[i] == 1)
        ends = np.flatnonzero(d[i] == -1)
        longest[i] = int((ends - starts).max())
    return counts.astype(np.int64), longest


def trace_measures(true: F, dose: F, avp: F, band: tuple[float, float]) -> dict[str, F]:
    """Measures for each row of minute-by-minute traces (true MAP, NE ug/kg/min, AVP U/min)."""
    lo, hi = band
    hours = true.shape[1] / 60.0
    below = true < lo
    count, longest = episodes(below)
    reached = true >= lo
    first = np.where(reached.any(axis=1), reached.argmax(axis=1), np.nan)
    changes = np.abs(np.diff(dose, axis=1)) > 1e-9
    on = dose > 0
    starts = (~on[:, :-1] & on[:, 1:]).sum(axis=1) + on[:, 0]
    stops = (on[:, :-1] & ~on[:, 1:]).sum(axis=1)
    return {
        "pct_in": 100.0 * ((true >= lo) & (true <= hi)).mean(axis=1),
        "pct_below": 100.0 * below.mean(axis=1),
        "pct_above": 100.0 * (true > hi).mean(axis=1),
        "twa_below": np.clip(lo - true, 0.0, None).mean(axis=1),
        "longest_below": longest.astype(float),
        "episodes_below": count.astype(float),
        "time_to_target": first.astype(float),
        "ne_total": dose.sum(axis=1),  # 1-minute steps: ug/kg/min x min
        "ne_peak": dose.max(axis=1),
        "titrations_per_h": changes.sum(axis=1) / hours,
        "stops": stops.astype(float),
        "restarts": np.clip(starts - 1, 0, None).astype(float),
        "pct_vasopressin": 100.0 * (avp > 0).mean(axis=1),
    }


def responsiveness_class(r: float) -> str:
    return "low (<0.5x)" if r < 0.5 else ("high (>2x)" if r > 2 else "typical (0.5-2x)")


def patient_measures(
    p: Params, c: Cohort, true: F, dose: F, avp: F, policy: str
) -> list[dict[str, Any]]:
    band = p.range("band")
    m = trace_measures(true, dose, avp, band)
    rows = []
    for i in range(c.n):
        row: dict[str, Any] = {
            "policy": policy,
            "patient": int(c.ids[i]),
            "severity": "severe" if c.severe[i] else "moderate",
            "responsiveness": float(c.responsiveness[i]),
            "responsiveness_class": responsiveness_class(float(c.responsiveness[i])),
            "weight": float(c.weight[i]),
            "cl": float(c.cl[i]),
            "dmap": float(c.dmap[i]),
        }
        row.update({k: float(v[i]) for k, v in m.items()})
        rows.append(row)
    return rows


def _ci(values: Sequence[float]) -> dict[str, float]:
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if x.size == 0:
        return {"n": 0, "mean": math.nan, "lo": math.nan, "hi": math.nan,
                "median": math.nan, "q1": math.nan, "q3": math.nan}
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size) if x.size > 1 else math.nan
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return {"n": int(x.size), "mean": float(x.mean()), "lo": float(x.mean() - half),
            "hi": float(x.mean() + half), "median": float(med), "q1": float(q1), "q3": float(q3)}


def summarise(
    rows: Iterable[dict[str, Any]], by: Sequence[str] = ("policy",)
) -> dict[tuple[str, ...], dict[str, dict[str, float]]]:
    """Per group: each measure's mean, 95% CI of the mean, median and IQR."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(str(row[k]) for k in by), []).append(row)
    return {
        key: {name: _ci([r[name] for r in members]) for name, _, _ in MEASURES}
        for key, members in sorted(groups.items())
    }


def calibration(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Manual care: shares of the nurse's readings below / in / above the band while on NE."""
    b = i = a = 0
    for r in rows:
        if r["policy"] == "manual" and "checks_below" in r:
            b, i, a = b + r["checks_below"], i + r["checks_in"], a + r["checks_above"]
    total = b + i + a
    if not total:
        return {"below": math.nan, "in": math.nan, "above": math.nan, "readings": 0}
    return {"below": b / total, "in": i / total, "above": a / total, "readings": total}


def paired_difference(
    rows: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]], name: str
) -> tuple[float, float, float]:
    """Mean of (rows - reference) for the same patients, with its normal 95% CI.

    Sweep points run on the same seeded patients, so the per-patient difference removes the
    between-patient spread that makes unpaired intervals overlap.
    """
    ref = {r["patient"]: r[name] for r in reference}
    d = np.asarray([r[name] - ref[r["patient"]] for r in rows if r["patient"] in ref], float)
    d = d[~np.isnan(d)]
    if d.size < 2:
        return (float(d.mean()) if d.size else math.nan, math.nan, math.nan)
    half = 1.96 * d.std(ddof=1) / math.sqrt(d.size)
    return (float(d.mean()), float(d.mean() - half), float(d.mean() + half))


__all__ += ["calibration", "paired_difference"]
