"""The command line, run as a user runs it: exit codes, messages naming fields, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vasoguide.cli import EXAMPLES

CMD = [sys.executable, "-m", "vasoguide"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_assess_json_is_one_assessment_document() -> None:
    proc = run("assess", str(EXAMPLES / "1-septic-start.json"), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["contract"] == "vasoguide.assessment/1"
    assert doc["decision"] == "START_NOREPINEPHRINE"


def test_assess_reads_standard_input() -> None:
    text = (EXAMPLES / "3-septic-wean.json").read_text()
    proc = run("assess", "-", "--json", stdin=text)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["decision"] == "DECREASE_NOREPINEPHRINE"


def test_readable_output_shows_mcg_and_concentration() -> None:
    proc = run("assess", str(EXAMPLES / "1-septic-start.json"))
    assert proc.returncode == 0
    assert "mcg/kg/min" in proc.stdout and "mL/h at 16" in proc.stdout
    assert "START NOREPINEPHRINE" in proc.stdout


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ("not json", "not JSON"),
        (
            '{"time": "2026-03-01T08:00:00Z", "observations": [{"code": "map", "value": 60, '
            '"unit": "kg", "time": "2026-03-01T07:55:00Z"}]}',
            "observations[0]",
        ),
        (
            '{"time": "2026-03-01T08:00:00Z", "context": {"shock_type": "anaphylactic"}}',
            "context.shock_type",
        ),
        ('{"time": "yesterday"}', "time"),
        ("[1, 2]", "(document)"),
    ],
)
def test_invalid_input_exits_2_naming_the_field(doc: str, field: str) -> None:
    proc = run("assess", "-", "--json", stdin=doc)
    assert proc.returncode == 2
    assert field in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_missing_file_exits_2() -> None:
    proc = run("assess", "/nonexistent/patient.json")
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_dose_forward_and_reverse() -> None:
    proc = run(
        "dose", "0.1", "ug/kg/min", "--weight", "80kg", "--concentration", "32ug/mL", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ml_h"] == pytest.approx(15.0)
    assert doc["limit"]["level"] == "ok"
    back = json.loads(
        run(
            "dose", "15", "mL/h", "--weight", "80kg", "--concentration", "8mg/250mL", "--json"
        ).stdout
    )
    assert back["ug_kg_min"] == pytest.approx(0.1)


def test_dose_flags_the_seed_unit_error() -> None:
    proc = run("dose", "0.02", "mg/kg/min", "--weight", "70kg")
    assert proc.returncode == 0
    assert "implausible" in proc.stdout


def test_dose_without_weight_for_a_per_kg_dose_is_an_error() -> None:
    proc = run("dose", "0.1", "ug/kg/min")
    assert proc.returncode == 2 and "weight" in proc.stderr


def test_protocol_show_and_check() -> None:
    shown = run("protocol", "show")
    assert shown.returncode == 0 and "target.septic-map-65" in shown.stdout
    one = run("protocol", "show", "--rule", "admin.start-dose")
    assert "0.02 mg/kg/min" in one.stdout and "Deviation" in one.stdout
    checked = run("protocol", "check")
    assert checked.returncode == 0, checked.stdout
    assert "0 problem(s)" in checked.stdout


def test_protocol_check_reports_every_problem_with_its_path(tmp_path: Path) -> None:
    import shutil

    from vasoguide.protocol import DEFAULT_KB

    kb = tmp_path / "kb"
    shutil.copytree(DEFAULT_KB, kb)
    rules = kb / "rules" / "targets.yaml"
    text = rules.read_text().replace(
        'source: ssc2021, recommendation: "initial MAP',
        'source: ssc2099, recommendation: "initial MAP',
    )
    text = text.replace(
        'map_low: {value: 65, unit: "mm[Hg]"', 'map_low: {value: 65, unit: "mm[Hgg]"'
    )
    rules.write_text(text)
    proc = run("protocol", "check", "--kb", str(kb), "--no-run-examples")
    assert proc.returncode == 1
    assert (
        "rules › target.septic-map-65 › citations[0] › source: unknown source 'ssc2099'"
        in proc.stdout
    )
    assert "thresholds › map_low › unit" in proc.stdout


def test_schema_of_both_documents() -> None:
    state = json.loads(run("schema", "state").stdout)
    out = json.loads(run("schema", "assessment").stdout)
    assert "observations" in state["properties"]
    assert "decision" in out["properties"]


def test_demo_runs_the_bundled_cases() -> None:
    proc = run("demo", "--json")
    assert proc.returncode == 0
    decisions = [json.loads(line)["decision"] for line in proc.stdout.splitlines()]
    assert decisions == [
        "START_NOREPINEPHRINE",
        "PERMISSIVE_HYPOTENSION",
        "DECREASE_NOREPINEPHRINE",
    ]


def test_published_json_schemas_are_current() -> None:
    from .conftest import REPO

    for doc, name in (("state", "patient-state"), ("assessment", "assessment")):
        committed = (REPO / "docs" / "schema" / f"{name}.schema.json").read_text()
        assert json.loads(committed) == json.loads(run("schema", doc).stdout), (
            f"regenerate: vasoguide schema {doc} > docs/schema/{name}.schema.json"
        )


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-0.1", "abc"])
def test_dose_refuses_what_is_not_a_dose(value: str) -> None:
    done = run("dose", value, "ug/kg/min", "--weight", "80kg", "--concentration", "16ug/mL")
    assert done.returncode == 2, done.stdout
    assert "dose" in done.stderr and "Traceback" not in done.stderr
    assert "ok" not in done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["15000", "mL/h", "--weight", "80kg", "--concentration", "16ug/mL"], "implausible"),
        (["0.1", "ug/kg/min", "--weight", "800kg", "--concentration", "16ug/mL"], "weight 800"),
        (["0.1", "ug/kg/min", "--weight", "80g", "--concentration", "16ug/mL"], "weight 0.08"),
    ],
)
def test_dose_checks_rate_and_weight_like_a_pump_library(args: list[str], words: str) -> None:
    done = run("dose", *args, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["limit"]["level"] == "implausible"
    assert words in doc["limit"]["message"]


def test_dose_salt_is_shown_as_entered_and_as_base() -> None:
    done = run("dose", "0.1", "ug/kg/min", "--weight", "80kg", "--concentration", "32ug/mL",
               "--salt", "--json")
    doc = json.loads(done.stdout)
    assert doc["concentration_entered_ug_ml"] == 32
    assert doc["concentration_entered_basis"] == "salt"
    assert doc["concentration_basis"] == "base" and doc["concentration_ug_ml"] < 32
    text = run("dose", "0.1", "ug/kg/min", "--weight", "80kg", "--concentration", "32ug/mL",
               "--salt").stdout
    assert f"{doc['concentration_ug_ml']:g} mcg/mL base" in text
    assert "32 mcg/mL tartrate salt" in text
    assert "(salt)" not in text


@pytest.mark.parametrize("bag", ["8 mg/250 mL", "8mg/250mL", "8 mg / 250 mL"])
def test_dose_takes_a_concentration_as_typed_on_a_bag(bag: str) -> None:
    doc = json.loads(run("dose", "15", "mL/h", "--concentration", bag, "--json").stdout)
    assert doc["concentration_ug_ml"] == 32
    assert doc["ug_min"] == 8


def test_a_bag_label_unit_is_accepted_in_a_patient_state() -> None:
    state = {
        "time": "2026-03-01T08:00:00Z",
        "patient": {"age_years": 60, "weight": {"value": 80, "unit": "kg"}},
        "infusions": [{"drug": "norepinephrine", "dose": {"value": 15, "unit": "mL/h"},
                       "concentration": {"value": 8, "unit": "mg/250 mL"},
                       "time": "2026-03-01T07:00:00Z"}],
    }
    done = run("assess", "-", "--json", stdin=json.dumps(state))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["norepinephrine"]["dose_ug_kg_min"] == 0.1


@pytest.mark.parametrize(
    ("site", "words"),
    [
        ("settings:\n  default_concentration: -16\n", "default_concentration: -16 is outside"),
        ("settings:\n  titration_interval: -5\n", "titration_interval: -5 is outside"),
        ("settings:\n  titration_interval: .nan\n", "titration_interval: nan is not a finite"),
        ("settings: [\n", "not valid YAML"),
        ("settings:\n  default_concentration: [1, 2]\n", "is not a number"),
        ("- just a list\n", "must be a mapping"),
        ("settings:\n  no_such_thing: 1\n", "no such site setting"),
    ],
)
def test_a_bad_site_file_is_named_never_a_traceback(
    tmp_path: Path, site: str, words: str
) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(site, encoding="utf-8")
    check = run("protocol", "check", "--site", str(path))
    assert check.returncode == 1 and words in check.stdout, check.stdout + check.stderr
    done = run("assess", "src/vasoguide/examples/1-septic-start.json", "--site", str(path))
    assert done.returncode == 2 and words in done.stderr
    assert "Traceback" not in check.stderr + done.stderr


def test_trace_with_a_missing_seed_exits_2() -> None:
    done = run("protocol", "trace", "--seed", "/no/such/seed.txt")
    assert done.returncode == 2 and "cannot read" in done.stderr
    assert "Traceback" not in done.stderr
