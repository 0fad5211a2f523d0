"""Issue #4's "done when", as one EHR-like client: discover, call each hook with prefetch and
with FHIR-server fallback, get spec-valid cards, send feedback, all authenticated; the trail
verifies afterwards."""

from __future__ import annotations

from pathlib import Path

import httpx

from vasoguide.service.app import create_app
from vasoguide.service.settings import Issuer, Settings

from .conftest import (
    FHIR,
    NOW,
    AppClient,
    FakeFhir,
    hook_request,
    ne_order,
    prefetch_from,
    sample_resources,
)
from .test_hooks import assert_spec_cards
from .test_security import BASE, EC_KEY, ISS, JKU, SERVICE, jwk, token


def test_ehr_like_client_end_to_end(tmp_path: Path) -> None:
    fhir = FakeFhir()

    def network(request: httpx.Request) -> httpx.Response:
        if str(request.url) == JKU:
            return httpx.Response(200, json={"keys": [jwk(EC_KEY, "ec-1")]})
        return fhir.handler(request)

    settings = Settings(host="10.0.0.5", public_url=BASE,
                        database_url=f"sqlite:///{tmp_path / 'trail.sqlite'}",
                        issuers=[Issuer(iss=ISS, jwks_url=JKU)])
    client = AppClient(create_app(settings, transport=httpx.MockTransport(network),
                                  clock=lambda: NOW))

    def signed(path: str) -> dict[str, str]:
        tok = token(BASE + path, key=EC_KEY, alg="ES384", kid="ec-1", headers={"jku": JKU})
        return {"Authorization": f"Bearer {tok}"}

    try:
        assert client.get("/cds-services").status_code == 401
        discovery = client.get("/cds-services", headers=signed("/cds-services")).json()
        assert {s["hook"] for s in discovery["services"]} == {"patient-view", "order-select",
                                                             "order-sign"}
        served = []
        for hook in ("patient-view", "order-select", "order-sign"):
            orders = [ne_order(dose=(0.05, "mg/kg/min"))]
            with_prefetch = hook_request(hook, prefetch=prefetch_from(sample_resources()),
                                         orders=orders)
            fallback = hook_request(hook, orders=orders, fhir_server=FHIR, token="fhir-token")
            for body in (with_prefetch, fallback):
                response = client.post(SERVICE, json=body, headers=signed(SERVICE))
                assert response.status_code == 200, (hook, response.text)
                served += assert_spec_cards(response.json())
        assert fhir.requests, "the fallback calls used the FHIR server"
        card = next(c for c in served if c.get("suggestions"))
        feedback = {"feedback": [{
            "card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": NOW.isoformat(),
            "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}]}
        path = SERVICE + "/feedback"
        assert client.post(path, json=feedback).status_code == 401
        assert client.post(path, json=feedback, headers=signed(path)).status_code == 200
        trail = client.app.state.runtime.trail
        result = trail.verify()
        assert result.ok and result.count == 7  # six hook calls and one feedback
    finally:
        client.close()
