"""The per-stay work of the audit: whole stays' events (Arrow) -> decisions and metrics (Arrow).

This is the one implementation both audit runners call: the local audit (DuckDB, worker
processes, a chunk of stays per call) and the Spark audit (`groupBy(...).applyInArrow`, a
group of whole stays per call; vasoguide.scaleout). It replays the engine
(audit._replay_many) and measures each stay with the audit's own metric SQL
(audit.stay_metrics) on a private DuckDB connection holding only the given stays' rows. Every
metric is per stay (each derivation partitions by stay), so a stay's results depend on its own
rows only, and a chunk gives the same rows as its stays one at a time
(tests/scaleout/test_perstay.py), up to the rounding of DuckDB's window sums (their order of
additions depends on the table's other rows): both runners therefore cut the same chunks,
CHUNK_SIZE stays in stay id order, and their results are bit-identical.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..protocol import Protocol
from .events import EVENT_SCHEMA, STAY_SCHEMA, EventSet
from .replay import Assess, StayEvents, decisions_table

__all__ = ["CHUNK_SIZE", "QUALITY_SCHEMA", "StayAudit", "StayOptions", "audit_stays", "sort_events"]

# Stays per call: the local audit's chunks and Spark's groups (one call has a fixed cost).
CHUNK_SIZE = 25

# derive.quality_counts' columns: flagged rows per stay, concept and reason
QUALITY_SCHEMA = pa.schema([
    pa.field("stay_id", pa.int64()),
    pa.field("code", pa.string()),
    pa.field("quality", pa.string()),
    pa.field("rows", pa.int64()),
])

# the columns the replay reads (StayEvents rows); the others only feed the metric SQL
_REPLAY_COLUMNS = ["stay_id", "time", "code", "numeric_value", "unit", "method", "action",
                   "concentration", "quality"]

# One total order for a stay's rows. Rows of one concept charted at one instant (an arterial
# and a cuff MAP, a weight in kg and in lb) are otherwise seen in whatever order the database
# returns them, and the replay keeps the last: the old local audit gave different decisions
# from run to run, and Spark's shuffle would give others again. Arterial sorts last (it wins,
# as derive.pressures prefers it); then by value, so the order depends on content alone.
_EVENT_ORDER = [
    ("stay_id", "ascending"), ("time", "ascending"), ("code", "ascending"),
    ("action", "ascending"), ("method", "descending"), ("numeric_value", "ascending"),
    ("unit", "ascending"), ("concentration", "ascending"), ("source", "ascending"),
    ("quality", "ascending"), ("subject_id", "ascending"),
]


@dataclass(frozen=True)
class StayOptions:
    """How the stays are replayed (picklable: sent to worker processes and Spark executors)."""

    shock_type: str | None = None
    every_minutes: float | None = None
    prune: bool = True


@dataclass
class StayAudit:
    decisions: pa.Table  # replay.DECISION_SCHEMA
    metrics: pa.Table  # audit.stay_metrics' columns, one row per stay
    quality: pa.Table  # QUALITY_SCHEMA


def sort_events(events: pa.Table) -> pa.Table:
    """The events in EVENT_SCHEMA, in the total order both runners use."""
    events = events.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
    try:  # pyarrow >= 25 takes null placement per key
        keys = [(name, order, "at_start") for name, order in _EVENT_ORDER]
        return events.take(pc.sort_indices(events, sort_keys=keys))
    except (TypeError, ValueError, pa.ArrowInvalid):
        return events.take(pc.sort_indices(events, sort_keys=_EVENT_ORDER,
                                           null_placement="at_start"))


def audit_stays(
    stays: pa.Table,
    events: pa.Table,
    protocol: Protocol,
    assess: Assess,
    options: StayOptions = StayOptions(),
) -> StayAudit:
    """Replay and measure whole stays: `stays` (STAY_SCHEMA rows), `events` all their rows.

    `events` holds every row of these stays (flagged rows too: they are counted); rows of
    other stays must not be passed, rows without a stay in `stays` are only counted in quality.
    """
    from . import audit  # audit imports this module: import at call time

    stays = stays.select(STAY_SCHEMA.names).cast(STAY_SCHEMA).sort_by("stay_id")
    events = sort_events(events)
    usable = events.filter(pc.is_null(events.column("quality"))).select(_REPLAY_COLUMNS)
    by_stay: dict[int, list[dict[str, Any]]] = {}
    for r in usable.to_pylist():
        by_stay.setdefault(r["stay_id"], []).append(r)
    chunk = [StayEvents.from_rows(s, by_stay.get(s["stay_id"], [])) for s in stays.to_pylist()]
    decisions = decisions_table(audit._replay_many(
        chunk, protocol, assess, options.shock_type, options.every_minutes, options.prune))
    con = _connection()
    try:
        con.register("_stay_events", events)
        con.register("_stay_stays", stays)
        es = EventSet(con, "_stay_events", "_stay_stays", "stays")
        metrics = audit.stay_metrics(es, decisions, protocol)
        from . import derive

        quality = derive.quality_counts(con, "_stay_events").order(
            "stay_id, code, quality").to_arrow_table().cast(QUALITY_SCHEMA)
    finally:
        for name in ("_stay_events", "_stay_stays", "_audit_decisions"):
            con.unregister(name)
    return StayAudit(decisions, metrics, quality)


_LOCAL = threading.local()


def _connection() -> Any:
    """This thread's DuckDB connection for the metric SQL (opening one costs ~50 ms)."""
    from .readers._sql import connect

    if getattr(_LOCAL, "con", None) is None:
        _LOCAL.con = connect(threads=1)
    return _LOCAL.con
