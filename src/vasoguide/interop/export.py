"""A stay of the canonical event table -> FHIR R4 resources, each with the time it became known.

`vasoguide export` writes them as a Bundle; the round trip (scripts/roundtrip.py) builds CDS Hooks
prefetches from the resources known at each decision time. What is written is what the in-process
replay passes the engine (`timeline.replay.state_at`), in the codes the FHIR reader reads:

- Patient (birth date from the age at admission; no sex: the event table has none).
- Observations: MAP and SBP (LOINC by method: invasive 76214-6 / 76215-3, cuff 76536-2 /
  76534-7, unknown 8478-0 / 8480-6; category vital-signs), lactate (2524-7, laboratory), urine
  output (9187-6, `effectivePeriod` from the previous charting, as the replay counts it), body
  weight (29463-7).
- MedicationAdministration per infusion rate segment (RxNorm ingredient, `dosage.rateQuantity`
  in the charted UCUM unit, concentration as a contained Medication's ingredient strength).
  A segment is `in-progress` with an open period until its end, then `completed` with the end:
  the two versions are known at different times, so no prefetch sees the future.
- MedicationAdministration per fluid (vasoguide's fluid codes, `dosage.dose` in mL).
- Conditions the replay assumes: a trauma stay as haemorrhagic shock (SNOMED 355001, the
  replay's proxy, marked `provisional`), traumatic brain injury, spinal cord injury.

The dataset gives no heart rate, sex, lines, tests or bleeding control in its event table, so
none is written. Concentrations: the charted one, else for a rate in mL/h the site's default
(as the replay assumes; said in the Medication's `text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .resources import UCUM, utc_iso

if TYPE_CHECKING:
    from ..timeline.replay import StayEvents

__all__ = ["Exported", "bundle_of", "export_stay", "known_at", "patient_id_of", "prefetch_at"]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
VASOGUIDE = "urn:vasoguide:concept"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

_PRESSURE_CODES = {
    ("map", "arterial"): ("76214-6", "Invasive Mean blood pressure"),
    ("map", "noninvasive"): ("76536-2", "Mean blood pressure by Noninvasive"),
    ("map", None): ("8478-0", "Mean blood pressure"),
    ("sbp", "arterial"): ("76215-3", "Invasive Systolic blood pressure"),
    ("sbp", "noninvasive"): ("76534-7", "Systolic blood pressure by Noninvasive"),
    ("sbp", None): ("8480-6", "Systolic blood pressure"),
}
_DRUGS = {  # RxNorm ingredients, as in codes.yaml
    "norepinephrine": "7512", "vasopressin": "11149", "epinephrine": "3992",
    "dobutamine": "3616", "dopamine": "3628", "phenylephrine": "8163",
}
_FLUIDS = {  # the replay's fluid types -> vasoguide's fluid codes (codes.yaml `fluids`)
    "crystalloid": "fluid-crystalloid", "colloid": "fluid-colloid", "albumin": "fluid-albumin",
    "red_cells": "blood-red-cells", "plasma": "blood-plasma",
}
_CONDITIONS = {
    "trauma": ("355001", "Hemorrhagic shock"),
    "brain_injury": ("127295002", "Traumatic brain injury"),
    "spinal_injury": ("90584004", "Spinal cord injury"),
}
_ID = re.compile(r"[^A-Za-z0-9\-.]")
# fullUrl must be absolute in R4; the reserved `.invalid` domain says no server holds these.
BASE_URL = "https://fhir.invalid/r4"
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Exported:
    """One resource, its prefetch key, and when it is known: [known_from, known_until)."""

    resource: dict[str, Any]
    key: str
    known_from: datetime | None  # None: known from the start (Patient, Conditions)
    known_until: datetime | None = None  # superseded then (an in-progress infusion segment)
    sort_time: datetime | None = None  # the resource's own date for `_sort` (else known_from)

    def known(self, t: datetime) -> bool:
        return (self.known_from is None or self.known_from <= t) and (
            self.known_until is None or t < self.known_until)


def patient_id_of(dataset: str, stay_id: int) -> str:
    return _ID.sub("-", f"{dataset}-{stay_id}")[:64]


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": float(value), "unit": unit.replace("ug", "mcg"), "system": UCUM,
            "code": unit}


def _observation(
    rid: str, subject: str, code: tuple[str, str], t: datetime, value: float, unit: str,
    category: str | None, start: datetime | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": "final"}
    if category:
        out["category"] = [{"coding": [_coding(_CATEGORY, category)]}]
    out["code"] = {"coding": [_coding(LOINC, *code)]}
    out["subject"] = {"reference": subject}
    if start is not None:
        out["effectivePeriod"] = {"start": utc_iso(start), "end": utc_iso(t)}
    else:
        out["effectiveDateTime"] = utc_iso(t)
    out["valueQuantity"] = _quantity(value, unit)
    return out


def export_stay(
    stay: StayEvents, *, dataset: str, default_concentration_ug_ml: float | None
) -> list[Exported]:
    """Every resource of `stay`, with when it became known (see the module docstring)."""
    pid = patient_id_of(dataset, stay.stay_id)
    subject = f"Patient/{pid}"
    out: list[Exported] = [Exported(_patient(stay, pid), "patient", None)]
    for flag, (code, display) in _CONDITIONS.items():
        if getattr(stay, flag, None):
            out.append(Exported(_condition(f"{pid}-{flag}", subject, code, display,
                                           provisional=flag == "trauma"), "conditions", None))
    measured: dict[str, tuple[str, tuple[str, str], str]] = {
        "weight": ("vital-signs", ("29463-7", "Body weight"), "kg"),
        "lactate": ("laboratory", ("2524-7", "Lactate [Moles/volume] in Serum or Plasma"),
                    "mmol/L"),
    }
    for concept, (category, loinc, unit) in measured.items():
        key = "weight" if concept == "weight" else "observations"
        rows = stay.by_code.get(concept, [])
        if concept == "weight":
            # One weight per instant, the last charted (as the replay reads it): FHIR gives
            # two Observations at one instant no order, so the reader could not tell.
            rows = [r for i, r in enumerate(rows)
                    if i + 1 == len(rows) or rows[i + 1]["time"] != r["time"]]
        for i, r in enumerate(rows):
            res = _observation(f"{concept}-{i}", subject, loinc, r["time"], r["numeric_value"],
                               unit, category)
            out.append(Exported(res, key, r["time"]))
    for concept in ("map", "sbp"):
        for i, r in enumerate(stay.by_code.get(concept, [])):
            res = _observation(f"{concept}-{i}", subject, _PRESSURE_CODES[(concept,
                               r.get("method"))], r["time"], r["numeric_value"],
                               "mm[Hg]", "vital-signs")
            out.append(Exported(res, "observations", r["time"]))
    out += _urine(stay, subject)
    out += _fluids(stay, subject)
    out += _infusions(stay, subject, default_concentration_ug_ml)
    return out


def _patient(stay: StayEvents, pid: str) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    age = stay.age_years
    anchor = stay.admission or _first_time(stay)
    if age is not None and 0 <= age <= 130 and anchor is not None:
        born = anchor - timedelta(days=float(age) * 365.2425)
        out["birthDate"] = born.date().isoformat()
    return out


def _first_time(stay: StayEvents) -> datetime | None:
    firsts = [ts[0] for ts in stay.times.values() if ts]
    return min(firsts) if firsts else None


def _condition(rid: str, subject: str, code: str, display: str,
               provisional: bool) -> dict[str, Any]:
    return {
        "resourceType": "Condition", "id": rid,
        "clinicalStatus": {"coding": [_coding(_CLINICAL, "active")]},
        "verificationStatus": {"coding": [_coding(
            _VERIFICATION, "provisional" if provisional else "confirmed")]},
        "code": {"coding": [_coding(SNOMED, code, display)]},
        "subject": {"reference": subject},
    }


def _urine(stay: StayEvents, subject: str) -> list[Exported]:
    out = []
    rows = stay.by_code.get("urine_output", [])
    for i, r in enumerate(rows):
        # Collected since the previous charting (or admission), as the replay counts it.
        since = rows[i - 1]["time"] if i > 0 else (stay.admission or r["time"])
        if r["numeric_value"] < 0 or since > r["time"]:
            continue
        res = _observation(f"urine-{i}", subject, ("9187-6", "Urine output"), r["time"],
                           r["numeric_value"], "mL", None, start=since)
        out.append(Exported(res, "observations", r["time"]))
    return out


def _fluids(stay: StayEvents, subject: str) -> list[Exported]:
    out = []
    for code, rows in stay.by_code.items():
        kind = code.removeprefix("fluid.")
        if not code.startswith("fluid.") or kind not in _FLUIDS:
            continue
        for i, r in enumerate(rows):
            if not r["numeric_value"] > 0:
                continue
            res = {
                "resourceType": "MedicationAdministration", "id": f"{kind}-{i}".replace("_", "-"),
                "status": "completed",
                "medicationCodeableConcept": {"coding": [_coding(VASOGUIDE, _FLUIDS[kind])]},
                "subject": {"reference": subject},
                "effectiveDateTime": utc_iso(r["time"]),
                "dosage": {"dose": _quantity(r["numeric_value"], "mL")},
            }
            out.append(Exported(res, "medicationadministrations", r["time"]))
    return out


def _medication(drug: str, conc: float | None, assumed: bool) -> dict[str, Any]:
    rx = _coding(RXNORM, _DRUGS[drug], drug)
    med: dict[str, Any] = {"resourceType": "Medication", "id": "bag", "code": {"coding": [rx]}}
    if conc is not None:
        amount = "U" if drug == "vasopressin" else "ug"
        med["ingredient"] = [{
            "itemCodeableConcept": {"coding": [rx]},
            "strength": {"numerator": _quantity(conc, amount), "denominator": _quantity(1, "mL")},
        }]
        if assumed:
            med["code"]["text"] = f"{drug} (concentration not charted: the site's default)"
    return med


def _infusions(
    stay: StayEvents, subject: str, default_conc: float | None
) -> list[Exported]:
    out: list[Exported] = []
    for code, rows in stay.by_code.items():
        drug = code.removeprefix("infusion.")
        if not code.startswith("infusion.") or drug not in _DRUGS:
            continue
        for i, r in enumerate(rows):
            if r.get("action") == "stop" or not r["numeric_value"] > 0:
                continue
            end = rows[i + 1]["time"] if i + 1 < len(rows) else None
            conc = r.get("concentration")
            assumed = False
            if not conc and r["unit"] == "mL/h":
                conc, assumed = default_conc, True
                if conc is None:
                    continue  # a rate in mL/h means nothing without a concentration
            base = {
                "resourceType": "MedicationAdministration", "id": f"{drug}-{i}",
                "contained": [_medication(drug, conc, assumed)],
                "medicationReference": {"reference": "#bag"},
                "subject": {"reference": subject},
                "dosage": {"rateQuantity": _quantity(r["numeric_value"], r["unit"])},
            }
            start = utc_iso(r["time"])
            running = {**base, "status": "in-progress", "effectivePeriod": {"start": start}}
            key = "medicationadministrations"
            out.append(Exported(running, key, r["time"], end, r["time"]))
            if end is not None:
                done = {**base, "status": "completed",
                        "effectivePeriod": {"start": start, "end": utc_iso(end)}}
                out.append(Exported(done, key, end, None, r["time"]))
    return out


def known_at(items: Iterable[Exported], t: datetime) -> list[Exported]:
    return [e for e in items if e.known(t)]


def _full_url(resource: dict[str, Any]) -> str:
    return f"{BASE_URL}/{resource['resourceType']}/{resource['id']}"


def _searchset(resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                           "total": len(resources)}
    if resources:
        out["entry"] = [{"fullUrl": _full_url(r), "resource": r} for r in resources]
    return out


_COUNT = re.compile(r"[?&]_count=(\d+)")


def prefetch_at(items: Iterable[Exported], t: datetime, templates: Mapping[str, str]
                ) -> dict[str, Any]:
    """A CDS Hooks prefetch as an EHR answering `templates` at `t` sends it: per key, the
    resources known at `t`, newest first, at most the template's `_count`."""
    by_key: dict[str, list[Exported]] = {k: [] for k in templates}
    patient: dict[str, Any] | None = None
    for e in items:
        if not e.known(t):
            continue
        if e.key == "patient":
            patient = e.resource
        elif e.key in by_key:
            by_key[e.key].append(e)
    out: dict[str, Any] = {}
    for key, found in by_key.items():
        if key == "patient":
            out[key] = patient
            continue
        found.sort(key=lambda e: e.sort_time or e.known_from or _EPOCH, reverse=True)
        count = _COUNT.search(templates[key])
        if count is not None:
            found = found[: int(count.group(1))]
        out[key] = _searchset([e.resource for e in found])
    return out


def bundle_of(items: Iterable[Exported], t: datetime | None = None) -> dict[str, Any]:
    """A collection Bundle of the resources known at `t` (all final versions when None)."""
    chosen = [e for e in items if e.known_until is None] if t is None else known_at(items, t)
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if t is not None:
        out["timestamp"] = utc_iso(t)
    out["entry"] = [{"fullUrl": _full_url(e.resource), "resource": e.resource} for e in chosen]
    return out
