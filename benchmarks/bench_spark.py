"""Benchmark the Spark audit against the local (DuckDB) audit on synthetic stays, in one run.

Not a test (benchmarks/ is outside testpaths). Run:

    .venv/bin/python benchmarks/bench_spark.py --sizes 1e7 --masters 'local[1],local[2]'

Synthetic data (vasoguide.timeline.synthetic, MIMIC layout, ~4,600 chart rows per stay) is
generated once per size under --data-dir (shared with bench_timeline.py). Each engine runs in
a fresh child process, so wall time and peak memory are its own: the local audit with
--workers processes, then Spark on each master. Reading into canonical events (DuckDB, the
same for both) is timed apart from the audit proper (replay and metrics). Peak memory is
sampled over the whole process tree (driver, JVM, Python workers). Spark's session start is
reported separately. Figures on a shared 2-core machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_timeline import dataset  # noqa: E402 (the same synthetic data and folders)

from vasoguide.timeline.readers import read_mimic  # noqa: E402
from vasoguide.timeline.readers._sql import connect  # noqa: E402


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry)] = int(line.split()[1]) * 1024
    tree, grew = {root}, True
    while grew:
        more = {p for p, pp in parents.items() if pp in tree} - tree
        grew = bool(more)
        tree |= more
    return sum(rss.get(p, 0) for p in tree)


class PeakMemory:
    """Samples the process tree's resident memory every 0.5 s while running."""

    def __init__(self) -> None:
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.5):
            self.peak = max(self.peak, _tree_rss_bytes(os.getpid()))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def _child(folder: Path, engine: str, workers: int) -> dict[str, Any]:
    with PeakMemory() as mem:
        t = time.perf_counter()
        es = read_mimic(folder, connect(2), "bench")
        read_s = time.perf_counter() - t
        rows = es.con.sql(f"SELECT count(*) FROM {es.events}").fetchall()[0][0]
        stays = es.con.sql(f"SELECT count(*) FROM {es.stays}").fetchall()[0][0]
        start_s = 0.0
        if engine == "duckdb":
            from vasoguide.timeline.audit import run_audit

            t = time.perf_counter()
            result = run_audit(es, workers=workers)
        else:
            from vasoguide.scaleout import run_spark_audit, spark_session

            t = time.perf_counter()
            spark = spark_session(engine)
            spark.range(1).count()  # the JVM and a first job: start-up, timed apart
            start_s = time.perf_counter() - t
            t = time.perf_counter()
            result = run_spark_audit(spark, es)
        audit_s = time.perf_counter() - t
    evaluated = sum(1 for e in result.decisions.column("evaluated").to_pylist() if e)
    return {
        "engine": engine, "stays": stays, "event_rows": rows, "read_s": read_s,
        "session_start_s": start_s, "audit_s": audit_s, "wall_s": read_s + start_s + audit_s,
        "decisions": result.decisions.num_rows, "engine_calls": evaluated,
        "event_rows_per_s": rows / audit_s, "decisions_per_s": result.decisions.num_rows / audit_s,
        "peak_rss_gb": mem.peak / 2**30, "failures": len(result.failures),
        "ne_stays": result.headline["ne_stays"],
    }


def run(folder: Path, engine: str, workers: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(folder), "--engine", engine,
         "--workers", str(workers)],
        capture_output=True, text=True, check=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1e7", help="synthetic chart rows, e.g. 1e7,1e8")
    ap.add_argument("--masters", default="local[1],local[2]")
    ap.add_argument("--workers", type=int, default=2, help="local audit processes")
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/vasoguide-bench"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--engine", default="duckdb", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.engine, args.workers)))
        return
    report: dict[str, Any] = {}
    for size in [int(float(s)) for s in args.sizes.split(",") if s]:
        folder = dataset(args.data_dir, size)
        results = {"duckdb": run(folder, "duckdb", args.workers)}
        print(f"{size:.0e} duckdb ({args.workers} workers): {json.dumps(results['duckdb'])}",
              flush=True)
        for master in args.masters.split(","):
            results[master] = run(folder, master, args.workers)
            print(f"{size:.0e} spark {master}: {json.dumps(results[master])}", flush=True)
        base = results["duckdb"]["audit_s"]
        for master in args.masters.split(","):
            results[master]["audit_ratio_to_duckdb"] = results[master]["audit_s"] / base
        if "local[1]" in results and "local[2]" in results:
            results["speedup_local2_over_local1"] = (results["local[1]"]["audit_s"]
                                                     / results["local[2]"]["audit_s"])
        report[f"{size:.0e}"] = results
        print(json.dumps({k: v for k, v in results.items() if not isinstance(v, dict)}),
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
