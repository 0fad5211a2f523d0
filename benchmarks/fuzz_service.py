"""Property-based API fuzzing of the service with schemathesis (a script, not a test).

    .venv/bin/python benchmarks/fuzz_service.py                  # 10,000 cases per endpoint
    .venv/bin/python benchmarks/fuzz_service.py --cases 500 --only /assess --json out.json

The service runs in uvicorn on 127.0.0.1 (open mode, the production HTTP stack and guards,
a temporary SQLite trail); its FHIR client answers 404 to everything in-process, so no request
leaves the machine. For every POST endpoint, schemathesis generates bodies from the published
OpenAPI document (the PatientState, the typed CDS Hooks request per hook, the dose query, the
FHIR Bundle, the feedback) and each is sent; a server error is any 5xx or failed connection.
Reports, per endpoint: cases sent, status counts, server errors, seconds. Exit 1 on any
server error (each is written, with its body, to the --failures file).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings

from vasoguide.service import server
from vasoguide.service.app import create_app
from vasoguide.service.settings import Settings

ENDPOINTS = ("/assess", "/dose", "/fhir/state", "/cds-services/{service_id}",
             "/cds-services/{service_id}/feedback")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(db: Path) -> tuple[str, uvicorn.Server]:
    cfg = Settings(database_url=f"sqlite:///{db}", auth="none", port=_free_port(),
                   access_log=False)
    app = create_app(cfg, transport=httpx.MockTransport(lambda _r: httpx.Response(404)))
    srv = uvicorn.Server(server.config(app, cfg, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not srv.started:
        raise SystemExit("the service did not start")
    return f"http://127.0.0.1:{cfg.port}", srv


class _OutOfTimeError(Exception):
    """The endpoint's time budget is spent: stop generating."""


def fuzz(base: str, path: str, cases: int, failures: list[dict[str, Any]],
         budget_s: float | None = None) -> dict[str, Any]:
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    operation = schema[path]["POST"]
    statuses: Counter[str] = Counter()
    start_time = time.monotonic()

    @given(case=operation.as_strategy())
    @settings(max_examples=cases, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def one(case: Any) -> None:
        if budget_s is not None and time.monotonic() - start_time > budget_s:
            raise _OutOfTimeError
        try:
            response = case.call(timeout=30)
            status = str(response.status_code)
        except Exception as exc:  # a dropped connection is a server error too
            status = f"error:{type(exc).__name__}"
        statuses[status] += 1
        if sum(statuses.values()) % 1000 == 0:  # progress, for long runs
            print(f"  {path}: {dict(statuses)} after {time.monotonic() - start_time:.0f} s",
                  file=sys.stderr, flush=True)
        if not status.isdigit() or int(status) >= 500:
            failures.append({"path": path, "status": status, "body": case.body})

    with contextlib.suppress(_OutOfTimeError):
        one()
    sent = sum(statuses.values())
    errors = sum(n for s, n in statuses.items() if not s.isdigit() or int(s) >= 500)
    return {"path": path, "cases": sent, "statuses": dict(sorted(statuses.items())),
            "server_errors": errors, "seconds": round(time.monotonic() - start_time, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per endpoint")
    parser.add_argument("--only", action="append", help="an endpoint path (repeatable)")
    parser.add_argument("--budget", type=float, help="seconds per endpoint at most")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--failures", type=Path, default=Path("fuzz-failures.json"))
    args = parser.parse_args()
    failures: list[dict[str, Any]] = []
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base, srv = start(Path(tmp) / "trail.sqlite")
        try:
            for path in args.only or ENDPOINTS:
                result = fuzz(base, path, args.cases, failures, args.budget)
                results.append(result)
                print(json.dumps(result), flush=True)
        finally:
            srv.should_exit = True
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if failures:
        args.failures.write_text(json.dumps(failures, indent=2, default=str))
        print(f"{len(failures)} server errors: see {args.failures}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
