"""POST /assess (the contract over HTTP), POST /fhir/state, /healthz, OpenAPI, size limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vasoguide.errors import InputError
from vasoguide.service.settings import Settings
from vasoguide.state import parse_state

from .conftest import SAMPLE, AppClient

EXAMPLES = Path(__file__).parents[3] / "shared" / "contract" / "examples"
STATE: dict[str, Any] = {
    "time": "2026-03-01T08:00:00Z",
    "patient": {"age_years": 64, "weight": {"value": 80, "unit": "kg"}},
    "context": {"shock_type": "septic"},
    "observations": [
        {
            "code": "map",
            "value": 58,
            "unit": "mm[Hg]",
            "time": "2026-03-01T07:55:00Z",
            "method": "arterial",
        }
    ],
}


def test_assess_returns_the_contract_assessment(client: AppClient) -> None:
    response = client.post("/assess", json=STATE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contract"] == "vasoguide.assessment/1"
    assert body["time"].startswith("2026-03-01T08:00:00")
    assert body["protocol"]["digest"].startswith("sha256:")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s["observations"][0].update(unit="kg"),
        lambda s: s["context"].update(shock_type="septik"),
        lambda s: s.update(time="yesterday"),
        lambda s: s["context"].update(traumatic_brain_injry=True),
    ],
)
def test_invalid_state_is_422_with_the_same_field_message(
    client: AppClient, mutate: Callable[[dict[str, Any]], None]
) -> None:
    state = json.loads(json.dumps(STATE))
    mutate(state)
    with pytest.raises(InputError) as expected:
        parse_state(state)
    response = client.post("/assess", json=state)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == expected.value.field
    assert body["detail"] == expected.value.problems


def test_not_json_is_422(client: AppClient) -> None:
    response = client.post(
        "/assess", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["field"]


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="shared contract examples not present")
def test_contract_examples_over_http(client: AppClient) -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        example = json.loads(path.read_text())
        response = client.post("/assess", json=example["input"])
        expected = 422 if example["expect"].get("exit_code") == 2 else 200
        assert response.status_code == expected, path.name


def test_every_assessment_is_in_the_trail(client: AppClient) -> None:
    client.post("/assess", json=STATE)
    client.post("/assess", json={"time": "bad"})  # refused: not an assessment
    records = list(client.app.state.runtime.trail.records())
    assert [r["kind"] for r in records] == ["assessment"]
    assert json.loads(records[0]["payload"])["state"]["observations"][0]["value"] == 58


def test_fhir_state_maps_a_bundle_and_reports(client: AppClient) -> None:
    response = client.post("/fhir/state", content=SAMPLE.read_bytes(),
                           headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"]["context"]["shock_type"] == "septic"
    assert any(line.startswith("Observation/map-other") for line in body["not_used"])
    assert client.post("/fhir/state", json=[1]).status_code == 422


def test_healthz_and_openapi(client: AppClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["protocol"]["digest"].startswith("sha256:")
    spec = client.get("/openapi.json").json()
    assert {
        "/assess",
        "/cds-services",
        "/cds-services/{service_id}",
        "/cds-services/{service_id}/feedback",
        "/healthz",
        "/fhir/state",
    } <= set(spec["paths"])
    body = spec["paths"]["/assess"]["post"]["requestBody"]["content"]["application/json"]
    assert "observations" in json.dumps(body["schema"]) or "$ref" in json.dumps(body["schema"])


def test_request_size_limit(make_client: Callable[..., AppClient], tmp_path: Path) -> None:
    small = make_client(
        Settings(
            database_url=f"sqlite:///{tmp_path / 's.sqlite'}", auth="none", max_body_bytes=2048
        )
    )
    big = {**STATE, "padding": "x" * 4096}
    assert small.post("/assess", json=big).status_code == 413
    assert small.post("/assess", json=STATE).status_code == 200

    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1024  # no Content-Length: counted as it arrives

    assert small.post("/assess", content=chunks(), headers={"Content-Type": "application/json"}
                      ).status_code == 413
