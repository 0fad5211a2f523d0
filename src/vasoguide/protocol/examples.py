"""Rule examples: compact `given` cases expanded into full PatientState documents.

An example starts from a named base state (`kb/examples/bases.yaml`) and changes only what it
is about, so a boundary pair reads as the guideline statement it checks:

    given: {base: septic_adult, map: 64}      # MAP 64 five minutes ago, everything else as base

Shorthands (all optional): `map`, `sbp`, `dbp` (a number: the only reading of that code, taken
`bp_ago` minutes before `time`, default 5, by `bp_method`, default arterial); `obs` (a list of
observations to add, each with `ago` minutes instead of `time`); `age_years`, `age_days`,
`weight_kg` (null removes the weight); `context` (merged into the base context); `fluids`,
`infusions`, `fluid_responsiveness`, `events` (replace the base lists; entries may use `ago`
minutes and `[value, unit]` pairs for quantities); `lines` (merged).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

__all__ = ["expand"]

_QUANTITY_KEYS = ("dose", "concentration", "volume", "weight")


def _when(now: datetime, ago: float) -> str:
    return (now - timedelta(minutes=float(ago))).isoformat().replace("+00:00", "Z")


def _entry(item: dict[str, Any], now: datetime) -> dict[str, Any]:
    out = dict(item)
    if "ago" in out:
        out["time"] = _when(now, out.pop("ago"))
    if "start_ago" in out:
        out["start"] = _when(now, out.pop("start_ago"))
    for key in _QUANTITY_KEYS:
        value = out.get(key)
        if isinstance(value, list) and len(value) == 2:
            out[key] = {"value": value[0], "unit": value[1]}
    return out


def expand(given: dict[str, Any], bases: dict[str, Any]) -> dict[str, Any]:
    """The full PatientState document an example describes."""
    base_name = given.get("base")
    if base_name not in bases:
        raise KeyError(f"unknown base state {base_name!r}")
    state: dict[str, Any] = copy.deepcopy(bases[base_name])
    now = datetime.fromisoformat(str(state["time"]).replace("Z", "+00:00"))
    method = given.get("bp_method", "arterial")
    bp_ago = given.get("bp_ago", 5)
    for code in ("map", "sbp", "dbp"):
        if code in given:
            state["observations"] = [o for o in state["observations"] if o["code"] != code]
            if given[code] is not None:
                state["observations"].append(
                    {
                        "code": code,
                        "value": given[code],
                        "unit": "mm[Hg]",
                        "time": _when(now, bp_ago),
                        "method": method,
                    }
                )
    for obs in given.get("obs", []):
        state["observations"].append(_entry(obs, now))
    patient = state.setdefault("patient", {})
    for key in ("age_years", "age_days"):
        if key in given:
            patient[key] = given[key]
    if "weight_kg" in given:
        if given["weight_kg"] is None:
            patient.pop("weight", None)
        else:
            patient["weight"] = {"value": given["weight_kg"], "unit": "kg"}
    if "context" in given:
        state.setdefault("context", {}).update(given["context"])
    if "lines" in given:
        state.setdefault("lines", {}).update(given["lines"])
    for key in ("fluids", "infusions", "fluid_responsiveness", "events"):
        if key in given:
            state[key] = [_entry(e, now) for e in given[key]]
    return state
