"""MEDS event tables (Medical Event Data Standard) -> canonical events.

Reads every parquet file under a folder (MEDS `data/**/*.parquet`, or one events file). The
MIMIC-IV demo conversion has no stay identifiers and no rate units: stays pair each subject's
k-th ICU_ADMISSION with its k-th ICU_DISCHARGE (stay_id = subject_id * 100 + k); rate units are
stated per item in concepts/meds.yaml; INFUSION_START (rate) and INFUSION_END (amount) of one
subject and item pair in time order. Unit trap: "Admission Weight (lbs.)" came out as
`LAB//226531//UNK`; it is read as pounds.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from ..dictionary import load_source_map, normalise
from ..events import EventSet, segments_to_events
from ._sql import DatasetError, connect, finish, ident, item_map, quote, utc

__all__ = ["read_meds"]

CAVEATS = (
    "MEDS conversion dropped `Rewritten` status and rate units: corrected infusion rows may "
    "overlap (the latest start wins); units are stated per item in concepts/meds.yaml.",
    "No stay ids: the k-th ICU admission is paired with the k-th ICU discharge of a subject.",
    "Times are PhysioNet's shifted dates, read as UTC; only durations are meaningful.",
)


def _source(folder: Path) -> str:
    if folder.is_file():
        return f"read_parquet({quote(str(folder))})"
    files = sorted(folder.glob("**/*.parquet"))
    if not files:
        raise DatasetError(f"{folder} holds no MEDS parquet files")
    return f"read_parquet({quote(str(folder))} || '/**/*.parquet', union_by_name = true)"


def read_meds(
    folder: Path, con: duckdb.DuckDBPyConnection | None = None, dataset: str = "meds"
) -> EventSet:
    con = con or connect()
    spec = load_source_map("meds")
    tz = spec["timezone"]
    prefix = ident(dataset)
    cols = {c.lower() for c in con.sql(f"SELECT * FROM {_source(folder)} LIMIT 0").columns}
    value = "numeric_value" if "numeric_value" in cols else "value"
    if not {"subject_id", "time", "code"} <= cols or value not in cols:
        raise DatasetError(f"{folder} is not MEDS: needs subject_id, time, code, numeric_value")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {prefix}_meds AS
        SELECT CAST(subject_id AS BIGINT) AS subject_id, {utc('time', tz)} AS time,
               CAST(code AS VARCHAR) AS code, CAST({value} AS DOUBLE) AS value,
               split_part(code, '//', 1) AS kind,
               TRY_CAST(split_part(code, '//', 2) AS BIGINT) AS item,
               nullif(split_part(code, '//', 3), '') AS code_unit
        FROM {_source(folder)} WHERE time IS NOT NULL
        """
    )
    m = f"{prefix}_meds"
    trauma = ", ".join(quote(u) for u in spec.get("trauma_units", [])) or "NULL"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {prefix}_stays AS
        WITH adm AS (
            SELECT subject_id, time, split_part(code, '//', 2) AS unit_name,
                   row_number() OVER (PARTITION BY subject_id ORDER BY time) AS k
            FROM {m} WHERE kind = 'ICU_ADMISSION'
        ), dis AS (
            SELECT subject_id, time,
                   row_number() OVER (PARTITION BY subject_id ORDER BY time) AS k
            FROM {m} WHERE kind = 'ICU_DISCHARGE'
        ), birth AS (
            SELECT subject_id, min(time) AS born FROM {m} WHERE code = 'MEDS_BIRTH' GROUP BY 1
        )
        SELECT adm.subject_id * 100 + adm.k AS stay_id, adm.subject_id,
               adm.time AS admission, dis.time AS discharge, adm.unit_name AS care_unit,
               adm.unit_name IN ({trauma}) AS trauma,
               CAST(NULL AS BOOLEAN) AS brain_injury, CAST(NULL AS BOOLEAN) AS spinal_injury,
               CASE WHEN born IS NOT NULL
                    THEN date_diff('day', born, adm.time) / 365.25 END AS age_years
        FROM adm LEFT JOIN dis USING (subject_id, k) LEFT JOIN birth USING (subject_id)
        """
    )
    stays = f"{prefix}_stays"
    lab = item_map(con, f"{prefix}_lab", spec["lab"], pa.int64())
    out = item_map(con, f"{prefix}_out", spec["fluid_output"], pa.int64())
    inf = item_map(con, f"{prefix}_inf", spec["infusion"], pa.int64())
    fl = item_map(con, f"{prefix}_fluid", spec["fluid"], pa.int64())
    in_stay = (
        f"JOIN {stays} s ON e.subject_id = s.subject_id AND e.time >= s.admission "
        "AND (s.discharge IS NULL OR e.time <= s.discharge)"
    )

    def rows(kind: str, mapping: str, unit: str, source: str, time: str = "e.time") -> str:
        return f"""
            SELECT e.subject_id, s.stay_id, {time} AS time, mp.code,
                   e.value * mp.sign AS numeric_value, {unit} AS src_unit, mp.method,
                   CAST(NULL AS VARCHAR) AS action, CAST(NULL AS DOUBLE) AS concentration,
                   {source} AS source, CAST(NULL AS VARCHAR) AS quality
            FROM {m} e JOIN {mapping} mp ON e.item = mp.key {in_stay}
            WHERE e.kind = '{kind}' AND e.value IS NOT NULL
        """

    raw = [
        rows("LAB", lab, "coalesce(mp.unit, e.code_unit)", "e.code"),
        rows("SUBJECT_FLUID_OUTPUT", out, "coalesce(mp.unit, e.code_unit)", "e.code"),
        rows("INFUSION_END", fl, "'mL'", "e.code"),
        f"""
        SELECT e.subject_id, s.stay_id, e.time, 'weight', e.value, 'kg', NULL, NULL, NULL,
               e.code, NULL
        FROM {m} e {in_stay} WHERE e.code = {quote(spec['weight_code'])} AND e.value IS NOT NULL
        """,
    ]
    # Pair the k-th start with the k-th end of the same subject and item.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW {prefix}_seg_raw AS
        WITH st AS (
            SELECT subject_id, item, time, value,
                   row_number() OVER (PARTITION BY subject_id, item ORDER BY time, value) AS k
            FROM {m} WHERE kind = 'INFUSION_START' AND item IN (SELECT key FROM {inf})
        ), en AS (
            SELECT subject_id, item, time,
                   row_number() OVER (PARTITION BY subject_id, item ORDER BY time) AS k
            FROM {m} WHERE kind = 'INFUSION_END' AND item IN (SELECT key FROM {inf})
        )
        SELECT e.subject_id, s.stay_id, e.time, mp.code, e.value AS numeric_value,
               mp.unit AS src_unit, CAST(NULL AS VARCHAR) AS method,
               CAST(NULL AS VARCHAR) AS action, CAST(NULL AS DOUBLE) AS concentration,
               'INFUSION_START//' || CAST(e.item AS VARCHAR) AS source,
               CAST(NULL AS VARCHAR) AS quality, en.time AS seg_end
        FROM st e JOIN en USING (subject_id, item, k) JOIN {inf} mp ON e.item = mp.key
        -- an infusion running at ICU admission is running: a segment that started before
        -- admission and ends after it belongs to the stay (the patient arrived on it)
        JOIN {stays} s ON e.subject_id = s.subject_id
             AND (e.time >= s.admission OR en.time > s.admission)
             AND (s.discharge IS NULL OR e.time <= s.discharge)
        """
    )
    seg = normalise(con, f"{prefix}_seg_raw", spec["unit_aliases"], extra=("seg_end",))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {prefix}_seg AS {seg.sql_query()}")
    infusions = [segments_to_events(con, f"{prefix}_seg")]
    events = finish(con, prefix, raw, infusions, spec["unit_aliases"])
    return EventSet(con, events, stays, dataset, CAVEATS)
