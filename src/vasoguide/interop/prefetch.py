"""Prefetch templates (CDS Hooks 2.0 subset) and the tokens that fill them.

2.0 allows only root-level primitive context fields as tokens (`{{context.patientId}}`), so
time windows cannot be written (`today()` is 3.0); searches are bounded with `_sort` and
`_count` instead. Codes come from the coding tables, so a new LOINC code is fetched too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .codes import CodeTables

__all__ = ["fill", "is_error", "templates"]

_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")


def _codes(pairs: list[tuple[str, str]]) -> str:
    return ",".join(f"{system}|{code}" for system, code in pairs)


def templates(tables: CodeTables, *, observations_count: int = 200) -> dict[str, str]:
    """The service's prefetch templates; every key is required (fetched when not prefetched)."""
    weight = tables.observation_codings("weight")
    others = [k for k, v in tables.observations.exact.items() if v.meaning["concept"] != "weight"]
    others += sorted(tables.panels)
    others += tables.section_codings("care_observations")  # tests, bleeding, events, fluids
    patient = "{{context.patientId}}"
    return {
        "patient": f"Patient/{patient}",
        "weight": f"Observation?patient={patient}&code={_codes(weight)}&_sort=-date&_count=1",
        "observations": f"Observation?patient={patient}&code={_codes(others)}"
        f"&_sort=-date&_count={observations_count}",
        "conditions": f"Condition?patient={patient}&clinical-status=active&_count=100",
        "medicationrequests": f"MedicationRequest?patient={patient}&status=active&_count=100",
        # Vasopressor segments and fluids, newest first.
        "medicationadministrations": f"MedicationAdministration?patient={patient}"
        "&_sort=-effective-time&_count=200",
        # Transfusions, line insertions, bleeding control.
        "procedures": f"Procedure?patient={patient}"
        f"&code={_codes(tables.section_codings('procedures'))}&_sort=-date&_count=100",
        "devices": f"Device?patient={patient}"
        f"&type={_codes(tables.section_codings('devices'))}&_count=50",
    }


def fill(template: str, context: Mapping[str, Any], user: str | None = None) -> str | None:
    """The template with its tokens replaced, or None when a token has no primitive value."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        found: Any = None
        if name.startswith("context."):
            found = context.get(name.removeprefix("context."))
        elif name.startswith("user") and name.endswith("Id") and user:
            kind = name.removeprefix("user").removesuffix("Id")
            prefix = f"{kind}/"
            found = user.removeprefix(prefix) if user.startswith(prefix) else None
        if not isinstance(found, str | int) or isinstance(found, bool) or found == "":
            missing = True
            return ""
        return quote(str(found), safe="")

    out = _TOKEN.sub(value, template)
    return None if missing else out


def is_error(value: Any) -> bool:
    """True for an OperationOutcome a client put in place of data it could not fetch."""
    return isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome"
