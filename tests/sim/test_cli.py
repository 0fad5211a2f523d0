"""`vasoguide simulate` writes the report and the table; the parameter table is sourced."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from vasoguide.sim.cli import register
from vasoguide.sim.params import DEFAULT_PARAMS, load_params

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command, so typer keeps `simulate` as a subcommand
        """Nothing."""

    return app


def test_simulate_writes_report_table_and_sweep(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(app, [
        "simulate", "--patients", "3", "--hours", "1", "--workers", "1",
        "--sweep-patients", "2", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text(encoding="utf-8")
    for text in ("Results by policy", "closed-loop", "manual", "Parameters", "Li 2024",
                 "Oualha 2014", "Sweep", "vs default", "Model limits", "data:image/png;base64"):
        assert text in page
    table = pq.read_table(out / "patients.parquet")
    assert table.num_rows == 9  # 3 patients x 3 policies
    assert (out / "patients.csv").read_text(encoding="utf-8").startswith("policy,patient")
    assert (out / "sweep.csv").exists()
    assert (out / "traces.png").stat().st_size > 1000


def test_unknown_policy_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "--policy", "autopilot", "--out", str(tmp_path)])
    assert result.exit_code == 2


def test_every_parameter_has_a_source_tag_in_the_report_table() -> None:
    params = load_params()
    rows = params.table()
    assert len(rows) == len(params.items) > 40
    assert all(source.startswith(("[V]", "[D]", "[M]", "[C]", "[fit]")) for *_, source in rows)


def test_a_parameter_without_source_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(DEFAULT_PARAMS.read_text(encoding="utf-8").replace(
        'source: "[V] Li 2024 Table 3 (Q; no IIV)"', 'source: "trust me"'), encoding="utf-8")
    import yaml

    raw = yaml.safe_load(bad.read_text(encoding="utf-8"))
    from vasoguide.sim.params import _param

    with pytest.raises(ValueError, match="source must start"):
        _param("q", raw["q"])


def test_override_file_changes_one_parameter(tmp_path: Path) -> None:
    f = tmp_path / "o.yaml"
    f.write_text("nurse_delay: 10\n", encoding="utf-8")
    p = load_params(f)
    assert p["nurse_delay"] == 10
    assert p.items["nurse_delay"].source.startswith("[C]")
    f.write_text("no_such: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no such parameter"):
        load_params(f)
