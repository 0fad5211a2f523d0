"""Derivations on small timelines whose answers can be worked out by hand."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from vasoguide.timeline import derive

from .conftest import at, event, event_set, shock_course


def _rows(rel: Any) -> list[dict[str, Any]]:
    return list(rel.order("stay_id, time").to_arrow_table().to_pylist())


def test_ne_dose_from_every_charted_unit() -> None:
    rows = [
        event(0, "weight", 80, "kg"),
        event(10, "infusion.norepinephrine", 8, "ug/min", action="start"),
        # 30 mL/h of 16 ug/mL = 8 ug/min = 0.1 ug/kg/min at 80 kg
        event(20, "infusion.norepinephrine", 30, "mL/h", action="change", concentration=16.0),
        # no concentration charted: the site default (here 32 ug/mL) applies
        event(30, "infusion.norepinephrine", 15, "mL/h", action="change"),
        event(40, "infusion.norepinephrine", 0.2, "ug/kg/min", action="change"),
        event(50, "infusion.norepinephrine", 0, "ug/kg/min", action="stop"),
    ]
    es = event_set(rows)
    got = _rows(derive.norepinephrine_dose(es.con, es.events, 32.0))
    assert [round(r["dose_ug_kg_min"], 4) for r in got] == [0.1, 0.1, 0.1, 0.2, 0.0]
    assert [r["concentration_assumed"] for r in got] == [False, False, True, False, False]
    without = _rows(derive.norepinephrine_dose(es.con, es.events, None))
    assert without[2]["dose_ug_kg_min"] is None


def test_ne_dose_without_weight_is_unknown_for_fixed_doses() -> None:
    es = event_set([event(10, "infusion.norepinephrine", 8, "ug/min", action="start")])
    assert _rows(derive.norepinephrine_dose(es.con, es.events))[0]["dose_ug_kg_min"] is None


def test_weight_used_is_the_latest_at_or_before_the_dose() -> None:
    rows = [
        event(0, "weight", 100, "kg"),
        event(30, "weight", 50, "kg"),
        event(20, "infusion.norepinephrine", 10, "ug/min", action="start"),
        event(40, "infusion.norepinephrine", 10, "ug/min", action="change"),
    ]
    es = event_set(rows)
    assert [r["weight_kg"] for r in _rows(derive.norepinephrine_dose(es.con, es.events))] == [
        100,
        50,
    ]


def test_norepinephrine_equivalent_sums_the_agents_in_force() -> None:
    rows = [
        event(0, "weight", 80, "kg"),
        event(0, "infusion.norepinephrine", 0.2, "ug/kg/min", action="start"),
        event(10, "infusion.vasopressin", 0.04, "U/min", action="start"),
        event(20, "infusion.phenylephrine", 1.0, "ug/kg/min", action="start"),
        event(30, "infusion.norepinephrine", 0, "ug/kg/min", action="stop"),
    ]
    es = event_set(rows)
    got = {
        r["time"]: r["nee_ug_kg_min"]
        for r in _rows(derive.norepinephrine_equivalent(es.con, es.events))
    }
    # vasopressin 0.04 U/min counts 0.1; phenylephrine 1.0 counts 0.1 (mimic-code factors)
    assert got[at(0)] == pytest.approx(0.2)
    assert got[at(10)] == pytest.approx(0.3)
    assert got[at(20)] == pytest.approx(0.4)
    assert got[at(30)] == pytest.approx(0.2)


def test_norepinephrine_equivalent_is_unknown_while_a_dose_cannot_be_converted() -> None:
    rows = [
        event(0, "infusion.norepinephrine", 8, "ug/min", action="start"),  # no weight yet
        event(30, "weight", 80, "kg"),
        event(40, "infusion.norepinephrine", 8, "ug/min", action="change"),
    ]
    es = event_set(rows)
    got = _rows(derive.norepinephrine_equivalent(es.con, es.events))
    assert [r["nee_ug_kg_min"] for r in got] == [None, pytest.approx(0.1)]
    assert got[0]["norepinephrine"] is None and got[0]["vasopressin"] == 0


def test_cumulative_fluids_per_kg_and_urine_rate_over_a_window() -> None:
    es = event_set(shock_course())
    fluids = _rows(derive.cumulative_fluids(es.con, es.events))
    assert [r["crystalloid_ml_per_kg"] for r in fluids] == [12.5, 31.25]
    urine = _rows(derive.urine_rate(es.con, es.events, 2.0))
    # at 120 min the 2-h window holds 20 + 40 mL: 60 / 80 kg / 2 h
    assert urine[-1]["urine_ml_kg_h"] == pytest.approx(0.375)
    # the window is (t - 1 h, t]: the 20 mL charted at 60 min was collected before it
    one_hour = _rows(derive.urine_rate(es.con, es.events, 1.0))
    assert one_hour[-1]["urine_ml_kg_h"] == pytest.approx(0.5)


def test_lactate_change_is_scaled_to_two_hours() -> None:
    es = event_set(shock_course())
    got = _rows(derive.lactate_change(es.con, es.events))
    assert got[0]["change_per_2h"] is None
    # 4.2 -> 2.9 over 2 h
    assert got[1]["change_per_2h"] == pytest.approx(-1.3)


def test_hypotension_episodes_against_the_target_in_force() -> None:
    es = event_set(shock_course())
    targets = pa.table(
        {
            "stay_id": [10, 10],
            "time": [at(0), at(120)],
            "measure": ["map", "map"],
            "low": [65.0, 80.0],
        }
    )
    es.con.register("targets", targets)
    got = derive.hypotension_episodes(es.con, es.events, "targets").to_arrow_table().to_pylist()
    first, second = sorted(got, key=lambda r: r["start"])
    # readings 58..62 at 0-60 min are below 65; the 66 at 75 min ends the episode
    assert (first["start"], first["end"], first["readings"], first["nadir"]) == (
        at(0),
        at(75),
        5,
        56,
    )
    assert first["duration_min"] == 75 and first["sustained"]
    # (65-58)*15 + (65-57)*15 + (65-56)*15 + (65-60)*15 + (65-62)*15
    assert first["area_below_mmhg_min"] == pytest.approx(480)
    # from 120 min the target is 80: 75 and 78 are below it; 80 at 150 min ends the episode
    assert (second["start"], second["end"], second["nadir"], second["sustained"]) == (
        at(120),
        at(150),
        75,
        True,
    )


def test_flagged_rows_are_left_out_of_derivations() -> None:
    rows = [*shock_course(), event(5, "lactate", 90, "mmol/L", quality="implausible")]
    es = event_set(rows)
    assert len(_rows(derive.lactate_change(es.con, es.events))) == 2
    counts = _rows(derive.quality_counts(es.con, es.events).project("stay_id, NULL AS time, *"))
    assert counts[0]["quality"] == "implausible" and counts[0]["rows"] == 1
