"""As-of replay: states hold only the past, and later events never change earlier decisions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vasoguide.engine import assess
from vasoguide.protocol import load_protocol
from vasoguide.state import parse_state
from vasoguide.timeline.replay import (
    StayEvents,
    decision_times,
    default_concentration,
    lookback,
    replay_stay,
    state_at,
)

from .conftest import T0, at, event, shock_course

PROTOCOL = load_protocol()
STAY = {
    "stay_id": 10,
    "admission": T0,
    "discharge": at(24 * 60),
    "trauma": False,
    "age_years": 64.0,
}


def _stay(rows: list[dict[str, Any]]) -> StayEvents:
    return StayEvents.from_rows(STAY, rows)


def _times_in(state: dict[str, Any]) -> list[datetime]:
    out = []
    for key in ("observations", "fluids", "infusions"):
        out += [item["time"] for item in state[key]]
    return out


def test_a_state_holds_nothing_after_its_time() -> None:
    stay = _stay(shock_course())
    now = at(100)
    state = state_at(stay, now, lookback(PROTOCOL), default_concentration(PROTOCOL))
    assert state["time"] == now
    assert max(_times_in(state)) <= now
    doses = [i["dose"]["value"] for i in state["infusions"]]
    assert doses == [0.05, 0.1]  # the 180-min change and the stop are in the future
    urine = [o for o in state["observations"] if o["code"] == "urine_output"]
    assert [(o["start"], o["time"]) for o in urine] == [(T0, at(60))]
    parse_state(state)  # a valid PatientState


def test_a_state_keeps_the_latest_value_older_than_the_window() -> None:
    rows = [*shock_course(), event(60 * 30, "map", 70, "mm[Hg]", method="arterial")]
    stay = _stay(rows)
    now = at(60 * 30)
    state = state_at(stay, now, timedelta(hours=1), None)
    lactates = [o for o in state["observations"] if o["code"] == "lactate"]
    assert [o["value"] for o in lactates] == [2.9]  # 28 h old: the engine judges staleness
    assert state["patient"]["weight"] == {"value": 80.0, "unit": "kg"}


def test_decision_times_are_each_new_pressure_or_a_grid() -> None:
    stay = _stay(shock_course())
    assert decision_times(stay)[:3] == [at(0), at(15), at(30)]
    grid = decision_times(stay, every_minutes=60)
    assert grid[:3] == [at(0), at(60), at(120)] and grid[-1] == at(24 * 60)


def test_the_replay_follows_the_course() -> None:
    rows = replay_stay(_stay(shock_course()), PROTOCOL, assess)
    by_time = {r["time"]: r for r in rows}
    assert by_time[at(0)]["target_measure"] == "map"
    assert by_time[at(45)]["ne_running"] is True
    assert by_time[at(45)]["ne_dose_ug_kg_min"] == pytest.approx(0.05)
    assert by_time[at(240)]["ne_running"] is False
    assert all(r["evaluated"] for r in rows)


def _later_events(cut: float, draws: list[tuple[int, int, float]]) -> list[dict[str, Any]]:
    kinds = [
        lambda m, v: event(m, "map", 40 + v * 80, "mm[Hg]", method="arterial"),
        lambda m, v: event(m, "sbp", 70 + v * 90, "mm[Hg]", method="noninvasive"),
        lambda m, v: event(m, "infusion.norepinephrine", 0.01 + v, "ug/kg/min", action="change"),
        lambda m, v: event(m, "fluid.crystalloid", 250 + v * 2000, "mL"),
        lambda m, v: event(m, "lactate", 0.5 + v * 10, "mmol/L"),
        lambda m, v: event(m, "urine_output", v * 300, "mL"),
        lambda m, v: event(m, "weight", 40 + v * 100, "kg"),
    ]
    return [kinds[k](cut + 1 + offset, v) for k, offset, v in draws]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.sampled_from([20.0, 50.0, 100.0, 170.0]),
    draws=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 600), st.floats(0, 1)),
        min_size=1,
        max_size=12,
    ),
)
def test_no_look_ahead_appending_later_events_never_changes_an_earlier_decision(
    cut: float, draws: list[tuple[int, int, float]]
) -> None:
    base = [r for r in shock_course() if r["time"] <= at(cut)]
    before = replay_stay(_stay(base), PROTOCOL, assess)
    after = replay_stay(_stay(base + _later_events(cut, draws)), PROTOCOL, assess)
    earlier = [r for r in after if r["time"] <= at(cut)]
    assert earlier == before
    assert len(after) >= len(before)


def test_no_look_ahead_holds_for_the_whole_course_cut_anywhere() -> None:
    full = replay_stay(_stay(shock_course()), PROTOCOL, assess)
    for cut in (30, 75, 150, 200):
        part = replay_stay(
            _stay([r for r in shock_course() if r["time"] <= at(cut)]), PROTOCOL, assess
        )
        assert part == [r for r in full if r["time"] <= at(cut)]


def test_leaving_out_old_pressures_changes_no_decision() -> None:
    rows = shock_course()
    # a long, dense pressure history with a NE course, so old readings are plentiful
    rows += [
        event(300 + 7 * i, "map", 55 + (i * 13) % 40, "mm[Hg]", method="arterial")
        for i in range(150)
    ]
    rows += [
        event(320, "infusion.norepinephrine", 0.08, "ug/kg/min", action="start"),
        event(700, "infusion.norepinephrine", 0.15, "ug/kg/min", action="change"),
    ]
    stay = _stay(rows)
    trimmed = replay_stay(stay, PROTOCOL, assess)
    full = replay_stay(stay, PROTOCOL, assess, trim_pressures=False)
    assert len(full) > 150
    assert trimmed == full


def test_pruning_skips_only_quiet_times_and_keeps_every_other_decision() -> None:
    rows = shock_course()
    # a quiet day more than a look-back window later: pressure above target, nothing running
    rows += [event(60 * 30 + 30 * i, "map", 85, "mm[Hg]", method="arterial") for i in range(8)]
    stay = StayEvents.from_rows({**STAY, "discharge": at(48 * 60)}, rows)
    full = replay_stay(stay, PROTOCOL, assess)
    pruned = replay_stay(stay, PROTOCOL, assess, prune=True)
    assert [r["time"] for r in pruned] == [r["time"] for r in full]
    skipped = [(f, p) for f, p in zip(full, pruned, strict=True) if not p["evaluated"]]
    assert skipped, "the quiet day should be skipped"
    assert {f["decision"] for f, _ in skipped} == {"NOT_INDICATED"}
    kept = [(f, p) for f, p in zip(full, pruned, strict=True) if p["evaluated"]]
    assert all(f == p for f, p in kept)
    assert all(p["time"] >= at(60 * 30) for _, p in skipped)
