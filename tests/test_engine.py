"""Engine behaviours beyond the rule examples: the seed's pitfalls and the brief's safety rules."""

from __future__ import annotations

from typing import Any

import pytest

from vasoguide import assess, load_protocol
from vasoguide.protocol import Protocol


def _codes(items: Any) -> set[str]:
    return {i.code for i in items}


def test_start_dose_rate_matches_weight_and_concentration(base: Any) -> None:
    a = assess(base("septic_adult", map=58))
    start = next(x for x in a.actions if x.code == "START_NOREPINEPHRINE")
    assert start.dose is not None and start.dose.unit == "ug/kg/min"
    assert start.rate is not None and start.concentration is not None
    assert start.rate.value == pytest.approx(start.dose.value * 80 * 60 / start.concentration.value)
    assert start.concentration_basis == "base"


def test_every_rate_carries_its_concentration(base: Any) -> None:
    for state in (
        base("septic_adult", map=58),
        base("septic_on_ne", map=58),
        base(
            "septic_on_ne",
            map=90,
            obs=[{"code": "map", "value": 90, "unit": "mmHg", "ago": 40, "method": "arterial"}],
        ),
    ):
        for action in assess(state).actions:
            if action.rate is not None:
                assert action.concentration is not None and action.rate.unit == "mL/h"


def test_no_weight_means_fixed_dosing_not_a_guessed_weight(base: Any) -> None:
    a = assess(base("septic_adult", weight_kg=None, context={"volume_status": "adequate"}, map=58))
    start = next(x for x in a.actions if x.code == "START_NOREPINEPHRINE")
    assert start.dose is not None and start.dose.unit == "ug/min"
    assert "WEIGHT_MISSING" in _codes(a.alerts)
    assert "weight" in a.missing


def test_children_never_get_adult_defaults(base: Any) -> None:
    a = assess(base("septic_child", sbp=70))
    assert "PEDIATRIC_PATIENT" in _codes(a.alerts)
    assert a.target is not None and a.target.measure == "sbp" and a.target.low == 80
    start = next(x for x in a.actions if x.code == "START_NOREPINEPHRINE")
    assert start.rate is None, "no adult premix concentration is assumed for a child"
    assert any("concentration" in m for m in a.missing)


def test_child_with_order_concentration_gets_a_rate(base: Any) -> None:
    a = assess(
        base(
            "septic_child",
            sbp=70,
            infusions=[
                {
                    "drug": "norepinephrine",
                    "dose": [0.05, "ug/kg/min"],
                    "concentration": [20, "ug/mL"],
                    "ago": 60,
                }
            ],
        )
    )
    inc = next(x for x in a.actions if x.code == a.decision)
    assert inc.rate is not None and inc.concentration is not None
    assert inc.concentration.value == 20


def test_implausible_dose_unit_is_flagged_and_never_used(base: Any) -> None:
    state = base(
        "septic_on_ne",
        map=58,
        infusions=[
            {
                "drug": "norepinephrine",
                "dose": [0.02, "mg/kg/min"],
                "concentration": [32, "ug/mL"],
                "ago": 60,
            }
        ],
    )
    a = assess(state)
    assert "DOSE_UNIT_SUSPECT" in _codes(a.alerts)
    assert all(x.dose is None for x in a.actions if x.drug == "norepinephrine")
    assert a.norepinephrine is not None and a.norepinephrine.dose_ug_kg_min is None


def test_dose_in_ml_per_hour_is_understood_with_its_concentration(base: Any) -> None:
    a = assess(
        base(
            "septic_on_ne",
            map=58,
            infusions=[
                {
                    "drug": "norepinephrine",
                    "dose": [15, "mL/h"],
                    "concentration": [32, "ug/mL"],
                    "ago": 60,
                }
            ],
        )
    )
    assert a.norepinephrine is not None
    assert a.norepinephrine.dose_ug_kg_min == pytest.approx(15 * 32 / 60 / 80)


