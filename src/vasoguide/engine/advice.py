"""The advice being built for one assessment: actions, alerts, missing data, rules, inputs.

Every action and alert names the rules it rests on; every rule named ends up in the
Assessment's `basis` with its citation, in the order it was first used.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..assessment import Assessment, BasisEntry
from ..display import rounded

if TYPE_CHECKING:
    from ..protocol import Protocol
    from ..state import Observation
    from .targets import Goal

__all__ = ["Advice", "Item", "hhmm", "qty"]

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}

# Actions, alerts, inputs and quantities are built as plain dicts and validated once, as one
# Assessment, in build(): a single pydantic-core call is several times cheaper than one model
# per item, and the result is the same validated document.
Item = dict[str, Any]


def _action_rank(code: str, decision: str) -> int:
    if code == "TREAT_EXTRAVASATION":
        return 0
    return 1 if code == decision else 2


def hhmm(t: datetime) -> str:
    """Clock time for texts ("07:55"), in the patient's offset (times share it; see state.py)."""
    return f"{t.hour:02d}:{t.minute:02d}"


def qty(value: float, unit: str) -> Item:
    """A quantity as shown: rounded to its unit's display precision (display.py)."""
    return {"value": rounded(value, unit), "unit": unit}


class Advice:
    def __init__(self, protocol: Protocol, now: datetime) -> None:
        self.protocol = protocol
        self.now = now
        self.actions: list[Item] = []
        self.alerts: dict[str, Item] = {}
        self.missing: list[str] = []
        self.rules: dict[str, None] = {}
        self.inputs: dict[tuple[str, Any, Any], Item] = {}

    # -- rules -----------------------------------------------------------------------------
    def cite(self, *rule_ids: str) -> None:
        # An unknown id fails at build() (protocol.basis raises KeyError): a bug, caught by tests.
        for rid in rule_ids:
            self.rules.setdefault(rid, None)

    def th(self, rule_id: str, name: str, unit: str) -> float:
        return self.protocol.threshold(rule_id, name, unit)

    def setting(self, key: str, unit: str | None = None) -> Any:
        return self.protocol.setting(key, unit)

    # -- outputs ---------------------------------------------------------------------------
    def act(self, code: str, text: str, basis: list[str], **fields: Any) -> Item:
        self.cite(*basis)
        for existing in self.actions:
            if existing["code"] == code and not fields:
                for rid in basis:
                    if rid not in existing["basis"]:
                        existing["basis"].append(rid)
                return existing
        action: Item = {"code": code, "text": text, "basis": list(basis), **fields}
        self.actions.append(action)
        return action

    def alert(self, code: str, severity: str, text: str, basis: list[str]) -> None:
        self.cite(*basis)
        existing = self.alerts.get(code)
        if existing is not None:
            existing["text"] += " " + text
            existing["basis"].extend(r for r in basis if r not in existing["basis"])
            if _SEVERITY_ORDER[severity] < _SEVERITY_ORDER[existing["severity"]]:
                existing["severity"] = severity
            return
        self.alerts[code] = {"code": code, "severity": severity, "text": text, "basis": list(basis)}

    def need(self, name: str) -> None:
        if name not in self.missing:
            self.missing.append(name)

    def use(self, obs: Observation, unit: str, note: str | None = None) -> None:
        key = (obs.code, obs.time, obs.value)
        if key not in self.inputs:
            same = unit == obs.unit
            self.inputs[key] = {
                "code": obs.code,
                "value": rounded(obs.value, obs.unit) if same else rounded(obs.canonical, unit),
                "unit": obs.unit if same else unit,
                "time": obs.time,
                "method": obs.method,
                "note": note,
            }

    def use_value(
        self,
        code: str,
        value: float | str | bool | None,
        unit: str | None = None,
        time: datetime | None = None,
        note: str | None = None,
    ) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # the document's numbers are floats (a GCS of 7 is 7.0)
        if isinstance(value, float) and unit is not None:
            value = rounded(value, unit)  # as shown (display.py)
        key = (code, time, value)
        if key not in self.inputs:
            self.inputs[key] = {
                "code": code,
                "value": value,
                "unit": unit,
                "time": time,
                "note": note,
            }

    # -- the document ----------------------------------------------------------------------
    def build(
        self,
        decision: str,
        target: Goal | None,
        secondary: list[Goal],
        ne: Item | None,
        volume: Item | None,
        summary: str,
    ) -> Assessment:
        alerts = sorted(self.alerts.values(), key=lambda a: _SEVERITY_ORDER[a["severity"]])
        basis: list[BasisEntry] = [self.protocol.basis(rid) for rid in self.rules]
        return Assessment.model_validate(
            {
                "time": self.now,
                "decision": decision,
                "target": target.as_dict(secondary) if target is not None else None,
                # Extravasation treatment before anything else (no titration on a line that has
                # leaked), then the decision's own action; the rest in the order they arose.
                "actions": sorted(self.actions, key=lambda a: _action_rank(a["code"], decision)),
                "alerts": alerts,
                "missing": self.missing,
                "basis": basis,
                "inputs": list(self.inputs.values()),
                "protocol": self.protocol.ref,
                "secondary_targets": [t.as_dict() for t in secondary],
                "norepinephrine": ne,
                "volume": volume,
                "summary": summary,
            }
        )
