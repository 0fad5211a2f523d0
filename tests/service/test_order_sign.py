"""order-sign: dose, unit, concentration and rate checks, with an `update` suggestion; feedback."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from vasoguide.assessment import Action, Assessment, OutQuantity, Target
from vasoguide.protocol import Protocol, load_protocol
from vasoguide.service.settings import Settings
from vasoguide.state import PatientState

from .conftest import AppClient, hook_request, ne_order, prefetch_from, sample_resources
from .test_hooks import SERVICE, assert_spec_cards

ADVISED = (0.05, "ug/kg/min")  # the fixed Assessment below advises this start dose


def fixed_assess(decision: str = "START_NOREPINEPHRINE") -> Callable[..., Assessment]:
    """An engine stand-in with a known answer, so the order checks are tested on their own."""

    def assess(state: PatientState, protocol: Protocol) -> Assessment:
        actions = []
        if decision == "START_NOREPINEPHRINE":
            actions = [
                Action(
                    code="START_NOREPINEPHRINE",
                    text="Start norepinephrine.",
                    drug="norepinephrine",
                    dose=OutQuantity(value=ADVISED[0], unit=ADVISED[1]),
                    rate=OutQuantity(value=7.5, unit="mL/h"),
                    concentration=OutQuantity(value=32, unit="ug/mL"),
                )
            ]
        return Assessment(
            time=state.time,
            decision=decision,  # type: ignore[arg-type]
            target=Target(measure="map", low=65),
            actions=actions,
            protocol=protocol.ref,
        )

    return assess


@pytest.fixture
def protocol() -> Protocol:
    return load_protocol()


@pytest.fixture
def signer(make_client: Callable[..., AppClient], settings: Settings) -> AppClient:
    return make_client(settings, assess=fixed_assess())


def sign(client: AppClient, *orders: dict[str, Any]) -> list[dict[str, Any]]:
    body = hook_request(
        "order-sign", prefetch=prefetch_from(sample_resources()), orders=list(orders)
    )
    response = client.post(SERVICE, json=body)
    assert response.status_code == 200, response.text
    return assert_spec_cards(response.json())


def expected_rate(dose: float, weight: float = 80, conc: float = 16) -> float:
    return dose * weight * 60 / conc


def the_update(card: dict[str, Any]) -> dict[str, Any]:
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "update" and card["selectionBehavior"] == "at-most-one"
    resource: dict[str, Any] = action["resource"]
    return resource


def rates_of(order: dict[str, Any]) -> dict[str, float]:
    return {
        d["rateQuantity"]["code"]: d["rateQuantity"]["value"]
        for d in order["dosageInstruction"][0]["doseAndRate"]
    }


def test_consistent_order_gives_no_card(signer: AppClient) -> None:
    order = ne_order(dose=ADVISED, rate=(expected_rate(ADVISED[0]), "mL/h"))
    assert sign(signer, order) == []


def test_consistent_order_in_a_non_default_bag_gives_no_card(signer: AppClient) -> None:
    double = ne_order(dose=ADVISED, rate=(expected_rate(ADVISED[0], conc=32), "mL/h"),
                      strength_mg_in_ml=(8, 250))
    assert sign(signer, double) == []


def test_mg_written_for_mcg_is_critical_with_the_advised_dose(signer: AppClient) -> None:
    (card,) = sign(signer, ne_order(dose=(0.05, "mg/kg/min")))
    assert card["indicator"] == "critical" and "unit" in card["summary"]
    assert "DOSE_UNIT_SUSPECT" in card["detail"]
    fixed = the_update(card)
    assert fixed["id"] == "draft-ne" and fixed["status"] == "draft"
    rates = rates_of(fixed)
    assert rates["ug/kg/min"] == ADVISED[0]
    # the rate is recomputed for the ordered bag (16 mcg/mL), not the engine's default bag
    assert rates["mL/h"] == pytest.approx(expected_rate(ADVISED[0]), rel=0.01)


def test_dose_above_hard_limit_is_critical(signer: AppClient, protocol: Protocol) -> None:
    hard = protocol.setting("hard_limit_weight", "ug/kg/min")
    suspect = protocol.setting("unit_suspect_weight", "ug/kg/min")
    dose = hard * 1.1
    assert dose < suspect, "test needs a dose between the hard limit and implausible"
    (card,) = sign(signer, ne_order(dose=(dose, "ug/kg/min")))
    assert card["indicator"] == "critical" and "DOSE_ABOVE_LIMIT" in card["detail"]


def test_rate_that_does_not_deliver_the_dose(signer: AppClient) -> None:
    (card,) = sign(signer, ne_order(dose=ADVISED, rate=(2 * expected_rate(ADVISED[0]), "mL/h")))
    assert card["indicator"] == "critical" and "RATE_MISMATCH" in card["detail"]
    assert rates_of(the_update(card))["mL/h"] == pytest.approx(expected_rate(ADVISED[0]))


def test_rate_rounding_is_tolerated(signer: AppClient) -> None:
    order = ne_order(dose=ADVISED, rate=(round(expected_rate(ADVISED[0]) * 1.03, 1), "mL/h"))
    assert sign(signer, order) == []


def test_missing_rate_is_offered(signer: AppClient) -> None:
    (card,) = sign(signer, ne_order(dose=ADVISED))
    assert card["indicator"] == "info" and "RATE_MISSING" in card["detail"]
    assert rates_of(the_update(card))["mL/h"] == pytest.approx(expected_rate(ADVISED[0]))


def test_ml_per_hour_without_concentration_is_critical(signer: AppClient) -> None:
    (card,) = sign(signer, ne_order(dose=None, rate=(10, "mL/h"), strength_mg_in_ml=None))
    assert card["indicator"] == "critical" and "CONCENTRATION_MISSING" in card["detail"]


def test_unit_that_is_not_a_rate_is_critical(signer: AppClient) -> None:
    (card,) = sign(signer, ne_order(dose=(4, "mg")))
    assert card["indicator"] == "critical" and "UNIT_INVALID" in card["detail"]


def test_only_norepinephrine_orders_are_checked(signer: AppClient) -> None:
    other = ne_order("vaso", dose=(40, "mg/kg/min"))
    for coding in (
        other["contained"][0]["code"]["coding"][0],
        other["contained"][0]["ingredient"][0]["itemCodeableConcept"]["coding"][0],
    ):
        coding["code"] = "11149"
    assert sign(signer, other) == []


def test_not_indicated_now_adds_a_warning_card(
    make_client: Callable[..., AppClient], settings: Settings
) -> None:
    client = make_client(settings, assess=fixed_assess("RESUSCITATE_FIRST"))
    cards = sign(client, ne_order(dose=ADVISED, rate=(expected_rate(ADVISED[0]), "mL/h")))
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "volume" in cards[0]["summary"]


def test_suggestion_is_never_applied_and_no_system_actions(signer: AppClient) -> None:
    body = hook_request(
        "order-sign",
        prefetch=prefetch_from(sample_resources()),
        orders=[ne_order(dose=(0.05, "mg/kg/min"))],
    )
    response = signer.post(SERVICE, json=body).json()
    assert "systemActions" not in response


# -- feedback ------------------------------------------------------------------------------


def feedback(client: AppClient, items: list[dict[str, Any]]) -> Any:
    return client.post(SERVICE + "/feedback", json={"feedback": items})


def test_feedback_accepted_and_overridden_are_stored(signer: AppClient) -> None:
    (card,) = sign(signer, ne_order(dose=(0.05, "mg/kg/min")))
    when = datetime(2026, 3, 1, 8, 1, tzinfo=UTC).isoformat()
    accepted = {
        "card": card["uuid"],
        "outcome": "accepted",
        "outcomeTimestamp": when,
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
    }
    reason = card["overrideReasons"][0]
    overridden = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": when,
        "overrideReason": {
            "reason": {k: reason[k] for k in ("system", "code", "display")},
            "userComment": "patient on ECMO",
        },
    }
    response = feedback(signer, [accepted, overridden])
    assert response.status_code == 200 and response.json() == {}
    records = list(signer.app.state.runtime.trail.records())
    assert [r["kind"] for r in records] == ["cards", "feedback"]
    stored = json.loads(records[-1]["payload"])["feedback"]
    assert [f["outcome"] for f in stored] == ["accepted", "overridden"]
    assert all(f["served_in"] == records[0]["seq"] for f in stored)
    assert stored[1]["overrideReason"]["userComment"] == "patient on ECMO"
    assert signer.app.state.runtime.trail.verify().ok


def test_feedback_for_an_unknown_card_is_kept_but_marked(signer: AppClient) -> None:
    item = {"card": "not-ours", "outcome": "overridden", "outcomeTimestamp": "2026-03-01T08:01:00Z"}
    assert feedback(signer, [item]).status_code == 200
    (record,) = signer.app.state.runtime.trail.records()
    assert json.loads(record["payload"])["feedback"][0]["served_in"] is None


@pytest.mark.parametrize(
    "item",
    [
        {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-03-01T08:01:00Z"},
        {"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-03-01T08:01:00Z"},
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-03-01T08:01:00"},
        {"outcome": "overridden", "outcomeTimestamp": "2026-03-01T08:01:00Z"},
    ],
)
def test_invalid_feedback_is_400_with_operation_outcome(
    signer: AppClient, item: dict[str, Any]
) -> None:
    response = feedback(signer, [item])
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
