"""Order-sign checks of a draft norepinephrine MedicationRequest: unit, dose, concentration, rate.

Every clinical number comes from the protocol through `vasoguide.dosing` (limits, the site's
default concentration) or from the Assessment (the advised dose); this module only compares.
A correction is proposed, never applied: it becomes an `update` suggestion on a card.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from ..assessment import Action, Assessment
from ..display import quantity_text, rounded, unit_text
from ..dosing import check_limits, convert_dose, rate_ml_h
from ..errors import DoseError, UnitError
from ..protocol import Protocol
from ..units import DoseBasis, dose_basis
from .codes import CodeTables
from .medications import DoseRead, OrderRead
from .resources import UCUM, Resource

__all__ = ["OrderCheck", "OrderProblem", "Proposal", "check_order", "display_unit"]

Severity = Literal["info", "warning", "critical"]
_DOSE_RATE_TYPE = "http://terminology.hl7.org/CodeSystem/dose-rate-type"
_LIMIT_PROBLEMS: dict[str, tuple[str, Severity, str]] = {
    "implausible": ("DOSE_UNIT_SUSPECT", "critical", "is implausible: check the unit"),
    "above_hard_limit": ("DOSE_ABOVE_LIMIT", "critical", "is above the hard limit"),
    "high": ("HIGH_DOSE", "warning", "is a high dose"),
}


def display_unit(unit: str) -> str:
    """UCUM for machines, clinicians' spelling for people (display.unit_text)."""
    return unit_text(unit)


def _q(value: float, unit: str) -> str:
    return quantity_text(rounded(value, unit), unit)


@dataclass(frozen=True)
class OrderProblem:
    code: str
    severity: Severity
    text: str  # the full sentence, for the card's detail
    rule: str | None = None
    short: str = ""  # a few words for the card's summary; `text` when empty


@dataclass(frozen=True)
class Proposal:
    """The order as it should read: dose (ug/kg/min or ug/min), pump rate, concentration."""

    dose: tuple[float, str]
    rate: tuple[float, str] | None
    concentration: tuple[float, str] | None
    why: str

    def text(self) -> str:
        out = _q(*self.dose)
        if self.rate is not None and self.concentration is not None:
            out += f" = {_q(*self.rate)} at {_q(*self.concentration)}"
        return out


@dataclass
class OrderCheck:
    read: OrderRead
    resource: Resource
    problems: list[OrderProblem] = field(default_factory=list)
    proposal: Proposal | None = None

    @property
    def worst(self) -> Severity:
        levels: list[Severity] = ["info", "warning", "critical"]
        return max((p.severity for p in self.problems), key=levels.index, default="info")

    def corrected(self) -> dict[str, Any] | None:
        """The draft MedicationRequest with the proposed dose and rate, or None."""
        if self.proposal is None:
            return None
        resource = copy.deepcopy(dict(self.resource))
        instructions = resource.get("dosageInstruction")
        if not isinstance(instructions, list) or not instructions:
            instructions = [{}]
        first = dict(instructions[0]) if isinstance(instructions[0], dict) else {}
        p = self.proposal
        dose_and_rate: list[dict[str, Any]] = [_dose_and_rate("ordered", *p.dose)]
        if p.rate is not None:
            dose_and_rate.append(_dose_and_rate("calculated", *p.rate))
        first["doseAndRate"] = dose_and_rate
        first["text"] = p.text()
        resource["dosageInstruction"] = [first, *instructions[1:]]
        return resource


def _dose_and_rate(kind: str, value: float, unit: str) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": _DOSE_RATE_TYPE, "code": kind}]},
        "rateQuantity": {"value": value, "unit": display_unit(unit), "system": UCUM,
                         "code": unit},
    }


def _advised(assessment: Assessment) -> Action | None:
    for action in assessment.actions:
        if action.drug == "norepinephrine" and action.dose is not None:
            return action
    return None


