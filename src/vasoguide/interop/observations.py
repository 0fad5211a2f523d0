"""FHIR Observation -> PatientState observations, weight and GCS.

A blood-pressure panel (85354-9) is read component by component; a component's time and method
are its parent's. The method (arterial or cuff) comes from the LOINC code when the code says it
(76214-6 is invasive), else from `Observation.method`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ..state import Observation, describe_validation_error
from .codes import CodeEntry, CodeTables
from .report import MappingReport
from .resources import (
    UCUM,
    Resource,
    codings,
    get_list,
    get_map,
    parse_instant,
    quantity,
    ref_of,
)

__all__ = [
    "ObservationRead", "drop_invalid", "observation_times", "read_observation", "read_plain",
]

_USABLE_STATUS = {"final", "amended", "corrected", "preliminary"}


@dataclass(frozen=True)
class ObservationRead:
    """One usable value: a state observation, or a weight for `patient.weight`."""

    concept: str
    value: float
    unit: str
    time: datetime
    payload: dict[str, Any]  # the contract's observation object (empty for weight)
    label: str = ""  # how the report names it


def observation_times(resource: Resource) -> tuple[datetime | None, datetime | None]:
    """(start, time) of an Observation: a period gives both; a dateTime or instant gives time."""
    period = get_map(resource, "effectivePeriod")
    if period is not None:
        start, end = parse_instant(period.get("start")), parse_instant(period.get("end"))
        return (start, end) if end is not None else (None, start)
    moment = resource.get("effectiveDateTime", resource.get("effectiveInstant"))
    return None, parse_instant(moment)


def _value(element: Resource) -> tuple[float, str] | None:
    if "valueQuantity" in element:
        return quantity(element["valueQuantity"])
    integer = element.get("valueInteger")
    if isinstance(integer, int) and not isinstance(integer, bool):
        return float(integer), ""
    return None


def read_observation(
    resource: Resource,
    tables: CodeTables,
    report: MappingReport,
    times: tuple[datetime | None, datetime | None] | None = None,
) -> list[ObservationRead]:
    """The usable values of one Observation; `times` when the caller already parsed them."""
    if times is not None:
        fast = read_plain(resource, tables, times)
        if fast is not None:
            return [fast]
    ref = ref_of(resource)  # cheap: used in reports and as the label of every element
    status = resource.get("status")
    if status not in _USABLE_STATUS:
        report.unusable(ref, f"status {status!r}: only final, amended, corrected or preliminary "
                        "results are used")
        return []
    code = codings(resource.get("code"))  # codings() ignores anything but a dict
    refusal = tables.refusal(code) if tables.refused else None
    if refusal is not None:
        report.unusable(ref, f"{refusal}: not used")
        return []
    start, time = times if times is not None else observation_times(resource)
    if time is None:
        report.unusable(ref, "no measurement time with a clock time and UTC offset: not used")
        return []
    method: str | None = None
    if "method" in resource:
        method_entry = tables.method(codings(get_map(resource, "method")))
        method = method_entry.meaning.get("method") if method_entry else None

    entry = tables.observation(code)
    components = get_list(resource, "component")
    if entry is not None and not components:  # the common case: one coded value
        read = _read_element(ref, resource, entry, start, time, method, report)
        return [read] if read is not None else []
    elements: list[tuple[str, Resource, CodeEntry | None]] = []
    if entry is not None or not tables.is_panel(code):
        elements.append((ref, resource, entry))
    for component in components:
        c_codes = codings(get_map(component, "code"))
        label = f"{ref} component {c_codes[0][1] if c_codes else '(uncoded)'}"
        elements.append((label, component, tables.observation(c_codes)))

    out: list[ObservationRead] = []
    for label, element, found in elements:
        if found is None:
            if element is resource and components:
                continue  # an unknown parent with components: the components speak for it
            shown = ", ".join(f"{s}|{c}" for s, c in codings(get_map(element, "code"))[:3])
            report.unusable(label, f"code not in vasoguide's coding table ({shown or 'none'})")
            continue
        read = _read_element(label, element, found, start, time, method, report)
        if read is not None:
            out.append(read)
    return out


def read_plain(
    resource: Resource, tables: CodeTables, times: tuple[datetime | None, datetime | None]
) -> ObservationRead | None:
    """The common shape, read in one pass: a usable status, one coding found exactly in the
    table, no method, no components, a numeric valueQuantity. None for anything else, which
    `read_observation` then reads (and reports) in full; when this gives a read, it is the
    one the full path gives (tested)."""
    start, time = times
    if (time is None or resource.get("status") not in _USABLE_STATUS
            or "component" in resource or "method" in resource):
        return None
    code = resource.get("code")
    coding = code.get("coding") if type(code) is dict else None
    if type(coding) is not list or len(coding) != 1 or type(coding[0]) is not dict:
        return None
    system, text = coding[0].get("system"), coding[0].get("code")
    if type(system) is not str or type(text) is not str:
        return None
    key = (system, text.strip())
    entry = tables.observations.exact.get(key)
    if entry is None or key in tables.refused:
        return None
    meaning = entry.meaning
    concept = meaning["concept"]
    if "target" in meaning or ("period" in meaning and start is None):
        return None  # weight, or a code that gives its own collection period
    q = resource.get("valueQuantity")
    if type(q) is not dict:
        return None
    number = q.get("value")
    if type(number) is not float and type(number) is not int:
        return None
    qcode, qunit = q.get("code"), q.get("unit")
    if q.get("system") == UCUM and type(qcode) is str and qcode:
        unit = qcode
    elif type(qunit) is str:
        unit = qunit
    elif type(qcode) is str:
        unit = qcode
    else:
        return None  # the full path decides
    value = float(number)
    payload: dict[str, Any] = {"code": concept, "value": value, "unit": unit, "time": time}
    if start is not None:
        payload["start"] = start
    chosen = meaning.get("method")
    if chosen and concept in {"map", "sbp", "dbp"}:
        payload["method"] = chosen
    return ObservationRead(concept, value, unit, time, payload, ref_of(resource))


def _read_element(
    label: str,
    element: Resource,
    entry: CodeEntry,
    start: datetime | None,
    time: datetime,
    method: str | None,
    report: MappingReport,
) -> ObservationRead | None:
    value = _value(element)
    if value is None:
        absent = get_map(element, "dataAbsentReason")
        why = "data absent" if absent else "no numeric value"
        report.unusable(label, f"{why}: not used")
        return None
    concept = entry.meaning["concept"]
    if entry.meaning.get("target") == "patient.weight":
        return ObservationRead(concept, value[0], value[1], time, {})
    if concept == "urine_output" and start is None and "period" in entry.meaning:
        # 9188-4 is defined over one hour; the code itself gives the collection period.
        start = time - _duration(entry.meaning["period"])
    payload: dict[str, Any] = {"code": concept, "value": value[0], "unit": value[1], "time": time}
    if start is not None:
        payload["start"] = start
    chosen = entry.meaning.get("method", method)
    if chosen and concept in {"map", "sbp", "dbp"}:
        payload["method"] = chosen
    # Validated with the whole state (one pass); see `drop_invalid` for the rare failure.
    return ObservationRead(concept, value[0], value[1], time, payload, label)


def drop_invalid(reads: list[ObservationRead], report: MappingReport) -> list[ObservationRead]:
    """The observations that are valid on their own; the others are reported, not used."""
    good = []
    for read in reads:
        try:
            Observation.model_validate(read.payload)
        except ValidationError as exc:
            report.unusable(read.label, "; ".join(describe_validation_error(exc)))
            continue
        good.append(read)
    return good


def _duration(text: str) -> timedelta:
    """ISO 8601 durations of the form PT<n>H or PT<n>M, as used in codes.yaml."""
    if text.startswith("PT") and text.endswith("H"):
        return timedelta(hours=float(text[2:-1]))
    if text.startswith("PT") and text.endswith("M"):
        return timedelta(minutes=float(text[2:-1]))
    raise ValueError(f"unsupported duration {text!r} in codes.yaml")
