"""The per-stay function both runners call: results depend on a stay's own rows only."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tests.timeline.conftest import at, event, event_set
from vasoguide.engine import assess
from vasoguide.protocol import load_protocol
from vasoguide.timeline.audit import run_audit, stay_chunks
from vasoguide.timeline.perstay import audit_stays

PROTOCOL = load_protocol()


def _stay_rows(stay_id: int, shift: float) -> list[dict[str, Any]]:
    """A hypotensive course on norepinephrine; an arterial and a cuff MAP at one instant."""
    rows = [event(10, "weight", 70 + shift, "kg"),
            event(12, "fluid.crystalloid", 1500, "mL"),
            event(30, "infusion.norepinephrine", 0.1, "ug/kg/min", action="start"),
            event(90, "infusion.norepinephrine", 0.2, "ug/kg/min", action="change"),
            event(200, "infusion.norepinephrine", 0, "ug/kg/min", action="stop"),
            event(50, "map", 9999, "mm[Hg]", quality="implausible")]
    for m, v in [(0, 55), (20, 58), (45, 61), (75, 66), (120, 70), (180, 72), (240, 74)]:
        rows.append(event(m, "map", v + shift, "mm[Hg]", method="arterial"))
    # a cuff reading charted at the same instant as an arterial one, reading low
    rows.append(event(120, "map", 52 + shift, "mm[Hg]", method="noninvasive"))
    return [dict(r, stay_id=stay_id, subject_id=stay_id) for r in rows]


def _stays(ids: list[int]) -> list[dict[str, Any]]:
    return [{"stay_id": s, "subject_id": s, "admission": at(0), "discharge": at(600),
             "care_unit": "MICU", "trauma": False, "age_years": 60.0} for s in ids]


def test_the_order_rows_are_stored_in_changes_no_decision_or_metric() -> None:
    ids = [3, 5, 8]
    rows = [r for i, s in enumerate(ids) for r in _stay_rows(s, shift=i)]
    results = []
    for seed in range(4):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        r = run_audit(event_set(shuffled, _stays(ids)), PROTOCOL, assess)
        results.append((r.metrics.to_pylist(), r.decisions.to_pylist()))
    assert all(r == results[0] for r in results[1:])
    # the arterial reading is the one kept at the tied instant
    at_120 = [d for d in results[0][1] if d["time"] == at(120) and d["stay_id"] == 3]
    assert at_120 and at_120[0]["pressure"] == 70


def test_a_chunk_gives_each_stay_what_the_stay_alone_gives() -> None:
    ids = [3, 5, 8, 13]
    es = event_set([r for i, s in enumerate(ids) for r in _stay_rows(s, shift=2 * i)],
                   _stays(ids))
    [(stays, events)] = list(stay_chunks(es, 10))
    together = audit_stays(stays, events, PROTOCOL, assess)
    assert together.metrics.num_rows == 4
    for s in ids:
        alone = audit_stays(stays.filter(pc.equal(stays.column("stay_id"), s)),
                            events.filter(pc.equal(events.column("stay_id"), s)),
                            PROTOCOL, assess)
        for name in ("decisions", "metrics", "quality"):
            whole: pa.Table = getattr(together, name)
            mine = whole.filter(pc.equal(whole.column("stay_id"), s))
            assert getattr(alone, name).to_pylist() == mine.to_pylist(), (s, name)
    assert together.quality.to_pylist()[0] == {"stay_id": 3, "code": "map",
                                               "quality": "implausible", "rows": 1}


def test_a_dataset_without_stays_gives_empty_tables_with_their_columns() -> None:
    from vasoguide.timeline.events import EVENT_SCHEMA, STAY_SCHEMA, EventSet
    from vasoguide.timeline.readers._sql import connect

    con = connect()
    con.register("e", EVENT_SCHEMA.empty_table())
    con.register("s", STAY_SCHEMA.empty_table())
    result = run_audit(EventSet(con, "e", "s", "empty"), PROTOCOL, assess)
    assert result.metrics.num_rows == 0 and "minutes_on_ne" in result.metrics.column_names
    assert result.headline["stays_read"] == 0
