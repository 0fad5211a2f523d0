"""Synthetic ICU stays in the MIMIC-III MetaVision layout, at realistic density, for benchmarks.

Density follows the reference anchors (ICU-DATA-SIM-PERF.md 1.2 and 3): about 4,600 chartevents
rows and 120 inputevents rows per stay, about 100 MAP and SBP readings per stay (the rest are
other items the readers skip), about a quarter of stays on norepinephrine (median 0.10
ug/kg/min), and the unit traps the readers must survive: `Rewritten` rows, weights charted in
pounds without a unit, doses charted in mg/kg/min, and monitor artefacts. The numbers are
shape parameters of fake data, not clinical facts. Written as parquet parts of bounded size so
10^8 rows never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["Density", "generate"]

_EPOCH = datetime(2150, 1, 1, tzinfo=UTC)
_OTHER_CHART_ITEMS = np.array(
    [220045, 220277, 220210, 223761, 220739, 223900, 223901, 220180, 220051, 224690]
)
_FLUID_ITEMS = np.array([225158, 225828])  # NaCl 0.9 %, LR
_OTHER_DRUGS = np.array([222168, 221744, 225154, 221668])  # propofol, fentanyl... (unmapped)


class Density:
    """Rows per stay (shape of the fake data)."""

    chart_rows = 4600
    input_rows = 120
    bp_readings = 100
    output_rows = 57
    lactates = 6
    ne_fraction = 0.25
    ne_segments = 30


def _us(hours: np.ndarray) -> np.ndarray:
    return (hours * 3_600_000_000).astype("int64")


def _ts(micros: np.ndarray) -> pa.Array:
    base = int(_EPOCH.timestamp() * 1_000_000)
    return pa.array(micros + base, pa.timestamp("us"))


def _write(folder: Path, table: str, part: int, data: dict[str, pa.Array]) -> None:
    out = folder / table
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(data), out / f"part-{part:05d}.parquet", compression="zstd")


def generate(
    folder: Path,
    stays: int,
    seed: int = 0,
    stays_per_part: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write `stays` synthetic stays under `folder`; return row counts per table."""
    rng = np.random.default_rng(seed)
    counts = {"icustays": 0, "chartevents": 0, "inputevents_mv": 0, "outputevents": 0,
              "labevents": 0}
    for part, first in enumerate(range(0, stays, stays_per_part)):
        n = min(stays_per_part, stays - first)
        for table, data in _part(rng, first, n).items():
            _write(folder, table, part, data)
            counts[table] += len(next(iter(data.values())))
        if progress:
            progress(n)
    return counts


