"""The Spark audit equals the local audit (strictly), isolates a bad stay, survives a retry.

One session-scoped local Spark (conftest). The three small demo datasets are audited whole;
eICU (2,520 stays, ~3 min locally on this machine) by a subset of its norepinephrine stays
and others, to keep CI short.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from tests.timeline.conftest import at, event, event_set
from vasoguide.engine import assess
from vasoguide.protocol import load_protocol
from vasoguide.timeline.audit import AuditResult, run_audit
from vasoguide.timeline.events import EventSet
from vasoguide.timeline.readers import open_dataset

from .conftest import data_folder, subset

pytest.importorskip("pyspark")
pytestmark = pytest.mark.slow

PROTOCOL = load_protocol()

DATASETS = {
    # name: (dataset argument, subset or None for every stay)
    "clif-demo": (lambda: "demo", None),
    "mimic-iii-demo": (lambda: str(data_folder("mimic-iii-demo")), None),
    "mimic-iv-demo-meds": (lambda: str(data_folder("mimic-iv-demo-meds")), None),
    "eicu-demo": (lambda: str(data_folder("eicu-demo")), (12, 40)),
}


def _spark_audit(spark: Any, es: EventSet, **kw: Any) -> AuditResult:
    from vasoguide.scaleout import run_spark_audit

    return run_spark_audit(spark, es, PROTOCOL, **kw)


def _first_difference(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str:
    for x, y in zip(a, b, strict=False):
        if x != y:
            return f"stay {x.get('stay_id')}: " + str(
                {k: (x[k], y.get(k)) for k in x if x[k] != y.get(k)})
    return f"{len(a)} rows vs {len(b)}"


def _assert_same(local: AuditResult, remote: AuditResult) -> None:
    # strict: same schema, same rows in the same order, floats bit for bit, NULLs as NULLs
    assert remote.failures == ()
    assert remote.metrics.schema == local.metrics.schema
    lm, rm = local.metrics.to_pylist(), remote.metrics.to_pylist()
    assert rm == lm, _first_difference(lm, rm)
    assert remote.decisions.schema == local.decisions.schema
    ld, rd = local.decisions.to_pylist(), remote.decisions.to_pylist()
    assert rd == ld, _first_difference(ld, rd)
    assert remote.quality.to_pylist() == local.quality.to_pylist()
    assert remote.headline == local.headline


@pytest.mark.parametrize("name", list(DATASETS))
def test_spark_audit_equals_the_local_audit(spark: Any, name: str) -> None:
    from pyspark.testing import assertDataFrameEqual

    dataset, sizes = DATASETS[name]
    es = open_dataset(dataset())
    if sizes:
        es = subset(es, *sizes)
    local = run_audit(es, PROTOCOL, workers=2)  # the CLI's way: engine in worker processes
    remote = _spark_audit(spark, es)
    assert local.metrics.num_rows > 10 and local.decisions.num_rows > 100
    _assert_same(local, remote)
    # and as Spark DataFrames, with Spark's own checker
    assertDataFrameEqual(spark.createDataFrame(remote.metrics.to_pandas()),
                         spark.createDataFrame(local.metrics.to_pandas()))


def _two_stays(bad: bool) -> EventSet:
    rows = [event(m, "map", v, "mm[Hg]", method="arterial") for m, v in
            [(0, 58), (30, 57), (60, 70), (90, 72)]]
    rows += [event(10, "weight", 80, "kg"),
             event(20, "infusion.norepinephrine", 0.1, "ug/kg/min", action="start")]
    other = [dict(r, stay_id=11, subject_id=2) for r in rows]
    if bad:
        # a usable start without a rate (breaks invariant 4): the replay cannot read it
        other.append(event(40, "infusion.norepinephrine", None, "ug/kg/min", action="change",
                           stay_id=11, subject_id=2))
    stays = [{"stay_id": s, "subject_id": s - 9, "admission": at(0), "discharge": at(600),
              "care_unit": "MICU", "trauma": False, "age_years": 64.0} for s in (10, 11)]
    return event_set(rows + other, stays)


def test_a_stay_with_bad_rows_is_reported_and_the_others_are_audited(spark: Any) -> None:
    with pytest.raises(TypeError):  # the local audit stops at the bad stay
        run_audit(_two_stays(bad=True), PROTOCOL, assess)
    remote = _spark_audit(spark, _two_stays(bad=True))
    assert [f["stay_id"] for f in remote.failures] == [11]
    assert "TypeError" in remote.failures[0]["error"]
    assert remote.metrics.column("stay_id").to_pylist() == [10]
    good = run_audit(_two_stays(bad=False), PROTOCOL, assess)
    assert remote.metrics.to_pylist() == good.metrics.filter(
        pa.compute.equal(good.metrics.column("stay_id"), 10)).to_pylist()


def _fail_first_attempt(stay_id: int) -> Any:
    def wrap(fn: Any) -> Any:
        def run(key: Any, events: pa.Table, stays: pa.Table) -> pa.Table:
            from pyspark import TaskContext

            ctx = TaskContext.get()
            mine = stay_id in stays.column("stay_id").to_pylist()
            if mine and ctx is not None and ctx.attemptNumber() == 0:
                raise RuntimeError("injected executor failure")
            return fn(key, events, stays)

        return run

    return wrap


def test_a_failed_task_is_retried_without_duplicated_rows(spark: Any) -> None:
    es = subset(open_dataset(str(data_folder("mimic-iii-demo"))), 4, 8)
    victim = int(es.con.sql(f"SELECT min(stay_id) FROM {es.stays}").fetchall()[0][0])
    local = run_audit(es, PROTOCOL, assess)
    remote = _spark_audit(spark, es, wrap=_fail_first_attempt(victim))
    _assert_same(local, remote)
    keys = remote.decisions.select(["stay_id", "time"]).to_pylist()
    assert len(keys) == len({(k["stay_id"], k["time"]) for k in keys})
