"""Derivations on the timeline, vectorised in DuckDB: one SQL statement each, no row loops.

Every derivation reads usable events only (quality IS NULL: artefacts and unit errors were
flagged by the readers) and is causal: a value at time t uses rows at or before t, so the same
numbers come out of a replay as of t. Pressure targets are not numbers of this module: episodes
of hypotension are measured against a `targets` relation (the target the engine set, in force
from its decision time on).
"""

from __future__ import annotations

import duckdb

from .dictionary import nee_terms
from .events import segments_to_events

__all__ = [
    "cumulative_fluids",
    "hypotension_episodes",
    "infusion_doses",
    "lactate_change",
    "ne_exposure",
    "norepinephrine_dose",
    "norepinephrine_equivalent",
    "pressures",
    "quality_counts",
    "reject_suspect_doses",
    "urine_rate",
    "weight_asof",
]


def _usable(events: str, where: str) -> str:
    return f"(SELECT * FROM {events} WHERE quality IS NULL AND {where})"


def pressures(con: duckdb.DuckDBPyConnection, events: str, measure: str) -> duckdb.DuckDBPyRelation:
    """One reading per stay and instant: arterial preferred over cuff when both were charted."""
    return con.sql(
        f"""
        SELECT stay_id, time,
               arg_min(numeric_value, CASE method WHEN 'arterial' THEN 0 ELSE 1 END) AS value,
               min(CASE method WHEN 'arterial' THEN 'arterial' ELSE method END) AS method
        FROM {_usable(events, f"code = '{measure}'")}
        GROUP BY stay_id, time
        """
    )


def weight_asof(
    con: duckdb.DuckDBPyConnection, events: str, points: str
) -> duckdb.DuckDBPyRelation:
    """`points` (stay_id, time, ...) with `weight_kg`: the latest usable weight at or before."""
    return con.sql(
        f"""
        SELECT p.*, w.numeric_value AS weight_kg
        FROM {points} p ASOF LEFT JOIN {_usable(events, "code = 'weight'")} w
          ON p.stay_id = w.stay_id AND p.time >= w.time
        """
    )


def infusion_doses(
    con: duckdb.DuckDBPyConnection,
    events: str,
    default_concentration_ug_ml: float | None = None,
    codes: str = "code LIKE 'infusion.%'",
) -> duckdb.DuckDBPyRelation:
    """Each vasopressor rate event with its dose in ug/kg/min (U/min for vasopressin).

    ug/kg/min as is; ug/min divided by the weight in force; mL/h times the concentration (the
    event's own, else `default_concentration_ug_ml`, the protocol's site setting) / 60 / weight;
    U/min as is. `dose` is NULL when a fact is missing (no weight, no concentration). One pass
    and one as-of join with the weights for every drug.
    """
    conc = "NULL" if default_concentration_ug_ml is None else repr(default_concentration_ug_ml)
    weighted = weight_asof(con, events, _usable(events, codes))
    return con.sql(
        f"""
        SELECT stay_id, time, code, action, numeric_value AS charted, unit, weight_kg,
               coalesce(concentration, {conc}) AS concentration_ug_ml,
               concentration IS NULL AND unit = 'mL/h' AS concentration_assumed,
               CASE unit
                 WHEN 'ug/kg/min' THEN numeric_value
                 WHEN 'ug/min' THEN numeric_value / nullif(weight_kg, 0)
                 WHEN 'mL/h' THEN numeric_value * coalesce(concentration, {conc}) / 60.0
                                  / nullif(weight_kg, 0)
               END AS dose_ug_kg_min,
               CASE WHEN unit = 'U/min' THEN numeric_value END AS dose_u_min
        FROM ({weighted.sql_query()})
        """
    )


def norepinephrine_dose(
    con: duckdb.DuckDBPyConnection,
    events: str,
    default_concentration_ug_ml: float | None = None,
) -> duckdb.DuckDBPyRelation:
    """Each norepinephrine rate event with its dose in ug/kg/min, from any charted unit."""
    return infusion_doses(
        con, events, default_concentration_ug_ml, "code = 'infusion.norepinephrine'"
    )