def _part(rng: np.random.Generator, first: int, n: int) -> dict[str, dict[str, pa.Array]]:
    d = Density
    stay_id = np.arange(first, first + n, dtype="int64") + 200_000
    subject = stay_id + 1_000_000
    start_h = rng.uniform(0, 24 * 365 * 5, n)
    los_h = rng.uniform(24, 144, n)
    on_ne = rng.random(n) < d.ne_fraction
    weight = rng.normal(80, 18, n).clip(40, 180)
    out: dict[str, dict[str, pa.Array]] = {}
    out["icustays"] = {
        "subject_id": pa.array(subject), "hadm_id": pa.array(subject + 5_000_000),
        "icustay_id": pa.array(stay_id), "dbsource": pa.array(["metavision"] * n),
        "first_careunit": pa.array(rng.choice(["MICU", "SICU", "TSICU", "CCU"], n)),
        "intime": _ts(_us(start_h)), "outtime": _ts(_us(start_h + los_h)),
    }

    # chartevents: BP pairs (MAP + SBP at one instant), one weight, the rest other items
    k = d.bp_readings
    frac = (np.arange(k) + rng.random((n, k))) / k
    bp_t = start_h[:, None] + frac * los_h[:, None]
    ne_phase = on_ne[:, None] & (frac > 0.2) & (frac < 0.7)
    mean_map = np.where(ne_phase, 62.0, 76.0)
    mapv = mean_map + rng.normal(0, 7, (n, k))
    art = rng.random(n) < 0.6
    artefact = rng.random((n, k)) < 0.002
    mapv = np.where(artefact, 0.0, mapv).round()
    sbpv = np.where(artefact, 0.0, mapv + 35 + rng.normal(0, 8, (n, k))).round()
    map_item = np.where(art, 220052, 220181)[:, None].repeat(k, 1)
    sbp_item = np.where(art, 220050, 220179)[:, None].repeat(k, 1)
    other = d.chart_rows - 2 * k - 1
    oth_t = start_h[:, None] + rng.random((n, other)) * los_h[:, None]
    oth_item = rng.choice(_OTHER_CHART_ITEMS, (n, other))
    lb = rng.random(n) < 0.1  # unit trap: admission weight in pounds, no unit charted
    w_item = np.where(lb, 226531, 226512)
    w_val = np.where(lb, weight * 2.20462, weight).round(1)
    stay_rep = np.repeat(stay_id, d.chart_rows)
    times = np.concatenate([bp_t, bp_t, oth_t, start_h[:, None]], axis=1).ravel()
    items = np.concatenate([map_item, sbp_item, oth_item, w_item[:, None]], axis=1).ravel()
    values = np.concatenate(
        [mapv, sbpv, rng.normal(90, 15, (n, other)).round(), w_val[:, None]], axis=1
    ).ravel()
    units = np.where(np.isin(items, [226512]), "kg", "mmHg").astype(object)
    units[np.isin(items, [226531])] = None  # the pound weight has no unit in the source
    out["chartevents"] = {
        "subject_id": pa.array(stay_rep + 1_000_000), "icustay_id": pa.array(stay_rep),
        "itemid": pa.array(items), "charttime": _ts(_us(times)),
        "valuenum": pa.array(values), "valueuom": pa.array(units, pa.string()),
    }

    # inputevents_mv: NE segments on a quarter of stays, fluid boluses, unmapped drugs
    m = d.input_rows
    seg = d.ne_segments
    ne_start = start_h + 0.2 * los_h
    seg_len = 0.5 * los_h / seg
    s_t = ne_start[:, None] + np.arange(seg) * seg_len[:, None]
    rate = np.exp(rng.normal(np.log(0.1), 0.7, (n, seg))).clip(0.01, 2)
    # unit trap (mimic-code's mis-documented rows): a mcg/kg/min value labelled mg/kg/min
    mis_unit = rng.random((n, seg)) < 0.003
    rewritten = rng.random((n, seg)) < 0.02
    ne_item = np.where(on_ne[:, None], 221906, _OTHER_DRUGS[0]).repeat(seg, 1)
    fl = 10
    f_t = start_h[:, None] + rng.random((n, fl)) * 0.3 * los_h[:, None]
    rest = m - seg - fl
    r_t = start_h[:, None] + rng.random((n, rest)) * los_h[:, None]
    st = np.concatenate([s_t, f_t, r_t], axis=1)
    en = np.concatenate([s_t + seg_len[:, None], f_t + 0.5, r_t + 1.0], axis=1)
    item = np.concatenate(
        [ne_item, rng.choice(_FLUID_ITEMS, (n, fl)), rng.choice(_OTHER_DRUGS, (n, rest))], axis=1
    )
    rt = np.concatenate(
        [rate, np.full((n, fl), np.nan),
         rng.uniform(1, 50, (n, rest))], axis=1)
    rate_uom = np.concatenate(
        [np.where(mis_unit, "mg/kg/min", "mcg/kg/min"), np.full((n, fl), None),
         np.full((n, rest), "mL/hour")], axis=1)
    amount = np.concatenate(
        [rate * seg_len[:, None] * 60 * weight[:, None] / 1000, np.full((n, fl), 500.0),
         rng.uniform(5, 100, (n, rest))], axis=1)
    amount_uom = np.concatenate(
        [np.full((n, seg), "mg"), np.full((n, fl), "ml"), np.full((n, rest), "ml")], axis=1)
    status = np.concatenate(
        [np.where(rewritten, "Rewritten", "Changed"), np.full((n, fl), "FinishedRunning"),
         np.full((n, rest), "FinishedRunning")], axis=1)
    rep = np.repeat(stay_id, m)
    out["inputevents_mv"] = {
        "subject_id": pa.array(rep + 1_000_000), "icustay_id": pa.array(rep),
        "starttime": _ts(_us(st.ravel())), "endtime": _ts(_us(en.ravel())),
        "itemid": pa.array(item.ravel()), "amount": pa.array(amount.ravel()),
        "amountuom": pa.array(amount_uom.ravel(), pa.string()),
        "rate": pa.array(rt.ravel(), from_pandas=True),
        "rateuom": pa.array(rate_uom.ravel(), pa.string()),
        "patientweight": pa.array(np.repeat(weight.round(1), m)),
        "statusdescription": pa.array(status.ravel(), pa.string()),
    }

    o = d.output_rows
    o_t = start_h[:, None] + (np.arange(o) + 1) / (o + 1) * los_h[:, None]
    rep = np.repeat(stay_id, o)
    out["outputevents"] = {
        "subject_id": pa.array(rep + 1_000_000), "icustay_id": pa.array(rep),
        "charttime": _ts(_us(o_t.ravel())), "itemid": pa.array(np.full(n * o, 226559)),
        "value": pa.array(rng.gamma(2.0, 40.0, n * o).round()),
        "valueuom": pa.array(["mL"] * (n * o)),
    }
    lab = d.lactates
    l_t = start_h[:, None] + rng.random((n, lab)) * los_h[:, None]
    rep = np.repeat(stay_id, lab)
    out["labevents"] = {
        "subject_id": pa.array(rep + 1_000_000), "itemid": pa.array(np.full(n * lab, 50813)),
        "charttime": _ts(_us(l_t.ravel())),
        "valuenum": pa.array(rng.lognormal(np.log(2.0), 0.5, n * lab).round(1)),
        "valueuom": pa.array(["mmol/L"] * (n * lab)),
    }
    return out
