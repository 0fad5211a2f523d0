"""Audit: replay every stay of a dataset and measure practice against the protocol.

Clinical thresholds come from the engine, never from here: "criteria met" is the engine's
START_NOREPINEPHRINE, a dose over a limit is its DOSE_ABOVE_LIMIT alert, an abrupt stop is its
AVOID_ABRUPT_DISCONTINUATION warning at a stop, the target band is its Assessment target, and a
reading stays current for the protocol's `pressure_max_age`. Metric definitions: docs/TIMELINE.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ..protocol import Protocol, load_protocol
from . import derive
from .events import EVENT_SCHEMA, STAY_SCHEMA, EventSet
from .perstay import CHUNK_SIZE, StayAudit, StayOptions, audit_stays
from .replay import Assess, StayEvents, decisions_table, default_concentration, replay_stay

__all__ = ["AuditResult", "assemble", "run_audit", "stay_chunks", "summarize_quality"]


@dataclass
class AuditResult:
    dataset: str
    metrics: pa.Table  # one row per stay
    decisions: pa.Table  # DECISION_SCHEMA rows of every stay
    quality: pa.Table  # flagged rows per concept and reason
    headline: dict[str, Any]
    caveats: tuple[str, ...]
    # stays whose per-stay work raised (Spark runner): {"stay_id", "error"}; not in metrics
    failures: tuple[dict[str, Any], ...] = ()


def stay_chunks(es: EventSet, size: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    """(stays, all their events) as Arrow, `size` stays at a time (bounded memory)."""
    stays = es.con.sql(f"SELECT * FROM {es.stays} ORDER BY stay_id").to_arrow_table()
    for i in range(0, stays.num_rows, size):
        chunk = stays.slice(i, size)
        ids = chunk.column("stay_id").to_pylist()
        # flagged rows come too: the per-stay metrics count them
        events = es.con.sql(
            f"SELECT * FROM {es.events} WHERE stay_id BETWEEN {ids[0]} AND {ids[-1]}"
        ).to_arrow_table()
        events = events.filter(pc.is_in(events.column("stay_id"), chunk.column("stay_id")))
        yield chunk, events


def _decision_times(stay: StayEvents) -> list[Any]:
    """Each new pressure, and each norepinephrine start, change and stop, within the stay."""
    times = set(stay.times.get("map", [])) | set(stay.times.get("sbp", []))
    times |= set(stay.times.get("infusion.norepinephrine", []))
    lo, hi = stay.admission, stay.discharge
    return sorted(t for t in times if (lo is None or t >= lo) and (hi is None or t <= hi))


_WORKER: dict[str, Any] = {}


def _init_worker(protocol: Protocol) -> None:
    from ..engine import assess

    _WORKER["protocol"] = protocol
    _WORKER["assess"] = assess


def _replay_chunk(stays: pa.Table, events: pa.Table, options: StayOptions) -> StayAudit:
    """One chunk in a worker process: the per-stay work, with the worker's engine."""
    return audit_stays(stays, events, _WORKER["protocol"], _WORKER["assess"], options)


