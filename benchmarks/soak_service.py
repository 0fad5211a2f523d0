"""Soak of the service at a fixed offered rate, and a probe of the keep-alive reset race
(a script, not a test; 127.0.0.1 only).

    .venv/bin/python benchmarks/soak_service.py --minutes 3 --rate 20 --workers 2
    .venv/bin/python benchmarks/soak_service.py --probe-only

Soak: `/assess` and CDS Hooks order-sign (the realistic 88 kB prefetch of bench_service.py)
alternate at a fixed arrival rate (open loop: latency from each request's scheduled time) over
a pool of keep-alive connections, on uvicorn with the service's hardened protocol and logging
and N worker processes sharing one SQLite trail. Every minute: requests, errors, the server's
resident memory (server + workers, from /proc). At the end: p50/p99/p99.9, errors by kind, and
`trail verify`, whose record count must equal the requests answered 200 (each one appends one
record).

Probe (issue 10, defect 7): the server closes a kept-alive connection after `keep_alive_s`
idle; a client that reuses the connection at that moment has its request reset. The probe
sends a request, idles for the server's keep-alive minus a few ms, and sends again, many
times, with the old uvicorn default (5 s, same as httpx's pool expiry) scaled down to 1 s, and
with the client idling well below the server's keep-alive (the service's default relation:
15 s server, 5 s httpx).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_service import NOW, Conn, Server, _pct, order_sign_body

ROOT = Path(__file__).resolve().parents[1]


def assess_body() -> bytes:
    state = {"time": NOW.isoformat(), "patient": {"age_years": 64,
                                                  "weight": {"value": 80, "unit": "kg"}},
             "context": {"shock_type": "septic"},
             "observations": [{"code": "map", "value": 58, "unit": "mm[Hg]",
                               "time": "2026-03-01T07:55:00+00:00", "method": "arterial"}]}
    return json.dumps(state).encode()


def rss_mb(server: Server) -> float:
    """Resident memory of the server and its workers (Linux /proc), in MB."""
    procs = {server.proc.pid}
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text()
                                          .rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
    grew = True
    while grew:
        more = {p for p, parent in parents.items() if parent in procs} - procs
        procs |= more
        grew = bool(more)
    total = 0
    for pid in procs:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


async def soak(server: Server, rate: float, seconds: float, connections: int) -> dict[str, Any]:
    bodies = [("/assess", assess_body()),
              ("/cds-services/vasoguide-norepinephrine", order_sign_body())]
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await Conn.open(server.port))
    latencies: list[float] = []
    kinds: Counter[str] = Counter()
    ok = 0
    total = int(rate * seconds)
    start = time.perf_counter() + 0.1
    minutes: list[dict[str, Any]] = []

    async def sample() -> None:
        for minute in range(1, int(seconds // 60) + 1):
            await asyncio.sleep(max(0.0, start + 60 * minute - time.perf_counter()))
            minutes.append({"minute": minute, "answered": len(latencies), "ok": ok,
                            "errors": sum(kinds.values()), "rss_mb": rss_mb(server)})
            print(json.dumps(minutes[-1]), flush=True)

    async def one(i: int) -> None:
        nonlocal ok
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        path, body = bodies[i % 2]
        conn = await pool.get()
        try:
            status, _ = await conn.post(path, body)
            if status == 200:
                ok += 1
            else:
                kinds[f"status {status}"] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            kinds[type(exc).__name__] += 1
            conn.close()
            conn = await Conn.open(server.port)
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)

    rss_start = rss_mb(server)
    await asyncio.gather(sample(), *(one(i) for i in range(total)))
    while not pool.empty():
        pool.get_nowait().close()
    ms = sorted(x * 1000 for x in latencies)
    return {"offered_rps": rate, "seconds": seconds, "requests": total, "ok": ok,
            "errors": dict(kinds), "p50_ms": _pct(ms, 50), "p99_ms": _pct(ms, 99),
            "p99.9_ms": _pct(ms, 99.9), "max_ms": round(ms[-1], 1), "rss_start_mb": rss_start,
            "per_minute": minutes}


async def probe(port: int, idle_s: float, trials: int) -> dict[str, Any]:
    """Request, idle `idle_s`, request again on the same connection, `trials` times."""
    body = assess_body()
    kinds: Counter[str] = Counter()

    async def trial() -> None:
        conn = await Conn.open(port)
        try:
            await conn.post("/assess", body)
            await asyncio.sleep(idle_s)
            status, _ = await conn.post("/assess", body)
            kinds["ok" if status == 200 else f"status {status}"] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            kinds[type(exc).__name__] += 1
        finally:
            conn.close()

    for batch in range(0, trials, 20):  # 20 at a time, each with a slightly different idle
        await asyncio.gather(*(trial() for _ in range(min(20, trials - batch))))
    return {"idle_s": idle_s, "trials": trials, "outcomes": dict(kinds)}


def start_server(db: str, workers: int, keep_alive: int) -> Server:
    os.environ["VG_BENCH_KEEP_ALIVE"] = str(keep_alive)
    return Server("vasoguide", db, workers, start_timeout=180)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--rate", type=float, default=20.0, help="offered requests per second")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--probe-trials", type=int, default=100)
    ap.add_argument("--probe-only", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results: dict[str, Any] = {"cpus": os.cpu_count(), "workers": args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        # Probe: server keep-alive 1 s; the client idles just under it (the race), then well
        # under it (the service's relation between its keep-alive and clients' pool expiry).
        server = start_server(str(Path(tmp) / "probe.sqlite"), 1, 1)
        try:
            results["probe_race"] = asyncio.run(probe(server.port, 0.995, args.probe_trials))
            results["probe_safe"] = asyncio.run(probe(server.port, 0.3, args.probe_trials))
        finally:
            server.stop()
        print(json.dumps({k: results[k] for k in ("probe_race", "probe_safe")}), flush=True)
        if not args.probe_only:
            db = str(Path(tmp) / "trail.sqlite")
            server = start_server(db, args.workers, 15)
            try:
                results["soak"] = asyncio.run(
                    soak(server, args.rate, args.minutes * 60, args.connections))
                results["soak"]["rss_end_mb"] = rss_mb(server)
            finally:
                server.stop()
            verify = subprocess.run(
                [sys.executable, "-m", "vasoguide", "trail", "verify", "--db", f"sqlite:///{db}"],
                capture_output=True, text=True, env={**os.environ,
                                                     "PYTHONPATH": str(ROOT / "src")})
            results["trail"] = (verify.stdout + verify.stderr).strip()
            ok = results["soak"]["ok"]
            results["trail_count_matches"] = f"intact: {ok} records" in results["trail"]
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
