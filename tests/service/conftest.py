"""Service test fixtures: an app on a temporary SQLite trail, a frozen clock, a fake FHIR server.

Nothing here touches the network: the FHIR server is an httpx.MockTransport that answers from
the sample Bundle and records every request it was sent.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from vasoguide.service.app import create_app
from vasoguide.service.settings import Settings

SAMPLE = Path(__file__).parents[1] / "interop" / "data" / "septic-bundle.json"
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
FHIR = "https://fhir.example.test/r4"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def sample_resources() -> list[dict[str, Any]]:
    bundle = json.loads(SAMPLE.read_text())
    return [e["resource"] for e in bundle["entry"]]


@dataclass
class FakeFhir:
    """A FHIR server answering reads and searches by type from a list of resources."""

    resources: list[dict[str, Any]] = field(default_factory=sample_resources)
    requests: list[httpx.Request] = field(default_factory=list)
    fail: int | None = None  # answer every request with this status

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail is not None:
            return httpx.Response(self.fail, json={"resourceType": "OperationOutcome"})
        path = urlsplit(str(request.url)).path.removeprefix(urlsplit(FHIR).path).strip("/")
        kind, _, rid = path.partition("/")
        if rid:
            for r in self.resources:
                if r["resourceType"] == kind and r.get("id") == rid:
                    return httpx.Response(200, json=r)
            return httpx.Response(404, json={"resourceType": "OperationOutcome"})
        query = parse_qs(urlsplit(str(request.url)).query)
        codes = {c.split("|")[-1] for c in ",".join(query.get("code", [])).split(",") if c}
        found = []
        for r in self.resources:
            if r["resourceType"] != kind:
                continue
            if codes:
                mine = {c["code"] for c in r.get("code", {}).get("coding", [])}
                if not mine & codes:
                    continue
            found.append({"fullUrl": f"{FHIR}/{kind}/{r['id']}", "resource": r})
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": "searchset", "entry": found}
        )


def prefetch_from(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A complete prefetch for the service's keys, built as an EHR would."""

    def search(kind: str, pred: Callable[[dict[str, Any]], bool] = lambda r: True) -> Any:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in resources if r["resourceType"] == kind and pred(r)],
        }

    def is_weight(r: dict[str, Any]) -> bool:
        return any(c["code"] == "29463-7" for c in r["code"]["coding"])

    return {
        "patient": next(r for r in resources if r["resourceType"] == "Patient"),
        "weight": search("Observation", is_weight),
        "observations": search("Observation", lambda r: not is_weight(r)),
        "conditions": search("Condition"),
        "medicationrequests": search("MedicationRequest"),
        "medicationadministrations": search("MedicationAdministration"),
        "procedures": search("Procedure"),
        "devices": search("Device"),
    }


def ne_order(
    rid: str = "draft-ne",
    dose: tuple[float, str] | None = (0.05, "ug/kg/min"),
    rate: tuple[float, str] | None = None,
    strength_mg_in_ml: tuple[float, float] | None = (4, 250),
) -> dict[str, Any]:
    """A draft norepinephrine MedicationRequest with a contained Medication bag."""
    medication: dict[str, Any] = {
        "resourceType": "Medication",
        "id": "bag",
        "code": {"coding": [{"system": RXNORM, "code": "7512"}]},
    }
    if strength_mg_in_ml is not None:
        medication["ingredient"] = [
            {
                "itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "7512"}]},
                "strength": {
                    "numerator": {
                        "value": strength_mg_in_ml[0],
                        "unit": "mg",
                        "system": UCUM,
                        "code": "mg",
                    },
                    "denominator": {
                        "value": strength_mg_in_ml[1],
                        "unit": "mL",
                        "system": UCUM,
                        "code": "mL",
                    },
                },
            }
        ]
    dose_and_rate = []
    for q in (dose, rate):
        if q is not None:
            dose_and_rate.append(
                {"rateQuantity": {"value": q[0], "unit": q[1], "system": UCUM, "code": q[1]}}
            )
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "contained": [medication],
        "medicationReference": {"reference": "#bag"},
        "dosageInstruction": [{"doseAndRate": dose_and_rate}],
    }


def hook_request(
    hook: str,
    *,
    prefetch: dict[str, Any] | None = None,
    orders: list[dict[str, Any]] = (),
    fhir_server: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/dr1", "patientId": "p1"}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": copy.deepcopy(o)} for o in orders],
        }
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{o['id']}" for o in orders] or ["X/1"]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": context,
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    if fhir_server:
        body["fhirServer"] = fhir_server
        if token:
            body["fhirAuthorization"] = {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "vasoguide",
            }
    return body


class AppClient:
    """A synchronous client for the app in-process (httpx ASGI transport, lifespan run).

    Starlette's TestClient now wants the `httpx2` package; this small equivalent avoids a new
    dependency. The app runs on one event loop in a portal thread for the client's lifetime.
    """

    def __init__(self, app: FastAPI, base_url: str = "http://127.0.0.1:8000") -> None:
        self.app = app
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        self._lifespan = app.router.lifespan_context(app)
        self.portal.call(self._lifespan.__aenter__)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url=base_url)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            return await self._client.request(method, url, **kwargs)

        return self.portal.call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self._client.aclose)
        self.portal.call(self._lifespan.__aexit__, None, None, None)
        self._portal_cm.__exit__(None, None, None)


@pytest.fixture
def fhir() -> FakeFhir:
    return FakeFhir()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'trail.sqlite'}", auth="none")


@pytest.fixture
def make_client(fhir: FakeFhir) -> Iterator[Callable[..., AppClient]]:
    clients: list[AppClient] = []

    def make(settings: Settings, **kwargs: Any) -> AppClient:
        kwargs.setdefault("transport", httpx.MockTransport(fhir.handler))
        kwargs.setdefault("clock", lambda: NOW)
        client = AppClient(create_app(settings, **kwargs))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., AppClient], settings: Settings) -> AppClient:
    return make_client(settings)
