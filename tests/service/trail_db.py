"""Trail databases for the tests: a fresh SQLite file, and the throwaway PostgreSQL cluster of
`scripts/postgres.sh` (started here when `VASOGUIDE_TEST_PG_URL` is unset; the tests that need
it are skipped, with the reason, only when the server cannot be started)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

SCRIPT = Path(__file__).parents[2] / "scripts" / "postgres.sh"
TABLES = ("trail_card", "trail_jti", "trail_record", "trail_head")


@pytest.fixture(scope="session", name="pg_url")
def pg_url_fixture() -> str:
    url = os.environ.get("VASOGUIDE_TEST_PG_URL", "").strip()
    if not url:
        try:
            run = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True,
                                 text=True, timeout=180, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"PostgreSQL could not be started: {type(exc).__name__}")
        lines = run.stdout.strip().splitlines()
        if run.returncode != 0 or not lines:
            pytest.skip(f"PostgreSQL could not be started (scripts/postgres.sh): "
                        f"{run.stderr.strip()[-300:]}")
        url = lines[-1]
    pytest.importorskip("psycopg", reason="psycopg is not installed (the `postgres` extra)")
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect is a skip reason
        pytest.skip(f"PostgreSQL at {url} is not reachable: {type(exc).__name__}")
    return url


def reset_postgres(url: str) -> None:
    """Drop the trail's tables: every test starts from an empty trail."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS " + ", ".join(TABLES) + " CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"], name="db_url")
def db_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'trail.sqlite'}"
    url: str = request.getfixturevalue("pg_url")
    reset_postgres(url)
    return url
