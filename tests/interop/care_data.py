"""FHIR resources for care data (fluids, tests, lines, bleeding, events), built as an EHR sends
them; shared by the interop and service tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
VG = "urn:vasoguide:concept"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def patient(pid: str = "p1", birth: str = "1960-05-01") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": "female"}


def observation(rid: str, code: str, value: float, unit: str, t: datetime,
                system: str = LOINC, pid: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": system, "code": code}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": iso(t),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def septic(pid: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Condition", "id": "sepsis",
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": "active"}]},
            "code": {"coding": [{"system": SNOMED, "code": "76571007"}]},
            "subject": {"reference": f"Patient/{pid}"}}


def fluid(rid: str, code: str, t: datetime, *, ml: float | None = None,
          rate_ml_h: float | None = None, hours: float | None = None,
          status: str = "completed", system: str = VG, pid: str = "p1") -> dict[str, Any]:
    dosage: dict[str, Any] = {}
    if ml is not None:
        dosage["dose"] = {"value": ml, "unit": "mL", "system": UCUM, "code": "mL"}
    if rate_ml_h is not None:
        dosage["rateQuantity"] = {"value": rate_ml_h, "unit": "mL/h", "system": UCUM,
                                  "code": "mL/h"}
    out: dict[str, Any] = {
        "resourceType": "MedicationAdministration", "id": rid, "status": status,
        "medicationCodeableConcept": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"}, "dosage": dosage,
    }
    if hours is not None:
        period: dict[str, str] = {"start": iso(t - timedelta(hours=hours))}
        if status == "completed":
            period["end"] = iso(t)
        out["effectivePeriod"] = period
    else:
        out["effectiveDateTime"] = iso(t)
    return out


def coded_observation(rid: str, code: str, t: datetime, pid: str = "p1",
                      **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": VG, "code": code}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": iso(t), **value}


def plr(t: datetime, result: str = "unresponsive", rid: str = "plr") -> dict[str, Any]:
    return coded_observation(rid, "passive-leg-raise", t,
                             valueCodeableConcept={"coding": [{"system": VG, "code": result}]})


def device(rid: str, code: str, status: str = "active", pid: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Device", "id": rid, "status": status,
            "type": {"coding": [{"system": VG, "code": code}]},
            "patient": {"reference": f"Patient/{pid}"}}


def procedure(rid: str, code: str, t: datetime, system: str = VG,
              status: str = "completed", pid: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Procedure", "id": rid, "status": status,
            "code": {"coding": [{"system": system, "code": code}]},
            "subject": {"reference": f"Patient/{pid}"}, "performedDateTime": iso(t)}


def infusion(rid: str, rxnorm: str, t: datetime, rate: tuple[float, str], *,
             end: datetime | None = None, route: str | None = None,
             strength_ug_ml: float | None = None, pid: str = "p1") -> dict[str, Any]:
    medication: dict[str, Any] = {"resourceType": "Medication", "id": "m",
                                  "code": {"coding": [{"system": RXNORM, "code": rxnorm}]}}
    if strength_ug_ml is not None:
        medication["ingredient"] = [{
            "itemCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm}]},
            "strength": {"numerator": {"value": strength_ug_ml, "unit": "ug", "system": UCUM,
                                       "code": "ug"},
                         "denominator": {"value": 1, "unit": "mL", "system": UCUM,
                                         "code": "mL"}}}]
    dosage: dict[str, Any] = {"rateQuantity": {"value": rate[0], "unit": rate[1],
                                               "system": UCUM, "code": rate[1]}}
    if route is not None:
        dosage["route"] = {"coding": [{"system": VG, "code": route}]}
    period = {"start": iso(t)} | ({"end": iso(end)} if end else {})
    return {"resourceType": "MedicationAdministration", "id": rid,
            "status": "completed" if end else "in-progress",
            "contained": [medication], "medicationReference": {"reference": "#m"},
            "subject": {"reference": f"Patient/{pid}"}, "effectivePeriod": period,
            "dosage": dosage}
