"""FHIR MedicationRequest / MedicationAdministration -> vasopressor doses.

The drug is identified by RxNorm code only (on the request, on the referenced Medication, or on
one of its ingredients). The concentration comes from that ingredient's strength (4 mg / 250 mL),
never from a product code. A dose is read from `rate[x]` (ug/kg/min, ug/min, U/min, or mL/h), and
from `dose[x]` only when its unit is itself a rate; units are classified by `vasoguide.units`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import UnitError
from ..units import DoseBasis, concentration_factor, dose_basis
from .codes import CodeTables, Coding
from .resources import (
    Resource,
    codings,
    get_list,
    get_map,
    parse_instant,
    quantity,
    ratio,
    ref_of,
)

__all__ = ["DoseRead", "MedicationIndex", "OrderRead", "read_administration", "read_order"]


class MedicationIndex:
    """Resolves `medicationReference` against contained resources and the Bundle's Medications."""

    def __init__(self) -> None:
        self._by_ref: dict[str, Resource] = {}

    def add(self, resource: Resource, full_url: str | None) -> None:
        rid = resource.get("id")
        if isinstance(rid, str):
            self._by_ref[f"Medication/{rid}"] = resource
        if full_url:
            self._by_ref[full_url] = resource

    def resolve(self, owner: Resource, reference: str) -> Resource | None:
        if reference.startswith("#"):
            for contained in get_list(owner, "contained"):
                if isinstance(contained, Mapping) and contained.get("id") == reference[1:]:
                    return contained
            return None
        if reference in self._by_ref:
            return self._by_ref[reference]
        tail = "/".join(reference.rstrip("/").split("/")[-2:])  # absolute URL -> Medication/id
        return self._by_ref.get(tail)


@dataclass
class DoseRead:
    """A dose as written: value and unit, and what its unit expresses."""

    value: float
    unit: str
    basis: DoseBasis | None  # None: the unit is not a dose rate at all


@dataclass
class OrderRead:
    """What a MedicationRequest or MedicationAdministration says about one vasopressor."""

    ref: str
    drug: str | None
    codes: list[Coding]
    dose: DoseRead | None = None  # ug/kg/min, ug/min or U/min
    rate: DoseRead | None = None  # mL/h (pump rate)
    concentration: tuple[float, str] | None = None  # canonical ug/mL or U/mL
    time: datetime | None = None
    end: datetime | None = None
    status: str | None = None
    route: str | None = None  # central | peripheral | intraosseous, when coded
    problems: list[str] = field(default_factory=list)

    def as_infusion(self) -> dict[str, Any] | None:
        """The contract's infusion object (time not set), or None without a usable dose."""
        chosen = self.dose or self.rate
        if chosen is None or chosen.basis is None or self.drug is None:
            return None
        out: dict[str, Any] = {
            "drug": self.drug,
            "dose": {"value": chosen.value, "unit": chosen.unit},
        }
        if self.concentration is not None:
            out["concentration"] = {"value": self.concentration[0], "unit": self.concentration[1]}
        if self.route is not None:
            out["route"] = self.route
        return out


def _medication(
    resource: Resource, index: MedicationIndex, tables: CodeTables
) -> tuple[str | None, list[Coding], tuple[float, str] | None, str | None]:
    """(drug, codes seen, concentration, problem) for the medication of a request/administration."""
    concept = get_map(resource, "medicationCodeableConcept")
    if concept is not None:
        codes = codings(concept)
        entry = tables.drug(codes)
        return (entry.meaning["drug"] if entry else None), codes, None, None
    reference = get_map(resource, "medicationReference")
    target = reference.get("reference") if reference else None
    if not isinstance(target, str):
        return None, [], None, "no medication given"
    medication = index.resolve(resource, target)
    if medication is None:
        return None, [], None, f"medication {target} is not in the data"
    codes = codings(get_map(medication, "code"))
    entry = tables.drug(codes)
    drug = entry.meaning["drug"] if entry else None
    concentration: tuple[float, str] | None = None
    problem: str | None = None
    for ingredient in get_list(medication, "ingredient"):
        i_codes = codings(get_map(ingredient, "itemCodeableConcept"))
        i_entry = tables.drug(i_codes)
        if i_entry is None:
            continue
        codes += i_codes
        drug = drug or i_entry.meaning["drug"]
        if drug != i_entry.meaning["drug"]:
            continue
        strength = ratio(get_map(ingredient, "strength"))
        if strength is None:
            continue
        try:
            measure, scale = concentration_factor(strength[1], "strength")
        except UnitError:
            problem = f"ingredient strength unit {strength[1]!r} is not a concentration"
            continue
        concentration = (round(strength[0] * scale, 6), "ug/mL" if measure == "mass" else "U/mL")
    return drug, codes, concentration, problem


