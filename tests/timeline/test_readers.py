"""Each reader on small generated tables, with one unit trap per source."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vasoguide.timeline.events import EventSet, check_events
from vasoguide.timeline.readers import (
    DatasetError,
    detect_format,
    open_dataset,
    read_clif,
    read_eicu,
    read_meds,
    read_mimic,
)


def _csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _events(es: EventSet, where: str = "true") -> list[dict[str, Any]]:
    assert check_events(es.con, es.events) == []
    return es.events_table(where).to_pylist()


def _one(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, found
    return found[0]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def mimic_dir(tmp_path: Path) -> Path:
    _csv(
        tmp_path / "icustays.csv",
        [
            {
                "subject_id": 1,
                "hadm_id": 5,
                "icustay_id": 100,
                "first_careunit": "MICU",
                "intime": "2150-01-01 00:00:00",
                "outtime": "2150-01-03 00:00:00",
            },
        ],
    )
    ce = [
        {
            "subject_id": 1,
            "icustay_id": 100,
            "itemid": 220052,
            "charttime": "2150-01-01 01:00:00",
            "valuenum": 58,
            "valueuom": "mmHg",
            "error": 0,
        },
        {
            "subject_id": 1,
            "icustay_id": 100,
            "itemid": 220181,
            "charttime": "2150-01-01 02:00:00",
            "valuenum": 0,
            "valueuom": "mmHg",
            "error": 0,
        },  # artefact: outside 0-300 (open)
        # unit trap: Admission Weight (lbs.) has no unit in the data; the value is pounds
        {
            "subject_id": 1,
            "icustay_id": 100,
            "itemid": 226531,
            "charttime": "2150-01-01 00:30:00",
            "valuenum": 176.37,
            "valueuom": "",
            "error": 0,
        },
        {
            "subject_id": 1,
            "icustay_id": 100,
            "itemid": 220045,
            "charttime": "2150-01-01 01:00:00",
            "valuenum": 110,
            "valueuom": "bpm",
            "error": 0,
        },  # heart rate: not a concept here
    ]
    _csv(tmp_path / "chartevents.csv", ce)
    base = {
        "subject_id": 1,
        "icustay_id": 100,
        "itemid": 221906,
        "amount": 1,
        "amountuom": "mg",
        "rateuom": "mcg/kg/min",
        "patientweight": 80,
    }
    _csv(
        tmp_path / "inputevents_mv.csv",
        [
            {
                **base,
                "starttime": "2150-01-01 01:10:00",
                "endtime": "2150-01-01 02:00:00",
                "rate": 0.05,
                "statusdescription": "Changed",
            },
            {
                **base,
                "starttime": "2150-01-01 02:00:00",
                "endtime": "2150-01-01 03:00:00",
                "rate": 0.1,
                "statusdescription": "Stopped",
            },
            # unit trap: a Rewritten row (superseded) with a 5.4 rate must not be used
            {
                **base,
                "starttime": "2150-01-01 02:00:00",
                "endtime": "2150-01-01 02:30:00",
                "rate": 5.4,
                "statusdescription": "Rewritten",
            },
        ],
    )
    _csv(
        tmp_path / "inputevents_cv.csv",
        [
            {
                "subject_id": 1,
                "icustay_id": 100,
                "itemid": 30051,
                "charttime": "2150-01-01 04:00:00",
                "rate": 0.04,
                "rateuom": "Umin",
            },
        ],
    )
    return tmp_path


def test_mimic_reads_weight_in_pounds_and_drops_rewritten_rows(mimic_dir: Path) -> None:
    rows = _events(read_mimic(mimic_dir))
    weight = _one(rows, code="weight", source="chartevents//226531")
    assert weight["numeric_value"] == pytest.approx(80.0, abs=0.01)
    ne = [r for r in rows if r["code"] == "infusion.norepinephrine" and r["quality"] is None]
    assert [(r["action"], r["numeric_value"]) for r in ne] == [
        ("start", 0.05),
        ("change", 0.1),
        ("stop", 0.0),
    ]
    assert _one(rows, code="infusion.norepinephrine", quality="rewritten")["numeric_value"] == 5.4
    assert _one(rows, code="map", quality="implausible")["numeric_value"] == 0
    assert _one(rows, code="map", quality=None)["method"] == "arterial"
    vaso = _one(rows, code="infusion.vasopressin", action="start")  # CareVue `Umin`
    assert (vaso["numeric_value"], vaso["unit"]) == (0.04, "U/min")
    assert not [r for r in rows if r["source"] == "chartevents//220045"]


def test_mimic_times_are_utc_aware(mimic_dir: Path) -> None:
    rows = _events(read_mimic(mimic_dir), "code = 'map' AND quality IS NULL")
    assert rows[0]["time"] == _utc("2150-01-01T01:00:00")


def test_meds_pairs_starts_with_ends_and_reads_unk_weight_as_pounds(tmp_path: Path) -> None:
    t = _utc
    rows = [
        (7, t("2150-01-01T00:00:00"), "ICU_ADMISSION//Trauma SICU (TSICU)", None),
        (7, t("2150-01-01T01:00:00"), "LAB//220052//mmHg", 61.0),
        # unit trap: the conversion wrote UNK for "Admission Weight (lbs.)"
        (7, t("2150-01-01T01:00:00"), "LAB//226531//UNK", 176.37),
        (7, t("2150-01-01T01:05:00"), "INFUSION_START//221906", 0.08),
        (7, t("2150-01-01T02:05:00"), "INFUSION_END//221906", 0.4),
        (7, t("2150-01-01T02:05:00"), "INFUSION_START//221906", 0.12),
        (7, t("2150-01-01T03:00:00"), "INFUSION_END//221906", 0.5),
        (7, t("2150-01-01T04:00:00"), "INFUSION_END//225158", 500.0),  # NaCl 0.9 %
        (7, t("2150-01-02T00:00:00"), "ICU_DISCHARGE", None),
        (7, t("2150-01-03T00:00:00"), "LAB//220052//mmHg", 90.0),  # after discharge: dropped
    ]
    table = pa.table(
        {
            "subject_id": pa.array([r[0] for r in rows], pa.int64()),
            "time": pa.array([r[1] for r in rows], pa.timestamp("us")),
            "code": [r[2] for r in rows],
            "numeric_value": pa.array([r[3] for r in rows], pa.float32()),
        }
    )
    pq.write_table(table, tmp_path / "data.parquet")
    assert detect_format(tmp_path) == "meds"
    es = read_meds(tmp_path)
    got = _events(es)
    assert _one(got, code="weight")["numeric_value"] == pytest.approx(80.0, abs=0.01)
    ne = [
        (r["action"], round(r["numeric_value"], 3))
        for r in got
        if r["code"] == "infusion.norepinephrine"
    ]
    assert ne == [("start", 0.08), ("change", 0.12), ("stop", 0.0)]
    assert _one(got, code="fluid.crystalloid")["numeric_value"] == 500
    assert len([r for r in got if r["code"] == "map"]) == 1
    stays = es.stays_table().to_pylist()
    assert stays[0]["stay_id"] == 701 and stays[0]["trauma"] is True


@pytest.fixture
def eicu_dir(tmp_path: Path) -> Path:
    _csv(
        tmp_path / "patient.csv",
        [
            {
                "patientunitstayid": 300,
                "patienthealthsystemstayid": 30,
                "age": "> 89",
                "hospitaldischargeyear": 2015,
                "unitadmittime24": "10:30:00",
                "unitdischargeoffset": 2000,
                "unittype": "MICU",
                "admissionweight": "",
                "apacheadmissiondx": "Sepsis, pulmonary",
            },
        ],
    )
    drug = {
        "patientunitstayid": 300,
        "infusionrate": "",
        "drugamount": "",
        "volumeoffluid": "",
        "patientweight": "",
    }
    _csv(
        tmp_path / "infusiondrug.csv",
        [
            {**drug, "infusionoffset": 60, "drugname": "Norepinephrine (mcg/min)", "drugrate": "8"},
            # unit trap: mL/h with the concentration in drugamount / volumeoffluid (4 mg / 250 mL)
            {
                **drug,
                "infusionoffset": 120,
                "drugname": "Norepinephrine (ml/hr)",
                "drugrate": "30",
                "drugamount": "4",
                "volumeoffluid": "250",
            },
            # unit trap: no unit at all
            {**drug, "infusionoffset": 130, "drugname": "Norepinephrine ()", "drugrate": "3.8"},
            {
                **drug,
                "infusionoffset": 180,
                "drugname": "Norepinephrine (mcg/min)",
                "drugrate": "0",
            },
            {
                **drug,
                "infusionoffset": 60,
                "drugname": "Volume (ml) Phenylephrine ()",
                "drugrate": "10",
            },
        ],
    )
    _csv(
        tmp_path / "vitalaperiodic.csv",
        [
            {
                "patientunitstayid": 300,
                "observationoffset": 55,
                "noninvasivesystolic": 85,
                "noninvasivediastolic": 45,
                "noninvasivemean": 58,
            },
        ],
    )
    io = {"patientunitstayid": 300, "intakeoutputoffset": 0, "cellvaluetext": ""}
    _csv(
        tmp_path / "intakeoutput.csv",
        [
            # unit trap: body weight charted in pounds
            {
                **io,
                "cellpath": "flowsheet|Flowsheet Cell Labels|I&O|Weight|Bodyweight (lb)",
                "celllabel": "Bodyweight (lb)",
                "cellvaluenumeric": 176.37,
            },
            {
                **io,
                "intakeoutputoffset": 90,
                "cellpath": "flowsheet|Flowsheet Cell Labels|I&O|Output (ml)|Urine|Urine",
                "celllabel": "Urine",
                "cellvaluenumeric": 45,
            },
            {
                **io,
                "intakeoutputoffset": 30,
                "cellpath": "flowsheet|Flowsheet Cell Labels|I&O|Intake (ml)|Crystalloids (ml)|NS",
                "celllabel": "NS",
                "cellvaluenumeric": 1000,
            },
        ],
    )
    return tmp_path


def test_eicu_finds_units_in_drug_names_and_converts_pounds(eicu_dir: Path) -> None:
    es = read_eicu(eicu_dir)
    rows = _events(es)
    ne = [r for r in rows if r["code"] == "infusion.norepinephrine" and r["quality"] is None]
    assert [(r["action"], r["numeric_value"], r["unit"]) for r in ne] == [
        ("start", 8.0, "ug/min"),
        ("change", 30.0, "mL/h"),
        ("stop", 0.0, "mL/h"),
    ]
    assert ne[1]["concentration"] == pytest.approx(16.0)
    flagged = _one(rows, code="infusion.norepinephrine", quality="unit_unknown")
    assert flagged["source"] == "infusiondrug//Norepinephrine ()"
    assert _one(rows, code="weight")["numeric_value"] == pytest.approx(80.0, abs=0.01)
    assert _one(rows, code="map")["method"] == "noninvasive"
    assert _one(rows, code="urine_output")["numeric_value"] == 45
    assert _one(rows, code="fluid.crystalloid")["numeric_value"] == 1000
    assert not [r for r in rows if r["code"] == "infusion.phenylephrine"]
    stay = es.stays_table().to_pylist()[0]
    assert stay["admission"] == _utc("2015-01-01T10:30:00") and stay["age_years"] is None
    assert _one(rows, code="map")["time"] == _utc("2015-01-01T11:25:00")


def test_clif_stop_rows_stop_and_fluid_rates_become_volumes(tmp_path: Path) -> None:
    t = _utc
    pq.write_table(
        pa.table(
            {
                "patient_id": ["9"],
                "hospitalization_id": ["900"],
                "in_dttm": [t("2150-01-01T00:00")],
                "out_dttm": [t("2150-01-02T00:00")],
                "location_name": ["Trauma SICU (TSICU)"],
                "location_category": ["icu"],
            }
        ),
        tmp_path / "clif_adt.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "hospitalization_id": ["900", "900"],
                "recorded_dttm": [t("2150-01-01T01:00")] * 2,
                "vital_category": ["map", "weight_kg"],
                "vital_value": [62.0, 80.0],
                "meas_site_name": [None, None],
            }
        ),
        tmp_path / "clif_vitals.parquet",
    )
    meds = [
        ("norepinephrine", "start", 0.1, "mcg/kg/min", "2150-01-01T01:10"),
        ("norepinephrine", "dose_change", 0.2, "mcg/kg/min", "2150-01-01T02:00"),
        # trap: CLIF charts the last dose on a stop row; it means 0
        ("norepinephrine", "stop", 0.2, "mcg/kg/min", "2150-01-01T03:00"),
        ("vasopressin", "start", 2.4, "units/hour", "2150-01-01T02:30"),
        ("vasopressin", "stop", 2.4, "units/hour", "2150-01-01T03:30"),
        ("sodium chloride", "start", 100.0, "mL/hour", "2150-01-01T00:00"),
        ("sodium chloride", "stop", 100.0, "mL/hour", "2150-01-01T05:00"),
    ]
    pq.write_table(
        pa.table(
            {
                "hospitalization_id": ["900"] * len(meds),
                "med_order_id": [m[0] for m in meds],
                "med_category": [m[0] for m in meds],
                "mar_action_category": [m[1] for m in meds],
                "med_dose": pa.array([m[2] for m in meds], pa.float32()),
                "med_dose_unit": [m[3] for m in meds],
                "admin_dttm": [t(m[4]) for m in meds],
            }
        ),
        tmp_path / "clif_medication_admin_continuous.parquet",
    )
    assert detect_format(tmp_path) == "clif"
    rows = _events(read_clif(tmp_path))
    ne = [
        (r["action"], round(r["numeric_value"], 3))
        for r in rows
        if r["code"] == "infusion.norepinephrine"
    ]
    assert ne == [("start", 0.1), ("change", 0.2), ("stop", 0.0)]
    vaso = _one(rows, code="infusion.vasopressin", action="start")
    assert (round(vaso["numeric_value"], 4), vaso["unit"]) == (0.04, "U/min")
    fluid = _one(rows, code="fluid.crystalloid")
    assert fluid["numeric_value"] == pytest.approx(500.0)  # 100 mL/h for 5 h
    assert fluid["time"] == t("2150-01-01T05:00")


def test_an_unknown_folder_is_a_dataset_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(DatasetError, match="not a dataset"):
        open_dataset(str(tmp_path))
    with pytest.raises(DatasetError, match="no dataset"):
        open_dataset("no-such-dataset-name")


@pytest.mark.parametrize(
    ("dx", "trauma", "brain"),
    [
        ("Head only trauma", True, True),
        ("Pelvis/multiple trauma", True, False),
        ("Hip replacement, total (non-traumatic)", False, False),
        ("Bleeding, upper GI", False, False),
    ],
)
def test_eicu_trauma_comes_from_the_admission_diagnosis(
    tmp_path: Path, dx: str, trauma: bool, brain: bool
) -> None:
    _csv(tmp_path / "patient.csv", [
        {"patientunitstayid": 1, "patienthealthsystemstayid": 1, "age": "40",
         "hospitaldischargeyear": 2014, "unitadmittime24": "08:00:00",
         "unitdischargeoffset": 100, "unittype": "SICU", "admissionweight": "70",
         "apacheadmissiondx": dx},
    ])
    stay = read_eicu(tmp_path).stays_table().to_pylist()[0]
    assert (stay["trauma"], stay["brain_injury"]) == (trauma, brain)


def test_a_folder_name_that_is_not_an_identifier_still_reads(mimic_dir: Path) -> None:
    odd = mimic_dir.parent / "rows-1e+08 (copy)"
    mimic_dir.rename(odd)
    es = open_dataset(str(odd))
    assert es.dataset == "rows-1e+08 (copy)"
    assert check_events(es.con, es.events) == []
