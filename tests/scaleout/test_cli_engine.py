"""`vasoguide audit --engine`: a bad engine, or Spark without Java, is one sentence and exit 2."""

from __future__ import annotations

from pathlib import Path

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


def test_an_unknown_engine_is_refused(app: typer.Typer, tmp_path: Path) -> None:
    res = runner.invoke(app, ["audit", "--engine", "hadoop", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "--engine 'hadoop' is not one of local, spark" in res.output


def test_spark_without_java_says_what_to_install(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark")
    generate(tmp_path / "data", stays=1, seed=3)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    res = runner.invoke(app, ["audit", "--engine", "spark", "--dataset", str(tmp_path / "data"),
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "Spark 4 needs a Java runtime 17 or newer" in res.output
    assert "Traceback" not in res.output
