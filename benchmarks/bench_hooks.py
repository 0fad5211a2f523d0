"""The CDS Hooks order-sign path with issue 9's care resources (a script, not a test).

    .venv/bin/python benchmarks/bench_hooks.py --profile        # in-process: where time goes
    .venv/bin/python benchmarks/bench_hooks.py --seconds 10     # servers on 127.0.0.1

The workload is bench_service's septic patient (vitals every 15 min over 40 h, lactate, urine,
conditions, orders) plus what issue 9 reads: a crystalloid bolus every 2 h, a passive leg raise,
lines as Devices, norepinephrine rate segments as MedicationAdministrations (each titration a
new segment). `--profile` times the stages of one call in-process (JSON parse, mapping, engine,
cards, trail) over N calls and prints cProfile's top functions. Without it, one uvicorn worker
serves order-sign at a fixed arrival rate (latency from each request's scheduled start: p50,
p99), then closed-loop throughput and server CPU per call, then the same client against a bare
FastAPI endpoint in the same run: the ratio is the figure issue 9 asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import bench_service as base

VG = "urn:vasoguide:concept"
UCUM = base.UCUM
PATH = "/cds-services/vasoguide-norepinephrine"


def care_resources() -> list[dict[str, Any]]:
    now, iso = base.NOW, base._iso
    out: list[dict[str, Any]] = []
    for k in range(20):  # a bolus every 2 h over 40 h
        out.append({"resourceType": "MedicationAdministration", "id": f"fl{k}",
                    "status": "completed", "subject": {"reference": "Patient/p1"},
                    "medicationCodeableConcept": {"coding": [{"system": VG,
                                                              "code": "fluid-crystalloid"}]},
                    "effectiveDateTime": iso(now - timedelta(hours=2 * k, minutes=5)),
                    "dosage": {"dose": {"value": 250, "unit": "mL", "system": UCUM,
                                        "code": "mL"}}})
    rx = {"system": base.RXNORM, "code": "7512"}
    for k in range(24):  # titrated every 30 min over 12 h
        start, end = now - timedelta(minutes=30 * (k + 1)), now - timedelta(minutes=30 * k)
        period = {"start": iso(start)} | ({"end": iso(end)} if k else {})
        out.append({"resourceType": "MedicationAdministration", "id": f"ne{k}",
                    "status": "completed" if k else "in-progress",
                    "subject": {"reference": "Patient/p1"},
                    "contained": [{"resourceType": "Medication", "id": "bag",
                                   "code": {"coding": [rx]},
                                   "ingredient": [{"itemCodeableConcept": {"coding": [rx]},
                                                   "strength": {
                                                       "numerator": {"value": 16, "unit": "ug",
                                                                     "system": UCUM,
                                                                     "code": "ug"},
                                                       "denominator": {"value": 1, "unit": "mL",
                                                                       "system": UCUM,
                                                                       "code": "mL"}}}]}],
                    "medicationReference": {"reference": "#bag"},
                    "effectivePeriod": period,
                    "dosage": {"rateQuantity": {"value": 0.05 + 0.01 * (k % 5),
                                                "unit": "ug/kg/min", "system": UCUM,
                                                "code": "ug/kg/min"},
                               "route": {"coding": [{"system": VG, "code": "central-venous"}]}}})
    out.append({"resourceType": "Observation", "id": "plr", "status": "final",
                "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": VG, "code": "passive-leg-raise"}]},
                "effectiveDateTime": iso(now - timedelta(hours=3)),
                "valueCodeableConcept": {"coding": [{"system": VG, "code": "unresponsive"}]}})
    return out


def body() -> bytes:
    request = json.loads(base.order_sign_body())
    prefetch = request["prefetch"]
    care = care_resources()
    admins = prefetch["medicationadministrations"]["entry"]
    admins += [{"resource": r} for r in care if r["resourceType"] == "MedicationAdministration"]
    prefetch["observations"]["entry"] += [{"resource": r} for r in care
                                          if r["resourceType"] == "Observation"]
    prefetch["procedures"] = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    device = {"resourceType": "Device", "id": "cvc", "status": "active",
              "patient": {"reference": "Patient/p1"},
              "type": {"coding": [{"system": VG, "code": "central-venous-catheter"}]}}
    prefetch["devices"] = {"resourceType": "Bundle", "type": "searchset",
                           "entry": [{"resource": device}]}
    return json.dumps(request).encode()


def profile(calls: int) -> dict[str, Any]:
    """Stage times of one order-sign call in-process, and cProfile's view of the whole call."""
    from vasoguide.engine import assess
    from vasoguide.interop import lookback as lb
    from vasoguide.interop import map_resources
    from vasoguide.interop.codes import tables
    from vasoguide.service import jsonio

    sys.path.insert(0, str(base.ROOT / "tests"))
    from service.conftest import AppClient  # the in-process client of the tests
    from vasoguide.service.app import create_app
    from vasoguide.service.settings import Settings

    raw = body()
    out: dict[str, Any] = {"body_bytes": len(raw)}
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/t.sqlite", auth="none"),
                         clock=lambda: base.NOW)
        client = AppClient(app)
        rt = app.state.runtime
        request = jsonio.loads(raw)
        window = lb.engine_lookback(rt.protocol)
        # Older trees (to compare with, via PYTHONPATH) have no per-concept look-backs.
        per_concept = ({"concept_lookbacks": lb.concept_lookbacks(rt.protocol)}
                       if hasattr(lb, "concept_lookbacks") else {})
        stages: dict[str, float] = {}

        def timed(name: str, fn: Any) -> Any:
            # CPU time of this process (all its threads): steadier than wall time on a
            # shared machine, and what a server pays per call.
            t = time.process_time()
            for _ in range(calls):
                result = fn()
            stages[name] = round((time.process_time() - t) / calls * 1000, 3)
            return result

        timed("json_parse_ms", lambda: jsonio.loads(raw))
        mapped = timed("map_prefetch_ms", lambda: map_resources(
            request["prefetch"], now=base.NOW, patient_id="p1", tables=tables(),
            lookback=window, **per_concept))
        timed("engine_ms", lambda: assess(mapped.state, rt.protocol))
        headers = {"content-type": "application/json"}
        response = client.post(PATH, content=raw, headers=headers)
        assert response.status_code == 200, response.text
        out["cards"] = len(response.json()["cards"])
        out["decision"] = assess(mapped.state, rt.protocol).decision
        timed("whole_call_in_process_cpu_ms", lambda: client.post(PATH, content=raw,
                                                             headers=headers))
        client.close()
        # cProfile sees one thread: run the app on this thread's own event loop.
        prof = cProfile.Profile()

        app2 = create_app(Settings(database_url=f"sqlite:///{tmp}/t2.sqlite", auth="none"),
                          clock=lambda: base.NOW)

        async def many() -> None:
            import httpx

            transport = httpx.ASGITransport(app=app2)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
                prof.enable()
                for _ in range(calls):
                    await c.post(PATH, content=raw, headers=headers)
                prof.disable()

        asyncio.run(many())
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text).sort_stats("cumulative")
    stats.print_stats(r"vasoguide|orjson|pydantic", 40)
    out["stages"] = stages
    out["state"] = {"observations": len(mapped.state.observations),
                    "infusions": len(mapped.state.infusions),
                    "fluids": len(mapped.state.fluids)}
    print(text.getvalue(), file=sys.stderr)
    return out


