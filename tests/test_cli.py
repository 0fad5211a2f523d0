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
