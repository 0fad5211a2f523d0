"""MIMIC raw tables (MIMIC-III demo layout: MetaVision and CareVue) -> canonical events.

Reads chartevents, labevents, outputevents, inputevents_mv (rate segments), inputevents_cv
(charted rates) and icustays from a folder of .csv.gz, .csv or .parquet files. Item ids come
from concepts/mimic.yaml. Unit traps handled: `Rewritten` MetaVision rows are flagged and not
used; "Admission Weight (lbs.)" has no unit in the data and is read as pounds; CareVue spells
units without slashes (`mcgkgmin`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from ..dictionary import load_source_map, normalise
from ..events import EventSet, charted_rates_to_segments, segments_to_events
from ._sql import (
    connect,
    default_rate_hold,
    find_optional,
    find_table,
    finish,
    ident,
    item_map,
    quote,
    utc,
)

__all__ = ["read_mimic"]

CAVEATS = (
    "MIMIC-III demo: every demo patient eventually died, so outcome figures are biased.",
    "Times are PhysioNet's shifted dates, read as UTC; only durations are meaningful.",
    "CareVue rates are charted at instants; each holds until the next row, at most 6 h "
    "(ricu's convention, the last row included), so CareVue course ends are approximate.",
    "Lactate from labevents has no stay id; it is attached to the ICU stay whose "
    "admission-discharge window contains it, at specimen time (the result came later).",
)


def read_mimic(
    folder: Path,
    con: duckdb.DuckDBPyConnection | None = None,
    dataset: str = "mimic",
    rate_hold_minutes: float | None = None,
) -> EventSet:
    con = con or connect()
    spec = load_source_map("mimic")
    tz = spec["timezone"]
    chart = item_map(con, "_mimic_chart", spec["chartevents"], pa.int64())
    lab = item_map(con, "_mimic_lab", spec["labevents"], pa.int64())
    out = item_map(con, "_mimic_out", spec["outputevents"], pa.int64())
    mv = item_map(con, "_mimic_mv", spec["inputevents_mv"], pa.int64())
    fl = item_map(con, "_mimic_fluid", spec["fluids_mv"], pa.int64())
    cv = item_map(con, "_mimic_cv", spec["inputevents_cv"], pa.int64())

    icu = find_table(folder, "icustays")
    stay_col = _stay_column(con, icu)
    trauma = ", ".join(quote(u) for u in spec.get("trauma_units", [])) or "NULL"
    patients = find_optional(folder, "patients")
    age = "NULL"
    join_pat = ""
    if patients:
        # Ages over 89 are shifted to ~300 years in MIMIC; they are not reported (NULL).
        age = (
            f"CASE WHEN date_diff('day', {utc('p.dob', tz)}, {utc('i.intime', tz)}) / 365.25 "
            f"<= 130 THEN date_diff('day', {utc('p.dob', tz)}, {utc('i.intime', tz)}) / 365.25 "
            "END"
        )
        join_pat = f"LEFT JOIN {patients} p ON TRY_CAST(p.subject_id AS BIGINT) = "
        join_pat += "TRY_CAST(i.subject_id AS BIGINT)"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {ident(dataset)}_stays AS
        SELECT TRY_CAST(i.{stay_col} AS BIGINT) AS stay_id,
               TRY_CAST(i.subject_id AS BIGINT) AS subject_id,
               {utc('i.intime', tz)} AS admission, {utc('i.outtime', tz)} AS discharge,
               CAST(i.first_careunit AS VARCHAR) AS care_unit,
               i.first_careunit IN ({trauma}) AS trauma,
               CAST(NULL AS BOOLEAN) AS brain_injury, CAST(NULL AS BOOLEAN) AS spinal_injury,
               CAST({age} AS DOUBLE) AS age_years
        FROM {icu} i {join_pat}
        WHERE TRY_CAST(i.{stay_col} AS BIGINT) IS NOT NULL
        """
    )
    stays = f"{ident(dataset)}_stays"

    raw: list[str] = []
    ce = find_table(folder, "chartevents")
    err = _error_flag(con, ce)
    raw.append(
        f"""
        SELECT TRY_CAST(c.subject_id AS BIGINT) AS subject_id,
               TRY_CAST(c.{stay_col} AS BIGINT) AS stay_id, {utc('c.charttime', tz)} AS time,
               m.code, TRY_CAST(c.valuenum AS DOUBLE) * m.sign AS numeric_value,
               coalesce(m.unit, CAST(c.valueuom AS VARCHAR)) AS src_unit, m.method,
               CAST(NULL AS VARCHAR) AS action, CAST(NULL AS DOUBLE) AS concentration,
               'chartevents//' || CAST(c.itemid AS VARCHAR) AS source,
               CASE WHEN {err} THEN 'implausible' END AS quality
        FROM {ce} c JOIN {chart} m ON TRY_CAST(c.itemid AS BIGINT) = m.key
        WHERE c.{stay_col} IS NOT NULL AND TRY_CAST(c.valuenum AS DOUBLE) IS NOT NULL
        """
    )
    le = find_optional(folder, "labevents")
    if le:
        raw.append(
            f"""
            SELECT s.subject_id, s.stay_id, {utc('l.charttime', tz)} AS time, m.code,
                   TRY_CAST(l.valuenum AS DOUBLE) AS numeric_value,
                   coalesce(m.unit, CAST(l.valueuom AS VARCHAR)), m.method, NULL, NULL,
                   'labevents//' || CAST(l.itemid AS VARCHAR), NULL
            FROM {le} l JOIN {lab} m ON TRY_CAST(l.itemid AS BIGINT) = m.key
            JOIN {stays} s ON TRY_CAST(l.subject_id AS BIGINT) = s.subject_id
                 AND {utc('l.charttime', tz)} BETWEEN s.admission AND s.discharge
            WHERE TRY_CAST(l.valuenum AS DOUBLE) IS NOT NULL
            """
        )
    oe = find_optional(folder, "outputevents")
    if oe:
        oerr = "TRY_CAST(o.iserror AS INTEGER) = 1" if _has(con, oe, "iserror") else "false"
        raw.append(
            f"""
            SELECT TRY_CAST(o.subject_id AS BIGINT), TRY_CAST(o.{stay_col} AS BIGINT),
                   {utc('o.charttime', tz)}, m.code, TRY_CAST(o.value AS DOUBLE) * m.sign,
                   coalesce(m.unit, CAST(o.valueuom AS VARCHAR)), m.method, NULL, NULL,
                   'outputevents//' || CAST(o.itemid AS VARCHAR),
                   CASE WHEN {oerr} THEN 'implausible' END
            FROM {oe} o JOIN {out} m ON TRY_CAST(o.itemid AS BIGINT) = m.key
            WHERE o.{stay_col} IS NOT NULL AND TRY_CAST(o.value AS DOUBLE) IS NOT NULL
            """
        )
    infusions: list[duckdb.DuckDBPyRelation] = []
    iv = find_optional(folder, "inputevents_mv")
    if iv:
        # Weight charted on every MetaVision row is a per-row weight: one event per distinct one.
        raw.append(
            f"""
            SELECT DISTINCT TRY_CAST(subject_id AS BIGINT), TRY_CAST({stay_col} AS BIGINT),
                   {utc('starttime', tz)}, 'weight', TRY_CAST(patientweight AS DOUBLE), 'kg',
                   NULL, NULL, NULL, 'inputevents_mv.patientweight', NULL
            FROM {iv} WHERE TRY_CAST(patientweight AS DOUBLE) IS NOT NULL
                  AND {stay_col} IS NOT NULL
            """
        )
        raw.append(
            f"""
            SELECT TRY_CAST(v.subject_id AS BIGINT), TRY_CAST(v.{stay_col} AS BIGINT),
                   {utc('v.endtime', tz)}, m.code, TRY_CAST(v.amount AS DOUBLE),
                   CAST(v.amountuom AS VARCHAR), NULL, NULL, NULL,
                   'inputevents_mv//' || CAST(v.itemid AS VARCHAR),
                   CASE WHEN v.statusdescription = 'Rewritten' THEN 'rewritten' END
            FROM {iv} v JOIN {fl} m ON TRY_CAST(v.itemid AS BIGINT) = m.key
            WHERE TRY_CAST(v.amount AS DOUBLE) IS NOT NULL AND v.{stay_col} IS NOT NULL
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW _mimic_mv_raw AS
            SELECT TRY_CAST(v.subject_id AS BIGINT) AS subject_id,
                   TRY_CAST(v.{stay_col} AS BIGINT) AS stay_id, {utc('v.starttime', tz)} AS time,
                   m.code, TRY_CAST(v.rate AS DOUBLE) AS numeric_value,
                   CAST(v.rateuom AS VARCHAR) AS src_unit, CAST(NULL AS VARCHAR) AS method,
                   CAST(NULL AS VARCHAR) AS action, CAST(NULL AS DOUBLE) AS concentration,
                   'inputevents_mv//' || CAST(v.itemid AS VARCHAR) AS source,
                   CASE WHEN v.statusdescription = 'Rewritten' THEN 'rewritten' END AS quality,
                   {utc('v.endtime', tz)} AS seg_end
            FROM {iv} v JOIN {mv} m ON TRY_CAST(v.itemid AS BIGINT) = m.key
            WHERE TRY_CAST(v.rate AS DOUBLE) IS NOT NULL AND v.{stay_col} IS NOT NULL
            """
        )
        seg = normalise(con, "_mimic_mv_raw", spec["unit_aliases"], extra=("seg_end",))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _mimic_mv_seg AS {seg.sql_query()}")
        infusions.append(segments_to_events(con, "_mimic_mv_seg"))
    cvt = find_optional(folder, "inputevents_cv")
    if cvt:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW _mimic_cv_raw AS
            SELECT TRY_CAST(v.subject_id AS BIGINT) AS subject_id,
                   TRY_CAST(v.{stay_col} AS BIGINT) AS stay_id, {utc('v.charttime', tz)} AS time,
                   m.code, TRY_CAST(v.rate AS DOUBLE) AS numeric_value,
                   CAST(v.rateuom AS VARCHAR) AS src_unit, CAST(NULL AS VARCHAR) AS method,
                   CAST(NULL AS VARCHAR) AS action, CAST(NULL AS DOUBLE) AS concentration,
                   'inputevents_cv//' || CAST(v.itemid AS VARCHAR) AS source,
                   CAST(NULL AS VARCHAR) AS quality
            FROM {cvt} v JOIN {cv} m ON TRY_CAST(v.itemid AS BIGINT) = m.key
            WHERE TRY_CAST(v.rate AS DOUBLE) IS NOT NULL AND v.{stay_col} IS NOT NULL
            """
        )
        rates = normalise(con, "_mimic_cv_raw", spec["unit_aliases"])
        con.execute(f"CREATE OR REPLACE TEMP TABLE _mimic_cv_rates AS {rates.sql_query()}")
        hold = default_rate_hold() if rate_hold_minutes is None else rate_hold_minutes
        segs = charted_rates_to_segments(con, "_mimic_cv_rates", hold, hold)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _mimic_cv_seg AS {segs.sql_query()}")
        infusions.append(segments_to_events(con, "_mimic_cv_seg"))
    events = finish(con, ident(dataset), raw, infusions, spec["unit_aliases"])
    return EventSet(con, events, stays, dataset, CAVEATS)


def _stay_column(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """MIMIC-III names the ICU stay `icustay_id`, MIMIC-IV `stay_id`."""
    cols = {c.lower() for c in con.sql(f"SELECT * FROM {table} LIMIT 0").columns}
    if "icustay_id" in cols:
        return "icustay_id"
    if "stay_id" in cols:
        return "stay_id"
    from ._sql import DatasetError

    raise DatasetError(f"icustays has neither icustay_id nor stay_id (columns: {sorted(cols)})")


def _has(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return column in {c.lower() for c in con.sql(f"SELECT * FROM {table} LIMIT 0").columns}


def _error_flag(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """MetaVision chartevents mark charting errors in `error` (1); other layouts lack it."""
    return "TRY_CAST(c.error AS INTEGER) = 1" if _has(con, table, "error") else "false"
