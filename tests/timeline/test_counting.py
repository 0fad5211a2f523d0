"""Counting norepinephrine exposure, built from the real rows of the stays issue 8 names.

Each test reads a few named stays of the shared demo databases in place (filtered into a
small folder of the same layout), so it runs in seconds and fails on the old counting: eICU
stays charting norepinephrine only as `Norepinephrine ()`, patients who arrive on it (eICU
negative offsets, a MEDS segment starting before ICU admission), a mg-for-mcg row, and the
site's rate hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pytest

from vasoguide.protocol import load_protocol
from vasoguide.timeline.audit import AuditResult, run_audit
from vasoguide.timeline.readers import open_dataset

# ../shared/data beside the repository (or beside a worktree's parent folder)
_ROOT = Path(__file__).resolve().parents[2]
DATA = next((p for p in (_ROOT.parent / "shared" / "data", _ROOT.parent.parent / "shared" / "data")
             if p.exists()), _ROOT.parent / "shared" / "data")
pytestmark = pytest.mark.slow

UNIT_LESS = (2705166, 2778278, 2669317)  # NE charted only as "Norepinephrine ()", rate > 0
ZERO_ONLY = (520522, 3207238, 498849)  # NE rows, all at rate 0
ARRIVED_ON_NE = (490809, 706954)  # infusion rows at negative offsets
MG_FOR_MCG = 292154  # one row of 2666.67 "mcg/min" (35.7 mcg/kg/min at 74.8 kg)
EICU_STAYS = (*UNIT_LESS, *ZERO_ONLY, *ARRIVED_ON_NE, MG_FOR_MCG)
MEDS_SUBJECT = 10018081  # NE 0.10 from 17:05, ICU admission 17:10


def _shared(name: str) -> Path:
    folder = DATA / name
    if not folder.exists():
        pytest.skip(f"shared dataset {name} not present")
    return folder


def _eicu_subset(dest: Path, stays: Iterable[int]) -> Path:
    """The eICU demo tables the reader uses, restricted to `stays` (same layout, as CSV)."""
    src = _shared("eicu-demo")
    ids = ", ".join(f"'{s}'" for s in stays)
    con = duckdb.connect()
    for table in ("patient", "infusiondrug", "vitalaperiodic", "intakeoutput"):
        con.execute(
            f"COPY (SELECT * FROM read_csv('{src / table}.csv.gz', all_varchar = true) "
            f"WHERE patientunitstayid IN ({ids})) TO '{dest / table}.csv' (HEADER)"
        )
    return dest


@pytest.fixture(scope="module")
def eicu_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _eicu_subset(tmp_path_factory.mktemp("eicu"), EICU_STAYS)


@pytest.fixture(scope="module")
def eicu(eicu_folder: Path) -> AuditResult:
    return run_audit(open_dataset(str(eicu_folder)), workers=1)


def _metrics(result: AuditResult) -> dict[int, dict[str, Any]]:
    return {r["stay_id"]: r for r in result.metrics.to_pylist()}


def test_unit_less_norepinephrine_counts_as_exposure_without_a_dose(eicu: AuditResult) -> None:
    m = _metrics(eicu)
    for stay in UNIT_LESS:
        assert m[stay]["on_ne"], stay
        assert m[stay]["minutes_on_ne"] > 0
        assert m[stay]["ne_dose_known"] is False
        assert m[stay]["ne_max_ug_kg_min"] is None and m[stay]["ne_first_ug_kg_min"] is None
    assert eicu.headline["ne_stays_without_dose"] >= len(UNIT_LESS)


def test_zero_rate_rows_are_not_exposure(eicu: AuditResult) -> None:
    m = _metrics(eicu)
    assert not any(m[s]["on_ne"] for s in ZERO_ONLY)
    assert any(f"{len(ZERO_ONLY)} stays chart norepinephrine only at rate 0" in c
               for c in eicu.caveats)
    # every named stay but the zero-only ones is on norepinephrine
    assert eicu.headline["ne_stays"] == len(EICU_STAYS) - len(ZERO_ONLY)


def test_patients_arriving_on_norepinephrine_get_the_admission_weight(
    eicu: AuditResult,
) -> None:
    m = _metrics(eicu)
    for stay in ARRIVED_ON_NE:
        assert m[stay]["ne_start"] < m[stay]["admission"], stay
        assert m[stay]["ne_first_ug_kg_min"] is not None, stay


def test_a_rejected_row_feeds_no_dose_course_or_abrupt_stop(eicu: AuditResult) -> None:
    m = _metrics(eicu)[MG_FOR_MCG]
    assert m["dose_unit_suspect_rows"] == 1
    assert m["ne_max_ug_kg_min"] is None and m["nee_max_ug_kg_min"] is None
    assert m["ne_courses"] == 0 and m["abrupt_stops"] == 0
    assert m["on_ne"] and m["ne_dose_known"] is False  # it ran: exposure, without a dose
    rows = [r for r in eicu.decisions.to_pylist() if r["stay_id"] == MG_FOR_MCG]
    assert rows and not any(r["ne_running"] for r in rows)
    assert not any("DOSE_UNIT_SUSPECT" in r["alerts"] for r in rows)


def test_the_rate_hold_is_a_site_setting(
    eicu: AuditResult, eicu_folder: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("settings:\n  infusion_rate_hold: 1\n")
    default = eicu
    protocol = load_protocol(site=site)
    short = run_audit(open_dataset(str(eicu_folder), protocol=protocol), protocol, workers=1)
    long_min = _metrics(default)[UNIT_LESS[0]]["minutes_on_ne"]
    short_min = _metrics(short)[UNIT_LESS[0]]["minutes_on_ne"]
    assert 0 < short_min < long_min
    assert 0 < default.headline["pooled_fraction_on_ne_held"] < 1


def test_meds_infusion_running_at_admission_is_running(tmp_path: Path) -> None:
    src = _shared("mimic-iv-demo-meds")
    subset = tmp_path / "meds.parquet"
    duckdb.execute(
        f"COPY (SELECT * FROM read_parquet('{src}/*.parquet') "
        f"WHERE subject_id = {MEDS_SUBJECT}) TO '{subset}' (FORMAT parquet)"
    )
    result = run_audit(open_dataset(str(subset)), workers=1)
    first = min((r for r in result.metrics.to_pylist() if r["on_ne"]),
                key=lambda r: r["stay_id"])
    assert first["stay_id"] == MEDS_SUBJECT * 100 + 1
    assert first["ne_start"] < first["admission"]
    assert first["ne_start"].astimezone(UTC).strftime("%H:%M") == "17:05"
    early = [r for r in result.decisions.to_pylist()
             if r["stay_id"] == first["stay_id"]
             and r["time"] < first["admission"].replace(hour=18, minute=30)]
    assert early and all(r["ne_running"] for r in early)


def test_same_instant_rows_give_the_same_replay_in_any_order() -> None:
    """MIMIC-III stay 210989 gave START in one run and RESUSCITATE_FIRST in the next: its
    arterial and cuff pressures at one instant came back from the database in either order."""
    from vasoguide.engine import assess
    from vasoguide.timeline.replay import StayEvents, replay_stay

    from .conftest import T0, at, event

    rows = [event(0, "weight", 70, "kg")]
    for i in range(8):
        rows += [event(15 * i, "map", 58 + i, "mm[Hg]", method="arterial"),
                 event(15 * i, "map", 75 - i, "mm[Hg]", method="noninvasive")]
    stay = {"stay_id": 10, "admission": T0, "discharge": at(600), "trauma": False,
            "age_years": 60.0}
    protocol = load_protocol()
    runs = [replay_stay(StayEvents.from_rows(stay, order), protocol, assess)
            for order in (rows, rows[::-1])]
    assert runs[0] == runs[1]
    assert {d["pressure"] for d in runs[0]} <= {58.0 + i for i in range(8)}  # arterial wins
