"""CDS Hooks: discovery, the three hooks with prefetch and with FHIR-server fallback, feedback."""

from __future__ import annotations

import re
from typing import Any

import pytest

from vasoguide.service.settings import Settings

from .conftest import (
    FHIR,
    AppClient,
    FakeFhir,
    hook_request,
    ne_order,
    prefetch_from,
    sample_resources,
)

SERVICE = "/cds-services/vasoguide-norepinephrine"
ALL_KEYS = {
    "patient",
    "weight",
    "observations",
    "conditions",
    "medicationrequests",
    "medicationadministrations",
    "procedures",
    "devices",
}


def no_empty_values(value: Any, path: str = "") -> None:
    """CDS Hooks "Use of JSON": no null, "", [] or {} for optional attributes."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert v not in (None, "", [], {}), f"{path}.{k} is empty"
            no_empty_values(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            no_empty_values(v, f"{path}[{i}]")


def assert_spec_cards(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert set(body) <= {"cards", "systemActions"} and "systemActions" not in body
    uuids: set[str] = set()
    for card in body["cards"]:
        no_empty_values(card)
        assert len(card["summary"]) < 140
        assert card["indicator"] in {"info", "warning", "critical"}
        assert card["source"]["label"]
        assert re.fullmatch(r"[0-9a-f-]{36}", card["uuid"])
        assert card["uuid"] not in uuids
        uuids.add(card["uuid"])
        assert not re.search(r"<[a-zA-Z/]", card.get("detail", "")), "raw HTML in detail"
        for reason in card.get("overrideReasons", []):
            assert reason["display"] and reason["code"] and reason["system"]
        if card.get("suggestions"):
            assert card["selectionBehavior"] in {"at-most-one", "any"}
            assert sum(bool(s.get("isRecommended")) for s in card["suggestions"]) <= 1
            for s in card["suggestions"]:
                assert s["label"] and re.fullmatch(r"[0-9a-f-]{36}", s["uuid"])
                for action in s["actions"]:
                    assert action["type"] in {"create", "update", "delete"}
                    assert action["description"]
    return list(body["cards"])


def test_discovery_lists_three_hooks_with_2_0_prefetch(client: AppClient) -> None:
    body = client.get("/cds-services").json()
    no_empty_values(body)
    hooks = {s["hook"] for s in body["services"]}
    assert hooks == {"order-select", "order-sign", "patient-view"}
    for service in body["services"]:
        assert service["id"] == "vasoguide-norepinephrine" and service["description"]
        assert set(service["prefetch"]) == ALL_KEYS
        for template in service["prefetch"].values():
            # 2.0: only root-level context tokens; no FHIRPath, no today()
            assert set(re.findall(r"\{\{([^}]*)\}\}", template)) <= {"context.patientId"}


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_each_hook_with_full_prefetch_never_calls_the_server(
    client: AppClient, fhir: FakeFhir, hook: str
) -> None:
    body = hook_request(
        hook,
        prefetch=prefetch_from(sample_resources()),
        orders=[ne_order()],
        fhir_server=FHIR,
        token="secret-token",
    )
    response = client.post(SERVICE, json=body)
    assert response.status_code == 200, response.text
    assert_spec_cards(response.json())
    assert fhir.requests == []


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_each_hook_falls_back_to_the_fhir_server(
    client: AppClient, fhir: FakeFhir, hook: str
) -> None:
    with_prefetch = client.post(
        SERVICE,
        json=hook_request(hook, prefetch=prefetch_from(sample_resources()), orders=[ne_order()]),
    ).json()
    body = hook_request(hook, orders=[ne_order()], fhir_server=FHIR, token="secret-token")
    response = client.post(SERVICE, json=body)
    assert response.status_code == 200, response.text
    cards = assert_spec_cards(response.json())
    assert len(fhir.requests) == len(ALL_KEYS)
    assert all(r.headers["authorization"] == "Bearer secret-token" for r in fhir.requests)
    # the same data by either path gives the same advice
    assert [c["summary"] for c in cards] == [c["summary"] for c in with_prefetch["cards"]]


def test_partial_prefetch_fetches_only_what_is_missing(client: AppClient, fhir: FakeFhir) -> None:
    prefetch = prefetch_from(sample_resources())
    del prefetch["conditions"]
    prefetch["observations"] = {"resourceType": "OperationOutcome", "issue": []}
    response = client.post(
        SERVICE, json=hook_request("patient-view", prefetch=prefetch, fhir_server=FHIR)
    )
    assert response.status_code == 200
    fetched = sorted(r.url.path.split("/")[-1] for r in fhir.requests)
    assert fetched == ["Condition", "Observation"]


def test_missing_data_without_server_is_412_with_operation_outcome(client: AppClient) -> None:
    prefetch = prefetch_from(sample_resources())
    del prefetch["medicationadministrations"]
    response = client.post(SERVICE, json=hook_request("patient-view", prefetch=prefetch))
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "medicationadministrations" in outcome["issue"][0]["diagnostics"]


def test_failing_fhir_server_is_412_and_token_never_echoed(
    client: AppClient, fhir: FakeFhir, caplog: pytest.LogCaptureFixture
) -> None:
    fhir.fail = 500
    response = client.post(
        SERVICE, json=hook_request("patient-view", fhir_server=FHIR, token="secret-token")
    )
    assert response.status_code == 412
    assert "secret-token" not in response.text and "secret-token" not in caplog.text


def test_plain_http_fhir_server_is_refused(client: AppClient) -> None:
    response = client.post(
        SERVICE, json=hook_request("patient-view", fhir_server="http://fhir.example.test")
    )
    assert response.status_code == 412


def test_null_patient_read_is_accepted_as_no_data(client: AppClient) -> None:
    prefetch = prefetch_from(sample_resources())
    prefetch["patient"] = None
    response = client.post(SERVICE, json=hook_request("patient-view", prefetch=prefetch))
    assert response.status_code == 200


def test_unknown_service_hook_and_bad_context(client: AppClient) -> None:
    assert client.post("/cds-services/nope", json={}).status_code == 404
    bad_hook = hook_request("encounter-start", prefetch={})
    assert client.post(SERVICE, json=bad_hook).status_code == 400
    no_selection = hook_request("order-select", prefetch={}, orders=[])
    no_selection["context"]["selections"] = []
    assert client.post(SERVICE, json=no_selection).status_code == 400
    auth_without_server = hook_request("patient-view", prefetch={})
    auth_without_server["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer"}
    assert client.post(SERVICE, json=auth_without_server).status_code == 400  # cds-r-1


def test_3_0_additions_are_tolerated(client: AppClient) -> None:
    body = hook_request("patient-view", prefetch=prefetch_from(sample_resources()))
    body["extension"] = {"org.example.flag": True}
    body["context"]["extension"] = {"org.example.x": 1}
    assert client.post(SERVICE, json=body).status_code == 200


def test_order_select_ignores_orders_for_other_drugs(client: AppClient) -> None:
    other = ne_order("abx")
    other["contained"][0]["code"]["coding"][0]["code"] = "1659149"
    del other["contained"][0]["ingredient"]
    body = hook_request("order-select", prefetch=prefetch_from(sample_resources()), orders=[other])
    assert client.post(SERVICE, json=body).json() == {"cards": []}


def test_order_select_card_shows_inputs_with_times_and_evidence(client: AppClient) -> None:
    body = hook_request(
        "order-select", prefetch=prefetch_from(sample_resources()), orders=[ne_order()]
    )
    (card,) = assert_spec_cards(client.post(SERVICE, json=body).json())
    detail = card["detail"]
    assert "**Inputs used**" in detail and "2026-03-01T07:55:00Z" in detail
    assert "**Rules and evidence**" in detail
    assert "**Data not used, and assumptions made**" in detail
    assert "Observation/map-other: about another patient" in detail


def test_trail_records_every_card_served(client: AppClient, settings: Settings) -> None:
    body = hook_request(
        "order-select", prefetch=prefetch_from(sample_resources()), orders=[ne_order()]
    )
    cards = client.post(SERVICE, json=body).json()["cards"]
    trail = client.app.state.runtime.trail
    records = list(trail.records())
    assert records[-1]["kind"] == "cards"
    assert cards[0]["uuid"] in records[-1]["payload"]
    assert trail.card_record(cards[0]["uuid"]) == records[-1]["seq"]
    assert "secret" not in records[-1]["payload"]