def _replay_many(
    chunk: list[StayEvents],
    protocol: Protocol,
    assess: Assess,
    shock_type: str | None,
    every: float | None,
    prune: bool = True,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for stay in chunk:
        times = None if every else _decision_times(stay)
        out += replay_stay(stay, protocol, assess, every, shock_type, times, prune)
    return out


def run_audit(
    es: EventSet,
    protocol: Protocol | None = None,
    assess: Assess | None = None,
    *,
    every_minutes: float | None = None,
    shock_type: str | None = None,
    workers: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    prune: bool = True,
    progress: Callable[[int], None] | None = None,
) -> AuditResult:
    """Replay and measure every stay (perstay.audit_stays), then the headline figures.

    With `assess` given, the replay runs in this process with it (tests); otherwise the engine
    runs in `workers` processes (default: all cores). `prune` skips decisions that cannot
    change a metric (replay.replay_stay); prune=False evaluates every decision time.
    """
    protocol = protocol or load_protocol()
    options = StayOptions(shock_type, every_minutes, prune)
    # each chunk's results are Arrow at once: millions of dicts never pile up
    parts: list[StayAudit] = []
    if assess is not None or workers == 1:
        if assess is None:
            from ..engine import assess as engine_assess

            assess = engine_assess
        for stays, events in stay_chunks(es, chunk_size):
            parts.append(audit_stays(stays, events, protocol, assess, options))
            if progress:
                progress(stays.num_rows)
    else:
        n = workers or os.cpu_count() or 1
        with ProcessPoolExecutor(n, initializer=_init_worker, initargs=(protocol,)) as pool:
            pending = []
            for stays, events in stay_chunks(es, chunk_size):
                pending.append((stays.num_rows, pool.submit(_replay_chunk, stays, events,
                                                            options)))
                # keep at most 2 chunks per worker in flight: bounded memory
                while len(pending) > 2 * n:
                    size, fut = pending.pop(0)
                    parts.append(fut.result())
                    if progress:
                        progress(size)
            for size, fut in pending:
                parts.append(fut.result())
                if progress:
                    progress(size)
    if not parts:  # no stay: the metrics' columns still come from the per-stay work
        from ..engine import assess as engine_assess

        parts.append(audit_stays(STAY_SCHEMA.empty_table(), EVENT_SCHEMA.empty_table(),
                                 protocol, assess or engine_assess, options))
    quality = summarize_quality(derive.quality_counts(es.con, es.events))
    return assemble(es.dataset, parts, quality, es.caveats)


def assemble(
    dataset: str,
    parts: list[StayAudit],
    quality: pa.Table,
    caveats: tuple[str, ...],
    failures: tuple[dict[str, Any], ...] = (),
) -> AuditResult:
    """One AuditResult from per-stay results (in stay order), as both runners build it."""
    decisions = (pa.concat_tables([p.decisions for p in parts]) if parts
                 else decisions_table([]))
    metrics = pa.concat_tables([p.metrics for p in parts]).sort_by("stay_id")
    return AuditResult(dataset, metrics, decisions, quality, headline(metrics, quality),
                       caveats, failures)


def summarize_quality(counts: duckdb.DuckDBPyRelation) -> pa.Table:
    """Flagged rows and stays per concept and reason, from derive.quality_counts' rows."""
    return counts.aggregate(
        "code, quality, sum(rows)::BIGINT AS rows, count(DISTINCT stay_id) AS stays",
        "code, quality",
    ).order("code, quality").to_arrow_table()


def stay_metrics(es: EventSet, decisions: pa.Table, protocol: Protocol) -> pa.Table:
    """One row per stay: the metrics of docs/TIMELINE.md, from decisions and derivations."""
    con: duckdb.DuckDBPyConnection = es.con
    con.register("_audit_decisions", decisions)
    stale = float(protocol.setting("pressure_max_age", "min"))
    conc = default_concentration(protocol)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _audit_targets AS SELECT stay_id, time, target_measure "
        "AS measure, target_low AS low FROM _audit_decisions WHERE target_low IS NOT NULL"
    )
    episodes = derive.hypotension_episodes(con, es.events, "_audit_targets").sql_query()
    dose = derive.norepinephrine_dose(con, es.events, conc).sql_query()
    nee = derive.norepinephrine_equivalent(con, es.events, conc).sql_query()
    fluids = derive.cumulative_fluids(con, es.events).sql_query()
    hold = float(protocol.setting("infusion_rate_hold", "min"))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _audit_exposure AS "
        + derive.ne_exposure(con, es.events, hold).sql_query()
    )
    return con.sql(
        f"""
        WITH d AS (
            -- on norepinephrine = within an exposure interval (with or without a usable dose:
            -- a unit-less or rejected row shows it ran; the engine saw only usable rows)
            SELECT dd.*, coalesce(dd.time < x."end", false) AS on_ne_now,
                   lead(dd.time) OVER (PARTITION BY dd.stay_id ORDER BY dd.time) AS next_time
            FROM _audit_decisions dd ASOF LEFT JOIN _audit_exposure x
              ON dd.stay_id = x.stay_id AND dd.time >= x.start
        ),
        expo AS (
            SELECT x.stay_id, min(x.start) AS ne_start, bool_or(x.dosed) AS ne_dose_known,
                   sum(greatest(date_diff('second',
                                          greatest(x.start, coalesce(s.admission, x.start)),
                                          least(x."end", coalesce(s.discharge, x."end"))),
                                0)) / 60.0 AS minutes_on_ne,
                   sum(x.held_min) AS minutes_on_ne_held
            FROM _audit_exposure x JOIN {es.stays} s USING (stay_id) GROUP BY x.stay_id
        ),
        spans AS (
            -- each decision's pressure holds until the next decision, at most pressure_max_age
            SELECT *, least(coalesce(date_diff('second', time, next_time), 0) / 60.0,
                            {stale!r}) AS held_min,
                   coalesce(date_diff('second', time, next_time), 0) / 60.0 AS span_min
            FROM d
        ),
        ne AS (
            SELECT stay_id,
                   count(*) FILTER (WHERE action = 'start') AS ne_courses,
                   max(dose_ug_kg_min) AS ne_max_ug_kg_min,
                   arg_min(dose_ug_kg_min, time) FILTER (WHERE action = 'start')
                     AS ne_first_ug_kg_min,
                   count(*) FILTER (WHERE action = 'stop') AS ne_stops
            FROM ({dose}) GROUP BY stay_id
        ),
        crit AS (
            SELECT stay_id, min(time) FILTER (WHERE decision = 'START_NOREPINEPHRINE')
                   AS criteria_first_met,
                   count(*) AS decisions,
                   count(*) FILTER (WHERE list_contains(alerts, 'PREMATURE_VASOPRESSOR'))
                     AS premature_vasopressor_decisions,
                   count(*) FILTER (WHERE list_contains(alerts, 'DOSE_ABOVE_LIMIT'))
                     AS dose_above_limit_decisions,
                   count(*) FILTER (WHERE list_contains(alerts, 'HIGH_DOSE'))
                     AS high_dose_decisions,
                   count(*) FILTER (WHERE list_contains(alerts, 'DOSE_UNIT_SUSPECT'))
                     AS dose_unit_suspect_decisions,
                   sum(held_min) FILTER (WHERE on_ne_now AND pressure IS NOT NULL
                       AND target_low IS NOT NULL) AS minutes_measured_on_ne,
                   sum(held_min) FILTER (WHERE on_ne_now AND pressure >= target_low
                       AND (target_high IS NULL OR pressure <= target_high))
                     AS minutes_in_target_on_ne,
                   sum(held_min) FILTER (WHERE on_ne_now AND pressure < target_low)
                     AS minutes_below_target_on_ne,
                   sum(held_min) FILTER (WHERE on_ne_now AND pressure > target_high)
                     AS minutes_above_target_on_ne
            FROM spans GROUP BY stay_id
        ),
        first_ne_after AS (
            SELECT c.stay_id, min(x.start) AS ne_start_after_criteria
            FROM crit c JOIN _audit_exposure x ON x.stay_id = c.stay_id
            WHERE x.start >= c.criteria_first_met
            GROUP BY c.stay_id
        ),
        at_start AS (
            SELECT n.stay_id, list_contains(d.alerts, 'VOLUME_NOT_CONFIRMED') AS vnc
            FROM expo n JOIN _audit_decisions d
              ON d.stay_id = n.stay_id AND d.time = n.ne_start
        ),
        abrupt AS (
            SELECT e.stay_id, count(*) AS abrupt_stops
            FROM {es.events} e JOIN _audit_decisions d ON d.stay_id = e.stay_id
                 AND d.time = e.time
            WHERE e.code = 'infusion.norepinephrine' AND e.action = 'stop' AND e.quality IS NULL
              AND list_contains(d.warnings, 'AVOID_ABRUPT_DISCONTINUATION')
            GROUP BY e.stay_id
        ),
        ep AS (
            SELECT stay_id, count(*) FILTER (WHERE sustained) AS hypotension_episodes,
                   sum(duration_min) FILTER (WHERE sustained) AS hypotension_minutes,
                   min(nadir) AS hypotension_nadir,
                   min(start) FILTER (WHERE sustained) AS hypotension_first
            FROM ({episodes}) GROUP BY stay_id
        ),
        nee AS (SELECT stay_id, max(nee_ug_kg_min) AS nee_max_ug_kg_min FROM ({nee}) GROUP BY 1),
        fl AS (
            SELECT n.stay_id, f.crystalloid_ml_per_kg AS crystalloid_ml_per_kg_at_ne_start
            FROM expo n ASOF LEFT JOIN ({fluids}) f
              ON n.stay_id = f.stay_id AND n.ne_start >= f.time
        ),
        q AS (
            SELECT stay_id,
                   count(*) FILTER (WHERE quality = 'unit_unknown') AS unit_unknown_rows,
                   count(*) FILTER (WHERE quality = 'implausible') AS implausible_rows,
                   count(*) FILTER (WHERE quality = 'rewritten') AS rewritten_rows,
                   count(*) FILTER (WHERE quality = 'dose_unit_suspect')
                     AS dose_unit_suspect_rows
            FROM {es.events} WHERE quality IS NOT NULL GROUP BY stay_id
        )
        SELECT s.stay_id, s.subject_id, s.care_unit, s.admission, s.trauma,
               coalesce(c.decisions, 0) AS decisions,
               x.ne_start IS NOT NULL AS on_ne, x.ne_start, coalesce(ne.ne_courses, 0)
                 AS ne_courses, coalesce(ne.ne_stops, 0) AS ne_stops, x.ne_dose_known,
               c.criteria_first_met,
               date_diff('second', c.criteria_first_met, f.ne_start_after_criteria) / 60.0
                 AS minutes_criteria_to_ne,
               x.ne_start < c.criteria_first_met
                 OR (x.ne_start IS NOT NULL AND c.criteria_first_met IS NULL)
                 AS ne_before_criteria,
               ep.hypotension_first,
               CASE WHEN ep.hypotension_first <= x.ne_start
                    THEN date_diff('second', ep.hypotension_first, x.ne_start) / 60.0 END
                 AS minutes_hypotension_to_ne,
               a.vnc AS ne_start_volume_not_confirmed,
               fl.crystalloid_ml_per_kg_at_ne_start,
               x.minutes_on_ne, x.minutes_on_ne_held,
               x.minutes_on_ne_held / nullif(x.minutes_on_ne, 0) AS fraction_on_ne_held,
               c.minutes_measured_on_ne, c.minutes_in_target_on_ne,
               c.minutes_below_target_on_ne, c.minutes_above_target_on_ne,
               c.minutes_measured_on_ne / nullif(x.minutes_on_ne, 0)
                 AS fraction_measured_on_ne,
               coalesce(c.minutes_in_target_on_ne, 0) / nullif(c.minutes_measured_on_ne, 0)
                 AS fraction_in_target_on_ne,
               coalesce(c.minutes_below_target_on_ne, 0) / nullif(c.minutes_measured_on_ne, 0)
                 AS fraction_below_target_on_ne,
               coalesce(c.minutes_above_target_on_ne, 0) / nullif(c.minutes_measured_on_ne, 0)
                 AS fraction_above_target_on_ne,
               coalesce(c.premature_vasopressor_decisions, 0) AS premature_vasopressor_decisions,
               coalesce(ab.abrupt_stops, 0) AS abrupt_stops,
               coalesce(c.dose_above_limit_decisions, 0) AS dose_above_limit_decisions,
               coalesce(c.high_dose_decisions, 0) AS high_dose_decisions,
               coalesce(c.dose_unit_suspect_decisions, 0) AS dose_unit_suspect_decisions,
               ne.ne_first_ug_kg_min, ne.ne_max_ug_kg_min, nee.nee_max_ug_kg_min,
               coalesce(ep.hypotension_episodes, 0) AS hypotension_episodes,
               ep.hypotension_minutes, ep.hypotension_nadir,
               coalesce(q.unit_unknown_rows, 0) AS unit_unknown_rows,
               coalesce(q.implausible_rows, 0) AS implausible_rows,
               coalesce(q.rewritten_rows, 0) AS rewritten_rows,
               coalesce(q.dose_unit_suspect_rows, 0) AS dose_unit_suspect_rows
        FROM {es.stays} s
        LEFT JOIN crit c USING (stay_id) LEFT JOIN ne USING (stay_id)
        LEFT JOIN expo x USING (stay_id)
        LEFT JOIN first_ne_after f USING (stay_id) LEFT JOIN at_start a USING (stay_id)
        LEFT JOIN abrupt ab USING (stay_id) LEFT JOIN ep USING (stay_id)
        LEFT JOIN nee USING (stay_id) LEFT JOIN fl USING (stay_id) LEFT JOIN q USING (stay_id)
        ORDER BY s.stay_id
        """
    ).to_arrow_table()


