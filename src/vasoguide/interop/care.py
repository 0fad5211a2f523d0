"""FHIR care data beyond vitals and vasopressors: fluids and blood, fluid-responsiveness tests,
lines, bleeding control and extravasation events.

Which code means what is data (`codes.yaml`, sections `fluids`, `procedures`, `devices`,
`care_observations`, `test_results`; a site's local codes in its site file). Each reader returns
what the resource says, or reports why it is not used; nothing is guessed from display text.

- Fluids: MedicationAdministration (completed or in progress) of a coded fluid or blood
  product, volume from `dosage.dose` (a volume), else `dosage.rateQuantity` (mL/h) times the
  `effectivePeriod` (an in-progress period counts up to "now"); a fluid Observation
  (`valueQuantity` in mL); a transfusion Procedure counts one unit (a Procedure has no volume).
  The fluid's time is when its volume was given: the period's end (or "now"), else the
  administration's time.
- Fluid-responsiveness tests: Observation, result in `valueCodeableConcept`.
- Lines: Device (status active) or a completed insertion Procedure. An invasive blood pressure
  reading also means an arterial line (said in the report), as the engine itself infers.
- Bleeding control: Observation (`valueBoolean`, the latest wins) or a completed Procedure.
- Extravasation: Observation (final or preliminary), at its time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import UnitError
from ..units import Kind, factor
from .codes import CodeTables, Coding
from .report import MappingReport
from .resources import (
    Resource,
    codings,
    get_list,
    get_map,
    parse_instant,
    quantity,
    ref_of,
    utc_iso,
)

__all__ = ["CareFindings", "fluid_codings", "read_care_observation", "read_device",
           "read_fluid_administration", "read_procedure"]

_RESULT_STATUS = {"final", "amended", "corrected", "preliminary"}
_ADMIN_STATUS = {"completed", "in-progress", "stopped", "on-hold"}
_DEVICE_OFF = {"inactive", "entered-in-error"}


@dataclass
class CareFindings:
    """What the care resources say, collected while mapping one Bundle or prefetch."""

    fluids: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    lines: dict[str, bool] = field(default_factory=dict)
    bleeding: list[tuple[datetime, bool]] = field(default_factory=list)

    def bleeding_controlled(self, now: datetime) -> bool | None:
        known = [b for b in self.bleeding if b[0] <= now]
        return max(known, key=lambda b: b[0])[1] if known else None


def fluid_codings(resource: Resource, medications: Any) -> list[Coding]:
    """The codings of a MedicationAdministration's medication (concept, Medication, ingredients)."""
    concept = get_map(resource, "medicationCodeableConcept")
    if concept is not None:
        return codings(concept)
    reference = get_map(resource, "medicationReference")
    target = reference.get("reference") if reference else None
    if not isinstance(target, str):
        return []
    medication = medications.resolve(resource, target)
    if medication is None:
        return []
    out = codings(get_map(medication, "code"))
    for ingredient in get_list(medication, "ingredient"):
        out += codings(get_map(ingredient, "itemCodeableConcept"))
    return out


def _ml(q: tuple[float, str] | None) -> float | None:
    if q is None:
        return None
    try:
        return q[0] * factor(q[1], Kind.VOLUME)
    except UnitError:
        return None


def _ml_per_h(q: tuple[float, str] | None) -> float | None:
    if q is None:
        return None
    value, unit = q
    head, _, tail = unit.partition("/")
    if tail not in ("h", "hr"):
        return None
    return _ml((value, head))


def read_fluid_administration(
    resource: Resource,
    fluid: str,
    now: datetime,
    found: CareFindings,
    report: MappingReport,
) -> None:
    """A MedicationAdministration of a fluid or blood product (the drug is known to be one)."""
    ref = ref_of(resource)
    status = resource.get("status")
    if status not in _ADMIN_STATUS:
        report.unusable(ref, f"{fluid}: status {status!r}: not used")
        return
    dosage = get_map(resource, "dosage") or {}
    period = get_map(resource, "effectivePeriod")
    start = parse_instant(period.get("start")) if period else None
    end = parse_instant(period.get("end")) if period else None
    moment = parse_instant(resource.get("effectiveDateTime")) if period is None else (end or now)
    if moment is None or (period is not None and start is None):
        report.unusable(ref, f"{fluid}: no time with a UTC offset: not used")
        return
    if moment > now:
        moment = now
    volume = _ml(quantity(dosage.get("dose")))
    how = "dose"
    if volume is None:
        rate = _ml_per_h(quantity(dosage.get("rateQuantity")))
        if rate is not None and start is not None:
            hours = max((moment - start).total_seconds(), 0.0) / 3600
            volume, how = rate * hours, "rate x duration"
    if volume is None or volume < 0:
        report.unusable(ref, f"{fluid}: no volume (dosage.dose in mL, or a rate in mL/h with "
                        "a period): not used")
        return
    if start is not None and start > now:
        return  # not started yet as of now
    found.fluids.append({"type": fluid, "volume": {"value": round(volume, 3), "unit": "mL"},
                         "time": utc_iso(moment)})
    if how != "dose":
        report.note(ref, f"{fluid}: {volume:.0f} mL from the rate times the time it ran")


