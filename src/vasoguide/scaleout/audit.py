"""The practice audit on Spark: stays distributed with `groupBy(stay).applyInArrow`.

The canonical events come from the same readers and concept dictionaries as the local audit
(DuckDB on the driver, staged as Parquet where the executors can read it); each stay's events
and its stay row meet in one call of `perstay.audit_stays` (a cogroup, so a stay without events
still gets its metrics row), the function the local audit calls on its chunks. The results
travel back as Arrow IPC bytes, so they are the very tables that function built: the outputs
equal the local audit's by construction, and the tests check it on four datasets.

A stay whose work raises (bad rows) comes back with its error instead of results: it is
reported in AuditResult.failures and the job goes on. A failed task is re-run by Spark; the
output of a task that failed is discarded, so no row is duplicated (tested).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..protocol import Protocol, load_protocol
from ..timeline.audit import AuditResult, assemble, summarize_quality
from ..timeline.events import EventSet
from ..timeline.perstay import CHUNK_SIZE, QUALITY_SCHEMA, StayAudit, StayOptions, audit_stays

__all__ = ["OUTPUT_SCHEMA", "StayFunction", "run_spark_audit", "stay_function"]

# One row per group of stays: their results as Arrow IPC streams; or, for a stay whose work
# raised, one row with its id and error and no results.
OUTPUT_SCHEMA = "stay_id long, error string, decisions binary, metrics binary, quality binary"

# Spark's groups are the local audit's chunks: runs of CHUNK_SIZE stays in stay id order (a
# group always holds whole stays). One call per group amortises the call's fixed cost (the
# metric SQL is planned on a private DuckDB connection: ~0.1-0.3 s here), and the same groups
# make the results bit-identical: DuckDB's window sums round differently when the same stay
# shares its table with other stays (a last-digit difference in cumulative fluids per kg).
STAYS_PER_GROUP = CHUNK_SIZE

StayFunction = Callable[[tuple[Any, ...], pa.Table, pa.Table], pa.Table]


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _rows(results: list[tuple[int | None, str | None, StayAudit | None]]) -> pa.Table:
    def payload(pick: Callable[[StayAudit], pa.Table]) -> pa.Array:
        return pa.array([None if r is None else _ipc(pick(r)) for _, _, r in results],
                        pa.binary())

    return pa.table({
        "stay_id": pa.array([s for s, _, _ in results], pa.int64()),
        "error": pa.array([e for _, e, _ in results], pa.string()),
        "decisions": payload(lambda r: r.decisions),
        "metrics": payload(lambda r: r.metrics),
        "quality": payload(lambda r: r.quality),
    })


def stay_function(protocol: Protocol, options: StayOptions) -> StayFunction:
    """The function Spark calls per group: (key, the group's events, its stays) -> rows."""

    def run(key: tuple[Any, ...], events: pa.Table, stays: pa.Table) -> pa.Table:
        from ..engine import assess

        try:
            return _rows([(None, None, audit_stays(stays, events, protocol, assess, options))])
        except Exception:
            pass
        # some stay's rows broke the work: redo stay by stay, so only that stay is lost
        out: list[tuple[int | None, str | None, StayAudit | None]] = []
        ids = sorted(set(stays.column("stay_id").to_pylist())
                     | set(events.column("stay_id").to_pylist()))
        for stay_id in ids:
            one = pc.equal(stays.column("stay_id"), stay_id)
            mine = pc.equal(events.column("stay_id"), stay_id)
            try:
                result = audit_stays(stays.filter(one), events.filter(mine), protocol, assess,
                                     options)
            except Exception as exc:  # one stay's bad rows must not stop the job
                out.append((stay_id, f"{type(exc).__name__}: {exc}", None))
            else:
                out.append((None, None, result))
        return _rows(out)

    return run


def _stage(es: EventSet, folder: Path, size: int) -> tuple[str, str]:
    """Events and stays as Parquet under `folder` (Spark's input), each row with its group:
    runs of `size` stays in stay id order, as audit.stay_chunks cuts them."""
    folder.mkdir(parents=True, exist_ok=True)
    events, stays = folder / "events.parquet", folder / "stays.parquet"
    es.con.execute(
        "CREATE OR REPLACE TEMP TABLE _spark_groups AS SELECT stay_id, "
        f"(row_number() OVER (ORDER BY stay_id) - 1) // {int(size)} AS _group FROM {es.stays}"
    )
    es.con.execute(
        f"COPY (SELECT s.*, g._group FROM {es.stays} s JOIN _spark_groups g USING (stay_id)) "
        f"TO '{stays}' (FORMAT parquet)"
    )
    # rows of a stay id without a stay get no group: they are only counted (quality)
    es.con.execute(
        f"COPY (SELECT e.*, g._group FROM {es.events} e LEFT JOIN _spark_groups g "
        f"ON e.stay_id = g.stay_id) TO '{events}' (FORMAT parquet)"
    )
    return str(events), str(stays)


def _watch(spark: Any, total: int, progress: Callable[[int], None]) -> Callable[[], None]:
    """Report progress in stays from the finished tasks of the running stages; returns stop."""
    done = threading.Event()
    reported = 0

    def poll() -> None:
        nonlocal reported
        tracker = spark.sparkContext.statusTracker()
        while not done.wait(0.5):
            stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
            stages = [s for s in stages if s is not None and s.numTasks > 0]
            if not stages:
                continue
            # the widest running stage is the per-stay one (its tasks are stay partitions)
            s = max(stages, key=lambda s: s.numTasks)
            now = total * s.numCompletedTasks // s.numTasks
            if now > reported:
                progress(now - reported)
                reported = now

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()

    def stop() -> None:
        nonlocal reported
        done.set()
        thread.join()
        if total > reported:
            progress(total - reported)

    return stop


def run_spark_audit(
    spark: Any,
    es: EventSet,
    protocol: Protocol | None = None,
    *,
    every_minutes: float | None = None,
    shock_type: str | None = None,
    prune: bool = True,
    staging: Path | None = None,
    partitions: int | None = None,
    progress: Callable[[int], None] | None = None,
    stays_per_group: int = STAYS_PER_GROUP,
    wrap: Callable[[StayFunction], StayFunction] | None = None,
) -> AuditResult:
    """The audit of `es` with the per-stay work on Spark; the same AuditResult as run_audit.

    `staging` must be readable by every executor on a cluster (default: a temporary folder,
    enough for local masters). `partitions`: stay partitions (default 4 per core). `wrap`
    wraps the per-stay function (fault injection in tests).
    """
    protocol = protocol or load_protocol()
    fn = stay_function(protocol, StayOptions(shock_type, every_minutes, prune))
    if wrap is not None:
        fn = wrap(fn)
    with tempfile.TemporaryDirectory(prefix="vasoguide-spark-") as tmp:
        events_path, stays_path = _stage(es, Path(staging or tmp), stays_per_group)
        events = spark.read.parquet(events_path)
        stays = spark.read.parquet(stays_path)
        total = stays.count()
        n = partitions or 4 * spark.sparkContext.defaultParallelism
        spark.conf.set("spark.sql.shuffle.partitions", str(n))
        # the work is CPU per stay, not bytes: keep the partitions (AQE would merge small ones
        # down to one per core, so one long task could hold up the job)
        spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
        out = (events.groupBy("_group").cogroup(stays.groupBy("_group"))
               .applyInArrow(fn, OUTPUT_SCHEMA))
        stop = _watch(spark, total, progress) if progress else None
        try:
            rows = out.toArrow()
        finally:
            if stop:
                stop()
    return _collect(es, rows)


def _collect(es: EventSet, rows: pa.Table) -> AuditResult:
    """The AuditResult from the groups' rows: stays in id order, failures set apart."""
    from ..timeline.readers._sql import connect

    parts: list[StayAudit] = []
    failures: list[dict[str, Any]] = []
    for r in rows.to_pylist():
        if r["error"] is not None:
            failures.append({"stay_id": r["stay_id"], "error": r["error"]})
        else:
            parts.append(StayAudit(_table(r["decisions"]), _table(r["metrics"]),
                                   _table(r["quality"])))
    if not any(p.metrics.num_rows for p in parts):
        raise ValueError(f"no stay could be audited: {failures[:3]}")
    # groups come in hash order; a stay's decisions have distinct times, in time order
    merged = StayAudit(
        pa.concat_tables([p.decisions for p in parts]).sort_by(
            [("stay_id", "ascending"), ("time", "ascending")]),
        pa.concat_tables([p.metrics for p in parts if p.metrics.num_rows]),
        pa.concat_tables([p.quality for p in parts]),
    )
    con = connect()
    con.register("_quality", merged.quality if merged.quality.num_rows
                 else QUALITY_SCHEMA.empty_table())
    summary = summarize_quality(con.table("_quality"))
    failures.sort(key=lambda f: f["stay_id"])
    return assemble(es.dataset, [merged], summary, es.caveats, tuple(failures))
