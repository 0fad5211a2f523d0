"""Benchmark the timeline on synthetic stays: readers, derivations and the whole audit.

Not a test (benchmarks/ is outside testpaths). Run:

    .venv/bin/python benchmarks/bench_timeline.py --sizes 1e6,1e7,1e8 --audit-sizes 1e6,1e7

Synthetic data (vasoguide.timeline.synthetic, ~4,600 chart rows and 120 input rows per stay)
is generated once per size under --data-dir. Each step runs --repeat times; medians are
reported with the ratio of a bare DuckDB window query's time to ours (>= 0.5 is the target:
"no less than half the speed"). Timings on a 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vasoguide.protocol import load_protocol
from vasoguide.timeline import derive
from vasoguide.timeline.audit import run_audit
from vasoguide.timeline.readers import read_mimic
from vasoguide.timeline.readers._sql import connect
from vasoguide.timeline.replay import default_concentration
from vasoguide.timeline.synthetic import Density, generate

ROWS_PER_STAY = Density.chart_rows


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def dataset(root: Path, rows: int) -> Path:
    folder = root / f"rows-{rows:.0e}"
    stays = max(1, round(rows / ROWS_PER_STAY))
    if not (folder / "icustays").exists():
        t = time.perf_counter()
        generate(folder, stays, seed=rows % 1000)
        print(
            f"generated {stays} stays ({rows:.0e} chart rows) in {time.perf_counter() - t:.1f} s",
            flush=True,
        )
    return folder


def bench_derivations(folder: Path, repeat: int, threads: int) -> dict[str, Any]:
    protocol = load_protocol()
    target = float(protocol.setting("default_map_target", "mm[Hg]"))
    conc = default_concentration(protocol)
    out: dict[str, Any] = {}
    chart = f"read_parquet('{folder}/chartevents/*.parquet')"

    def bare_raw() -> None:
        # a bare window query over the raw chart rows: lag per stay in time order
        con = connect(threads)
        con.execute(
            f"SELECT count(*) FILTER (WHERE valuenum < {target} AND prev >= {target}) FROM ("
            f"SELECT valuenum, lag(valuenum) OVER (PARTITION BY icustay_id ORDER BY charttime)"
            f" AS prev FROM {chart})"
        ).fetchall()

    out["bare_window_raw_s"], out["bare_window_raw_runs"] = timed(bare_raw, repeat)
    holder: dict[str, Any] = {}

    def read() -> None:
        con = connect(threads)
        holder["es"] = read_mimic(folder, con, "bench")

    out["read_s"], out["read_runs"] = timed(read, repeat)
    es = holder["es"]
    con, ev = es.con, es.events
    out["event_rows"] = con.sql(f"SELECT count(*) FROM {ev}").fetchall()[0][0]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE bench_targets AS SELECT stay_id, admission AS time, "
        f"'map' AS measure, {target} AS low FROM {es.stays}"
    )

    def bare_events() -> None:
        con.execute(
            f"SELECT count(*) FILTER (WHERE v < {target} AND prev >= {target}) FROM ("
            f"SELECT numeric_value AS v, lag(numeric_value) OVER (PARTITION BY stay_id, code "
            f"ORDER BY time) AS prev FROM {ev})"
        ).fetchall()

    out["bare_window_events_s"], out["bare_window_events_runs"] = timed(bare_events, repeat)
    # each derivation against a bare window query over the rows it reads
    derivations: dict[str, tuple[str, Callable[[], Any]]] = {
        "hypotension_episodes": ("code IN ('map', 'sbp')",
                                 lambda: derive.hypotension_episodes(con, ev, "bench_targets")),
        "norepinephrine_dose": ("code IN ('infusion.norepinephrine', 'weight')",
                                lambda: derive.norepinephrine_dose(con, ev, conc)),
        "norepinephrine_equivalent": ("code LIKE 'infusion.%' OR code = 'weight'",
                                      lambda: derive.norepinephrine_equivalent(con, ev, conc)),
        "cumulative_fluids": ("code LIKE 'fluid.%' OR code = 'weight'",
                              lambda: derive.cumulative_fluids(con, ev)),
        "urine_rate_6h": ("code IN ('urine_output', 'weight')",
                          lambda: derive.urine_rate(con, ev, 6.0)),
        "lactate_change": ("code = 'lactate'", lambda: derive.lactate_change(con, ev)),
    }
    out["per_derivation"] = {}
    bare_total = ours_total = 0.0
    for name, (rows, make) in derivations.items():
        def bare(rows: str = rows) -> None:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE b AS SELECT stay_id, time, numeric_value, "
                f"lag(numeric_value) OVER (PARTITION BY stay_id ORDER BY time) AS prev "
                f"FROM {ev} WHERE {rows}"
            )

        def ours(name: str = name, make: Callable[[], Any] = make) -> None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE d_{name} AS {make().sql_query()}")

        t_bare, _ = timed(bare, repeat)
        t_ours, _ = timed(ours, repeat)
        n = con.sql(f"SELECT count(*) FROM {ev} WHERE {rows}").fetchall()[0][0]
        out["per_derivation"][name] = {"rows": n, "bare_s": t_bare, "ours_s": t_ours,
                                       "ratio": t_bare / t_ours}
        bare_total += t_bare
        ours_total += t_ours
    out["derivations_s"] = ours_total
    out["bare_same_rows_s"] = bare_total
    out["ratio_read"] = out["bare_window_raw_s"] / out["read_s"]
    out["ratio_derivations"] = bare_total / ours_total
    return out


def bench_audit(folder: Path, workers: int, threads: int) -> dict[str, Any]:
    """The whole audit in a fresh process, so its peak memory is its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--audit-child", str(folder), "--workers", str(workers),
         "--threads", str(threads)],
        capture_output=True, text=True, check=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _audit_child(folder: Path, workers: int, threads: int) -> dict[str, Any]:
    t = time.perf_counter()
    es = read_mimic(folder, connect(threads), "bench")
    read_s = time.perf_counter() - t
    stays = es.con.sql(f"SELECT count(*) FROM {es.stays}").fetchall()[0][0]
    t = time.perf_counter()
    result = run_audit(es, workers=workers, chunk_size=50)
    audit_s = time.perf_counter() - t
    evaluated = sum(1 for e in result.decisions.column("evaluated").to_pylist() if e)
    return {
        "stays": stays,
        "read_s": read_s,
        "replay_and_metrics_s": audit_s,
        "total_s": read_s + audit_s,
        "decision_times": result.decisions.num_rows,
        "engine_calls": evaluated,
        "engine_calls_per_s": evaluated / audit_s,
        "ne_stays": result.headline["ne_stays"],
        # ru_maxrss is in KiB on Linux; workers are the audit's replay processes
        "max_rss_gb_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "max_rss_gb_workers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20,
    }


