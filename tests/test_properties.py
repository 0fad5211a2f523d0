"""Hypothesis properties of the engine: safe on any input, blind to the future, within limits."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vasoguide import InputError, assess, load_protocol
from vasoguide.assessment import DECISIONS, Assessment
from vasoguide.state import SHOCK_TYPES

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
P = load_protocol()
HARD_WEIGHT = P.setting("hard_limit_weight", "ug/kg/min")
HARD_FIXED = P.setting("hard_limit_fixed", "ug/min")


def at(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


past = st.floats(min_value=-24 * 60, max_value=0, allow_nan=False)
OBS_UNITS = {
    "map": "mm[Hg]",
    "sbp": "mmHg",
    "dbp": "mm[Hg]",
    "lactate": "mmol/L",
    "crt": "s",
    "heart_rate": "/min",
    "cardiac_index": "L/min/m2",
    "scvo2": "%",
    "gcs": "{score}",
}


@st.composite
def observations(draw: Any, when: Any = past) -> dict[str, Any]:
    code = draw(st.sampled_from(sorted(OBS_UNITS)))
    obs = {
        "code": code,
        "value": draw(st.floats(min_value=0, max_value=450, allow_nan=False)),
        "unit": OBS_UNITS[code],
        "time": at(draw(when)),
    }
    if code in ("map", "sbp", "dbp"):
        obs["method"] = draw(st.sampled_from(["arterial", "noninvasive"]))
    return obs


@st.composite
def infusions(draw: Any, when: Any = past) -> dict[str, Any]:
    drug = draw(st.sampled_from(["norepinephrine", "norepinephrine", "vasopressin", "epinephrine"]))
    if drug == "vasopressin":
        dose = {"value": draw(st.floats(0, 0.1)), "unit": draw(st.sampled_from(["U/min", "U/h"]))}
    else:
        unit = draw(st.sampled_from(["ug/kg/min", "mcg/min", "mg/kg/min", "mL/h", "ug/kg/min"]))
        dose = {"value": draw(st.floats(0, 40, allow_nan=False)), "unit": unit}
    entry: dict[str, Any] = {"drug": drug, "dose": dose, "time": at(draw(when))}
    if dose["unit"] == "mL/h" or draw(st.booleans()):
        unit = "U/mL" if drug == "vasopressin" else "ug/mL"
        entry["concentration"] = {"value": draw(st.floats(1, 200)), "unit": unit}
    entry["route"] = draw(st.sampled_from(["central", "peripheral", "intraosseous"]))
    return entry


@st.composite
def states(draw: Any) -> dict[str, Any]:
    age = draw(st.one_of(st.none(), st.floats(min_value=0, max_value=100)))
    weight = draw(st.one_of(st.none(), st.floats(min_value=0.5, max_value=250)))
    patient: dict[str, Any] = {"age_years": age}
    if weight is not None:
        patient["weight"] = {"value": weight, "unit": "kg"}
    flag = st.one_of(st.none(), st.booleans())
    context = {
        "shock_type": draw(
            st.one_of(
                st.none(),
                st.sampled_from(SHOCK_TYPES),
            )
        ),
        "traumatic_brain_injury": draw(flag),
        "spinal_cord_injury": draw(flag),
        "bleeding_controlled": draw(flag),
        "chronic_hypertension": draw(flag),
        "myocardial_dysfunction": draw(flag),
        "gcs": draw(st.one_of(st.none(), st.integers(3, 15))),
        "volume_status": draw(st.sampled_from(["adequate", "inadequate", "unknown"])),
    }
    return {
        "time": NOW.isoformat(),
        "patient": patient,
        "context": context,
        "observations": draw(st.lists(observations(), max_size=12)),
        "fluid_responsiveness": draw(
            st.lists(
                st.builds(
                    lambda m, r, t: {"method": m, "result": r, "time": at(t)},
                    st.sampled_from(["passive_leg_raise", "pulse_pressure_variation"]),
                    st.sampled_from(["responsive", "unresponsive", "indeterminate"]),
                    past,
                ),
                max_size=2,
            )
        ),
        "fluids": draw(
            st.lists(
                st.builds(
                    lambda v, t: {
                        "type": "crystalloid",
                        "volume": {"value": v, "unit": "mL"},
                        "time": at(t),
                    },
                    st.floats(0, 5000),
                    past,
                ),
                max_size=3,
            )
        ),
        "infusions": draw(st.lists(infusions(), max_size=4)),
        "lines": {"central_venous": draw(flag), "arterial": draw(flag)},
        "events": draw(
            st.lists(
                st.builds(lambda t: {"code": "extravasation", "time": at(t)}, past), max_size=1
            )
        ),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_any_state_gets_a_sound_assessment(state: dict[str, Any]) -> None:
    a = assess(state, P)
    assert a.decision in DECISIONS
    # The engine builds its output without re-validating; the document must still be valid.
    assert Assessment.model_validate_json(a.model_dump_json()) == a
    if a.decision == "INSUFFICIENT_DATA":
        assert a.missing, "insufficient data must say what is missing"
    ids = {b.id for b in a.basis}
    for item in [*a.actions, *a.alerts]:
        assert set(item.basis) <= ids
    for action in a.actions:
        if action.rate is not None:
            assert action.concentration is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_no_advised_dose_ever_exceeds_the_hard_limit(state: dict[str, Any]) -> None:
    a = assess(state, P)
    for action in a.actions:
        if action.drug != "norepinephrine" or action.dose is None:
            continue
        if action.dose.unit == "ug/kg/min":
            assert action.dose.value <= HARD_WEIGHT + 1e-9
        elif action.dose.unit == "ug/min":
            assert action.dose.value <= HARD_FIXED + 1e-9
        if action.code == "INCREASE_NOREPINEPHRINE":
            assert "DOSE_UNIT_SUSPECT" not in {x.code for x in a.alerts} or action.dose is None


future = st.floats(min_value=0.001, max_value=24 * 60, allow_nan=False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    states(),
    st.lists(observations(future), max_size=6),
    st.lists(infusions(future), max_size=3),
    st.booleans(),
)
def test_adding_events_after_now_never_changes_the_assessment(
    state: dict[str, Any],
    later_obs: list[dict[str, Any]],
    later_inf: list[dict[str, Any]],
    later_event: bool,
) -> None:
    before = assess(state, P).model_dump_json()
    more = copy.deepcopy(state)
    more["observations"] += later_obs
    more["infusions"] += later_inf
    more["fluids"].append(
        {"type": "crystalloid", "volume": {"value": 3000, "unit": "mL"}, "time": at(30)}
    )
    more["fluid_responsiveness"].append(
        {"method": "passive_leg_raise", "result": "responsive", "time": at(5)}
    )
    if later_event:
        more["events"].append({"code": "extravasation", "time": at(1)})
    after = assess(more, P)
    # Later data are reported (never silently dropped) and otherwise change nothing.
    assert "DATA_AFTER_ASSESSMENT_TIME" in {x.code for x in after.alerts}
    after.alerts = [x for x in after.alerts if x.code != "DATA_AFTER_ASSESSMENT_TIME"]
    cited_before = {b["id"] for b in json.loads(before)["basis"]}
    after.basis = [b for b in after.basis if b.id in cited_before or b.id != "data.staleness"]
    assert after.model_dump_json() == before


junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    states(),
    st.sampled_from(
        [
            "time",
            "patient",
            "context",
            "observations",
            "infusions",
            "fluids",
            "lines",
            "events",
            "fluid_responsiveness",
        ]
    ),
    junk,
)
def test_malformed_states_give_an_input_error_never_a_crash(
    state: dict[str, Any], field: str, value: Any
) -> None:
    bad = copy.deepcopy(state)
    bad[field] = value
    try:
        assess(bad, P)
    except InputError as exc:
        assert exc.field and exc.problems


@settings(max_examples=200, deadline=None)
@given(junk)
def test_arbitrary_documents_give_an_input_error_never_a_crash(doc: Any) -> None:
    with contextlib.suppress(InputError):
        assess(doc if isinstance(doc, dict) else {"time": doc}, P)