def load(seconds: float, rate: float, connections: int) -> dict[str, Any]:
    raw = body()
    results: dict[str, Any] = {"cpus": os.cpu_count(), "body_bytes": len(raw),
                               "load_average_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        server = base.Server("vasoguide", str(Path(tmp) / "trail.sqlite"), 1)
        try:
            warm = asyncio.run(base.closed_loop(server.port, PATH, raw, 2.0, 4))
            assert warm["errors"] == 0, "order-sign failed during warm-up"
            results["fixed_rate"] = asyncio.run(base.fixed_rate(
                server.port, PATH, raw, rate, seconds, connections))
            cpu = server.cpu_seconds()
            results["order_sign_max"] = asyncio.run(base.closed_loop(server.port, PATH, raw,
                                                                     seconds / 2, 8))
            n = max(1, results["order_sign_max"]["requests"])
            results["order_sign_max"]["server_cpu_ms_per_call"] = round(
                (server.cpu_seconds() - cpu) / n * 1000, 2)
        finally:
            server.stop()
        bare = base.Server("bare", "", 1)
        try:
            asyncio.run(base.closed_loop(bare.port, "/bare", b"{}", 2.0, 4))
            results["bare_fixed_rate"] = asyncio.run(base.fixed_rate(
                bare.port, "/bare", b"{}", rate, seconds, connections))
            cpu = bare.cpu_seconds()
            results["bare_max"] = asyncio.run(base.closed_loop(bare.port, "/bare", b"{}",
                                                               seconds / 2, 8))
            n = max(1, results["bare_max"]["requests"])
            results["bare_max"]["server_cpu_ms_per_call"] = round(
                (bare.cpu_seconds() - cpu) / n * 1000, 3)
        finally:
            bare.stop()
    results["ratio_vs_bare"] = round(results["order_sign_max"]["rps"]
                                     / results["bare_max"]["rps"], 3)
    results["load_average_after"] = os.getloadavg()[0]
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", action="store_true", help="in-process stage times")
    ap.add_argument("--calls", type=int, default=100, help="calls per profiled stage (100)")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each phase (10)")
    ap.add_argument("--rate", type=float, default=50.0, help="offered arrivals per second (50)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.profile:
        results = profile(args.calls)
    else:
        results = load(min(args.seconds, 60.0), args.rate, args.connections)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