def norepinephrine_equivalent(
    con: duckdb.DuckDBPyConnection,
    events: str,
    default_concentration_ug_ml: float | None = None,
) -> duckdb.DuckDBPyRelation:
    """Norepinephrine-equivalent dose (ug/kg/min) at every infusion event of any vasopressor.

    Each agent's dose in force is carried forward with LAST_VALUE ... IGNORE NULLS (portable:
    no ASOF join) and the terms are summed, as mimic-code does (not ricu's median).
    """
    terms = nee_terms()
    cols, total = [], []
    names = [code.removeprefix("infusion.") for code in terms]
    for code, (factor, unit) in terms.items():
        name = code.removeprefix("infusion.")
        dose = "dose_u_min" if unit == "U/min" else "dose_ug_kg_min"
        # An agent never charted counts 0; a charted dose that cannot be converted (no weight)
        # is carried as NaN so the total is unknown rather than silently too low.
        cols.append(
            f"coalesce(last_value(CASE WHEN code = '{code}' THEN coalesce({dose}, 'NaN') END "
            f"IGNORE NULLS) OVER w, 0) AS {name}"
        )
        total.append(f"{factor!r} * {name}")
    listed = ", ".join(f"'{c}'" for c in terms)
    doses = infusion_doses(con, events, default_concentration_ug_ml, f"code IN ({listed})")
    return con.sql(
        f"""
        WITH carried AS (
            SELECT stay_id, time, {", ".join(cols)}
            FROM ({doses.sql_query()})
            WINDOW w AS (PARTITION BY stay_id ORDER BY time, code ROWS UNBOUNDED PRECEDING)
            QUALIFY row_number() OVER (PARTITION BY stay_id, time ORDER BY code DESC) = 1
        )
        SELECT stay_id, time, {", ".join(f"nullif({n}, 'NaN') AS {n}" for n in names)},
               nullif({" + ".join(total)}, 'NaN') AS nee_ug_kg_min
        FROM carried
        """
    )


def cumulative_fluids(con: duckdb.DuckDBPyConnection, events: str) -> duckdb.DuckDBPyRelation:
    """Running fluid volumes per stay (mL and mL/kg with the weight in force)."""
    fl = con.sql(
        f"""
        SELECT stay_id, time,
               sum(numeric_value) FILTER (WHERE code = 'fluid.crystalloid') AS crystalloid_ml,
               sum(numeric_value) AS fluid_ml
        FROM {_usable(events, "code LIKE 'fluid.%'")} GROUP BY stay_id, time
        """
    )
    running = f"""
        SELECT stay_id, time,
               sum(coalesce(crystalloid_ml, 0)) OVER w AS crystalloid_ml,
               sum(fluid_ml) OVER w AS fluid_ml
        FROM ({fl.sql_query()})
        WINDOW w AS (PARTITION BY stay_id ORDER BY time ROWS UNBOUNDED PRECEDING)
    """
    weighted = weight_asof(con, events, f"({running})")
    return con.sql(
        f"""
        SELECT *, crystalloid_ml / nullif(weight_kg, 0) AS crystalloid_ml_per_kg,
               fluid_ml / nullif(weight_kg, 0) AS fluid_ml_per_kg
        FROM ({weighted.sql_query()})
        """
    )


def urine_rate(
    con: duckdb.DuckDBPyConnection, events: str, window_hours: float
) -> duckdb.DuckDBPyRelation:
    """Urine output in mL/kg/h over the window (t - `window_hours`, t] at each charting.

    Half-open: a volume charted exactly `window_hours` before t was collected before the window
    (DuckDB's RANGE frame is closed, hence the microsecond).
    """
    micros = int(window_hours * 3_600_000_000) - 1
    sums = f"""
        SELECT stay_id, time, sum(numeric_value) OVER (
                   PARTITION BY stay_id ORDER BY time
                   RANGE BETWEEN INTERVAL ({micros}) MICROSECOND PRECEDING
                             AND CURRENT ROW) AS urine_ml
        FROM (SELECT stay_id, time, sum(numeric_value) AS numeric_value
              FROM {_usable(events, "code = 'urine_output'")} GROUP BY stay_id, time)
    """
    weighted = weight_asof(con, events, f"({sums})")
    return con.sql(
        f"""
        SELECT stay_id, time, urine_ml, weight_kg, {window_hours!r} AS window_h,
               urine_ml / nullif(weight_kg, 0) / {window_hours!r} AS urine_ml_kg_h
        FROM ({weighted.sql_query()})
        """
    )


def lactate_change(con: duckdb.DuckDBPyConnection, events: str) -> duckdb.DuckDBPyRelation:
    """Each lactate with its change from the previous one, scaled to mmol/L per 2 h."""
    return con.sql(
        f"""
        WITH l AS (
            SELECT stay_id, time, avg(numeric_value) AS lactate
            FROM {_usable(events, "code = 'lactate'")} GROUP BY stay_id, time
        )
        SELECT stay_id, time, lactate,
               lactate - lag(lactate) OVER w AS change,
               (lactate - lag(lactate) OVER w)
                 / nullif(date_diff('second', lag(time) OVER w, time) / 7200.0, 0)
                 AS change_per_2h
        FROM l WINDOW w AS (PARTITION BY stay_id ORDER BY time)
        """
    )


