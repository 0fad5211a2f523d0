"""The canonical event table: segments become start/change/stop, invariants are enforced."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from vasoguide.timeline.events import (
    EVENT_SCHEMA,
    charted_rates_to_segments,
    check_events,
    segments_to_events,
)
from vasoguide.timeline.readers._sql import connect

from .conftest import at, event, event_set, shock_course


def _segments(rows: list[tuple[float, float, float, str | None]]) -> Any:
    con = connect()
    data = [
        {
            **event(start, "infusion.norepinephrine", rate, "ug/kg/min", quality=quality),
            "seg_end": at(end),
        }
        for start, end, rate, quality in rows
    ]
    schema = EVENT_SCHEMA.append(pa.field("seg_end", pa.timestamp("us", tz="UTC")))
    con.register("seg", pa.Table.from_pylist(data, schema=schema))
    rel = segments_to_events(con, "seg")
    out = rel.order("time, action").to_arrow_table().to_pylist()
    return [(r["time"], r["action"], r["numeric_value"], r["quality"]) for r in out]


def test_touching_segments_are_one_course_with_changes() -> None:
    got = _segments([(0, 30, 0.1, None), (30, 60, 0.2, None), (60, 90, 0.1, None)])
    assert got == [
        (at(0), "start", 0.1, None),
        (at(30), "change", 0.2, None),
        (at(60), "change", 0.1, None),
        (at(90), "stop", 0.0, None),
    ]


def test_a_gap_closes_the_course_and_a_later_segment_restarts_it() -> None:
    got = _segments([(0, 30, 0.1, None), (45, 60, 0.1, None)])
    assert [a for _, a, _, _ in got] == ["start", "stop", "start", "stop"]
    assert got[1][0] == at(30)


def test_overlapping_correction_becomes_a_change_and_the_course_ends_at_the_last_end() -> None:
    got = _segments([(0, 60, 0.1, None), (20, 40, 0.3, None)])
    assert got == [
        (at(0), "start", 0.1, None),
        (at(20), "change", 0.3, None),
        (at(60), "stop", 0.0, None),
    ]


def test_flagged_and_zero_rate_segments_never_open_a_course() -> None:
    got = _segments([(0, 30, 0.1, "rewritten"), (10, 20, 0.0, None)])
    assert got == [(at(0), "start", 0.1, "rewritten")]


def test_same_rate_rows_do_not_produce_changes() -> None:
    got = _segments([(0, 30, 0.1, None), (30, 60, 0.1, None)])
    assert [a for _, a, _, _ in got] == ["start", "stop"]


def test_charted_rates_hold_until_the_next_row_at_most_the_validity() -> None:
    con = connect()
    rows = [
        event(0, "infusion.norepinephrine", 5, "ug/min"),
        event(60, "infusion.norepinephrine", 8, "ug/min"),
        event(600, "infusion.norepinephrine", 0, "ug/min"),
    ]
    con.register("rates", pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    segs = charted_rates_to_segments(con, "rates", 360, 360).order("time").to_arrow_table()
    ends = segs.column("seg_end").to_pylist()
    # 5 ug/min until the next row; 8 ug/min for at most 6 h; the zero row closes the course
    assert ends[:2] == [at(60), at(420)]
    assert segs.column("numeric_value").to_pylist()[2] == 0


def test_a_valid_course_passes_every_invariant() -> None:
    es = event_set(shock_course())
    assert check_events(es.con, es.events) == []


def test_broken_invariants_are_all_reported() -> None:
    rows = shock_course()
    rows.append(event(300, "infusion.norepinephrine", 0.1, "ug/kg/min", action="change"))
    rows.append(event(310, "map", float("nan"), "mm[Hg]"))
    rows.append(event(320, "infusion.norepinephrine", 0.2, "ug/kg/min"))
    rows.append(event(330, "map", 70, "mm[Hg]", method="invasive"))
    es = event_set(rows)
    problems = check_events(es.con, es.events)
    text = "\n".join(problems)
    assert "value is finite: 1 rows" in text
    assert "infusions carry an action: 1 rows" in text
    assert "method is arterial/noninvasive: 1 rows" in text
    assert "changes or stops while not running: 1 rows" in text
