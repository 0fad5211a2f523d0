"""Small typed readers over FHIR R4 JSON (plain dicts).

Why dicts and not `fhir.resources`: its root package is R5 and its R4B models are not strictly
R4; pydantic-validating a whole Bundle rejects it on the first structural fault, whereas we must
use every usable resource and report the rest; and a handful of fields is all we read, on a hot
path (order-sign) with a latency budget. Each reader here is total: it returns None for absent
or malformed data instead of raising, and callers report what they could not use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from .codes import Coding

__all__ = [
    "UCUM",
    "codings",
    "get_list",
    "get_map",
    "iter_resources",
    "parse_date",
    "parse_instant",
    "quantity",
    "ratio",
    "ref_of",
]

UCUM = "http://unitsofmeasure.org"

Resource = Mapping[str, Any]


# FHIR JSON arrives as plain dicts (json.loads); `dict` checks are several times faster than
# `Mapping` ones, which matters on the order-sign path (thousands of lookups a request).


def get_map(obj: Any, key: str) -> dict[str, Any] | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else None


def get_list(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def ref_of(resource: Resource) -> str:
    """`Type/id` for reports; `Type/(no id)` when the resource has no id."""
    rid = resource.get("id")
    kind = resource.get("resourceType", "Resource")
    return f"{kind}/{rid if isinstance(rid, str) else '(no id)'}"


def codings(concept: Any) -> list[Coding]:
    """The (system, code) pairs of a CodeableConcept; codings without both are skipped."""
    out: list[Coding] = []
    for coding in get_list(concept, "coding"):
        system, code = (coding.get("system"), coding.get("code")) if isinstance(
            coding, dict
        ) else (None, None)
        if isinstance(system, str) and isinstance(code, str):
            out.append((system, code.strip()))
    return out


def parse_instant(text: Any) -> datetime | None:
    """A FHIR dateTime/instant with a clock time and a UTC offset; partial dates give None.

    A measurement time without a clock time or without an offset cannot be placed against "now"
    safely, so it is refused rather than assumed to be midnight or UTC.
    """
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        value = datetime.fromisoformat(text)  # 3.11 reads the "Z" suffix
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def parse_date(text: Any) -> date | None:
    """A FHIR date (YYYY-MM-DD); partial dates (YYYY, YYYY-MM) give None."""
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def quantity(q: Any) -> tuple[float, str] | None:
    """(value, unit) of a Quantity: the UCUM `code` when coded in UCUM, else the display `unit`."""
    if not isinstance(q, dict):
        return None
    value = q.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    code, unit = q.get("code"), q.get("unit")
    if q.get("system") == UCUM and isinstance(code, str) and code:
        return float(value), code
    if isinstance(unit, str):
        return float(value), unit
    if isinstance(code, str):
        return float(value), code
    return float(value), ""


def ratio(r: Any) -> tuple[float, str] | None:
    """A Ratio as one quantity: 8 mL / 1 min -> (8, "mL/min"); 4 mg / 250 mL -> (0.016, "mg/mL")."""
    num = quantity(get_map(r, "numerator"))
    den = quantity(get_map(r, "denominator"))
    if num is None or den is None or den[0] == 0 or not num[1] or not den[1]:
        return None
    den_unit = den[1] if not den[1][0].isdigit() else f"({den[1]})"
    return num[0] / den[0], f"{num[1]}/{den_unit}"


def iter_resources(data: Any) -> Iterator[tuple[Resource, str | None]]:
    """Every resource in a Bundle, a resource, or a prefetch mapping, with its fullUrl.

    Nested Bundles (a prefetch key holding a searchset) are flattened; OperationOutcomes are
    yielded too so that callers can report them.
    """
    if not isinstance(data, Mapping):
        return
    if "resourceType" not in data:  # a prefetch mapping: key -> resource | Bundle | None
        for value in data.values():
            yield from iter_resources(value)
        return
    if data.get("resourceType") == "Bundle":
        for entry in get_list(data, "entry"):
            resource = get_map(entry, "resource")
            if resource is None:
                continue
            if resource.get("resourceType") == "Bundle":
                yield from iter_resources(resource)
            else:
                full = entry.get("fullUrl") if isinstance(entry, Mapping) else None
                yield resource, full if isinstance(full, str) else None
        return
    yield data, None


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


__all__ += ["Resource", "utc_iso"]