def hypotension_episodes(
    con: duckdb.DuckDBPyConnection, events: str, targets: str
) -> duckdb.DuckDBPyRelation:
    """Runs of consecutive readings below the target in force, with duration and depth.

    `targets` (stay_id, time, measure, low) is the engine's target from each decision on. An
    episode starts at the first reading below target and ends at the next reading at or above
    it (or at its last reading if none follows). `sustained` means the low value was confirmed
    by at least one further reading. Depth is the lowest value and the area below target
    (mm[Hg]·min, each reading held until the next).
    """
    return con.sql(
        f"""
        WITH p AS (
            -- one reading per stay, measure and instant, arterial preferred (as `pressures`)
            SELECT stay_id, code AS measure, time,
                   arg_min(numeric_value, CASE method WHEN 'arterial' THEN 0 ELSE 1 END)
                     AS value
            FROM {_usable(events, "code IN ('map', 'sbp')")}
            GROUP BY stay_id, code, time
        ),
        t AS (
            SELECT p.*, tg.low FROM p ASOF JOIN {targets} tg
              ON p.stay_id = tg.stay_id AND p.measure = tg.measure AND p.time >= tg.time
        ),
        flagged AS (
            SELECT *, value < low AS below,
                   lead(time) OVER w AS next_time,
                   lag(value < low) OVER w IS NOT TRUE AS opens
            FROM t WINDOW w AS (PARTITION BY stay_id, measure ORDER BY time)
        ),
        runs AS (
            -- numbering episodes needs only the readings below target (a few of all)
            SELECT *, sum(CASE WHEN opens THEN 1 ELSE 0 END) OVER (
                       PARTITION BY stay_id, measure ORDER BY time ROWS UNBOUNDED PRECEDING)
                     AS run
            FROM flagged WHERE below
        )
        SELECT stay_id, measure, run AS episode, min(time) AS start,
               coalesce(arg_max(next_time, time), max(time)) AS "end",
               date_diff('second', min(time), coalesce(arg_max(next_time, time), max(time)))
                 / 60.0 AS duration_min,
               count(*) AS readings, min(value) AS nadir, any_value(low) AS target_low,
               sum((low - value) * coalesce(date_diff('second', time, next_time), 0) / 60.0)
                 AS area_below_mmhg_min,
               count(*) > 1 AS sustained
        FROM runs GROUP BY stay_id, measure, run
        """
    )


def quality_counts(con: duckdb.DuckDBPyConnection, events: str) -> duckdb.DuckDBPyRelation:
    """Rows flagged per stay, concept and reason: the charting problems the audit reports."""
    return con.sql(
        f"""
        SELECT stay_id, code, quality, count(*) AS rows
        FROM {events} WHERE quality IS NOT NULL GROUP BY ALL
        """
    )


