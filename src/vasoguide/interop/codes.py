"""Coding tables: which FHIR codings mean which vasoguide concept, read from `codes.yaml`.

The tables are data (CONVENTIONS 1): adding a LOINC or RxNorm code is an edit of the YAML, not
of the code. Lookups are exact on (system, code); ICD-10 entries marked `prefix` also match their
subdivisions. Nothing is ever matched on display text.

A site adds its local codes in a site mapping file (YAML, the same sections and row shape as
`codes.yaml`), named by the environment variable `VASOGUIDE_SITE_CODES`: its rows are added to
the packaged ones (a code in both is an error, so a site cannot silently change a meaning).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CARE_SECTIONS",
    "SITE_CODES_ENV",
    "CodeEntry",
    "CodeTables",
    "Coding",
    "load_tables",
    "tables",
]

Coding = tuple[str, str]  # (system URI, code)

# Sections about care beyond vitals and vasopressors: fluids, tests, lines, bleeding, events.
CARE_SECTIONS = (
    "fluids", "procedures", "devices", "care_observations", "test_results", "routes",
)
SITE_CODES_ENV = "VASOGUIDE_SITE_CODES"


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
    care: Mapping[str, _Table] = field(default_factory=dict)

    def find(self, section: str, codings: Iterable[Coding]) -> CodeEntry | None:
        """The row of a care section (`CARE_SECTIONS`) matching one of `codings`."""
        table = self.care.get(section)
        return table.find(codings) if table is not None else None

    def section_codings(self, section: str) -> list[Coding]:
        table = self.care.get(section)
        return sorted(table.exact) if table is not None else []

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


def _merge(data: Mapping[str, Any], site: Mapping[str, Any]) -> dict[str, Any]:
    """The packaged tables plus a site's rows (lists are appended; systems may be added)."""
    out = dict(data)
    out["systems"] = {**data["systems"], **(site.get("systems") or {})}
    for key, rows in site.items():
        if key in ("systems", "version"):
            continue
        if not isinstance(rows, list):
            raise ValueError(f"site codes: section {key!r} must be a list of rows")
        if key not in ("observations", "drugs", "conditions", "methods", *CARE_SECTIONS):
            raise ValueError(f"site codes: unknown section {key!r}")
        out[key] = [*(data.get(key) or []), *rows]
    return out


def load_tables(data: Mapping[str, Any], site: Mapping[str, Any] | None = None) -> CodeTables:
    """Build the tables from the parsed YAML (and a site file's); ValueError names the bad row."""
    if site:
        data = _merge(data, site)
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
        care={k: _table(data.get(k) or [], systems, k) for k in CARE_SECTIONS},
    )


@cache
def tables() -> CodeTables:
    """The packaged coding tables plus the site file's (`VASOGUIDE_SITE_CODES`), parsed once."""
    text = resources.files(__package__).joinpath("codes.yaml").read_text(encoding="utf-8")
    site_path = os.environ.get(SITE_CODES_ENV)
    site = yaml.safe_load(Path(site_path).read_text(encoding="utf-8")) if site_path else None
    return load_tables(yaml.safe_load(text), site)
