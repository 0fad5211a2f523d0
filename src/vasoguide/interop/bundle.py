"""A FHIR R4 Bundle (or a CDS Hooks prefetch) -> PatientState, with a report of what was not used.

"Now" is an input: given by the caller (the service's clock, a CLI flag), else the Bundle's
`timestamp`, else the latest clinical time in the data (said in the report). Resources about
another patient, with unknown codes, without a usable time or value, or in a status that does
not describe the present are reported, never guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ..errors import InputError
from ..state import (
    Event,
    Fluid,
    FluidResponsivenessTest,
    Infusion,
    Patient,
    PatientState,
    describe_validation_error,
    parse_state,
)
from .care import (
    CareFindings,
    fluid_codings,
    read_care_observation,
    read_device,
    read_fluid_administration,
    read_procedure,
)
from .codes import CodeTables, Coding
from .codes import tables as default_tables
from .conditions import ConditionFindings, read_condition
from .medications import MedicationIndex, OrderRead, read_administration, read_order
from .observations import ObservationRead, drop_invalid, observation_times, read_observation
from .report import MappingReport
from .resources import (
    Resource,
    codings,
    get_map,
    iter_resources,
    parse_date,
    parse_instant,
    ref_of,
    utc_iso,
)

__all__ = ["MappedState", "bundle_to_state", "map_resources"]

_READ_TYPES = {
    "Patient", "Observation", "Condition", "MedicationRequest", "MedicationAdministration",
    "Medication", "OperationOutcome", "Procedure", "Device",
}
_ADMIN_USED = {"in-progress", "completed", "on-hold", "stopped"}
_SEX = {"male": "male", "female": "female", "other": "other", "unknown": "unknown"}


@dataclass(frozen=True)
class MappedState:
    state: PatientState
    report: MappingReport
    patient_id: str | None
    medications: MedicationIndex  # the Medications seen, to resolve draft orders against


def bundle_to_state(
    bundle: Mapping[str, Any], now: datetime | None = None
) -> tuple[PatientState, list[str]]:
    """The PatientState a FHIR Bundle describes, and one line per resource not used."""
    mapped = map_resources(bundle, now=now)
    return mapped.state, mapped.report.lines()


class _Collector:
    def __init__(self, patient_id: str | None) -> None:
        self.patient_id = patient_id
        self.patient_refs: set[str] = set()
        self.resources: list[Resource] = []
        self.medications = MedicationIndex()
        self.seen: set[str] = set()

    def add(self, resource: Resource, full_url: str | None, report: MappingReport) -> None:
        kind = resource.get("resourceType")
        rid = resource.get("id")
        key = f"{kind}/{rid}"
        if isinstance(rid, str):
            if key in self.seen:
                return  # the same resource from two prefetch keys or pages
            self.seen.add(key)
        if kind == "Medication":
            self.medications.add(resource, full_url)
        elif kind == "OperationOutcome":
            report.unusable(ref_of(resource), "the sender reported an error instead of data")
        elif kind not in _READ_TYPES:
            report.unusable(ref_of(resource), f"resource type {kind} is not read by vasoguide")
        else:
            self.resources.append(resource)
            if kind == "Patient" and full_url:
                self.patient_refs.add(full_url)


def _subject_ok(resource: Resource, refs: set[str]) -> bool:
    subject = get_map(resource, "subject") or get_map(resource, "patient")
    reference = subject.get("reference") if subject else None
    if not isinstance(reference, str) or not refs or reference in refs:
        return True
    tail = "/".join(reference.rstrip("/").split("/")[-2:])
    return reference in refs or tail in refs


def map_resources(
    data: Mapping[str, Any],
    *,
    now: datetime | None = None,
    patient_id: str | None = None,
    tables: CodeTables | None = None,
    lookback: timedelta | None = None,
    concept_lookbacks: Mapping[str, timedelta] | None = None,
) -> MappedState:
    """Map a Bundle, resource or prefetch mapping; `patient_id` pins the patient (CDS Hooks).

    `lookback` (the engine's longest look-back, `lookback.engine_lookback(protocol)`): readings
    older than now - lookback are not passed on, except the latest of each kind before then
    (the reading "in force" at the cut, so that "latest" and "since" questions get the same
    answer); what is dropped is said in the report. None keeps everything.
    `concept_lookbacks` (`lookback.concept_lookbacks(protocol)`): shorter windows for some
    concepts (blood pressures: the engine looks back 30 min, not 24 h), with the same rule.
    """
    codes = tables or default_tables()
    report = MappingReport()
    collector = _Collector(patient_id)
    for resource, full_url in iter_resources(data):
        collector.add(resource, full_url, report)

    patient = _choose_patient(collector, report)
    refs = set(collector.patient_refs)
    pid = patient.get("id") if patient else patient_id
    if isinstance(pid, str):
        refs.add(f"Patient/{pid}")

    observations: list[ObservationRead] = []
    # With a look-back and a given "now", plain observations older than the cut are set aside
    # and only the latest usable one of each kind is read (see `_read_old`).
    cut = now - lookback if lookback is not None and now is not None else None
    cuts: dict[str, datetime] = {}
    if cut is not None and now is not None and concept_lookbacks:
        cuts = {c: max(now - w, cut) for c, w in concept_lookbacks.items()}
    old: list[tuple[datetime, str, Resource]] = []
    conditions = ConditionFindings()
    administrations: list[OrderRead] = []
    orders: list[OrderRead] = []
    care = CareFindings()
    fluid_admins: list[tuple[Resource, str]] = []  # read once "now" is known
    care_obs = codes.care.get("care_observations")
    for resource in collector.resources:
        kind = resource.get("resourceType")
        if kind == "Patient":
            continue
        if not _subject_ok(resource, refs):
            report.unusable(ref_of(resource), "about another patient: not used")
            continue
        if kind == "Observation":
            code = codings(resource.get("code"))  # once: care table, then the vitals table
            if care_obs is not None and care_obs.exact:
                entry = care_obs.find(code)
                if entry is not None:
                    read_care_observation(resource, entry.meaning, codes, care, report)
                    continue
            if cut is None:
                observations += read_observation(resource, codes, report)
                continue
            times = observation_times(resource)
            concept = _old_plain(resource, code, codes, times[1], cut, cuts)
            if concept is not None and times[1] is not None:
                old.append((times[1], concept, resource))
            else:
                observations += read_observation(resource, codes, report, times)
        elif kind == "Condition":
            read_condition(resource, codes, report, conditions)
        elif kind == "MedicationAdministration":
            read = read_administration(resource, collector.medications, codes)
            if read.drug is None:
                given = codes.find("fluids", fluid_codings(resource, collector.medications))
                if given is not None:
                    fluid_admins.append((resource, given.meaning["fluid"]))
                    continue
            administrations.append(read)
        elif kind == "Procedure":
            read_procedure(resource, codes, care, report)
        elif kind == "Device":
            read_device(resource, codes, care, report)
        elif kind == "MedicationRequest":
            orders.append(read_order(resource, collector.medications, codes))

    unread = _read_old(old, observations, codes, report)
    moment = _now(now, data, observations, administrations, orders, report)
    state: dict[str, Any] = {"time": utc_iso(moment)}
    state["patient"] = _patient(patient, moment, observations, report)
    context: dict[str, Any] = {}
    shock = conditions.shock_type(report)
    if shock:
        context["shock_type"] = shock
    for flag in ("traumatic_brain_injury", "spinal_cord_injury", "chronic_hypertension"):
        if flag in conditions.flags:
            context[flag] = True
    bleeding = care.bleeding_controlled(moment)
    if bleeding is not None:
        context["bleeding_controlled"] = bleeding
    for resource, fluid_type in fluid_admins:
        read_fluid_administration(resource, fluid_type, moment, care, report)
    gcs = _latest(observations, "gcs", moment)
    if gcs is not None and gcs.value.is_integer() and 3 <= gcs.value <= 15:
        context["gcs"] = int(gcs.value)
    state["context"] = context
    state["infusions"] = _infusions(administrations, orders, report)
    values = [o for o in observations if o.concept != "weight"]
    if lookback is not None:
        values = _within(values, moment - lookback, lookback, report, unread,
                         {c: moment - w for c, w in (concept_lookbacks or {}).items()})
    state["observations"] = [o.payload for o in values]
    state["fluids"] = care.fluids
    state["fluid_responsiveness"] = care.tests
    state["events"] = care.events
    lines = dict(care.lines)
    if "arterial" not in lines and any(o.payload.get("method") == "arterial" for o in values):
        # An invasive pressure reading is taken through an arterial line.
        lines["arterial"] = True
        report.note("Observation", "arterial line inferred from invasive blood pressure readings")
    state["lines"] = lines
    try:
        # One validation pass for the whole state: the order-sign path has hundreds of values.
        parsed = parse_state(state)
    except InputError:
        # Rare: find the items that fail on their own, report them, use the rest.
        state["observations"] = [o.payload for o in drop_invalid(values, report)]
        state["fluids"] = _valid(care.fluids, Fluid, "fluid", report)
        state["fluid_responsiveness"] = _valid(care.tests, FluidResponsivenessTest,
                                               "fluid-responsiveness test", report)
        state["events"] = _valid(care.events, Event, "event", report)
        scratch = MappingReport()
        state["infusions"] = _infusions(administrations, orders, scratch, validate=True)
        known = set(report.findings)
        report.findings += [f for f in scratch.findings if f not in known]
        parsed = parse_state(state)
    return MappedState(parsed, report, pid if isinstance(pid, str) else None,
                       collector.medications)


def _valid(
    items: list[dict[str, Any]], model: type[Fluid | FluidResponsivenessTest | Event], what: str,
    report: MappingReport,
) -> list[dict[str, Any]]:
    """The items the contract accepts; the others are reported with the reason."""
    out = []
    for item in items:
        try:
            model.model_validate(item)
        except ValidationError as exc:
            report.unusable(what, "; ".join(describe_validation_error(exc)))
            continue
        out.append(item)
    return out


def _old_plain(
    resource: Resource, code: list[Coding], codes: CodeTables, time: datetime | None,
    cut: datetime, cuts: Mapping[str, datetime],
) -> str | None:
    """The concept of a one-value Observation measured (`time`) before its concept's cut
    (`cuts`, else `cut`), else None.

    Cheap: the code and the time only. Panels, components and unknown codes give None and
    are read in full as before.
    """
    if time is None or "component" in resource or (time >= cut and not cuts):
        return None
    entry = codes.observation(code)
    if entry is None:
        return None
    concept = entry.meaning["concept"]
    return concept if time < cuts.get(concept, cut) else None


def _read_old(
    old: list[tuple[datetime, str, Resource]],
    observations: list[ObservationRead],
    codes: CodeTables,
    report: MappingReport,
) -> dict[str, int]:
    """Read set-aside observations newest first, per concept, until one is usable (and any
    others at that same time); the rest are not read: counted per concept for the report."""
    unread: dict[str, int] = {}
    found: dict[str, datetime] = {}
    for time, concept, resource in sorted(old, key=lambda x: x[0], reverse=True):
        seen = found.get(concept)
        if seen is not None and time < seen:
            unread[concept] = unread.get(concept, 0) + 1
            continue
        reads = read_observation(resource, codes, report)
        observations += reads
        if reads:
            found[concept] = time
    return unread


def _within(
    reads: list[ObservationRead],
    cut: datetime,
    lookback: timedelta,
    report: MappingReport,
    unread: dict[str, int] | None = None,
    cuts: Mapping[str, datetime] | None = None,
) -> list[ObservationRead]:
    """The reads at or after their concept's cut (`cuts`, else `cut`), plus the latest
    read(s) of each concept before it, in their original order (the engine's stable sort then
    sees the same series)."""
    cuts = cuts or {}
    last: dict[str, datetime] = {}
    for read in reads:
        mine = cuts.get(read.concept, cut)
        if read.time < mine and (read.concept not in last or read.time > last[read.concept]):
            last[read.concept] = read.time
    if not last and not unread:
        return reads
    kept: list[ObservationRead] = []
    dropped: dict[str, int] = dict(unread or {})
    for read in reads:
        if read.time >= cuts.get(read.concept, cut) or read.time == last.get(read.concept):
            kept.append(read)
        else:
            dropped[read.concept] = dropped.get(read.concept, 0) + 1
    if dropped:
        hours = lookback.total_seconds() / 3600
        counts = ", ".join(f"{n} {concept}" for concept, n in sorted(dropped.items()))
        shorter = "".join(f"; {c}: {(now_of(cut, lookback) - t).total_seconds() / 60:g} min"
                          for c, t in sorted(cuts.items()))
        report.unusable("Observation", f"older than the protocol's look-back ({hours:g} h"
                        f"{shorter}, before {utc_iso(cut)}), not used: {counts} readings (the "
                        "latest of each kind before then is kept)")
    return kept


def now_of(cut: datetime, lookback: timedelta) -> datetime:
    return cut + lookback


def _choose_patient(collector: _Collector, report: MappingReport) -> Resource | None:
    patients = [r for r in collector.resources if r.get("resourceType") == "Patient"]
    if collector.patient_id is not None:
        wanted = [p for p in patients if p.get("id") == collector.patient_id]
        for other in patients:
            if other.get("id") != collector.patient_id:
                report.unusable(ref_of(other), "not the patient of this request: not used")
        return wanted[0] if wanted else None
    if len(patients) > 1:
        for other in patients:
            report.unusable(ref_of(other), "several patients in one Bundle: none is used")
        several = ", ".join(ref_of(p) for p in patients)
        raise InputError("Bundle", f"the Bundle holds several patients ({several})")
    return patients[0] if patients else None


def _latest(reads: list[ObservationRead], concept: str, moment: datetime) -> ObservationRead | None:
    usable = [r for r in reads if r.concept == concept and r.time <= moment]
    return max(usable, key=lambda r: r.time) if usable else None


def _now(
    now: datetime | None,
    data: Mapping[str, Any],
    observations: list[ObservationRead],
    administrations: list[OrderRead],
    orders: list[OrderRead],
    report: MappingReport,
) -> datetime:
    if now is not None:
        if now.tzinfo is None:
                raise InputError("time", "the time of assessment needs a UTC offset")
        return now
    stamp = parse_instant(data.get("timestamp")) if data.get("resourceType") == "Bundle" else None
    if stamp is not None:
        report.note("Bundle", f"time of assessment taken from Bundle.timestamp ({utc_iso(stamp)})")
        return stamp
    times = [o.time for o in observations]
    times += [t for r in administrations + orders for t in (r.time, r.end) if t is not None]
    if not times:
        raise InputError("time", "no time of assessment: give one, or a Bundle.timestamp")
    latest = max(times)
    report.note("Bundle", f"no time given: assessed as of the latest time in the data "
                f"({utc_iso(latest)})")
    return latest.astimezone(UTC)


def _patient(
    patient: Resource | None,
    moment: datetime,
    observations: list[ObservationRead],
    report: MappingReport,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if patient is None:
        report.note("Patient", "no Patient resource: age and sex unknown")
    else:
        born = parse_date(patient.get("birthDate"))
        if born is None:
            report.note(ref_of(patient), "no full birth date: age unknown")
        else:
            days = (moment.date() - born).days
            if days < 0:
                report.unusable(ref_of(patient), "birth date after the time of assessment")
            elif days < 365:
                out["age_days"] = days
            else:
                years = moment.year - born.year
                if (moment.month, moment.day) < (born.month, born.day):
                    years -= 1
                out["age_years"] = years
        sex = _SEX.get(str(patient.get("gender")))
        if sex:
            out["sex"] = sex
    weight = _latest(observations, "weight", moment)
    if weight is not None:
        candidate = {"value": weight.value, "unit": weight.unit}
        try:
            Patient.model_validate({"weight": candidate})
            out["weight"] = candidate
        except (ValidationError, ValueError) as exc:
            report.unusable("Observation (weight)", f"weight {weight.value} {weight.unit!r} not "
                            f"usable: {exc}")
    return out


def _as_infusion(
    read: OrderRead, time: datetime, report: MappingReport, validate: bool
) -> dict[str, Any] | None:
    payload = read.as_infusion()
    if payload is None:
        why = "; ".join(read.problems) or "no dose rate given"
        report.unusable(read.ref, f"{read.drug}: {why}")
        return None
    payload["time"] = utc_iso(time)
    if validate:
        try:
            Infusion.model_validate(payload)
        except ValidationError as exc:
            report.unusable(read.ref, "; ".join(describe_validation_error(exc)))
            return None
    return payload


def _infusions(
    administrations: list[OrderRead],
    orders: list[OrderRead],
    report: MappingReport,
    validate: bool = False,
) -> list[dict[str, Any]]:
    """The contract's infusions; `validate` checks each one (the slow path, taken only when
    the state as a whole is refused) so that a bad one is reported and the rest used."""
    out: list[dict[str, Any]] = []
    given: set[str] = set()
    segments: list[tuple[str, datetime, datetime | None]] = []
    for read in administrations:
        if read.drug is None:
            report.unusable(read.ref, "medication not in vasoguide's coding table: not used")
            continue
        if read.status not in _ADMIN_USED:
            report.unusable(read.ref, f"status {read.status!r}: not used")
            continue
        if read.time is None:
            report.unusable(read.ref, "no start time with a UTC offset: not used")
            continue
        given.add(read.drug)
        infusion = _as_infusion(read, read.time, report, validate)
        if infusion is not None:
            out.append(infusion)
            segments.append((read.drug, read.time, read.end))
    # An ended segment stops the drug at its end, unless another segment runs on from there.
    for drug, _start, end in segments:
        if end is None:
            continue
        covered = any(
            d == drug and s <= end and (e is None or e > end) for d, s, e in segments
        )
        if not covered:
            # Vasopressin is dosed in units: its stop is 0 U/min (0 ug/min would be refused).
            unit = "U/min" if drug == "vasopressin" else "ug/min"
            out.append({"drug": drug, "dose": {"value": 0, "unit": unit},
                        "time": utc_iso(end)})
    for read in orders:
        if read.drug is None:
            report.unusable(read.ref, "medication not in vasoguide's coding table: not used")
        elif read.status == "draft":
            report.unusable(read.ref, "draft order: checked as an order, not read as running")
        elif read.status != "active":
            report.unusable(read.ref, f"order status {read.status!r}: not read as running")
        elif read.drug in given:
            report.unusable(read.ref, "administrations are recorded: the order is not used")
        elif read.time is None:
            report.unusable(read.ref, "no start time with a UTC offset: not used")
        else:
            infusion = _as_infusion(read, read.time, report, validate)
            if infusion is not None:
                # Many EHRs chart infusions as flowsheet rows, not administrations; an active
                # order is then the best evidence the drug runs. Said, so it can be checked.
                report.note(read.ref, f"{read.drug} read as running at the ordered dose (no "
                            "administration recorded)")
                out.append(infusion)
    return out