def headline(metrics: pa.Table, quality: pa.Table) -> dict[str, Any]:
    """The figures a quality team reads first, computed from the per-stay table."""
    con = duckdb.connect()
    con.register("m", metrics)
    con.register("q", quality)
    con.execute(
        f"""
        SELECT count(*) AS stays_read,
               count(*) FILTER (WHERE decisions > 0) AS stays_with_pressure,
               count(*) FILTER (WHERE on_ne) AS ne_stays,
               count(*) FILTER (WHERE criteria_first_met IS NOT NULL) AS stays_criteria_met,
               count(*) FILTER (WHERE ne_before_criteria) AS ne_stays_started_before_criteria,
               count(*) FILTER (WHERE ne_start_volume_not_confirmed)
                 AS ne_starts_volume_not_confirmed,
               count(*) FILTER (WHERE ne_start_volume_not_confirmed IS NOT NULL)
                 AS ne_starts_assessed,
               median(fraction_measured_on_ne) AS median_fraction_measured_on_ne,
               sum(minutes_in_target_on_ne) / nullif(sum(minutes_measured_on_ne), 0)
                 AS pooled_fraction_in_target_on_ne,
               sum(minutes_below_target_on_ne) / nullif(sum(minutes_measured_on_ne), 0)
                 AS pooled_fraction_below_target_on_ne,
               count(*) FILTER (WHERE premature_vasopressor_decisions > 0)
                 AS stays_premature_vasopressor,
               count(*) FILTER (WHERE trauma) AS trauma_stays,
               sum(abrupt_stops) AS abrupt_stops,
               sum(ne_stops) AS ne_stops,
               count(*) FILTER (WHERE abrupt_stops > 0) AS stays_with_abrupt_stop,
               count(*) FILTER (WHERE dose_above_limit_decisions > 0) AS stays_dose_above_limit,
               count(*) FILTER (WHERE high_dose_decisions > 0) AS stays_high_dose,
               count(*) FILTER (WHERE dose_unit_suspect_decisions > 0)
                 AS stays_dose_unit_suspect,
               sum(unit_unknown_rows) AS unit_unknown_rows,
               sum(implausible_rows) AS implausible_rows,
               sum(rewritten_rows) AS rewritten_rows,
               sum(hypotension_episodes) AS sustained_hypotension_episodes,
               count(*) FILTER (WHERE on_ne AND NOT ne_dose_known) AS ne_stays_without_dose,
               sum(dose_unit_suspect_rows) AS dose_unit_suspect_rows,
               count(*) FILTER (WHERE dose_unit_suspect_rows > 0)
                 AS stays_with_dose_unit_suspect_rows,
               sum(minutes_on_ne_held) / nullif(sum(minutes_on_ne), 0)
                 AS pooled_fraction_on_ne_held,
               sum(minutes_above_target_on_ne) / nullif(sum(minutes_measured_on_ne), 0)
                 AS pooled_fraction_above_target_on_ne,
               {", ".join(_spread(c) for c in SPREAD)}
        FROM m
        """
    )
    cols = [c[0] for c in con.description or []]
    values = con.fetchall()[0]
    return {c: (float(v) if isinstance(v, float) else v) for c, v in zip(cols, values, strict=True)}


