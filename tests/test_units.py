"""Units: spellings fold to one registry, wrong dimensions fail, the recorded table is pint's."""

from __future__ import annotations

import pytest

from vasoguide import units
from vasoguide.errors import UnitError
from vasoguide.units import DoseBasis, Kind, concentration_factor, convert, dose_basis, factor


@pytest.mark.parametrize(
    ("unit", "kind", "expected"),
    [
        ("mm[Hg]", Kind.PRESSURE, 1.0),
        ("mmHg", Kind.PRESSURE, 1.0),
        ("kPa", Kind.PRESSURE, 7.500615758),
        ("[lb_av]", Kind.BODY_WEIGHT, 0.45359237),
        ("lb", Kind.BODY_WEIGHT, 0.45359237),
        ("g", Kind.BODY_WEIGHT, 0.001),
        ("L", Kind.VOLUME, 1000.0),
        ("%", Kind.FRACTION, 1.0),
        ("/min", Kind.FREQUENCY, 1.0),
        ("{score}", Kind.SCORE, 1.0),
    ],
)
def test_spellings_convert_to_the_canonical_unit(unit: str, kind: Kind, expected: float) -> None:
    assert factor(unit, kind) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("unit", "basis", "scale"),
    [
        ("ug/kg/min", DoseBasis.WEIGHT, 1.0),
        ("mcg/kg/min", DoseBasis.WEIGHT, 1.0),
        ("mg/kg/min", DoseBasis.WEIGHT, 1000.0),
        ("ug/kg/h", DoseBasis.WEIGHT, 1 / 60),
        ("mcg/min", DoseBasis.MASS, 1.0),
        ("mg/h", DoseBasis.MASS, 1000 / 60),
        ("U/min", DoseBasis.ACTIVITY, 1.0),
        ("U/h", DoseBasis.ACTIVITY, 1 / 60),
        ("mL/hr", DoseBasis.VOLUME, 1.0),
        ("mL/min", DoseBasis.VOLUME, 60.0),
    ],
)
def test_dose_units_are_classified_by_structure(unit: str, basis: DoseBasis, scale: float) -> None:
    got_basis, got_scale = dose_basis(unit)
    assert got_basis is basis
    assert got_scale == pytest.approx(scale)


@pytest.mark.parametrize("unit", ["kg", "mL", "1/min", "furlong", "import os", "mm[Hg"])
def test_wrong_or_unknown_pressure_units_are_refused(unit: str) -> None:
    with pytest.raises(UnitError) as err:
        factor(unit, Kind.PRESSURE, "observations[0].unit")
    assert err.value.field == "observations[0].unit"
    assert unit in str(err.value)


@pytest.mark.parametrize("unit", ["mmHg", "kg", "mL", "mg"])
def test_non_dose_units_are_refused_as_doses(unit: str) -> None:
    with pytest.raises(UnitError):
        dose_basis(unit)


def test_concentrations_by_mass_and_activity() -> None:
    assert concentration_factor("mg/mL") == ("mass", pytest.approx(1000.0))
    assert concentration_factor("U/mL") == ("activity", pytest.approx(1.0))


def test_convert_between_units_of_one_dimension() -> None:
    assert convert(6, "h", "min") == pytest.approx(360)
    assert convert(28, "d", "a") == pytest.approx(28 / 365.25)
    with pytest.raises(UnitError):
        convert(1, "h", "mL")


def test_recorded_table_is_exactly_what_pint_answers() -> None:
    """units_table.json only spares pint's start-up; every entry must be pint's own answer."""
    table = units._table
    assert table["factor"], "the table should not be empty"
    for key, value in table["factor"].items():
        unit, kind = key.rsplit("|", 1)
        assert units._factor_pint(unit, Kind(kind), "unit") == pytest.approx(value, rel=1e-12)
    for unit, (basis, value) in table["dose"].items():
        assert units._dose_basis_pint(unit, "unit") == (DoseBasis(basis), pytest.approx(value))
    for unit, (measure, value) in table["concentration"].items():
        assert units._concentration_pint(unit, "unit") == (measure, pytest.approx(value))
    for key, value in table["ratio"].items():
        a, b = key.split("|")
        assert units._ratio(a, b) == pytest.approx(value, rel=1e-12)
    for unit in table["known"]:
        units._parse(unit)
