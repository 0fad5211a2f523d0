"""FHIR Condition -> PatientState context (shock type, brain and spinal injury, hypertension)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .codes import CodeTables
from .report import MappingReport
from .resources import Resource, codings, get_list, get_map, ref_of

__all__ = ["ConditionFindings", "read_condition"]

# clinicalStatus codes meaning the condition applies now.
_CURRENT = {"active", "recurrence", "relapse"}
_REFUTED = {"refuted", "entered-in-error"}


@dataclass
class ConditionFindings:
    shock_types: dict[str, list[str]] = field(default_factory=dict)  # type -> resource refs
    flags: dict[str, list[str]] = field(default_factory=dict)  # context flag -> resource refs

    def shock_type(self, report: MappingReport) -> str | None:
        """One shock type; two distinct specific types make `mixed` (and say so)."""
        specific = {t: refs for t, refs in self.shock_types.items() if t != "undifferentiated"}
        if len(specific) > 1:
            names = ", ".join(sorted(specific))
            refs = sorted(r for refs in specific.values() for r in refs)
            report.note(", ".join(refs), f"several shock types coded ({names}): read as mixed")
            return "mixed"
        if specific:
            return next(iter(specific))
        return "undifferentiated" if self.shock_types else None


def _status(resource: Resource, key: str) -> str | None:
    # Status codings are often sent without their (fixed) system; the code alone is enough.
    for coding in get_list(get_map(resource, key), "coding"):
        code = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(code, str):
            return code
    return None


def read_condition(
    resource: Resource, tables: CodeTables, report: MappingReport, into: ConditionFindings
) -> None:
    ref = ref_of(resource)
    entry = tables.condition(codings(get_map(resource, "code")))
    if entry is None:
        report.unusable(ref, "condition not in vasoguide's coding table: not used")
        return
    verification = _status(resource, "verificationStatus")
    if verification in _REFUTED:
        report.unusable(ref, f"verification status {verification}: not used")
        return
    clinical = _status(resource, "clinicalStatus")
    if clinical is not None and clinical not in _CURRENT:
        report.unusable(ref, f"clinical status {clinical}: not a current condition")
        return
    if "shock_type" in entry.meaning:
        into.shock_types.setdefault(entry.meaning["shock_type"], []).append(ref)
    if "flag" in entry.meaning:
        into.flags.setdefault(entry.meaning["flag"], []).append(ref)