# Per-stay metrics reported as "median [IQR] (n = stays)": median_X, q1_X, q3_X and n_X.
SPREAD: dict[str, str] = {
    "minutes_hypotension_to_ne": "Minutes from the first sustained hypotension (below the "
    "engine's lower target) to the first norepinephrine, in stays where hypotension came first.",
    "minutes_criteria_to_ne": "Minutes from the engine's first START_NOREPINEPHRINE advice to "
    "the first norepinephrine at or after it.",
    "ne_first_ug_kg_min": "First norepinephrine dose (mcg/kg/min) with a usable dose.",
    "ne_max_ug_kg_min": "Highest norepinephrine dose (mcg/kg/min) in the stay.",
    "minutes_on_ne": "Minutes on norepinephrine within the stay (with or without a usable dose).",
    "fraction_in_target_on_ne": "Share of measured time on norepinephrine with the pressure "
    "in the target band.",
    "fraction_below_target_on_ne": "Share of measured time on norepinephrine below the band.",
    "fraction_above_target_on_ne": "Share of measured time on norepinephrine above the band "
    "(only where the protocol sets an upper bound).",
    "fraction_on_ne_held": "Share of time on norepinephrine resting on the site's rate hold "
    "(no charted row confirms the rate; the hold ran out).",
}


