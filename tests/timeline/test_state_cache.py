"""The replay's batched state building equals validating each state in full."""

from __future__ import annotations

from pathlib import Path

import pytest

from vasoguide.engine import assess
from vasoguide.protocol import load_protocol
from vasoguide.state import parse_state
from vasoguide.timeline.readers import read_mimic
from vasoguide.timeline.replay import (
    StateCache,
    StayEvents,
    build_state,
    decision_times,
    default_concentration,
    lookback,
    pressure_lookback,
    replay_stay,
    state_at,
)
from vasoguide.timeline.stay import load_stay
from vasoguide.timeline.synthetic import generate

from .conftest import event_set, shock_course

PROTOCOL = load_protocol()


def _check_stay(st: StayEvents) -> int:
    window, bp = lookback(PROTOCOL), pressure_lookback(PROTOCOL)
    conc = default_concentration(PROTOCOL)
    cache = StateCache()
    n = 0
    for now in decision_times(st, None):
        doc = state_at(st, now, window, conc, None, bp)
        fast, full = build_state(doc, cache), parse_state(doc)
        assert fast == full, now
        assert assess(fast, PROTOCOL).model_dump() == assess(full, PROTOCOL).model_dump()
        n += 1
    return n


def test_cached_states_equal_full_validation_on_the_hand_made_course() -> None:
    es = event_set(shock_course())
    assert _check_stay(load_stay(es, 10)) > 10


@pytest.mark.slow
def test_cached_states_equal_full_validation_on_synthetic_stays(tmp_path: Path) -> None:
    generate(tmp_path, 2, seed=3)
    es = read_mimic(tmp_path)
    ids = [r[0] for r in es.con.sql(f"SELECT stay_id FROM {es.stays}").fetchall()]
    assert sum(_check_stay(load_stay(es, s)) for s in ids) > 100


def test_the_replay_with_the_cache_gives_the_same_decisions_as_full_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import vasoguide.timeline.replay as replay

    st = load_stay(event_set(shock_course()), 10)
    fast = replay_stay(st, PROTOCOL, assess)
    monkeypatch.setattr(replay, "build_state", lambda doc, cache: parse_state(doc))
    assert replay_stay(st, PROTOCOL, assess) == fast