def read_procedure(
    resource: Resource, tables: CodeTables, found: CareFindings, report: MappingReport
) -> None:
    ref = ref_of(resource)
    entry = tables.find("procedures", codings(resource.get("code")))
    if entry is None:
        shown = ", ".join(f"{s}|{c}" for s, c in codings(resource.get("code"))[:3])
        report.unusable(ref, f"procedure code not in vasoguide's coding table ({shown or 'none'})")
        return
    if resource.get("status") != "completed":
        report.unusable(ref, f"status {resource.get('status')!r}: only completed procedures are "
                        "used")
        return
    period = get_map(resource, "performedPeriod")
    moment = parse_instant(period.get("end") or period.get("start")) if period else (
        parse_instant(resource.get("performedDateTime")))
    if moment is None:
        report.unusable(ref, "no time with a UTC offset: not used")
        return
    meaning = entry.meaning
    if "fluid" in meaning:
        found.fluids.append({"type": meaning["fluid"], "units": 1, "time": utc_iso(moment)})
        report.note(ref, f"{meaning['fluid']}: a transfusion Procedure counts one unit")
    elif "line" in meaning:
        found.lines[meaning["line"]] = True
    elif meaning.get("flag") == "bleeding_controlled":
        found.bleeding.append((moment, True))


def read_device(
    resource: Resource, tables: CodeTables, found: CareFindings, report: MappingReport
) -> None:
    ref = ref_of(resource)
    entry = tables.find("devices", codings(resource.get("type")))
    if entry is None:
        report.unusable(ref, "device type not in vasoguide's coding table: not used")
        return
    line = entry.meaning["line"]
    if resource.get("status") in _DEVICE_OFF:
        found.lines.setdefault(line, False)
    else:
        found.lines[line] = True


def read_care_observation(
    resource: Resource,
    entry_meaning: Mapping[str, str],
    tables: CodeTables,
    found: CareFindings,
    report: MappingReport,
) -> None:
    """An Observation whose code is in `care_observations`."""
    ref = ref_of(resource)
    if resource.get("status") not in _RESULT_STATUS:
        report.unusable(ref, f"status {resource.get('status')!r}: not used")
        return
    period = get_map(resource, "effectivePeriod")
    moment = parse_instant(
        (period.get("end") or period.get("start")) if period else resource.get(
            "effectiveDateTime", resource.get("effectiveInstant")))
    if moment is None:
        report.unusable(ref, "no time with a clock time and UTC offset: not used")
        return
    when = utc_iso(moment)
    if "test" in entry_meaning:
        result = tables.find("test_results", codings(resource.get("valueCodeableConcept")))
        if result is None:
            report.unusable(ref, "test result not coded with a known code: not used")
            return
        found.tests.append({"method": entry_meaning["test"], "result": result.meaning["result"],
                            "time": when})
    elif entry_meaning.get("flag") == "bleeding_controlled":
        value = resource.get("valueBoolean")
        if not isinstance(value, bool):
            report.unusable(ref, "bleeding control needs valueBoolean: not used")
            return
        found.bleeding.append((moment, value))
    elif "event" in entry_meaning:
        found.events.append({"code": entry_meaning["event"], "time": when})
    elif "fluid" in entry_meaning:
        volume = _ml(quantity(resource.get("valueQuantity")))
        if volume is None or volume < 0:
            report.unusable(ref, "fluid intake needs a volume (valueQuantity in mL): not used")
            return
        found.fluids.append({"type": entry_meaning["fluid"],
                             "volume": {"value": volume, "unit": "mL"}, "time": when})