# Units found not to be dose rates (2 g, 500 mg of an antibiotic order): remembered, because
# refusing one costs a full unit parse each time and a prefetch repeats them on every call.
_NOT_A_RATE: set[str] = set()


def _classify(value: float, unit: str) -> DoseRead:
    if unit in _NOT_A_RATE:
        return DoseRead(value, unit, None)
    try:
        basis, _ = dose_basis(unit, "rate")
    except UnitError:
        if len(_NOT_A_RATE) < 1024:
            _NOT_A_RATE.add(unit)
        return DoseRead(value, unit, None)
    return DoseRead(value, unit, basis)


def _place(read: OrderRead, dose: DoseRead) -> None:
    if dose.basis is DoseBasis.VOLUME:
        read.rate = read.rate or dose
    elif dose.basis is None:
        read.problems.append(f"unit {dose.unit!r} is not a dose rate (ug/kg/min, ug/min or mL/h)")
        read.dose = read.dose or dose
    else:
        read.dose = read.dose or dose


def _read_rates(read: OrderRead, element: Mapping[str, Any], *, dose_key: str | None) -> None:
    if "rateQuantity" in element:
        q = quantity(element["rateQuantity"])
        if q is not None:
            _place(read, _classify(*q))
    if "rateRatio" in element:
        r = ratio(element["rateRatio"])
        if r is not None:
            _place(read, _classify(*r))
    if "rateRange" in element:
        read.problems.append("a rate range is not a single dose: not used")
    if dose_key and dose_key in element:
        q = quantity(element[dose_key])
        if q is not None:
            classified = _classify(*q)
            if classified.basis is not None:  # a dose written as a rate (0.1 ug/kg/min)
                _place(read, classified)


def _read_route(read: OrderRead, element: Mapping[str, Any], tables: CodeTables) -> None:
    """The venous route from `route` or `site` codings (codes.yaml `routes`)."""
    for key in ("route", "site"):
        if key in element:
            entry = tables.find("routes", codings(element.get(key)))
            if entry is not None:
                read.route = entry.meaning["route"]
                return


def read_order(resource: Resource, index: MedicationIndex, tables: CodeTables) -> OrderRead:
    """Read a MedicationRequest: drug, dose, pump rate, concentration and start time."""
    drug, codes, concentration, problem = _medication(resource, index, tables)
    read = OrderRead(
        ref=ref_of(resource), drug=drug, codes=codes, concentration=concentration,
        status=resource.get("status") if isinstance(resource.get("status"), str) else None,
    )
    if problem:
        read.problems.append(problem)
    for instruction in get_list(resource, "dosageInstruction"):
        for dose_and_rate in get_list(instruction, "doseAndRate"):
            if isinstance(dose_and_rate, Mapping):
                _read_rates(read, dose_and_rate, dose_key="doseQuantity")
        if isinstance(instruction, Mapping):
            _read_route(read, instruction, tables)
        bounds = get_map(get_map(get_map(instruction, "timing"), "repeat"), "boundsPeriod")
        if read.time is None and bounds is not None:
            read.time = parse_instant(bounds.get("start"))
    if read.time is None:
        read.time = parse_instant(resource.get("authoredOn"))
    return read


def read_administration(
    resource: Resource, index: MedicationIndex, tables: CodeTables
) -> OrderRead:
    """Read a MedicationAdministration: the rate set at its start, and its end if it ended."""
    drug, codes, concentration, problem = _medication(resource, index, tables)
    read = OrderRead(
        ref=ref_of(resource), drug=drug, codes=codes, concentration=concentration,
        status=resource.get("status") if isinstance(resource.get("status"), str) else None,
    )
    if problem:
        read.problems.append(problem)
    dosage = get_map(resource, "dosage")
    if dosage is not None:
        _read_rates(read, dosage, dose_key=None)
        _read_route(read, dosage, tables)
    period = get_map(resource, "effectivePeriod")
    if period is not None:
        read.time = parse_instant(period.get("start"))
        read.end = parse_instant(period.get("end"))
    else:
        read.time = parse_instant(resource.get("effectiveDateTime"))
    return read
