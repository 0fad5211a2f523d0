"""Concept dictionaries: canonical concepts, per-source code maps, vectorised unit conversion.

Like ricu's concept dictionary, what a source code means is data (`concepts/*.yaml`), not code.
Unit conversion reuses vasoguide.units: one factor per distinct (concept, unit) pair is computed
with pint and joined onto the rows in DuckDB, so no Python touches individual rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from ..errors import UnitError
from ..units import Kind, dose_basis, factor

__all__ = [
    "Concept",
    "canonical_concepts",
    "load_source_map",
    "nee_terms",
    "normalise",
]


@dataclass(frozen=True)
class Concept:
    code: str
    kind: str  # a vasoguide.units.Kind value, or "dose"
    unit: str | None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    accepted_source: str | None = None

    def accepted_sql(self, column: str = "v") -> str:
        """SQL predicate: the value lies in the concept's accepted (artefact-free) range."""
        parts = [
            f"{column} {op} {bound!r}"
            for op, bound in ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le))
            if bound is not None
        ]
        return " AND ".join(parts) or "true"


@cache
def _yaml(name: str) -> dict[str, Any]:
    text = resources.files("vasoguide.timeline.concepts").joinpath(name).read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):  # pragma: no cover - shipped files are dicts
        raise ValueError(f"concept file {name} is not a mapping")
    return data


@cache
def canonical_concepts() -> dict[str, Concept]:
    out: dict[str, Concept] = {}
    for code, spec in _yaml("concepts.yaml")["concepts"].items():
        acc = spec.get("accepted") or {}
        out[code] = Concept(
            code=code,
            kind=spec["kind"],
            unit=spec.get("unit"),
            gt=acc.get("gt"),
            ge=acc.get("ge"),
            lt=acc.get("lt"),
            le=acc.get("le"),
            accepted_source=spec.get("accepted_source"),
        )
    return out


def load_source_map(source: str) -> dict[str, Any]:
    """The mapping file of one source (`mimic`, `meds`, `eicu`, `clif`)."""
    return _yaml(f"{source}.yaml")


@cache
def nee_terms() -> dict[str, tuple[float, str]]:
    """Norepinephrine-equivalent factors: concept -> (factor, the dose unit it multiplies)."""
    terms = _yaml("concepts.yaml")["norepinephrine_equivalent"]["terms"]
    return {code: (float(t["factor"]), str(t["unit"])) for code, t in terms.items()}


def _conversion(code: str, unit: str | None) -> tuple[str | None, float | None]:
    """(canonical unit, factor) for a charted unit of `code`; (None, None) if not convertible."""
    concept = canonical_concepts().get(code)
    if concept is None or unit is None:
        return None, None
    try:
        if concept.kind == "dose":
            basis, scale = dose_basis(unit)
            return basis.value, scale
        return concept.unit, factor(unit, Kind(concept.kind))
    except (UnitError, ValueError):
        return None, None


def normalise(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    aliases: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
) -> duckdb.DuckDBPyRelation:
    """Convert `raw` rows to canonical units and flag artefacts, vectorised.

    `raw` has the event columns with `src_unit` (as charted) instead of `unit`. Each distinct
    (code, src_unit) pair gets one factor from vasoguide.units; rows whose unit is missing or not
    convertible are flagged `unit_unknown`; values outside a concept's accepted range are flagged
    `implausible`. Existing quality flags are kept; `extra` columns are passed through.
    """
    aliases = aliases or {}
    pairs = con.sql(f"SELECT DISTINCT code, src_unit FROM {raw}").fetchall()
    codes, srcs, units, factors = [], [], [], []
    for code, src in pairs:
        spelled = aliases.get(src, src) if src is not None else None
        unit, fac = _conversion(code, spelled if spelled != "" else None)
        codes.append(code)
        srcs.append(src)
        units.append(unit)
        factors.append(fac)
    table = pa.table(
        {
            "code": pa.array(codes, pa.string()),
            "src_unit": pa.array(srcs, pa.string()),
            "unit": pa.array(units, pa.string()),
            "factor": pa.array(factors, pa.float64()),
        }
    )
    name = f"_units_{abs(hash(raw)) % 10**8}"
    con.register(name, table)
    ranges = " ".join(
        f"WHEN '{c.code}' THEN {c.accepted_sql('v')}"
        for c in canonical_concepts().values()
        if c.accepted_sql() != "true"
    )
    accepted = f"CASE r.code {ranges} ELSE true END" if ranges else "true"
    return con.sql(
        f"""
        WITH j AS (
            SELECT r.*, u.unit, u.factor, r.numeric_value * u.factor AS v
            FROM {raw} r LEFT JOIN {name} u
              ON r.code = u.code AND r.src_unit IS NOT DISTINCT FROM u.src_unit
        )
        -- a row without a convertible unit keeps its charted value (in its charted unit): a
        -- positive infusion rate is still evidence that the drug ran (audit exposure)
        SELECT subject_id, stay_id, time, code,
               CASE WHEN factor IS NULL AND isfinite(numeric_value) THEN numeric_value
                    ELSE v END AS numeric_value,
               coalesce(unit, src_unit) AS unit, method, action, concentration, source,
               CASE WHEN quality IS NOT NULL THEN quality
                    WHEN factor IS NULL THEN 'unit_unknown'
                    WHEN v IS NULL OR NOT isfinite(v) THEN 'implausible'
                    WHEN NOT ({accepted.replace('r.code', 'code')}) THEN 'implausible'
                    ELSE NULL END AS quality{"".join(", " + c for c in extra)}
        FROM j
        """
    )
