"""FHIR Bundle -> PatientState: what is read, and what is reported instead of guessed."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vasoguide.errors import InputError
from vasoguide.interop import bundle_to_state, map_resources

DATA = Path(__file__).parent / "data"


@pytest.fixture
def bundle() -> dict[str, Any]:
    return json.loads((DATA / "septic-bundle.json").read_text())


def resource(bundle: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == rid)


def drop(bundle: dict[str, Any], rid: str) -> None:
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"].get("id") != rid]


def test_reads_patient_vitals_labs_conditions_and_infusion(bundle: dict[str, Any]) -> None:
    state, _ = bundle_to_state(bundle)
    assert state.time == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert state.patient.age_years == 64
    assert state.patient.weight is not None and state.patient.weight.canonical == 80
    assert state.context.shock_type == "septic"
    assert state.context.chronic_hypertension is True
    assert state.context.traumatic_brain_injury is None  # the TBI condition is resolved
    assert state.context.gcs == 14
    maps = {(o.value, o.method) for o in state.observations if o.code == "map"}
    assert maps == {(58, "arterial"), (59, "noninvasive")}
    (ne,) = state.infusions
    assert (ne.drug, ne.dose.value, ne.dose.unit) == ("norepinephrine", 0.05, "ug/kg/min")
    assert ne.concentration is not None and ne.concentration.value == pytest.approx(16)
    urine = next(o for o in state.observations if o.code == "urine_output")
    assert urine.start == datetime(2026, 3, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("Encounter/enc1", "not read"),
        ("Observation/creat", "coding table"),
        ("Observation/avg-bp", "not a mean arterial pressure"),
        ("Observation/map-dateonly", "clock time"),
        ("Observation/map-other", "another patient"),
        ("Condition/old-tbi", "resolved"),
        ("MedicationRequest/abx", "coding table"),
    ],
)
def test_unusable_resources_are_reported(bundle: dict[str, Any], ref: str, reason: str) -> None:
    _, report = bundle_to_state(bundle)
    lines = [line for line in report if line.startswith(ref + ":")]
    assert lines and reason in lines[0]


def test_other_patients_value_is_not_used(bundle: dict[str, Any]) -> None:
    state, _ = bundle_to_state(bundle)
    assert 40 not in [o.value for o in state.observations]


def test_explicit_now_wins_and_age_follows_it(bundle: dict[str, Any]) -> None:
    now = datetime(2026, 1, 14, 12, tzinfo=UTC)
    state, report = bundle_to_state(bundle, now=now)
    assert state.time == now and state.patient.age_years == 63
    assert not any("timestamp" in line for line in report)


def test_without_timestamp_uses_latest_data_time_and_says_so(bundle: dict[str, Any]) -> None:
    del bundle["timestamp"]
    state, report = bundle_to_state(bundle)
    assert state.time == datetime(2026, 3, 1, 8, tzinfo=UTC)  # the urine period's end
    assert any("latest time in the data" in line for line in report)


def test_naive_now_is_refused(bundle: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        bundle_to_state(bundle, now=datetime(2026, 3, 1, 8))  # noqa: DTZ001


def test_wrong_unit_is_reported_not_used(bundle: dict[str, Any]) -> None:
    quantity = resource(bundle, "lac")["valueQuantity"]
    quantity.update(unit="kg", code="kg")
    state, report = bundle_to_state(bundle)
    assert not [o for o in state.observations if o.code == "lactate"]
    assert any(line.startswith("Observation/lac:") and "kg" in line for line in report)


def test_rate_in_ml_per_hour_uses_ingredient_strength(bundle: dict[str, Any]) -> None:
    dosage = resource(bundle, "ne-admin")["dosage"]
    dosage["rateQuantity"] = {
        "value": 15,
        "unit": "mL/h",
        "system": "http://unitsofmeasure.org",
        "code": "mL/h",
    }
    state, _ = bundle_to_state(bundle)
    (ne,) = state.infusions
    assert ne.dose.unit == "mL/h" and ne.concentration is not None
    assert ne.concentration.canonical == pytest.approx(16)


def test_rate_ratio_is_read(bundle: dict[str, Any]) -> None:
    dosage = resource(bundle, "ne-admin")["dosage"]
    del dosage["rateQuantity"]
    dosage["rateRatio"] = {
        "numerator": {
            "value": 8,
            "unit": "ug",
            "system": "http://unitsofmeasure.org",
            "code": "ug",
        },
        "denominator": {
            "value": 1,
            "unit": "min",
            "system": "http://unitsofmeasure.org",
            "code": "min",
        },
    }
    state, _ = bundle_to_state(bundle)
    assert state.infusions[0].dose.canonical == pytest.approx(8)  # ug/min


def test_ml_per_hour_without_concentration_is_reported(bundle: dict[str, Any]) -> None:
    admin = resource(bundle, "ne-admin")
    admin["contained"][0]["ingredient"][0].pop("strength")
    admin["dosage"]["rateQuantity"] = {"value": 15, "unit": "mL/h"}
    state, report = bundle_to_state(bundle)
    assert state.infusions == []
    assert any(
        line.startswith("MedicationAdministration/ne-admin:") and "concentration" in line
        for line in report
    )


def test_ended_administration_stops_the_drug(bundle: dict[str, Any]) -> None:
    admin = resource(bundle, "ne-admin")
    admin["status"] = "completed"
    admin["effectivePeriod"]["end"] = "2026-03-01T07:58:00Z"
    state, _ = bundle_to_state(bundle)
    last = max(state.infusions, key=lambda i: i.time)
    assert last.dose.value == 0 and last.time == datetime(2026, 3, 1, 7, 58, tzinfo=UTC)


def test_contiguous_segments_do_not_stop_the_drug(bundle: dict[str, Any]) -> None:
    first = resource(bundle, "ne-admin")
    first["status"] = "completed"
    first["effectivePeriod"]["end"] = "2026-03-01T07:55:00Z"
    second = copy.deepcopy(first)
    second.update(
        id="ne-admin-2", status="in-progress", effectivePeriod={"start": "2026-03-01T07:55:00Z"}
    )
    second["dosage"]["rateQuantity"]["value"] = 0.08
    bundle["entry"].append({"resource": second})
    state, _ = bundle_to_state(bundle)
    assert [i.dose.value for i in sorted(state.infusions, key=lambda i: i.time)] == [0.05, 0.08]


def test_active_order_is_read_as_running_only_without_administrations(
    bundle: dict[str, Any],
) -> None:
    order = {
        "resourceType": "MedicationRequest",
        "id": "ne-order",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7512"}]
        },
        "authoredOn": "2026-03-01T07:45:00Z",
        "dosageInstruction": [
            {
                "doseAndRate": [
                    {
                        "rateQuantity": {
                            "value": 6,
                            "unit": "ug/min",
                            "system": "http://unitsofmeasure.org",
                            "code": "ug/min",
                        }
                    }
                ]
            }
        ],
    }
    bundle["entry"].append({"resource": order})
    state, report = bundle_to_state(bundle)
    assert len(state.infusions) == 1  # the administration wins
    assert any("MedicationRequest/ne-order: administrations" in line for line in report)
    drop(bundle, "ne-admin")
    state, report = bundle_to_state(bundle)
    assert state.infusions[0].dose.unit == "ug/min"
    assert any("read as running" in line for line in report)


def test_draft_order_is_never_read_as_running(bundle: dict[str, Any]) -> None:
    drop(bundle, "ne-admin")
    draft = {
        "resourceType": "MedicationRequest",
        "id": "d1",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7512"}]
        },
        "dosageInstruction": [
            {"doseAndRate": [{"rateQuantity": {"value": 0.1, "unit": "ug/kg/min"}}]}
        ],
    }
    bundle["entry"].append({"resource": draft})
    state, report = bundle_to_state(bundle)
    assert state.infusions == []
    assert any(line.startswith("MedicationRequest/d1: draft") for line in report)


def test_two_shock_types_read_as_mixed(bundle: dict[str, Any]) -> None:
    cardio = copy.deepcopy(resource(bundle, "sepsis"))
    cardio.update(
        id="cardio",
        code={"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R57.0"}]},
    )
    bundle["entry"].append({"resource": cardio})
    state, report = bundle_to_state(bundle)
    assert state.context.shock_type == "mixed"
    assert any("mixed" in line for line in report)


def test_icd_prefix_codes_match_subdivisions(bundle: dict[str, Any]) -> None:
    tbi = resource(bundle, "old-tbi")
    tbi["clinicalStatus"]["coding"][0]["code"] = "active"
    tbi["code"] = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "S06.5X0A"}]}
    state, _ = bundle_to_state(bundle)
    assert state.context.traumatic_brain_injury is True


def test_refuted_condition_is_reported(bundle: dict[str, Any]) -> None:
    resource(bundle, "sepsis")["verificationStatus"] = {"coding": [{"code": "refuted"}]}
    state, report = bundle_to_state(bundle)
    assert state.context.shock_type is None
    assert any(line.startswith("Condition/sepsis: verification") for line in report)


def test_several_patients_are_refused(bundle: dict[str, Any]) -> None:
    other = {"resourceType": "Patient", "id": "p2", "birthDate": "1990-01-01"}
    bundle["entry"].append({"resource": other})
    with pytest.raises(InputError, match="several patients"):
        bundle_to_state(bundle)


def test_pinned_patient_ignores_others(bundle: dict[str, Any]) -> None:
    bundle["entry"].append({"resource": {"resourceType": "Patient", "id": "p2"}})
    mapped = map_resources(bundle, patient_id="p1")
    assert mapped.patient_id == "p1" and mapped.state.patient.age_years == 64


def test_prefetch_mapping_with_nested_bundles_and_nulls(bundle: dict[str, Any]) -> None:
    entries = bundle["entry"]
    prefetch = {
        "patient": entries[0]["resource"],
        "observations": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [e for e in entries if e["resource"]["resourceType"] == "Observation"],
        },
        "conditions": None,
    }
    mapped = map_resources(prefetch, now=datetime(2026, 3, 1, 8, tzinfo=UTC), patient_id="p1")
    assert mapped.state.context.shock_type is None
    assert any(o.code == "map" for o in mapped.state.observations)


def test_duplicates_from_two_prefetch_keys_count_once(bundle: dict[str, Any]) -> None:
    weight = resource(bundle, "map-art")
    bundle["entry"].append({"resource": copy.deepcopy(weight)})
    state, _ = bundle_to_state(bundle)
    assert [o.value for o in state.observations if o.code == "map"].count(58) == 1


def test_operation_outcome_in_prefetch_is_reported(bundle: dict[str, Any]) -> None:
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "OperationOutcome",
                "id": "oo",
                "issue": [{"severity": "error", "code": "timeout"}],
            }
        }
    )
    _, report = bundle_to_state(bundle)
    assert any(line.startswith("OperationOutcome/oo:") for line in report)


def test_garbage_never_raises_anything_but_input_error() -> None:
    for junk in (
        {},
        {"resourceType": "Bundle", "entry": [1, None, {"resource": []}]},
        {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Observation"}}]},
    ):
        with pytest.raises(InputError):
            bundle_to_state(junk)
