"""The readers and the replay on the shared real ICU demo datasets (read in place, slow).

Expected counts are computed here from the raw files with independent queries, or taken from
../shared/data/README.md where it states them; nothing is copied from the readers' output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from vasoguide.engine import assess
from vasoguide.protocol import load_protocol
from vasoguide.timeline.events import EventSet, check_events
from vasoguide.timeline.readers import open_dataset
from vasoguide.timeline.replay import StayEvents, decision_times, replay_stay
from vasoguide.timeline.stay import load_stay

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
pytestmark = pytest.mark.slow


def _dataset(name: str) -> Path:
    folder = DATA / name
    if not folder.exists():
        pytest.skip(f"shared dataset {name} not present")
    return folder


@pytest.fixture(scope="module")
def mimic3() -> Iterator[EventSet]:
    yield open_dataset(str(_dataset("mimic-iii-demo")))


@pytest.fixture(scope="module")
def meds() -> Iterator[EventSet]:
    yield open_dataset(str(_dataset("mimic-iv-demo-meds")))


@pytest.fixture(scope="module")
def eicu() -> Iterator[EventSet]:
    yield open_dataset(str(_dataset("eicu-demo")))


def _count(es: EventSet, sql: str) -> int:
    return int(es.con.sql(sql.format(ev=es.events)).fetchall()[0][0])


NE_WITH_MAP = (
    "SELECT count(DISTINCT stay_id) FROM {ev} WHERE code = 'infusion.norepinephrine' "
    "AND quality IS NULL AND stay_id IN (SELECT stay_id FROM {ev} WHERE code = 'map')"
)


def test_mimic3_invariants_and_the_readme_count(mimic3: EventSet) -> None:
    assert check_events(mimic3.con, mimic3.events) == []
    # README: 31 ICU stays have both norepinephrine and MAP (15 MetaVision, 16 CareVue)
    assert _count(mimic3, NE_WITH_MAP) == 31


def test_mimic3_rewritten_rows_are_flagged_not_used(mimic3: EventSet) -> None:
    raw = duckdb.sql(
        f"SELECT count(*) FROM read_csv('{_dataset('mimic-iii-demo')}/inputevents_mv.csv.gz', "
        "all_varchar = true) WHERE itemid = '221906' AND statusdescription = 'Rewritten' "
        "AND rate IS NOT NULL"
    ).fetchall()[0][0]
    assert raw > 0
    flagged = _count(
        mimic3,
        "SELECT count(*) FROM {ev} WHERE code = 'infusion.norepinephrine' "
        "AND quality = 'rewritten'",
    )
    assert flagged == raw


def test_mimic3_pound_weights_become_kilograms(mimic3: EventSet) -> None:
    raw = duckdb.sql(
        f"SELECT avg(TRY_CAST(valuenum AS DOUBLE)) FROM read_csv("
        f"'{_dataset('mimic-iii-demo')}/chartevents.csv.gz', all_varchar = true, "
        "quote = '\"', escape = '\"') WHERE itemid = '226531' AND valuenum IS NOT NULL"
    ).fetchall()[0][0]
    kg = mimic3.con.sql(
        f"SELECT avg(numeric_value) FROM {mimic3.events} WHERE source = 'chartevents//226531'"
    ).fetchall()[0][0]
    assert kg == pytest.approx(raw * 0.45359237, rel=1e-6)


def test_meds_invariants_and_the_readme_count(meds: EventSet) -> None:
    assert check_events(meds.con, meds.events) == []
    # README: 33 ICU stays (26 subjects) have norepinephrine and MAP
    assert _count(meds, NE_WITH_MAP) == 33
    # README: pair each subject's k-th ICU admission with its k-th discharge (140 stays)
    assert _count(meds, "SELECT count(*) FROM " + meds.stays) == 140


def test_eicu_units_hidden_in_drug_names(eicu: EventSet) -> None:
    assert check_events(eicu.con, eicu.events) == []
    raw = duckdb.sql(
        f"SELECT count(*) FROM read_csv('{_dataset('eicu-demo')}/infusiondrug.csv.gz', "
        "all_varchar = true) WHERE drugname = 'Norepinephrine ()' "
        "AND TRY_CAST(drugrate AS DOUBLE) IS NOT NULL"
    ).fetchall()[0][0]
    flagged = _count(
        eicu,
        "SELECT count(*) FROM {ev} WHERE code = 'infusion.norepinephrine' "
        "AND quality = 'unit_unknown'",
    )
    assert flagged == raw > 0
    units = {
        r[0]
        for r in eicu.con.sql(
            f"SELECT DISTINCT unit FROM {eicu.events} WHERE code = 'infusion.norepinephrine' "
            "AND quality IS NULL"
        ).fetchall()
    }
    assert units == {"ug/min", "ug/kg/min", "mL/h"}
    # README: no arterial MAP in the demo, so every pressure is non-invasive
    assert (
        _count(
            eicu,
            "SELECT count(*) FROM {ev} WHERE code = 'map' "
            "AND method IS DISTINCT FROM 'noninvasive'",
        )
        == 0
    )


def test_eicu_ne_stays_match_the_raw_table(eicu: EventSet) -> None:
    raw = duckdb.sql(
        f"SELECT count(DISTINCT patientunitstayid) FROM read_csv("
        f"'{_dataset('eicu-demo')}/infusiondrug.csv.gz', all_varchar = true) "
        "WHERE regexp_matches(lower(drugname), '^\\s*(norepinephrine|levophed)') "
        # a stay charted only with zero rates never had a course; `()` rows are kept, flagged
        "AND (TRY_CAST(drugrate AS DOUBLE) > 0 OR (drugname LIKE '%()' "
        "AND TRY_CAST(drugrate AS DOUBLE) IS NOT NULL))"
    ).fetchall()[0][0]
    got = _count(
        eicu, "SELECT count(DISTINCT stay_id) FROM {ev} WHERE code = 'infusion.norepinephrine'"
    )
    assert got == raw


@pytest.mark.parametrize("name", ["mimic-iii-demo", "mimic-iv-demo-meds", "eicu-demo"])
def test_real_stays_replay_without_look_ahead(name: str) -> None:
    es = open_dataset(str(_dataset(name)))
    stay_id = es.con.sql(
        f"SELECT stay_id FROM {es.events} WHERE code = 'infusion.norepinephrine' "
        "AND quality IS NULL GROUP BY 1 ORDER BY stay_id LIMIT 1"
    ).fetchall()[0][0]
    protocol = load_protocol()
    stay = load_stay(es, stay_id)
    times = decision_times(stay)[:60]
    assert len(times) >= 10
    full = replay_stay(stay, protocol, assess, times=times)
    cut = times[len(times) // 2]
    past = {code: [r for r in rows if r["time"] <= cut] for code, rows in stay.by_code.items()}
    truncated = StayEvents.from_rows(
        {
            "stay_id": stay.stay_id,
            "admission": stay.admission,
            "discharge": stay.discharge,
            "trauma": stay.trauma,
            "age_years": stay.age_years,
        },
        [r for rows in past.values() for r in rows],
    )
    early = [t for t in times if t <= cut]
    assert replay_stay(truncated, protocol, assess, times=early) == full[: len(early)]
    assert {r["decision"] for r in full} <= {
        "START_NOREPINEPHRINE",
        "INCREASE_NOREPINEPHRINE",
        "CONTINUE_NOREPINEPHRINE",
        "DECREASE_NOREPINEPHRINE",
        "RESUSCITATE_FIRST",
        "PERMISSIVE_HYPOTENSION",
        "NOT_INDICATED",
        "INSUFFICIENT_DATA",
    }


def test_pruning_changes_no_audit_metric_on_real_stays(mimic3: EventSet) -> None:
    from vasoguide.timeline.audit import run_audit

    con = mimic3.con
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW sub_stays AS SELECT * FROM {mimic3.stays} WHERE stay_id IN "
        f"(SELECT DISTINCT stay_id FROM {mimic3.events} WHERE code = 'infusion.norepinephrine' "
        "ORDER BY stay_id LIMIT 6)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW sub_events AS SELECT * FROM {mimic3.events} "
        "WHERE stay_id IN (SELECT stay_id FROM sub_stays)"
    )
    sub = EventSet(con, "sub_events", "sub_stays", "mimic-iii-subset")
    protocol = load_protocol()
    pruned = run_audit(sub, protocol, assess, prune=True)
    full = run_audit(sub, protocol, assess, prune=False)
    evaluated = pruned.decisions.column("evaluated").to_pylist()
    assert not all(evaluated), "some quiet decision times should have been skipped"
    assert pruned.metrics.to_pylist() == full.metrics.to_pylist()
