"""PatientState validation: bad input names the field; nothing is silently guessed or dropped."""

from __future__ import annotations

from typing import Any

import pytest

from vasoguide import parse_state
from vasoguide.errors import InputError


def _with(base: Any, name: str, **given: Any) -> dict[str, Any]:
    return base(name, **given)


def _fails(state: dict[str, Any]) -> str:
    with pytest.raises(InputError) as err:
        parse_state(state)
    return "\n".join(err.value.problems)


def test_pressure_in_kilograms_names_the_field(base: Any) -> None:
    s = base("septic_adult")
    s["observations"][0]["unit"] = "kg"
    msg = _fails(s)
    assert "observations[0]" in msg and "'kg'" in msg and "pressure" in msg


def test_unknown_field_is_refused_not_ignored(base: Any) -> None:
    s = base("septic_adult")
    s["context"]["traumatic_brain_injry"] = True
    assert "context.traumatic_brain_injry: unknown field" in _fails(s)


def test_unknown_enum_value(base: Any) -> None:
    s = base("septic_adult")
    s["context"]["shock_type"] = "anaphylactic"
    assert "context.shock_type" in _fails(s)


def test_times_need_a_utc_offset(base: Any) -> None:
    s = base("septic_adult")
    s["time"] = "2026-03-01T08:00:00"
    assert "time" in _fails(s)


def test_ml_per_hour_needs_a_concentration(base: Any) -> None:
    s = base("septic_adult", infusions=[{"drug": "norepinephrine", "dose": [10, "mL/h"], "ago": 5}])
    assert "concentration" in _fails(s)


def test_vasopressin_in_micrograms_is_refused(base: Any) -> None:
    s = base(
        "septic_adult", infusions=[{"drug": "vasopressin", "dose": [0.03, "ug/min"], "ago": 5}]
    )
    assert "vasopressin" in _fails(s)


def test_norepinephrine_in_units_is_refused(base: Any) -> None:
    s = base(
        "septic_adult", infusions=[{"drug": "norepinephrine", "dose": [0.03, "U/min"], "ago": 5}]
    )
    assert "norepinephrine" in _fails(s)


def test_urine_output_needs_its_collection_start(base: Any) -> None:
    s = base("septic_adult", obs=[{"code": "urine_output", "value": 30, "unit": "mL", "ago": 0}])
    assert "start" in _fails(s)


def test_every_problem_is_reported_at_once(base: Any) -> None:
    s = base("septic_adult")
    s["observations"][0]["unit"] = "kg"
    s["patient"]["age_years"] = -3
    problems = _fails(s).splitlines()
    assert len(problems) == 2


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_non_finite_numbers_are_refused(base: Any, value: str) -> None:
    s = base("septic_adult")
    s["observations"][0]["value"] = float(value)
    assert "observations[0].value" in _fails(s)


def test_weight_in_pounds_is_converted(base: Any) -> None:
    s = base("septic_adult")
    s["patient"]["weight"] = {"value": 176, "unit": "[lb_av]"}
    assert parse_state(s).patient.weight is not None
    assert parse_state(s).patient.weight.canonical == pytest.approx(79.83, abs=0.01)


def test_json_text_is_accepted(base: Any) -> None:
    import json

    assert parse_state(json.dumps(base("septic_adult"))).context.shock_type == "septic"