def _spread(col: str) -> str:
    return (
        f"median({col}) AS median_{col}, quantile_cont({col}, 0.25) AS q1_{col}, "
        f"quantile_cont({col}, 0.75) AS q3_{col}, count({col}) AS n_{col}"
    )


DEFINITIONS: dict[str, str] = {
    "stays_read": "ICU stays in the dataset.",
    "stays_with_pressure": "Stays with at least one decision time (a usable MAP or SBP).",
    "ne_stays": "Stays with a norepinephrine start charted.",
    "stays_criteria_met": "Stays where the engine advised START_NOREPINEPHRINE at least once.",
    "median_minutes_criteria_to_ne": "Median minutes from the first START_NOREPINEPHRINE "
    "advice to the first norepinephrine start at or after it.",
    "q1_minutes_criteria_to_ne": "First quartile of the same.",
    "q3_minutes_criteria_to_ne": "Third quartile of the same.",
    "ne_stays_started_before_criteria": "NE stays whose first start came before any "
    "START_NOREPINEPHRINE advice (or with none): e.g. volume never confirmed in the data.",
    "ne_starts_volume_not_confirmed": "NE stays whose Assessment at the first start carries "
    "VOLUME_NOT_CONFIRMED.",
    "ne_starts_assessed": "NE stays with an Assessment at the first start (start in the stay).",
    "median_fraction_measured_on_ne": "Median over NE stays of measured time / time on NE: a "
    "reading counts for at most the protocol's pressure_max_age, after which it is stale.",
    "median_fraction_in_target_on_ne": "Median over NE stays of time in the target band / "
    "measured time on NE.",
    "median_fraction_below_target_on_ne": "Median over NE stays of time below the lower target "
    "/ measured time on NE.",
    "pooled_fraction_in_target_on_ne": "All measured NE time in target / all measured NE time.",
    "pooled_fraction_below_target_on_ne": "All measured NE time below target / all measured NE "
    "time.",
    "stays_premature_vasopressor": "Stays with a PREMATURE_VASOPRESSOR alert (vasopressor in "
    "bleeding trauma within the permissive range).",
    "trauma_stays": "Stays replayed as trauma (trauma unit or diagnosis: a proxy).",
    "abrupt_stops": "NE stops whose Assessment carries the AVOID_ABRUPT_DISCONTINUATION warning.",
    "stays_with_abrupt_stop": "Stays with at least one such stop.",
    "ne_stops": "Norepinephrine stops (end of a course with a usable dose).",
    "stays_dose_above_limit": "Stays with a DOSE_ABOVE_LIMIT alert (protocol's hard limit).",
    "stays_high_dose": "Stays with a HIGH_DOSE alert.",
    "stays_dose_unit_suspect": "Stays with a DOSE_UNIT_SUSPECT alert (dose implausible in its "
    "unit by orders of magnitude).",
    "unit_unknown_rows": "Charted rows without a convertible unit (e.g. eICU `()` names).",
    "implausible_rows": "Rows outside the accepted range of their concept (artefacts).",
    "rewritten_rows": "MIMIC rows superseded by a correction (`Rewritten`).",
    "sustained_hypotension_episodes": "Runs of at least two consecutive readings below the "
    "engine's lower target.",
    "median_ne_max_ug_kg_min": "Median over NE stays of the highest NE dose (ug/kg/min).",
    "ne_stays_without_dose": "Stays on norepinephrine charted without a usable dose (no unit, "
    "or a dose rejected as implausible in its unit): counted as exposure, not in dose figures.",
    "dose_unit_suspect_rows": "Norepinephrine rows rejected as implausible in their unit "
    "(DOSE_UNIT_SUSPECT, e.g. mg charted for mcg): in no dose figure and no course.",
    "stays_with_dose_unit_suspect_rows": "Stays with at least one such rejected row.",
    "pooled_fraction_on_ne_held": "All norepinephrine time resting on the site's rate hold / all "
    "norepinephrine time.",
    "pooled_fraction_above_target_on_ne": "All measured NE time above target / all measured NE "
    "time.",
    **{f"{k}_{c}": f"{label} of: {text}" for c, text in SPREAD.items()
       for k, label in (("median", "Median"), ("q1", "First quartile"),
                        ("q3", "Third quartile"), ("n", "Stays with a value"))},
}
