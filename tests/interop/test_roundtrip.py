"""CI round trip (issue 9 section 3): a few norepinephrine stays per dataset, exported as FHIR,
sent through the CDS Hooks service at sampled decision times; decision, target and advised dose
must equal the in-process replay's. The full table comes from scripts/roundtrip.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("fastapi")

from vasoguide.cli import _protocol
from vasoguide.engine import assess
from vasoguide.roundtrip import SLIP, RoundTrip, ne_stays
from vasoguide.timeline.readers import open_dataset

DATA = Path(os.environ.get("VASOGUIDE_DATA")
            or Path(__file__).resolve().parents[2] / ".." / "shared" / "data")


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoundTrip]:
    folder = tmp_path_factory.mktemp("trail")
    rt = RoundTrip(_protocol(None, None), assess, database_url=f"sqlite:///{folder}/t.sqlite")
    with rt.running():
        yield rt


def _open(name: str) -> Any:
    if name == "demo":
        return open_dataset("demo")
    if not (DATA / name).exists():
        pytest.skip(f"shared dataset {name} not present (set VASOGUIDE_DATA)")
    return open_dataset(str(DATA / name))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["demo", "mimic-iii-demo", "mimic-iv-demo-meds", "eicu-demo"])
def test_round_trip_agrees_with_the_replay(roundtrip: RoundTrip, name: str) -> None:
    es = _open(name)
    stays = ne_stays(es)
    assert stays
    rows = []
    for stay in stays[:2]:
        rows += roundtrip.stay(es, stay, 3)
    assert "patient-view" in {r.hook for r in rows}
    bad = [(r.stay_id, r.time, r.hook, r.status, r.replay, r.service)
           for r in rows if not r.concordant or r.status != 200
           or (r.hook == SLIP and not r.critical_update)]
    assert not bad, bad
