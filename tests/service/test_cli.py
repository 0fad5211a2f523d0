"""`vasoguide serve` and `vasoguide trail verify` (registered on the main CLI)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from vasoguide.service.cli import register
from vasoguide.service.trail import Trail


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """vasoguide (test harness)"""

    register(app)
    return app


def test_trail_verify_exit_codes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trail.sqlite'}"
    trail = Trail(url)
    for i in range(3):
        trail.append("cards", {"i": i}, protocol_digest="sha256:x",
                     time=datetime(2026, 3, 1, tzinfo=UTC))
    runner = CliRunner()
    ok = runner.invoke(cli(), ["trail", "verify", "--db", url])
    assert ok.exit_code == 0 and "3 records" in ok.output
    with trail.engine.begin() as conn:
        conn.execute(text("UPDATE trail_record SET payload = :p WHERE seq = 2"), {"p": '{"i":9}'})
    broken = runner.invoke(cli(), ["trail", "verify", "--db", url])
    assert broken.exit_code == 1 and "record 2" in broken.output


def test_serve_starts_with_embedded_defaults(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}  # the default trail goes here
    code = "from vasoguide.cli import main; main()"
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health is not None and health["status"] == "ok"
        assert (tmp_path / "vasoguide" / "trail.sqlite").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_serve_refuses_open_access_off_loopback(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli(), ["serve", "--host", "0.0.0.0", "--db",
                                   f"sqlite:///{tmp_path / 't.sqlite'}"])
    assert result.exit_code == 2 and "no trusted issuer" in result.output
