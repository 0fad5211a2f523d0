"""Property-based API tests from the published OpenAPI document (schemathesis): no generated
request gets a server error, and the documented bodies are rich enough to get past validation
(some cases answered 200 on every endpoint). The long run (10,000 cases per endpoint) is
`benchmarks/fuzz_service.py`; this is its small CI version."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings

from vasoguide.service import server
from vasoguide.service.app import create_app
from vasoguide.service.settings import Settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis (dev extra) missing")

CASES = {"/assess": 60, "/dose": 60, "/fhir/state": 30, "/cds-services/{service_id}": 30,
         "/cds-services/{service_id}/feedback": 40}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("fuzz") / "trail.sqlite"
    cfg = Settings(database_url=f"sqlite:///{db}", auth="none", port=_free_port(),
                   access_log=False)
    # The FHIR client answers 404 in-process: a generated fhirServer is never contacted.
    app = create_app(cfg, transport=httpx.MockTransport(lambda _r: httpx.Response(404)))
    srv = uvicorn.Server(server.config(app, cfg, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{cfg.port}"
    srv.should_exit = True
    thread.join(10)


def test_every_post_body_is_documented_and_resolvable(base_url: str) -> None:
    doc = httpx.get(base_url + "/openapi.json").json()
    assert "$defs" not in httpx.get(base_url + "/openapi.json").text
    for path in CASES:
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"], path
    hook = doc["paths"]["/cds-services/{service_id}"]["post"]["requestBody"]
    variants = hook["content"]["application/json"]["schema"]["oneOf"]
    assert {v["properties"]["hook"]["const"] for v in variants} == {
        "patient-view", "order-select", "order-sign"}
    assert all("observations" in v["properties"]["prefetch"]["required"] for v in variants)


@pytest.mark.parametrize("path", sorted(CASES))
def test_generated_requests_never_get_a_server_error(base_url: str, path: str) -> None:
    operation = schemathesis.openapi.from_url(base_url + "/openapi.json")[path]["POST"]
    statuses: Counter[int] = Counter()
    failures: list[Any] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=CASES[path], deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def one(case: Any) -> None:
        response = case.call(timeout=30)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append((case.body, response.text[:200]))

    one()
    assert not failures, failures[:3]
    assert sum(statuses.values()) >= CASES[path] // 2
    assert statuses[200] > 0, statuses  # the schema reaches past validation
