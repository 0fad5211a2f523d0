"""The canonical event table: one long, timezone-aware table every reader produces.

MEDS-compatible (subject_id, time, code, numeric_value) with the extra columns an infusion and a
blood pressure need. Schema and invariants are documented in docs/TIMELINE.md; `check_events`
enforces them in one vectorised pass and returns every violation at once.

Infusions are rate segments written as events: `start` (rate > 0 while nothing ran), `change`
(a new rate while running), `stop` (value 0). The rate set at `time` is in force until the next
event of the same drug in the same stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_SCHEMA",
    "STAY_SCHEMA",
    "EventSet",
    "InvariantError",
    "check_events",
    "segments_to_events",
]

UTC_TIME = pa.timestamp("us", tz="UTC")

# Column order matters: readers SELECT into this order so the union of sources is trivial.
EVENT_SCHEMA = pa.schema(
    [
        pa.field("subject_id", pa.int64(), nullable=False),
        pa.field("stay_id", pa.int64(), nullable=False),
        pa.field("time", UTC_TIME, nullable=False),
        pa.field("code", pa.string(), nullable=False),  # concept: map, infusion.norepinephrine...
        pa.field("numeric_value", pa.float64()),  # in `unit`; MEDS has float32, we keep float64
        pa.field("unit", pa.string()),  # UCUM; canonical for the concept (see concepts.py)
        pa.field("method", pa.string()),  # pressures: arterial | noninvasive
        pa.field("action", pa.string()),  # infusions: start | change | stop
        pa.field("concentration", pa.float64()),  # infusions: ug/mL (U/mL) when the source says
        pa.field("source", pa.string(), nullable=False),  # the source code, for traceability
        pa.field("quality", pa.string()),  # NULL = usable; else why it is not (see below)
    ]
)
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA.names)

# One row per ICU stay: the denominators of the audit and the window of a replay.
STAY_SCHEMA = pa.schema(
    [
        pa.field("stay_id", pa.int64(), nullable=False),
        pa.field("subject_id", pa.int64(), nullable=False),
        pa.field("admission", UTC_TIME),
        pa.field("discharge", UTC_TIME),
        pa.field("care_unit", pa.string()),
        pa.field("trauma", pa.bool_()),  # proxy from the source (trauma unit or diagnosis)
        pa.field("brain_injury", pa.bool_()),  # traumatic brain injury, when the source says
        pa.field("spinal_injury", pa.bool_()),  # spinal cord injury, when the source says
        pa.field("age_years", pa.float64()),
    ]
)

# Quality flags a reader may set; flagged rows stay in the table (the audit counts them) but
# derivations and the replay skip them.
QUALITY_FLAGS = (
    "implausible",  # outside the documented accepted range of the concept (artefact)
    "unit_unknown",  # the source gives no unit, or one we cannot convert
    "rewritten",  # superseded by a correction in the source (MIMIC `Rewritten`)
    "dose_unit_suspect",  # a norepinephrine rate implausible in its unit (mg for mcg)
)


@dataclass(frozen=True)
class EventSet:
    """What a reader returns: the events and the stays, as relations on one connection."""

    con: duckdb.DuckDBPyConnection
    events: str  # name of a table or view in `con` with EVENT_SCHEMA's columns
    stays: str  # name of a table or view with STAY_SCHEMA's columns
    dataset: str  # a short name for reports: "mimic-iii-demo", "clif-demo"...
    caveats: tuple[str, ...] = ()

    def events_table(self, where: str = "true") -> pa.Table:
        sql = f"SELECT * FROM {self.events} WHERE {where} ORDER BY stay_id, time, code, action"
        return self.con.sql(sql).to_arrow_table().cast(EVENT_SCHEMA)

    def stays_table(self) -> pa.Table:
        return self.con.sql(f"SELECT * FROM {self.stays} ORDER BY stay_id").to_arrow_table().cast(
            STAY_SCHEMA
        )


class InvariantError(ValueError):
    """The event table breaks its documented invariants; `problems` lists each, with a count."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("event table invariants broken:\n" + "\n".join(problems))


# Each invariant is a SQL predicate that must hold for every row (or every window).
_ROW_INVARIANTS: dict[str, str] = {
    "time is present": "time IS NOT NULL",
    "code is present": "code IS NOT NULL AND code <> ''",
    "value is finite": "numeric_value IS NULL OR isfinite(numeric_value)",
    "infusions carry an action": "(code LIKE 'infusion.%') = (action IS NOT NULL)",
    "actions are start/change/stop": "action IS NULL OR action IN ('start', 'change', 'stop')",
    "a stop has value 0": "action IS DISTINCT FROM 'stop' OR numeric_value = 0",
    "a start or change has a positive rate": (
        "action NOT IN ('start', 'change') OR quality IS NOT NULL OR numeric_value > 0"
    ),
    "method is arterial/noninvasive": "method IS NULL OR method IN ('arterial', 'noninvasive')",
    "quality flag is known": "quality IS NULL OR quality IN "
    + str(QUALITY_FLAGS).replace('"', "'"),
}


