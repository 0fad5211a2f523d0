"""The OpenAPI document, with request bodies described as they really are.

FastAPI inlines pydantic's `$defs` inside each request body, where `#/$defs/...` references do
not resolve in an OpenAPI document, so API fuzzers (schemathesis) could not generate bodies and
sent one case per endpoint. Here the definitions move to `components/schemas`, and the CDS
Hooks request is described per hook with a typed context and a typed prefetch (FHIR R4
resources with the codes the service reads, from the prefetch templates), so generated cases
reach the mapping, the engine and the cards rather than stopping at validation.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["bundle_schema", "document", "dose_schema", "hook_request_schema"]

_REF = "#/components/schemas/"


def _hoist(node: Any, into: dict[str, Any]) -> Any:
    """Move every nested `$defs` into `into` and point references at components/schemas."""
    if isinstance(node, dict):
        for name, schema in node.pop("$defs", {}).items():
            into.setdefault(name, _hoist(schema, into))
        return {k: (v.replace("#/$defs/", _REF) if k == "$ref" and isinstance(v, str)
                    else _hoist(v, into)) for k, v in node.items()}
    if isinstance(node, list):
        return [_hoist(v, into) for v in node]
    return node


def _codes(template: str, system: str = "http://loinc.org") -> list[str]:
    return re.findall(re.escape(system) + r"\|([0-9A-Za-z-]+)", template)


def _coding(system: str, codes: list[str] | None = None) -> dict[str, Any]:
    code: dict[str, Any] = {"type": "string", "enum": codes} if codes else {"type": "string"}
    return {"type": "object", "required": ["system", "code"],
            "properties": {"system": {"const": system}, "code": code,
                           "display": {"type": "string"}}}


def _concept(system: str, codes: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": ["coding"],
            "properties": {"coding": {"type": "array", "minItems": 1, "maxItems": 2,
                                      "items": _coding(system, codes)}}}


_TIME = {"type": "string", "format": "date-time"}
_REFERENCE = {"type": "object", "properties": {"reference": {"type": "string"}}}


def _quantity(units: list[str]) -> dict[str, Any]:
    return {"type": "object", "required": ["value", "unit"],
            "properties": {"value": {"type": "number"}, "unit": {"enum": units},
                           "system": {"const": "http://unitsofmeasure.org"},
                           "code": {"enum": units}}}


def _typed(resource_type: str) -> dict[str, Any]:
    return {"type": "object", "required": ["resourceType", "id"],
            "properties": {"resourceType": {"const": resource_type},
                           "id": {"type": "string", "pattern": "^[A-Za-z0-9.-]{1,64}$"}}}


def _bundle(resource: dict[str, Any], max_items: int = 3) -> dict[str, Any]:
    return {"type": "object", "required": ["resourceType", "entry"],
            "properties": {"resourceType": {"const": "Bundle"},
                           "type": {"enum": ["searchset", "collection"]},
                           "entry": {"type": "array", "maxItems": max_items,
                                     "items": {"type": "object", "required": ["resource"],
                                               "properties": {"resource": resource}}}}}


def _resources(templates: dict[str, str]) -> dict[str, dict[str, Any]]:
    loinc = _codes(templates.get("observations", "")) + _codes(templates.get("weight", ""))
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    rate = _quantity(["ug/kg/min", "ug/min", "mL/h", "mg/h", "U/min"])
    observation = {"type": "object",
                   "required": ["resourceType", "status", "code", "effectiveDateTime"],
                   "properties": {
                       "resourceType": {"const": "Observation"}, "id": {"type": "string"},
                       "status": {"enum": ["final", "amended", "preliminary", "cancelled"]},
                       "code": _concept("http://loinc.org", loinc or None),
                       "subject": _REFERENCE, "effectiveDateTime": _TIME,
                       "valueQuantity": _quantity(["mm[Hg]", "mmol/L", "mg/dL", "kg", "mL",
                                                   "s", "%", "{score}"])}}
    medication = {"type": "object", "properties": {"coding": {"type": "array", "maxItems": 2,
                                                              "items": _coding(rxnorm)}}}
    dosage = {"type": "array", "maxItems": 1, "items": {"type": "object", "properties": {
        "doseAndRate": {"type": "array", "maxItems": 2, "items": {
            "type": "object", "properties": {"rateQuantity": rate}}}}}}
    request = {"type": "object", "required": ["resourceType", "status", "intent"],
               "properties": {"resourceType": {"const": "MedicationRequest"},
                              "id": {"type": "string"},
                              "status": {"enum": ["draft", "active", "stopped"]},
                              "intent": {"enum": ["order", "proposal"]},
                              "subject": _REFERENCE, "medicationCodeableConcept": medication,
                              "dosageInstruction": dosage, "authoredOn": _TIME}}
    administration = {"type": "object", "required": ["resourceType", "status"],
                      "properties": {"resourceType": {"const": "MedicationAdministration"},
                                     "status": {"enum": ["in-progress", "completed",
                                                         "stopped"]},
                                     "subject": _REFERENCE,
                                     "medicationCodeableConcept": medication,
                                     "effectivePeriod": {"type": "object", "properties": {
                                         "start": _TIME, "end": _TIME}},
                                     "dosage": {"type": "object", "properties": {
                                         "rateQuantity": rate}}}}
    condition = {"type": "object", "required": ["resourceType", "code"],
                 "properties": {"resourceType": {"const": "Condition"},
                                "clinicalStatus": _concept(
                                    "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                    ["active", "resolved"]),
                                "code": _concept("http://snomed.info/sct"),
                                "subject": _REFERENCE}}
    patient = {"type": "object", "required": ["resourceType", "id"],
               "properties": {"resourceType": {"const": "Patient"}, "id": {"type": "string"},
                              "gender": {"enum": ["male", "female", "other", "unknown"]},
                              "birthDate": {"type": "string", "format": "date"}}}
    return {"Observation": observation, "MedicationRequest": request,
            "MedicationAdministration": administration, "Condition": condition,
            "Patient": patient}


def hook_request_schema(templates: dict[str, str]) -> dict[str, Any]:
    """A CDS Hooks request for this service: one schema per hook, typed prefetch."""
    r = _resources(templates)
    observations = _bundle({"$ref": _REF + "FhirObservation"}, 8)
    # Every key present (a missing key means a FHIR-server fallback, a 412 without a server).
    prefetch = {"type": "object", "required": ["patient", "weight", "observations", "conditions",
                                               "medicationrequests",
                                               "medicationadministrations", "procedures",
                                               "devices"],
                "properties": {
        "patient": {"$ref": _REF + "FhirPatient"},
        "weight": _bundle({"$ref": _REF + "FhirObservation"}, 1),
        "observations": observations,
        "conditions": _bundle({"$ref": _REF + "FhirCondition"}),
        "medicationrequests": _bundle({"$ref": _REF + "FhirMedicationRequest"}),
        "medicationadministrations": _bundle({"$ref": _REF + "FhirMedicationAdministration"}),
        # Lines, transfusions and bleeding control (issue 9): typed loosely, read when coded.
        "procedures": _bundle(_typed("Procedure")),
        "devices": _bundle(_typed("Device")),
    }}
    base = {"userId": {"type": "string"}, "patientId": {"type": "string", "minLength": 1},
            "encounterId": {"type": "string"}}
    drafts = _bundle({"$ref": _REF + "FhirMedicationRequest"}, 2)

    def hook(name: str, context: dict[str, Any], required: list[str]) -> dict[str, Any]:
        return {"type": "object", "required": ["hook", "hookInstance", "context", "prefetch"],
                "properties": {
                    "hook": {"const": name}, "hookInstance": {"type": "string", "format": "uuid"},
                    "context": {"type": "object", "required": ["userId", "patientId", *required],
                                "properties": {**base, **context}},
                    "prefetch": prefetch}}

    schemas = {
        "oneOf": [
            hook("patient-view", {}, []),
            hook("order-sign", {"draftOrders": drafts}, ["draftOrders"]),
            hook("order-select", {"draftOrders": drafts, "selections": {
                "type": "array", "minItems": 1, "maxItems": 2,
                "items": {"type": "string", "pattern": "^MedicationRequest/[A-Za-z0-9-]{1,8}$"}}},
                ["draftOrders", "selections"]),
        ],
    }
    return {"schema": schemas, "components": {f"Fhir{k}": v for k, v in r.items()}}


def dose_schema(model_schema: dict[str, Any]) -> dict[str, Any]:
    """The dose query with `unit` one of the dose units the service reads (other text is
    refused with 422 and says which), so generated cases reach the arithmetic."""
    schema = dict(model_schema)
    props = dict(schema.get("properties", {}))
    props["unit"] = {"enum": ["ug/kg/min", "ug/min", "U/min", "mL/h", "mcg/kg/min"]}
    schema["properties"] = props
    return schema


def bundle_schema() -> dict[str, Any]:
    """A FHIR R4 Bundle of the resource types the service reads (POST /fhir/state)."""
    kinds = ("Patient", "Observation", "Condition", "MedicationRequest",
             "MedicationAdministration")
    return _bundle({"oneOf": [{"$ref": f"{_REF}Fhir{k}"} for k in kinds]}, 20)


def document(app: FastAPI, *, templates: dict[str, str], service_id: str,
             extra_bodies: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The app's OpenAPI document with resolvable, realistic request bodies."""
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary,
                      routes=app.routes)
    components: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    doc["paths"] = _hoist(doc["paths"], components)
    hook = hook_request_schema(templates)
    components.update(hook["components"])
    for path, op in doc["paths"].items():
        post = op.get("post")
        if post is None:
            continue
        for param in post.get("parameters", []):
            if param.get("name") == "service_id":
                param["schema"] = {"type": "string", "enum": [service_id]}
        if path == "/cds-services/{service_id}":
            post["requestBody"] = {"required": True,
                                   "content": {"application/json": {"schema": hook["schema"]}}}
        elif path in (extra_bodies or {}) and "requestBody" not in post:
            post["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _hoist((extra_bodies or {})[path], components)}}}
    return doc
