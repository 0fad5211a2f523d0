"""Shared fixtures: the packaged protocol, example states, and the shared folder beside the repo."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from vasoguide.protocol import Protocol, load_protocol
from vasoguide.protocol.examples import expand

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONTRACT = SHARED / "contract"
SEED = SHARED / "seed" / "000_d16707d6a8fcc8f8.txt"


@pytest.fixture(scope="session")
def protocol() -> Protocol:
    return load_protocol()


@pytest.fixture
def base(protocol: Protocol):  # type: ignore[no-untyped-def]
    """`base("septic_adult", map=60)`: a full PatientState dict from the KB's example bases."""

    def make(name: str, **given: Any) -> dict[str, Any]:
        return expand({"base": name, **given}, protocol.bases)

    return make


def contract_cases() -> list[dict[str, Any]]:
    folder = CONTRACT / "examples"
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text()) | {"_file": p.name} for p in sorted(folder.glob("*.json"))]


def deep(d: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(d)
