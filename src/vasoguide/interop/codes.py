"""Coding tables: which FHIR codings mean which vasoguide concept, read from `codes.yaml`.

The tables are data (CONVENTIONS 1): adding a LOINC or RxNorm code is an edit of the YAML, not
of the code. Lookups are exact on (system, code); ICD-10 entries marked `prefix` also match their
subdivisions. Nothing is ever matched on display text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = [
    "CodeEntry",
    "CodeTables",
    "Coding",
    "tables",
]

Coding = tuple[str, str]  # (system URI, code)


@dataclass(frozen=True)
class CodeEntry:
    """One row of a coding table; `meaning` holds the row's concept fields (concept, drug, ...)."""

    system: str
    code: str
    display: str
    meaning: Mapping[str, str]
    prefix: bool = False
    verified: bool = True


@dataclass(frozen=True)
class _Table:
    exact: dict[Coding, CodeEntry] = field(default_factory=dict)
    prefixes: list[CodeEntry] = field(default_factory=list)

    def find(self, codings: Iterable[Coding]) -> CodeEntry | None:
        for system, code in codings:
            hit = self.exact.get((system, code))
            if hit is not None:
                return hit
            for entry in self.prefixes:
                if system == entry.system and code.upper().startswith(entry.code.upper()):
                    return entry
        return None


@dataclass(frozen=True)
class CodeTables:
    systems: Mapping[str, str]
    observations: _Table
    refused: dict[Coding, str]
    panels: frozenset[Coding]
    methods: _Table
    drugs: _Table
    conditions: _Table
    override_system: str
    override_reasons: tuple[tuple[str, str], ...]  # (code, display)
    rate_tolerance: float  # fraction of the expected pump rate
    rate_decimals: int

    def observation(self, codings: Iterable[Coding]) -> CodeEntry | None:
        return self.observations.find(codings)

    def drug(self, codings: Iterable[Coding]) -> CodeEntry | None:
        return self.drugs.find(codings)

    def condition(self, codings: Iterable[Coding]) -> CodeEntry | None:
        return self.conditions.find(codings)

    def method(self, codings: Iterable[Coding]) -> CodeEntry | None:
        return self.methods.find(codings)

    def refusal(self, codings: Iterable[Coding]) -> str | None:
        for coding in codings:
            if coding in self.refused:
                return self.refused[coding]
        return None

    def is_panel(self, codings: Iterable[Coding]) -> bool:
        return any(c in self.panels for c in codings)

    def drug_codings(self, drug: str) -> list[Coding]:
        return [k for k, v in self.drugs.exact.items() if v.meaning.get("drug") == drug]

    def observation_codings(self, concept: str) -> list[Coding]:
        table = self.observations.exact
        return [k for k, v in table.items() if v.meaning.get("concept") == concept]


_ROW_KEYS = {"system", "code", "display", "conf", "verified", "prefix"}


def _table(rows: list[dict[str, Any]], systems: Mapping[str, str], path: str) -> _Table:
    table = _Table()
    for i, row in enumerate(rows):
        system = systems.get(str(row["system"]), str(row["system"]))
        code = row["code"]
        if not isinstance(code, str):
            raise ValueError(f"{path}[{i}].code: codes are strings, got {code!r}")
        meaning = {k: str(v) for k, v in row.items() if k not in _ROW_KEYS}
        entry = CodeEntry(
            system=system,
            code=code,
            display=str(row.get("display", "")),
            meaning=meaning,
            prefix=bool(row.get("prefix", False)),
            verified=bool(row.get("verified", True)),
        )
        if entry.prefix:
            table.prefixes.append(entry)
        else:
            if (system, code) in table.exact:
                raise ValueError(f"{path}[{i}]: duplicate code {system}|{code}")
            table.exact[(system, code)] = entry
    return table


def load_tables(data: Mapping[str, Any]) -> CodeTables:
    """Build the tables from the parsed YAML; raises ValueError naming the bad row."""
    systems: dict[str, str] = {str(k): str(v) for k, v in data["systems"].items()}

    def coding(row: Mapping[str, Any]) -> Coding:
        return systems.get(str(row["system"]), str(row["system"])), str(row["code"])

    reasons = data["override_reasons"]
    return CodeTables(
        systems=systems,
        observations=_table(data["observations"], systems, "observations"),
        refused={coding(r): str(r["reason"]) for r in data.get("observations_refused", [])},
        panels=frozenset(coding(r) for r in data.get("panels", [])),
        methods=_table(data.get("methods", []), systems, "methods"),
        drugs=_table(data["drugs"], systems, "drugs"),
        conditions=_table(data["conditions"], systems, "conditions"),
        override_system=str(reasons["system"]),
        override_reasons=tuple((str(r["code"]), str(r["display"])) for r in reasons["reasons"]),
        rate_tolerance=float(data["order_checks"]["rate_tolerance_fraction"]),
        rate_decimals=int(data["order_checks"]["rate_decimals"]),
    )


@cache
def tables() -> CodeTables:
    """The packaged coding tables, parsed once per process."""
    text = resources.files(__package__).joinpath("codes.yaml").read_text(encoding="utf-8")
    return load_tables(yaml.safe_load(text))
