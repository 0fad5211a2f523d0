"""Audit metrics on hand-made stays whose course is known."""

from __future__ import annotations

from typing import Any

import pytest

from vasoguide.engine import assess
from vasoguide.protocol import load_protocol
from vasoguide.timeline.audit import DEFINITIONS, run_audit

from .conftest import T0, at, event, event_set, shock_course

PROTOCOL = load_protocol()


def _stay(stay_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "stay_id": stay_id,
        "subject_id": stay_id,
        "admission": T0,
        "discharge": at(24 * 60),
        "care_unit": "MICU",
        "trauma": False,
        "age_years": 60.0,
        **extra,
    }


def _abrupt_course(stay_id: int) -> list[dict[str, Any]]:
    """On norepinephrine well above the abrupt-stop setting, then stopped at once."""
    dose = 2 * float(PROTOCOL.setting("abrupt_stop_above", "ug/kg/min"))
    rows = [
        event(0, "weight", 70, "kg", stay_id=stay_id),
        event(0, "infusion.norepinephrine", dose, "ug/kg/min", action="start", stay_id=stay_id),
        event(120, "infusion.norepinephrine", 0, "ug/kg/min", action="stop", stay_id=stay_id),
        # a unit error: a value charted in mg/kg/min, read literally (1000x)
        event(
            90,
            "infusion.norepinephrine",
            0.2,
            None,
            action="start",
            stay_id=stay_id,
            quality="unit_unknown",
        ),
    ]
    rows += [
        event(10 * i, "map", 70, "mm[Hg]", method="arterial", stay_id=stay_id) for i in range(16)
    ]
    return rows


@pytest.fixture(scope="module")
def result() -> Any:
    rows = shock_course()
    rows += [
        event(15 * i, "map", 80, "mm[Hg]", method="noninvasive", stay_id=11) for i in range(10)
    ]
    rows += _abrupt_course(12)
    es = event_set(rows, [_stay(10), _stay(11), _stay(12)])
    return run_audit(es, PROTOCOL, assess)


def _metrics(result: Any) -> dict[int, dict[str, Any]]:
    return {m["stay_id"]: m for m in result.metrics.to_pylist()}


def test_every_stay_gets_a_row_and_ne_stays_are_counted(result: Any) -> None:
    m = _metrics(result)
    assert sorted(m) == [10, 11, 12]
    assert result.headline["stays_read"] == 3
    assert result.headline["ne_stays"] == 2
    assert m[10]["ne_start"] == at(40) and m[11]["on_ne"] is False


def test_time_on_ne_splits_into_in_below_and_above_target(result: Any) -> None:
    s = _metrics(result)[10]
    # NE runs from 40 to 230 min; decisions at each reading and each NE event
    assert s["minutes_on_ne"] == pytest.approx(190)
    parts = [
        s["minutes_in_target_on_ne"] or 0,
        s["minutes_below_target_on_ne"] or 0,
        s["minutes_above_target_on_ne"] or 0,
    ]
    assert sum(parts) == pytest.approx(s["minutes_measured_on_ne"])
    assert s["minutes_measured_on_ne"] <= s["minutes_on_ne"]
    # below the MAP target at 45 (60), 60 (62) until the 66 at 75 min: 35 minutes on NE
    assert s["minutes_below_target_on_ne"] == pytest.approx(35)
    assert 0 < s["fraction_in_target_on_ne"] < 1


def test_criteria_delay_is_measured_from_the_engine_start_advice(result: Any) -> None:
    s = _metrics(result)[10]
    decisions = [d for d in result.decisions.to_pylist() if d["stay_id"] == 10]
    starts = [d["time"] for d in decisions if d["decision"] == "START_NOREPINEPHRINE"]
    if starts:
        assert s["criteria_first_met"] == starts[0]
        assert s["minutes_criteria_to_ne"] == (at(40) - starts[0]).total_seconds() / 60
    else:
        assert s["criteria_first_met"] is None and s["ne_before_criteria"] is True


def test_an_abrupt_stop_and_a_unit_error_are_found(result: Any) -> None:
    m = _metrics(result)
    assert m[12]["abrupt_stops"] == 1
    assert m[10]["abrupt_stops"] == 0
    assert m[12]["unit_unknown_rows"] == 1
    assert result.headline["unit_unknown_rows"] == 1


def test_the_volume_check_at_ne_start_comes_from_the_assessment(result: Any) -> None:
    m = _metrics(result)[10]
    at_start = [
        d for d in result.decisions.to_pylist() if d["stay_id"] == 10 and d["time"] == at(40)
    ]
    assert len(at_start) == 1
    expected = "VOLUME_NOT_CONFIRMED" in at_start[0]["alerts"]
    assert m["ne_start_volume_not_confirmed"] is expected


def test_every_headline_figure_is_defined(result: Any) -> None:
    assert set(result.headline) <= set(DEFINITIONS)