def test_salt_concentration_is_read_as_base(base: Any) -> None:
    a = assess(
        base(
            "septic_on_ne",
            map=58,
            infusions=[
                {
                    "drug": "norepinephrine",
                    "dose": [15, "mL/h"],
                    "concentration": [64, "ug/mL"],
                    "concentration_basis": "salt",
                    "ago": 60,
                }
            ],
        )
    )
    assert a.norepinephrine is not None
    assert a.norepinephrine.dose_ug_kg_min == pytest.approx(15 * 32 / 60 / 80)


def test_advised_increase_never_exceeds_the_hard_limit(base: Any, protocol: Protocol) -> None:
    hard = protocol.setting("hard_limit_weight", "ug/kg/min")
    a = assess(
        base(
            "septic_on_ne",
            map=58,
            context={"shock_type": "cardiogenic"},
            infusions=[
                {
                    "drug": "norepinephrine",
                    "dose": [hard - 0.01, "ug/kg/min"],
                    "concentration": [64, "ug/mL"],
                    "ago": 60,
                }
            ],
        )
    )
    for action in a.actions:
        if action.dose is not None and action.dose.unit == "ug/kg/min":
            assert action.dose.value <= hard


@pytest.mark.parametrize("vasopressin", [[0.04, "U/min"], [2.4, "U/h"]], ids=["U/min", "U/h"])
def test_norepinephrine_equivalent_counts_vasopressin_in_any_rate_unit(
    base: Any, vasopressin: list[Any]
) -> None:
    """Goradia: 0.04 U/min of vasopressin is 0.1 mcg/kg/min of norepinephrine."""
    a = assess(
        base(
            "septic_on_ne",
            infusions=[
                {"drug": "norepinephrine", "dose": [0.1, "ug/kg/min"], "ago": 60},
                {"drug": "vasopressin", "dose": vasopressin, "ago": 30},
            ],
        )
    )
    assert a.norepinephrine is not None
    assert a.norepinephrine.norepinephrine_equivalent_ug_kg_min == pytest.approx(0.2)


def test_extravasation_beyond_twelve_hours_says_the_window_passed(base: Any) -> None:
    a = assess(base("septic_on_ne", events=[{"code": "extravasation", "ago": 13 * 60}]))
    alert = next(x for x in a.alerts if x.code == "EXTRAVASATION")
    assert "window has passed" in alert.text


def test_every_input_used_has_its_time(base: Any) -> None:
    a = assess(
        base("septic_on_ne", map=60, obs=[{"code": "crt", "value": 4, "unit": "s", "ago": 10}])
    )
    observed = [i for i in a.inputs if i.code in ("map", "crt", "lactate", "norepinephrine")]
    assert observed and all(i.time is not None for i in observed)


def test_every_action_and_alert_names_rules_in_the_basis(base: Any) -> None:
    for name, given in [
        ("septic_adult", {"map": 58}),
        ("trauma_adult", {"sbp": 60}),
        ("tbi_adult", {"map": 70}),
        ("septic_child", {"sbp": 70}),
        ("septic_on_ne", {"map": 58}),
    ]:
        a = assess(base(name, **given))
        ids = {b.id for b in a.basis}
        for item in [*a.actions, *a.alerts]:
            assert item.basis and set(item.basis) <= ids, (name, item.code)


def test_protocol_identity_is_recorded(base: Any, protocol: Protocol) -> None:
    a = assess(base("septic_adult"))
    assert a.protocol.digest == protocol.digest and a.protocol.digest.startswith("sha256:")


def test_site_file_overrides_a_setting_and_is_recorded(tmp_path: Any, base: Any) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("settings:\n  default_concentration: 32\n")
    p = load_protocol(site=site)
    a = assess(base("septic_adult", map=58), p)
    start = next(x for x in a.actions if x.code == "START_NOREPINEPHRINE")
    assert start.concentration is not None and start.concentration.value == 32
    assert "default_concentration=32" in a.protocol.overrides
    assert a.protocol.digest != load_protocol().digest


def test_site_file_cannot_change_a_cited_threshold(tmp_path: Any) -> None:
    from vasoguide.errors import ProtocolError

    site = tmp_path / "site.yaml"
    site.write_text("settings:\n  map_low: 60\n  default_concentration: fast\n")
    with pytest.raises(ProtocolError) as err:
        load_protocol(site=site)
    assert len(err.value.problems) == 2