def reject_suspect_doses(
    con: duckdb.DuckDBPyConnection,
    events: str,
    limits: dict[str, float],
    default_concentration_ug_ml: float | None = None,
) -> int:
    """Flag norepinephrine rates implausible in their unit and rebuild the courses without them.

    `limits` holds the protocol's `unit_suspect_weight`, `unit_suspect_low_weight` (ug/kg/min)
    and `unit_suspect_fixed` (ug/min): the engine's DOSE_UNIT_SUSPECT rule (dosing.check_limits:
    per kg when the weight is known, else per minute). A rejected row (e.g. mg charted for mcg)
    is flagged `dose_unit_suspect`, so no dose statistic uses it, and the course is rebuilt from
    the other rows: the time the rejected row covered is not time on norepinephrine, and no stop
    is "abrupt" from its dose. Returns the number of rows rejected. `events` must be a table.
    """
    hi, lo = limits["unit_suspect_weight"], limits["unit_suspect_low_weight"]
    fixed = limits["unit_suspect_fixed"]
    conc = "NULL" if default_concentration_ug_ml is None else repr(default_concentration_ug_ml)
    dose = norepinephrine_dose(con, events, default_concentration_ug_ml).sql_query()
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _suspect AS
        SELECT stay_id, time FROM ({dose})
        WHERE action IN ('start', 'change') AND (
            CASE WHEN dose_ug_kg_min IS NOT NULL
                 THEN dose_ug_kg_min >= {hi!r} OR dose_ug_kg_min < {lo!r}
                 ELSE CASE unit WHEN 'ug/min' THEN charted
                                WHEN 'mL/h' THEN charted * coalesce(concentration_ug_ml, {conc})
                                                 / 60.0 END >= {fixed!r} END)
        """
    )
    n = con.execute("SELECT count(*) FROM _suspect").fetchall()[0][0]
    if not n:
        return 0
    ne = "code = 'infusion.norepinephrine' AND quality IS NULL"
    affected = "stay_id IN (SELECT stay_id FROM _suspect)"
    # Back to segments: each usable start/change holds until the drug's next event; the
    # rejected rows' segments are left out, then the courses are rebuilt as a reader does.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _suspect_seg AS
        WITH e AS (
            SELECT *, lead(time) OVER (PARTITION BY stay_id
                                       ORDER BY time, action = 'start', action) AS seg_end
            FROM {events} WHERE {ne} AND {affected}
        )
        SELECT e.* FROM e ANTI JOIN _suspect s USING (stay_id, time)
        WHERE e.action IN ('start', 'change') AND e.seg_end IS NOT NULL
        """
    )
    rebuilt = segments_to_events(con, "_suspect_seg").sql_query()
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {events} AS
        SELECT * FROM (
            SELECT * FROM {events} WHERE NOT ({ne} AND {affected})
            UNION ALL
            SELECT e.* REPLACE ('dose_unit_suspect' AS quality)
            FROM {events} e SEMI JOIN _suspect s USING (stay_id, time)
            WHERE e.code = 'infusion.norepinephrine' AND e.quality IS NULL
              AND e.action IN ('start', 'change')
            UNION ALL
            SELECT * FROM ({rebuilt})
        ) ORDER BY stay_id, time
        """
    )
    return int(n)


# Rows that show a drug ran without giving a usable dose: they count as exposure only.
EXPOSURE_ONLY = ("unit_unknown", "dose_unit_suspect")


def ne_exposure(
    con: duckdb.DuckDBPyConnection, events: str, hold_minutes: float
) -> duckdb.DuckDBPyRelation:
    """Norepinephrine exposure: the time intervals it ran, with or without a usable dose.

    Usable courses (start ... stop) count as they are; a positive rate on a row without a
    usable dose (no unit, or a unit the dose check rejected) shows the drug ran: it holds until
    the drug's next row, at most `hold_minutes` (the site's `infusion_rate_hold`), as a charted
    rate does in the readers. Overlapping intervals are merged. Per interval: `dosed` (some of
    it has a usable dose) and `held_min`, the minutes resting on the hold (segments whose end
    is the hold running out, not a charted row).
    """
    flagged = ", ".join(f"'{q}'" for q in EXPOSURE_ONLY)
    hold = f"INTERVAL ({round(hold_minutes * 60_000_000)}) MICROSECOND"
    return con.sql(
        f"""
        WITH ne AS (
            SELECT stay_id, time, action, quality, numeric_value,
                   lead(time) OVER (PARTITION BY stay_id ORDER BY time, action = 'start')
                     AS next_any
            FROM {events}
            WHERE code = 'infusion.norepinephrine'
              AND (quality IS NULL OR quality IN ({flagged}))
        ),
        usable AS (
            SELECT stay_id, time, action,
                   lead(time) OVER (PARTITION BY stay_id ORDER BY time, action = 'start')
                     AS next_usable
            FROM {events} WHERE code = 'infusion.norepinephrine' AND quality IS NULL
        ),
        seg AS (
            SELECT stay_id, time AS start, next_usable AS "end", true AS dosed,
                   next_usable = time + {hold} AS held
            FROM usable WHERE action IN ('start', 'change') AND next_usable IS NOT NULL
            UNION ALL
            SELECT stay_id, time, least(coalesce(next_any, time + {hold}), time + {hold}),
                   false, next_any IS NULL OR next_any >= time + {hold}
            FROM ne WHERE quality IS NOT NULL AND numeric_value > 0
        ),
        ordered AS (
            SELECT *, max("end") OVER (PARTITION BY stay_id ORDER BY start, "end"
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
            FROM seg WHERE "end" > start
        ),
        islands AS (
            SELECT *, sum(CASE WHEN reach IS NULL OR reach < start THEN 1 ELSE 0 END) OVER (
                       PARTITION BY stay_id ORDER BY start, "end" ROWS UNBOUNDED PRECEDING)
                     AS island
            FROM ordered
        )
        SELECT stay_id, min(start) AS start, max("end") AS "end", bool_or(dosed) AS dosed,
               coalesce(sum(date_diff('second', start, "end") / 60.0) FILTER (WHERE held), 0)
                 AS held_min
        FROM islands GROUP BY stay_id, island
        """
    )
