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


def check_example(protocol: Any, rule_id: str, example: Any) -> list[str]:
    """Run one rule example through the engine; the list of ways it does not hold (empty: ok)."""
    from ..engine import assess

    result = assess(expand(example.given, protocol.bases), protocol)
    problems: list[str] = []
    cited = any(b.id == rule_id for b in result.basis)
    if cited != example.fires:
        problems.append(
            f"rule {'did not fire' if example.fires else 'fired'} (decision {result.decision})"
        )
    exp = example.expect
    want = exp.get("decision")
    if want is not None and result.decision not in (want if isinstance(want, list) else [want]):
        problems.append(f"decision {result.decision}, expected {want}")
    tgt = exp.get("target")
    if tgt:
        got = result.target.model_dump() if result.target else {}
        for key, value in tgt.items():
            if got.get(key) != value and not (
                isinstance(value, int | float)
                and isinstance(got.get(key), int | float)
                and abs(got[key] - value) < 1e-6
            ):
                problems.append(f"target.{key} {got.get(key)}, expected {value}")
    actions = {a.code for a in result.actions}
    alerts = {a.code for a in result.alerts}
    for code in exp.get("actions_include", []):
        if code not in actions:
            problems.append(f"missing action {code} (has {sorted(actions)})")
    for code in exp.get("actions_exclude", []):
        if code in actions:
            problems.append(f"unexpected action {code}")
    for code in exp.get("alerts_include", []):
        if code not in alerts:
            problems.append(f"missing alert {code} (has {sorted(alerts)})")
    for code in exp.get("alerts_exclude", []):
        if code in alerts:
            problems.append(f"unexpected alert {code}")
    missing = " | ".join(result.missing)
    for word in exp.get("missing_include", []):
        if word not in missing:
            problems.append(f"missing[] does not name {word!r} ({missing!r})")
    dose = exp.get("dose")
    if dose:
        action = next((a for a in result.actions if a.code == dose["code"]), None)
        got_dose = action.dose if action else None
        if (
            got_dose is None
            or got_dose.unit != dose["unit"]
            or abs(got_dose.value - dose["value"]) > 1e-6
        ):
            problems.append(
                f"{dose['code']} dose {got_dose}, expected {dose['value']} {dose['unit']}"
            )
    return problems


__all__ += ["check_example"]
