"""eICU-CRD tables -> canonical events.

Times are minutes from unit admission (`*offset`); each unit stay is anchored at 1 January of
its hospital discharge year at its unit admission clock time, in UTC. Unit traps: the infusion
unit hides inside `drugname` ("Norepinephrine (mcg/min)", "(ml/hr)", or "()" with no unit, which
is flagged `unit_unknown`); `drugrate` is text; mL/h rows need the concentration, taken from
drugamount/volumeoffluid (drug in mg, vasopressin in units) or from the name ("4 mg ... 250 ml");
intakeoutput charts body weight in pounds beside kilograms.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..dictionary import load_source_map, normalise
from ..events import EventSet, charted_rates_to_segments, segments_to_events
from ._sql import connect, default_rate_hold, find_optional, find_table, finish, ident, quote

__all__ = ["read_eicu"]

CAVEATS = (
    "eICU demo has no lab, vitalperiodic or nursecharting tables: no lactate and no arterial "
    "MAP; decisions rest on non-invasive (cuff) pressures.",
    "Infusion rates are charted at instants; each holds until the next row, at most the "
    "site's `infusion_rate_hold` (default 6 h, ricu's convention).",
    "Norepinephrine rows in mL/h without a concentration use the protocol's default "
    "concentration when converted to ug/kg/min; rows with `()` have no unit: they count as "
    "exposure (that it ran, when) but give no dose.",
    "The admission weight applies from the first infusion row when an infusion was charted "
    "before unit admission (negative offsets: the patient arrived on it).",
    "Times are offsets from unit admission anchored at an arbitrary date; only durations matter.",
)


def read_eicu(
    folder: Path,
    con: duckdb.DuckDBPyConnection | None = None,
    dataset: str = "eicu",
    rate_hold_minutes: float | None = None,
) -> EventSet:
    con = con or connect()
    hold = default_rate_hold() if rate_hold_minutes is None else rate_hold_minutes
    spec = load_source_map("eicu")
    prefix = ident(dataset)
    pat = find_table(folder, "patient")
    dx = "lower(coalesce(apacheadmissiondx, ''))"
    not_excluded = f"NOT regexp_matches({dx}, {quote(spec['trauma_dx_exclude'])})"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {prefix}_stays AS
        SELECT TRY_CAST(patientunitstayid AS BIGINT) AS stay_id,
               TRY_CAST(patienthealthsystemstayid AS BIGINT) AS subject_id,
               timezone('UTC', make_date(coalesce(TRY_CAST(hospitaldischargeyear AS INT),
                        2000), 1, 1)
                   + coalesce(TRY_CAST(unitadmittime24 AS TIME), TIME '00:00:00'))
                   AS admission,
               CAST(NULL AS TIMESTAMPTZ) AS discharge,
               CAST(unittype AS VARCHAR) AS care_unit,
               regexp_matches({dx}, {quote(spec['trauma_dx'])}) AND {not_excluded} AS trauma,
               regexp_matches({dx}, {quote(spec['brain_injury_dx'])}) AND {not_excluded}
                   AS brain_injury,
               regexp_matches({dx}, {quote(spec['spinal_injury_dx'])}) AND {not_excluded}
                   AS spinal_injury,
               CASE WHEN age = '> 89' THEN NULL ELSE TRY_CAST(age AS DOUBLE) END AS age_years,
               TRY_CAST(unitdischargeoffset AS DOUBLE) AS discharge_offset,
               TRY_CAST(admissionweight AS DOUBLE) AS admission_weight
        FROM {pat} WHERE TRY_CAST(patientunitstayid AS BIGINT) IS NOT NULL
        """
    )
    con.execute(
        f"UPDATE {prefix}_stays SET discharge = admission + "
        "to_minutes(CAST(discharge_offset AS BIGINT)) WHERE discharge_offset IS NOT NULL"
    )
    stays_full = f"{prefix}_stays"
    drug = find_optional(folder, "infusiondrug")
    # A patient who arrives on an infusion has rows at negative offsets; the weight known at
    # admission is the patient's weight minutes before it, so it is placed at the first row.
    con.execute(f"ALTER TABLE {stays_full} ADD COLUMN first_infusion TIMESTAMPTZ")
    if drug:
        con.execute(
            f"""
            UPDATE {stays_full} s
            SET first_infusion = s.admission + to_minutes(CAST(f.off_min AS BIGINT))
            FROM (SELECT TRY_CAST(patientunitstayid AS BIGINT) AS stay_id,
                         min(TRY_CAST(infusionoffset AS DOUBLE)) AS off_min
                  FROM {drug} GROUP BY 1) f
            WHERE f.stay_id = s.stay_id AND f.off_min < 0
            """
        )
    con.execute(
        f"CREATE OR REPLACE VIEW {prefix}_stays_v AS SELECT stay_id, subject_id, admission, "
        f"discharge, care_unit, trauma, brain_injury, spinal_injury, age_years FROM {stays_full}"
    )

    def at(offset: str) -> str:
        return f"s.admission + to_minutes(CAST(TRY_CAST({offset} AS DOUBLE) AS BIGINT))"

    raw: list[str] = [
        f"""
        SELECT s.subject_id, s.stay_id, least(s.admission, s.first_infusion) AS time,
               'weight' AS code,
               s.admission_weight AS numeric_value, 'kg' AS src_unit,
               CAST(NULL AS VARCHAR) AS method, CAST(NULL AS VARCHAR) AS action,
               CAST(NULL AS DOUBLE) AS concentration, 'patient.admissionweight' AS source,
               CAST(NULL AS VARCHAR) AS quality
        FROM {stays_full} s WHERE s.admission_weight IS NOT NULL
        """
    ]
    for table in ("vitalaperiodic", "vitalperiodic"):
        src = find_optional(folder, table)
        if not src:
            continue
        for column, m in spec[table].items():
            raw.append(
                f"""
                SELECT s.subject_id, s.stay_id, {at('v.observationoffset')}, '{m['code']}',
                       TRY_CAST(v.{column} AS DOUBLE), 'mm[Hg]', '{m['method']}', NULL, NULL,
                       '{table}.{column}', NULL
                FROM {src} v JOIN {stays_full} s
                  ON TRY_CAST(v.patientunitstayid AS BIGINT) = s.stay_id
                WHERE TRY_CAST(v.{column} AS DOUBLE) IS NOT NULL
                """
            )
    io = find_optional(folder, "intakeoutput")
    if io:
        for code, m in spec["intakeoutput"].items():
            exclude = m.get("exclude")
            excl = f"AND NOT regexp_matches(lower(celllabel), {quote(exclude)})" if exclude else ""
            unit = "'kg'" if code == "weight" else "'mL'"
            raw.append(
                f"""
                SELECT s.subject_id, s.stay_id, {at('i.intakeoutputoffset')}, '{code}',
                       TRY_CAST(i.cellvaluenumeric AS DOUBLE), {unit}, NULL, NULL, NULL,
                       'intakeoutput//' || i.celllabel, NULL
                FROM {io} i JOIN {stays_full} s
                  ON TRY_CAST(i.patientunitstayid AS BIGINT) = s.stay_id
                WHERE i.cellpath LIKE {quote(m['path'])}
                  AND regexp_matches(lower(i.celllabel), {quote(m['label'].lower())}) {excl}
                  AND TRY_CAST(i.cellvaluenumeric AS DOUBLE) IS NOT NULL
                """
            )
        raw.append(
            f"""
            SELECT s.subject_id, s.stay_id, {at('i.intakeoutputoffset')}, 'weight',
                   TRY_CAST(i.cellvaluenumeric AS DOUBLE), '[lb_av]', NULL, NULL, NULL,
                   'intakeoutput//' || i.celllabel, NULL
            FROM {io} i JOIN {stays_full} s
              ON TRY_CAST(i.patientunitstayid AS BIGINT) = s.stay_id
            WHERE regexp_matches(i.celllabel, {quote(spec['weight_lb_label'])})
              AND TRY_CAST(i.cellvaluenumeric AS DOUBLE) IS NOT NULL
            """
        )
    infusions: list[duckdb.DuckDBPyRelation] = []
    if drug:
        cases = " ".join(
            f"WHEN regexp_matches(lower(d.drugname), {quote(p)}) THEN '{code}'"
            for code, p in spec["infusion_patterns"].items()
        )
        unit_re = quote(spec["unit_in_name"])
        conc_re = quote(spec["concentration_in_name"])
        con.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW {prefix}_drug_raw AS
            WITH d AS (
                SELECT d.*, CASE {cases} END AS code,
                       nullif(trim(regexp_extract(d.drugname, {unit_re}, 1)), '') AS name_unit,
                       TRY_CAST(regexp_extract(lower(d.drugname), {conc_re}, 1) AS DOUBLE)
                           AS name_amount,
                       regexp_extract(lower(d.drugname), {conc_re}, 2) AS name_amount_unit,
                       TRY_CAST(regexp_extract(lower(d.drugname), {conc_re}, 3) AS DOUBLE)
                           AS name_volume
                FROM {drug} d
            )
            SELECT s.subject_id, s.stay_id, {at('d.infusionoffset')} AS time, d.code,
                   TRY_CAST(d.drugrate AS DOUBLE) AS numeric_value, d.name_unit AS src_unit,
                   CAST(NULL AS VARCHAR) AS method, CAST(NULL AS VARCHAR) AS action,
                   -- concentration in ug/mL (U/mL for vasopressin): charted amount is mg (U)
                   coalesce(
                     TRY_CAST(d.drugamount AS DOUBLE)
                       / nullif(TRY_CAST(d.volumeoffluid AS DOUBLE), 0)
                       * CASE WHEN d.code = 'infusion.vasopressin' THEN 1 ELSE 1000 END,
                     d.name_amount / nullif(d.name_volume, 0)
                       * CASE d.name_amount_unit WHEN 'mg' THEN 1000 WHEN 'mcg' THEN 1 ELSE 1 END
                   ) AS concentration,
                   'infusiondrug//' || d.drugname AS source,
                   CAST(NULL AS VARCHAR) AS quality
            FROM d JOIN {stays_full} s ON TRY_CAST(d.patientunitstayid AS BIGINT) = s.stay_id
            WHERE d.code IS NOT NULL AND TRY_CAST(d.drugrate AS DOUBLE) IS NOT NULL
            """
        )
        rates = normalise(con, f"{prefix}_drug_raw", spec["unit_aliases"])
        con.execute(f"CREATE OR REPLACE TEMP TABLE {prefix}_rates AS {rates.sql_query()}")
        segs = charted_rates_to_segments(con, f"{prefix}_rates", hold, hold)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {prefix}_seg AS {segs.sql_query()}")
        infusions.append(segments_to_events(con, f"{prefix}_seg"))
    events = finish(con, prefix, raw, infusions, spec["unit_aliases"])
    caveats: tuple[str, ...] = CAVEATS
    if drug:
        # stays whose norepinephrine rows all have rate 0 were never exposed: say how many
        zero_only = con.execute(
            f"""
            SELECT count(*) FROM (
                SELECT stay_id FROM {prefix}_drug_raw WHERE code = 'infusion.norepinephrine'
                GROUP BY stay_id HAVING NOT bool_or(numeric_value > 0))
            """
        ).fetchall()[0][0]
        if zero_only:
            caveats += (
                f"{zero_only} stays chart norepinephrine only at rate 0: not counted as "
                "exposure.",
            )
    return EventSet(con, events, f"{prefix}_stays_v", dataset, caveats)
