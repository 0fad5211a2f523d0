"""Small event tables built in the tests (never extracts of real data)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from vasoguide.timeline.events import EVENT_SCHEMA, STAY_SCHEMA, EventSet
from vasoguide.timeline.readers._sql import connect

T0 = datetime(2150, 3, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(
    minutes: float, code: str, value: float | None, unit: str | None = None, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in EVENT_SCHEMA.names}
    row.update(
        subject_id=1,
        stay_id=10,
        time=at(minutes),
        code=code,
        numeric_value=value,
        unit=unit,
        source="test",
    )
    row.update(extra)
    return row


def event_set(
    rows: list[dict[str, Any]],
    stays: list[dict[str, Any]] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> EventSet:
    con = con or connect()
    con.register("ev_arrow", pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    con.execute("CREATE OR REPLACE TABLE ev AS SELECT * FROM ev_arrow")
    stays = stays or [
        {
            "stay_id": 10,
            "subject_id": 1,
            "admission": at(0),
            "discharge": at(24 * 60),
            "care_unit": "MICU",
            "trauma": False,
            "age_years": 64.0,
        }
    ]
    con.register("st", pa.Table.from_pylist(stays, schema=STAY_SCHEMA))
    return EventSet(con, "ev", "st", "test")


@pytest.fixture
def make_events() -> Callable[..., EventSet]:
    return event_set


def shock_course() -> list[dict[str, Any]]:
    """A septic course: hypotension, fluids, NE start, titration, recovery and a wean."""
    rows = [event(0, "weight", 80, "kg")]
    maps = [58, 57, 56, 60, 62, 66, 70, 72, 75, 78, 80, 82, 84, 85, 86, 85, 84]
    for i, v in enumerate(maps):
        rows.append(event(15 * i, "map", v, "mm[Hg]", method="arterial"))
        rows.append(event(15 * i, "sbp", v + 35, "mm[Hg]", method="arterial"))
    rows.append(event(5, "fluid.crystalloid", 1000, "mL"))
    rows.append(event(25, "fluid.crystalloid", 1500, "mL"))
    rows.append(event(10, "lactate", 4.2, "mmol/L"))
    rows.append(event(130, "lactate", 2.9, "mmol/L"))
    rows.append(event(60, "urine_output", 20, "mL"))
    rows.append(event(120, "urine_output", 40, "mL"))
    rows.append(event(40, "infusion.norepinephrine", 0.05, "ug/kg/min", action="start"))
    rows.append(event(70, "infusion.norepinephrine", 0.1, "ug/kg/min", action="change"))
    rows.append(event(180, "infusion.norepinephrine", 0.05, "ug/kg/min", action="change"))
    rows.append(event(230, "infusion.norepinephrine", 0.0, "ug/kg/min", action="stop"))
    return rows
