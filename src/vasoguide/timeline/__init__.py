"""Shock as a course: canonical ICU events, derivations, as-of replay and audit.

Readers map CLIF, MEDS, MIMIC and eICU tables to one event table (events.py); derivations run
vectorised in DuckDB (derive.py); the replay builds a PatientState at each decision time from
the past only and runs the engine (replay.py); the audit measures a whole dataset against the
protocol (audit.py). Needs the `data` extra (duckdb, pyarrow, matplotlib). See docs/TIMELINE.md.
"""

from __future__ import annotations

from .events import EVENT_SCHEMA, STAY_SCHEMA, EventSet, check_events
from .readers import open_dataset

__all__ = ["EVENT_SCHEMA", "STAY_SCHEMA", "EventSet", "check_events", "open_dataset"]