def bench_state_cache(folder: Path, stays: int, repeat: int) -> dict[str, Any]:
    """The replay of the first `stays` stays, states built from cached validated parts
    (replay.build_state) against validating every state in full, alternated in one process
    so the machine's load hits both alike."""
    import vasoguide.timeline.replay as replay
    from vasoguide.engine import assess
    from vasoguide.state import parse_state
    from vasoguide.timeline.audit import stay_chunks

    protocol = load_protocol()
    es = read_mimic(folder, connect(2), "bench")
    chunk = next(stay_chunks(es, stays))
    cached = replay.build_state

    def run() -> None:
        for st in chunk:
            replay.replay_stay(st, protocol, assess, None, None,
                               replay.decision_times(st, None), True)

    times: dict[str, list[float]] = {"cached": [], "full": []}
    for _ in range(repeat):
        for name, fn in (("cached", cached), ("full", lambda doc, cache: parse_state(doc))):
            replay.build_state = fn
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    replay.build_state = cached
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"stays": len(chunk), "cached_s": med["cached"], "full_s": med["full"],
            "speedup": med["full"] / med["cached"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1e6,1e7,1e8")
    ap.add_argument("--audit-sizes", default="1e6,1e7")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/vasoguide-bench"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--state-cache", type=int, default=0, metavar="STAYS",
                    help="also compare cached vs full state validation on this many stays "
                    "of the 1e6 dataset")
    ap.add_argument("--audit-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.audit_child:
        print(json.dumps(_audit_child(args.audit_child, args.workers, args.threads)))
        return
    report: dict[str, Any] = {"derivations": {}, "audit": {}}
    for size in [int(float(s)) for s in args.sizes.split(",") if s]:
        folder = dataset(args.data_dir, size)
        res = bench_derivations(folder, args.repeat, args.threads)
        report["derivations"][f"{size:.0e}"] = res
        print(
            f"{size:.0e} chart rows: bare window (raw) {res['bare_window_raw_s']:.2f} s, "
            f"read {res['read_s']:.2f} s (ratio {res['ratio_read']:.2f}); "
            f"{res['event_rows']} event rows, one bare window over all of them "
            f"{res['bare_window_events_s']:.2f} s; derivations {res['derivations_s']:.2f} s "
            f"vs bare windows over the same rows {res['bare_same_rows_s']:.2f} s "
            f"(ratio {res['ratio_derivations']:.2f})",
            flush=True,
        )
        for name, d in res["per_derivation"].items():
            print(
                f"    {name}: {d['rows']} rows, bare {d['bare_s']:.2f} s, "
                f"ours {d['ours_s']:.2f} s, ratio {d['ratio']:.2f}",
                flush=True,
            )
    for size in [int(float(s)) for s in args.audit_sizes.split(",") if s]:
        folder = dataset(args.data_dir, size)
        res = bench_audit(folder, args.workers, args.threads)
        report["audit"][f"{size:.0e}"] = res
        print(f"audit {size:.0e}: {json.dumps(res)}", flush=True)
    if args.state_cache:
        res = bench_state_cache(dataset(args.data_dir, 10**6), args.state_cache, args.repeat)
        report["state_cache"] = res
        print(f"state building: {json.dumps(res)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