def check_events(con: duckdb.DuckDBPyConnection, events: str) -> list[str]:
    """Every broken invariant of table `events`, as 'invariant: N rows'; [] when all hold."""
    problems: list[str] = []
    checks = ", ".join(
        f"count(*) FILTER (WHERE NOT ({pred})) AS \"{name}\""
        for name, pred in _ROW_INVARIANTS.items()
    )
    row = con.execute(f"SELECT {checks} FROM {events}").fetchall()[0]  # an aggregate: 1 row
    for name, broken in zip(_ROW_INVARIANTS, row, strict=True):
        if broken:
            problems.append(f"{name}: {broken} rows")
    # Infusion sequences: per stay and drug, start only when stopped, change/stop only when
    # running. Usable rows only, in time order (a stop sorts before a start at the same time).
    seq = con.execute(
        f"""
        WITH inf AS (
            SELECT stay_id, code, time, action,
                   lag(action) OVER (PARTITION BY stay_id, code
                                     ORDER BY time, action = 'start', action) AS prev
            FROM {events} WHERE action IS NOT NULL AND quality IS NULL
        )
        SELECT count(*) FILTER (WHERE action = 'start' AND prev IN ('start', 'change')),
               count(*) FILTER (WHERE action IN ('change', 'stop')
                                AND (prev IS NULL OR prev = 'stop'))
        FROM inf
        """
    ).fetchall()[0]
    if seq[0]:
        problems.append(f"an infusion starts while already running: {seq[0]} rows")
    if seq[1]:
        problems.append(f"an infusion changes or stops while not running: {seq[1]} rows")
    return problems


def segments_to_events(con: duckdb.DuckDBPyConnection, segments: str) -> duckdb.DuckDBPyRelation:
    """Turn rate segments into start/change/stop events, vectorised.

    `segments` has the event columns (time = segment start, numeric_value = rate) plus
    `seg_end`. Segments of a drug that touch or overlap form one course: its first segment is a
    `start`, later ones a `change` at their own start (the latest charted rate wins when rows
    overlap, e.g. corrections), and one `stop` at the course's last end. Zero-rate segments end
    a course rather than start one. Flagged segments are kept as single flagged events so the
    audit can count them; they never open or close a course.
    """
    return con.sql(
        f"""
        WITH usable AS (
            SELECT * FROM {segments}
            WHERE quality IS NULL AND numeric_value > 0 AND seg_end > time
        ),
        -- one segment per start instant: overlapping duplicates keep the longest, then highest
        dedup AS (
            SELECT * FROM usable
            QUALIFY row_number() OVER (PARTITION BY stay_id, code, time
                                       ORDER BY seg_end DESC, numeric_value DESC, source) = 1
        ),
        ordered AS (
            SELECT *, max(seg_end) OVER (PARTITION BY stay_id, code ORDER BY time
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_reach
            FROM dedup
        ),
        islands AS (
            SELECT *, prev_reach IS NULL OR prev_reach < time AS opens,
                   sum(CASE WHEN prev_reach IS NULL OR prev_reach < time THEN 1 ELSE 0 END)
                     OVER (PARTITION BY stay_id, code ORDER BY time ROWS UNBOUNDED PRECEDING)
                     AS course
            FROM ordered
        ),
        changes AS (
            SELECT *, lag(numeric_value) OVER (PARTITION BY stay_id, code, course ORDER BY time)
                      AS prev_rate,
                      lag(unit) OVER (PARTITION BY stay_id, code, course ORDER BY time)
                      AS prev_unit
            FROM islands
        ),
        stops AS (
            SELECT any_value(subject_id) AS subject_id, stay_id, max(seg_end) AS time, code,
                   arg_max(unit, seg_end) AS unit, arg_max(source, seg_end) AS source
            FROM islands GROUP BY stay_id, code, course
        )
        SELECT subject_id, stay_id, time, code, numeric_value, unit,
               CAST(NULL AS VARCHAR) AS method,
               CASE WHEN opens THEN 'start' ELSE 'change' END AS action,
               concentration, source, CAST(NULL AS VARCHAR) AS quality
        FROM changes
        WHERE opens OR prev_rate IS DISTINCT FROM numeric_value
              OR prev_unit IS DISTINCT FROM unit
        UNION ALL
        SELECT subject_id, stay_id, time, code, 0.0, unit, NULL, 'stop', NULL, source, NULL
        FROM stops
        UNION ALL
        SELECT subject_id, stay_id, time, code, numeric_value, unit, NULL, 'start',
               concentration, source, quality
        FROM {segments} WHERE quality IS NOT NULL
        """
    )


def charted_rates_to_segments(
    con: duckdb.DuckDBPyConnection,
    rates: str,
    max_validity_minutes: float | None,
    last_validity_minutes: float | None,
) -> duckdb.DuckDBPyRelation:
    """Rates charted at instants (eICU, CareVue, CLIF) become segments ending at the next row.

    `rates` has the event columns. A charted rate holds until the next charted row of the same
    drug, at most `max_validity_minutes`; the last row holds `last_validity_minutes` (None: it
    closes the course, as when the source ends its courses with an explicit stop).
    """
    max_v = "NULL" if max_validity_minutes is None else f"INTERVAL {max_validity_minutes} MINUTE"
    last_v = (
        "INTERVAL 0 MINUTE"
        if last_validity_minutes is None
        else f"INTERVAL {last_validity_minutes} MINUTE"
    )
    return con.sql(
        f"""
        WITH r AS (
            SELECT *, lead(time) OVER (PARTITION BY stay_id, code
                                       ORDER BY time, numeric_value) AS nxt
            FROM {rates} WHERE quality IS NULL
        )
        SELECT subject_id, stay_id, time, code, numeric_value, unit, method, action,
               concentration, source, quality,
               CASE WHEN nxt IS NULL THEN time + {last_v}
                    WHEN {max_v} IS NULL THEN nxt
                    ELSE least(nxt, time + {max_v}) END AS seg_end
        FROM r
        UNION ALL
        SELECT *, time AS seg_end FROM {rates} WHERE quality IS NOT NULL
        """
    )


__all__ += ["QUALITY_FLAGS", "charted_rates_to_segments"]
