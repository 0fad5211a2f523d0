"""Dose arithmetic: the label's own numbers, salt versus base, and pump-library limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vasoguide.display import rounded
from vasoguide.dosing import check_limits, convert_dose, rate_ml_h
from vasoguide.errors import DoseError
from vasoguide.protocol import Protocol


@pytest.mark.parametrize(
    ("conc", "ml_min_low", "ml_min_high"),
    [(4, 2, 3), (8, 1, 1.5), (16, 0.5, 0.75), (32, 0.25, 0.375), (64, 0.125, 0.1875)],
)
def test_label_initial_8_to_12_mcg_min_in_ml_per_min_by_concentration(
    conc: float, ml_min_low: float, ml_min_high: float
) -> None:
    """FACTS 0: 8-12 mcg/min is 0.25-0.375 mL/min only at 32 mcg/mL; 2-3 mL/min at 4 mcg/mL."""
    low = convert_dose(8, "ug/min", concentration=conc)
    high = convert_dose(12, "ug/min", concentration=conc)
    # Shown at display precision (3 significant figures at least): 0.1875 reads 0.188.
    assert low.ml_min == rounded(ml_min_low, "mL/min")
    assert high.ml_min == rounded(ml_min_high, "mL/min")


def test_weight_based_rate_formula() -> None:
    d = convert_dose(0.1, "mcg/kg/min", weight_kg=80, concentration=32)
    assert d.ug_min == pytest.approx(8)
    assert d.ml_h == pytest.approx(0.1 * 80 * 60 / 32)


def test_reverse_from_pump_rate() -> None:
    d = convert_dose(15, "mL/h", weight_kg=80, concentration=32)
    assert d.ug_kg_min == pytest.approx(15 * 32 / 60 / 80)


def test_salt_concentration_is_converted_to_base() -> None:
    base = convert_dose(0.1, "ug/kg/min", weight_kg=70, concentration=64)
    salt = convert_dose(
        0.1,
        "ug/kg/min",
        weight_kg=70,
        concentration=128,
        concentration_basis="salt",
        salt_to_base=0.5,
    )
    assert salt.ml_h == pytest.approx(base.ml_h)
    with pytest.raises(DoseError):
        convert_dose(0.1, "ug/kg/min", weight_kg=70, concentration=128, concentration_basis="salt")


def test_missing_facts_are_errors_not_guesses() -> None:
    with pytest.raises(DoseError, match="weight"):
        convert_dose(0.1, "ug/kg/min", concentration=32)
    with pytest.raises(DoseError, match="concentration"):
        convert_dose(15, "mL/h", weight_kg=80)
    with pytest.raises(DoseError):
        rate_ml_h(8, concentration_ug_ml=0)


def test_a_rate_is_never_given_without_a_concentration() -> None:
    d = convert_dose(0.1, "ug/kg/min", weight_kg=80)
    assert d.ml_h is None and d.ml_min is None
    assert all(label != "rate" for label, _ in d.lines())


def test_pump_library_limits(protocol: Protocol) -> None:
    assert check_limits(protocol, ug_kg_min=0.3).level == "ok"
    assert check_limits(protocol, ug_kg_min=1.0).level == "high"
    assert check_limits(protocol, ug_kg_min=5.1).level == "above_hard_limit"
    seed_error = check_limits(protocol, ug_kg_min=0.02 * 1000)  # the seed's 0.02 mg/kg/min
    assert seed_error.level == "implausible"
    assert check_limits(protocol, ug_min=10).level == "ok"
    assert check_limits(protocol, ug_min=400).level == "above_hard_limit"


@given(
    dose=st.floats(min_value=0.001, max_value=5, allow_nan=False),
    weight=st.floats(min_value=0.5, max_value=300, allow_nan=False),
    conc=st.floats(min_value=1, max_value=1000, allow_nan=False),
)
def test_conversions_round_trip(dose: float, weight: float, conc: float) -> None:
    forward = convert_dose(dose, "ug/kg/min", weight_kg=weight, concentration=conc)
    assert forward.ml_h is not None
    back = convert_dose(forward.ml_h, "mL/h", weight_kg=weight, concentration=conc)
    # Every shown number keeps at least 3 significant figures (display.py): a round trip
    # through shown numbers agrees within about 1 %, never more.
    assert back.ug_kg_min == pytest.approx(dose, rel=0.012)
    per_min = convert_dose(forward.ug_min, "ug/min", weight_kg=weight, concentration=conc)
    assert per_min.ml_h == pytest.approx(forward.ml_h, rel=0.012)
