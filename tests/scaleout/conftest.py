"""One local Spark for the whole test session, and the shared demo datasets (read in place)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vasoguide.timeline.events import EventSet

REPO = Path(__file__).resolve().parents[2]


def data_folder(name: str) -> Path:
    """A shared dataset: $VASOGUIDE_DATA/NAME, else ../shared/data/NAME beside the repo."""
    roots = [os.environ.get("VASOGUIDE_DATA"), REPO.parent / "shared" / "data",
             REPO.parents[1] / "shared" / "data"]
    for root in roots:
        if root and (Path(root) / name).exists():
            return Path(root) / name
    pytest.skip(f"shared dataset {name} not present (set VASOGUIDE_DATA)")


def subset(es: EventSet, ne_stays: int, other_stays: int) -> EventSet:
    """The first `ne_stays` stays with norepinephrine and the first `other_stays` others."""
    con = es.con
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW sub_stays AS SELECT * FROM {es.stays} WHERE stay_id IN (
            (SELECT DISTINCT stay_id FROM {es.events} WHERE code = 'infusion.norepinephrine'
             ORDER BY stay_id LIMIT {ne_stays})
            UNION (SELECT stay_id FROM {es.stays} ORDER BY stay_id LIMIT {other_stays}))"""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW sub_events AS SELECT * FROM {es.events} "
        "WHERE stay_id IN (SELECT stay_id FROM sub_stays)"
    )
    return EventSet(con, "sub_events", "sub_stays", es.dataset, es.caveats)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """local[2,2]: two cores, and a failed task is tried twice (local[2] never retries)."""
    pytest.importorskip("pyspark")
    from vasoguide.scaleout import SparkUnavailableError, spark_session

    try:
        session = spark_session("local[2,2]", {"spark.sql.shuffle.partitions": "4"})
    except SparkUnavailableError as exc:
        pytest.skip(str(exc))
    yield session
    session.stop()
