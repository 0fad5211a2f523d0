"""The public contract examples (../shared/contract) hold, in-process and through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from vasoguide import InputError, assess

from .conftest import CONTRACT, contract_cases

CASES = contract_cases()
pytestmark = pytest.mark.skipif(not CASES, reason="../shared/contract is not beside the repo")


@pytest.mark.parametrize("case", CASES, ids=[c["_file"] for c in CASES])
def test_contract_example_in_process(case: dict[str, Any]) -> None:
    expect = case["expect"]
    if expect.get("exit_code", 0) == 2:
        with pytest.raises(InputError):
            assess(case["input"])
        return
    a = assess(case["input"])
    want = expect.get("decision")
    if want:
        assert a.decision in (want if isinstance(want, list) else [want])
    codes = {x.code for x in [*a.actions, *a.alerts]}
    for code in expect.get("actions_include", []) + expect.get("alerts_include", []):
        assert code in codes
    for code in expect.get("actions_exclude", []) + expect.get("alerts_exclude", []):
        assert code not in codes


def test_contract_check_script_passes_against_the_cli() -> None:
    env = dict(os.environ, VASOGUIDE_CMD=f"{sys.executable} -m vasoguide")
    proc = subprocess.run(
        [sys.executable, str(CONTRACT / "check.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(CASES)} passed, 0 failed" in proc.stdout
