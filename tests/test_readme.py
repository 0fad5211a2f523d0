"""The README's examples run as written: its site file, its commands and its sample output."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
VASOGUIDE = [sys.executable, "-m", "vasoguide"]


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def _run(args: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VASOGUIDE, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def _flat(text: str) -> str:
    # Rich's boxes and wrapping are layout, not content.
    return " ".join(re.sub(r"[\u2500-\u257f]", " ", text).split())


def test_the_readme_site_file_passes_protocol_check(tmp_path: Path) -> None:
    sites = [b for b in _blocks("yaml") if "settings:" in b]
    assert sites, "the README shows a site file"
    for i, text in enumerate(sites):
        site = tmp_path / f"site{i}.yaml"
        site.write_text(text, encoding="utf-8")
        done = _run(["protocol", "check", "--site", str(site)])
        assert done.returncode == 0, done.stdout + done.stderr
        done = _run(["assess", "src/vasoguide/examples/1-septic-start.json", "--site", str(site)])
        assert done.returncode == 0, done.stderr


def test_the_readme_console_example_is_what_the_cli_prints() -> None:
    consoles = _blocks("console")
    assert consoles
    for block in consoles:
        lines = block.strip().splitlines()
        command = lines[0].removeprefix("$ ")
        args = shlex.split(command)
        assert args[0] == "vasoguide"
        done = _run(args[1:])
        assert done.returncode == 0, done.stderr
        shown = _flat(done.stdout)
        for line in lines[1:]:
            if line.startswith("..."):
                continue
            for part in (p.strip() for p in line.split("...")):
                if part:
                    assert _flat(part) in shown, f"README line not in output: {part!r}"


@pytest.mark.parametrize(
    "command", sorted(set(re.findall(r"`(vasoguide dose [^`]+)`", README)))
)
def test_the_readme_dose_commands_run(command: str) -> None:
    done = _run(shlex.split(command)[1:])
    assert done.returncode == 0, done.stderr
    assert "mL/h" in done.stdout
