"""Run a rule's examples through the engine: the knowledge base's own executable tests.

This sits above both the protocol package (which only expands examples into states) and the
engine, so that neither imports the other's caller: protocol <- engine <- rule_examples.
"""

from __future__ import annotations

from typing import Any

from .engine import assess
from .protocol.examples import expand

__all__ = ["check_example"]


def check_example(protocol: Any, rule_id: str, example: Any) -> list[str]:
    """Run one rule example through the engine; the list of ways it does not hold (empty: ok)."""
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


