"""Load and latency of CDS Hooks order-sign calls (a script, not a test; 127.0.0.1 only).

    .venv/bin/python benchmarks/bench_service.py            # about 90 s on 2 cores
    .venv/bin/python benchmarks/bench_service.py --seconds 10 --json out.json

What it does, each server in its own uvicorn process (one worker by default, httptools when
installed, no access log), one at a time so they do not share the CPU:
1. order-sign at a fixed arrival rate (default 200/s) for N seconds with a realistic prefetch
   Bundle (about 250 resources): latency is measured from each request's *scheduled* start, so
   queueing is counted (no coordinated omission); errors are any non-200 or failed connection.
   Then the same at a light rate (default 20/s): the latency of one call below saturation.
2. closed-loop throughput of order-sign with C connections, then of a bare FastAPI JSON
   endpoint with the same client and connections: the ratio is the figure the issue asks for.
   Each also reports the server's CPU time per call (Linux /proc), steadier than throughput
   on a shared machine.
The client is a minimal keep-alive HTTP/1.1 client over asyncio streams, so that it costs the
shared CPU less than the server it measures. Targets (issue #4): p99 < 50 ms at 200/s, zero
errors, throughput >= 1/3 of the bare endpoint. Figures on 2 shared cores are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
NOW = datetime(2026, 3, 1, 8, tzinfo=UTC)
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

# -- the workload --------------------------------------------------------------------------


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _obs(i: int, code: str, value: float, unit: str, t: datetime) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"o{i}", "status": "final",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": _iso(t),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def prefetch() -> dict[str, Any]:
    """A septic patient's last 48 h as an EHR would prefetch it (about 250 resources)."""
    sample = json.loads((ROOT / "tests/interop/data/septic-bundle.json").read_text())
    base = [e["resource"] for e in sample["entry"]]
    obs: list[dict[str, Any]] = []
    for k in range(160):  # vitals every 15 min, lactate every 4 h, urine hourly
        t = NOW - timedelta(minutes=15 * k + 2)
        obs.append(_obs(len(obs), "76214-6", 62 + (k % 7), "mm[Hg]", t))
        if k % 16 == 0:
            obs.append(_obs(len(obs), "2524-7", 3.5 - k / 100, "mmol/L", t))
        if k % 4 == 0:
            u = _obs(len(obs), "9187-6", 40, "mL", t)
            del u["effectiveDateTime"]
            u["effectivePeriod"] = {"start": _iso(t - timedelta(hours=1)), "end": _iso(t)}
            obs.append(u)
    obs += [r for r in base if r["resourceType"] == "Observation"]
    meds = [r for r in base if r["resourceType"] == "MedicationRequest"]
    for k in range(20):
        m = copy.deepcopy(meds[0])
        m["id"] = f"rx{k}"
        meds.append(m)
    admins = [r for r in base if r["resourceType"] == "MedicationAdministration"]

    def bundle(rs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": r} for r in rs]}

    return {
        "patient": next(r for r in base if r["resourceType"] == "Patient"),
        "weight": bundle([r for r in obs if r["code"]["coding"][0]["code"] == "29463-7"]),
        "observations": bundle([r for r in obs if r["code"]["coding"][0]["code"] != "29463-7"]),
        "conditions": bundle([r for r in base if r["resourceType"] == "Condition"]),
        "medicationrequests": bundle(meds),
        "medicationadministrations": bundle(admins),
        "procedures": bundle([]),  # keys the service asks for since issue 9
        "devices": bundle([]),
    }


def order_sign_body() -> bytes:
    order = {
        "resourceType": "MedicationRequest", "id": "draft-ne", "status": "draft",
        "intent": "order", "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "7512"}]},
        "dosageInstruction": [{"doseAndRate": [
            {"rateQuantity": {"value": 0.1, "unit": "mg/kg/min", "system": UCUM,
                              "code": "mg/kg/min"}}]}],
    }
    body = {
        "hook": "order-sign", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/dr1", "patientId": "p1",
                    "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                    "entry": [{"resource": order}]}},
        "prefetch": prefetch(),
    }
    return json.dumps(body).encode()


# -- servers -------------------------------------------------------------------------------


def app_factory() -> Any:
    """The app to serve, named by the environment (uvicorn workers import it by name)."""
    from fastapi import FastAPI

    which, db = os.environ["VG_BENCH_APP"], os.environ.get("VG_BENCH_DB", "")
    if which == "bare":
        app = FastAPI()

        @app.post("/bare")
        async def bare() -> dict[str, Any]:
            return {"cards": []}
    else:
        from vasoguide.service.app import create_app
        from vasoguide.service.settings import Settings

        # Frozen clock: the workload's data are dated 2026-03-01T08:00Z.
        app = create_app(Settings(database_url=f"sqlite:///{db}", auth="none",
                                  access_log=False), clock=lambda: NOW)
    return app


def serve(which: str, port: int, db: str, workers: int) -> None:
    import uvicorn

    from vasoguide.service.server import log_config, protocol_class
    from vasoguide.service.settings import Settings

    os.environ.update(VG_BENCH_APP=which, VG_BENCH_DB=db)
    # The service's own HTTP stack: header deadline, safe logs, its keep-alive (soak_service
    # sets the keep-alive to probe the reset race).
    keep_alive = int(os.environ.get("VG_BENCH_KEEP_ALIVE", Settings().keep_alive_s))
    uvicorn.run("bench_service:app_factory", factory=True, app_dir=str(Path(__file__).parent),
                host=HOST, port=port, log_config=log_config("WARNING"), access_log=False,
                workers=workers, http=protocol_class(Settings()), timeout_keep_alive=keep_alive)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, which: str, db: str, workers: int, start_timeout: float = 30) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", which, "--port", str(self.port), "--db", db,
             "--workers", str(workers)],
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{which} server did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its worker processes so far (Linux /proc;
        0.0 elsewhere). CPU per call is steadier than throughput on a shared machine."""
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        procs = {self.proc.pid}
        total = 0.0
        try:
            stats = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        text = Path(f"/proc/{entry}/stat").read_text()
                    except OSError:
                        continue
                    stats[int(entry)] = text.rsplit(")", 1)[1].split()
            grew = True
            while grew:  # the server, its workers, and theirs
                more = {pid for pid, f in stats.items() if int(f[1]) in procs} - procs
                procs |= more
                grew = bool(more)
            for pid in procs:
                if pid in stats:
                    total += (int(stats[pid][11]) + int(stats[pid][12])) / ticks
        except OSError:
            return 0.0
        return total

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# -- a small keep-alive HTTP/1.1 client ----------------------------------------------------


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def fixed_rate(port: int, path: str, body: bytes, rate: float, seconds: float,
                     connections: int) -> dict[str, Any]:
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await Conn.open(port))
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        nonlocal errors
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        conn = await pool.get()
        try:
            status, _ = await conn.post(path, body)
            if status != 200:
                errors += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            conn = await Conn.open(port)
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    ms = sorted(x * 1000 for x in latencies)
    return {"requests": total, "errors": errors, "seconds": round(elapsed, 2),
            "achieved_rps": round(total / elapsed, 1), "p50_ms": _pct(ms, 50),
            "p90_ms": _pct(ms, 90), "p99_ms": _pct(ms, 99), "max_ms": round(ms[-1], 2),
            "mean_ms": round(statistics.fmean(ms), 2)}


async def closed_loop(port: int, path: str, body: bytes, seconds: float,
                      connections: int) -> dict[str, Any]:
    done = 0
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        conn = await Conn.open(port)
        while time.perf_counter() < stop:
            status, _ = await conn.post(path, body)
            done += 1
            errors += status != 200
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"requests": done, "errors": errors, "rps": round(done / elapsed, 1)}


def _pct(sorted_ms: list[float], p: float) -> float:
    k = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms)) - 1))
    return round(sorted_ms[k], 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", choices=["vasoguide", "bare"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, default=200.0, help="arrivals per second (200)")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each phase (20)")
    ap.add_argument("--light-rate", type=float, default=20.0,
                    help="a second, lighter arrival rate: latency below saturation (20)")
    ap.add_argument("--connections", type=int, default=16, help="keep-alive connections (16)")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (1)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.db, args.workers)
        return
    seconds = min(args.seconds, 60.0)  # bounded: never a soak test
    body = order_sign_body()
    path = "/cds-services/vasoguide-norepinephrine"
    results: dict[str, Any] = {"cpus": os.cpu_count(), "workers": args.workers,
                               "load_average_before": os.getloadavg()[0],
                               "body_bytes": len(body),
                               "prefetch_resources": sum(
                                   len(v.get("entry", [])) if v.get("resourceType") == "Bundle"
                                   else 1 for v in json.loads(body)["prefetch"].values())}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server("vasoguide", str(Path(tmp) / "trail.sqlite"), args.workers)
        try:
            warm = asyncio.run(closed_loop(server.port, path, body, 2.0, 4))
            assert warm["errors"] == 0, "order-sign failed during warm-up"
            results["fixed_rate"] = asyncio.run(fixed_rate(server.port, path, body, args.rate,
                                                           seconds, args.connections))
            results["fixed_light_rate"] = asyncio.run(fixed_rate(
                server.port, path, body, args.light_rate, seconds, args.connections))
            cpu_before = server.cpu_seconds()
            results["order_sign_max"] = asyncio.run(closed_loop(server.port, path, body,
                                                                seconds / 2, 8))
            calls = max(1, results["order_sign_max"]["requests"])
            results["order_sign_max"]["server_cpu_ms_per_call"] = round(
                (server.cpu_seconds() - cpu_before) / calls * 1000, 2)
        finally:
            server.stop()
        bare = Server("bare", "", args.workers)
        try:
            asyncio.run(closed_loop(bare.port, "/bare", b"{}", 2.0, 4))
            cpu_before = bare.cpu_seconds()
            results["bare_max"] = asyncio.run(closed_loop(bare.port, "/bare", b"{}",
                                                          seconds / 2, 8))
            calls = max(1, results["bare_max"]["requests"])
            results["bare_max"]["server_cpu_ms_per_call"] = round(
                (bare.cpu_seconds() - cpu_before) / calls * 1000, 3)
        finally:
            bare.stop()
    results["ratio_vs_bare"] = round(results["order_sign_max"]["rps"]
                                     / results["bare_max"]["rps"], 3)
    fr = results["fixed_rate"]
    results["targets_met"] = {
        "p99_under_50ms": fr["p99_ms"] < 50, "zero_errors": fr["errors"] == 0,
        "throughput_at_least_a_third_of_bare": results["ratio_vs_bare"] >= 1 / 3,
    }
    results["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