def check_order(
    resource: Resource,
    read: OrderRead,
    *,
    weight_kg: float | None,
    protocol: Protocol,
    assessment: Assessment,
    tables: CodeTables,
) -> OrderCheck:
    """Check one draft norepinephrine order; the Assessment supplies the advised dose."""
    check = OrderCheck(read=read, resource=resource)
    problems = check.problems
    default_conc = float(protocol.setting("default_concentration", "ug/mL"))
    conc = read.concentration[0] if read.concentration else None
    dose = read.dose if read.dose is not None and read.dose.basis is not None else None
    if read.dose is not None and read.dose.basis is None:
        problems.append(OrderProblem(
            "UNIT_INVALID", "critical",
            f"unit {read.dose.unit!r} is not a dose rate (mcg/kg/min, mcg/min or mL/h)",
            short=f"unit {read.dose.unit} is not a dose rate"))
    if dose is None and read.rate is None and not problems:
        problems.append(OrderProblem("DOSE_MISSING", "warning", "the order gives no dose or rate"))
    if read.rate is not None and conc is None:
        problems.append(OrderProblem("CONCENTRATION_MISSING", "critical",
                                     f"a rate of {_q(read.rate.value, read.rate.unit)} means "
                                     "nothing without the concentration of the bag",
                                     short="a rate in mL/h without the bag's concentration"))
    if conc is not None and abs(conc - default_conc) > 1e-9:
        problems.append(OrderProblem("CONCENTRATION_NONSTANDARD", "info",
                                     f"concentration {_q(conc, 'ug/mL')} is not the site's "
                                     f"default {_q(default_conc, 'ug/mL')}"))

    ug_min, ug_kg_min = _delivered(dose, read.rate, conc, weight_kg)
    if dose is not None and dose.basis is DoseBasis.WEIGHT and weight_kg is None:
        problems.append(OrderProblem("WEIGHT_MISSING", "warning",
                                     "no weight: the per-kg dose cannot be turned into a rate"))
    if ug_kg_min is not None or ug_min is not None:
        limit = check_limits(protocol, ug_kg_min=ug_kg_min, ug_min=None if ug_kg_min else ug_min)
        if limit.level in _LIMIT_PROBLEMS:
            code, severity, words = _LIMIT_PROBLEMS[limit.level]
            ordered = dose or read.rate
            what = _q(ordered.value, ordered.unit) if ordered else "the dose"
            problems.append(OrderProblem(code, severity, limit.message, limit.rule,
                                         short=f"{what} {words}"))

    dose_bad = any(p.severity == "critical" and p.code != "RATE_MISMATCH" for p in problems)
    if dose_bad:
        check.proposal = _from_assessment(assessment, conc, weight_kg)
        return check
    if dose is not None and ug_min is not None:
        used_conc = conc if conc is not None else default_conc
        expected = rounded(rate_ml_h(ug_min, concentration_ug_ml=used_conc), "mL/h")
        if read.rate is None:
            problems.append(OrderProblem(
                "RATE_MISSING", "info",
                f"no pump rate: {_q(dose.value, dose.unit)} is {_q(expected, 'mL/h')} at "
                f"{_q(used_conc, 'ug/mL')}", short="no pump rate"))
        else:
            given = read.rate.value * dose_basis(read.rate.unit)[1]
            if expected > 0 and abs(given - expected) / expected > tables.rate_tolerance:
                problems.append(OrderProblem(
                    "RATE_MISMATCH", "critical",
                    f"{_q(given, 'mL/h')} does not deliver {_q(dose.value, dose.unit)}: at "
                    f"{_q(used_conc, 'ug/mL')} that dose is {_q(expected, 'mL/h')}",
                    short=f"{_q(given, 'mL/h')} does not match {_q(dose.value, dose.unit)}"))
            else:
                return check
        check.proposal = Proposal((dose.value, dose.unit), (expected, "mL/h"),
                                  (used_conc, "ug/mL"), "rate computed from the ordered dose")
    return check


def _delivered(
    dose: DoseRead | None, rate: DoseRead | None, conc: float | None, weight_kg: float | None
) -> tuple[float | None, float | None]:
    """(ug/min, ug/kg/min) the order delivers, as far as the facts allow."""
    try:
        if dose is not None and dose.basis in (DoseBasis.WEIGHT, DoseBasis.MASS):
            basis, scale = dose_basis(dose.unit)
            if basis is DoseBasis.WEIGHT and weight_kg is None:
                return None, dose.value * scale
            conv = convert_dose(dose.value, dose.unit, weight_kg=weight_kg)
            return conv.ug_min, conv.ug_kg_min
        if rate is not None and conc is not None:
            conv = convert_dose(rate.value, rate.unit, weight_kg=weight_kg, concentration=conc)
            return conv.ug_min, conv.ug_kg_min
    except (DoseError, UnitError):
        return None, None
    return None, None


def _from_assessment(
    assessment: Assessment, conc: float | None, weight_kg: float | None
) -> Proposal | None:
    """The Assessment's advised dose, with its rate at the order's concentration when known."""
    action = _advised(assessment)
    if action is None or action.dose is None:
        return None
    dose = (action.dose.value, action.dose.unit)
    if conc is None:
        rate = (action.rate.value, action.rate.unit) if action.rate else None
        c = action.concentration
        return Proposal(dose, rate, (c.value, c.unit) if c else None, "the advised dose")
    try:
        conv = convert_dose(dose[0], dose[1], weight_kg=weight_kg, concentration=conc)
    except (DoseError, UnitError):
        return Proposal(dose, None, (conc, "ug/mL"), "the advised dose")
    rate = (round(conv.ml_h, 2), "mL/h") if conv.ml_h is not None else None
    return Proposal(dose, rate, (conc, "ug/mL"), "the advised dose, at the ordered concentration")
