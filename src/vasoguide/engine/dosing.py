"""Step 3 doses: the starting dose, one titration step up or down, and the pump rate for each.

A rate in mL/h is never produced without the concentration it assumes: the running
infusion's own, else the site's default for adults, and none by default for children. Every
number is the one shown (display.py): the rate is computed from the rounded dose, and a rate
beyond what a pump can deliver (the site's `max_pump_rate`) is withheld with an alert, because
it can only come from a wrong weight, dose or concentration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..display import number_text as num
from ..display import rounded, unit_text
from ..dosing import check_limits, rate_ml_h
from ..units import DoseBasis
from .advice import Advice, Item, qty
from .infusions import NorepinephrineNow
from .snapshot import Snapshot

__all__ = ["DoseAdvice", "advised_start", "titrated"]


@dataclass(slots=True)
class DoseAdvice:
    dose: Item | None
    rate: Item | None = None
    concentration: Item | None = None
    concentration_basis: str | None = None
    text: str = ""
    rules: list[str] = field(default_factory=list)
    capped_at_limit: bool = False
    unchanged: bool = False


def _concentration(
    snap: Snapshot, adv: Advice, ne: NorepinephrineNow, pediatric: bool
) -> tuple[float, str] | None:
    if ne.running and ne.concentration_ug_ml:
        return ne.concentration_ug_ml, "the running infusion's concentration"
    if pediatric:
        conc = adv.setting("pediatric_default_concentration", "ug/mL")
        if conc <= 0:
            adv.need("concentration (no default for children: give the order's concentration)")
            return None
        return conc, "the site's paediatric default concentration"
    return adv.setting("default_concentration", "ug/mL"), "the site's default concentration"


def _with_rate(
    advice: DoseAdvice,
    snap: Snapshot,
    adv: Advice,
    ne: NorepinephrineNow,
    pediatric: bool,
) -> DoseAdvice:
    """Add the pump rate for the dose as shown (never for an unrounded one)."""
    if advice.dose is None:
        return advice
    if snap.line_extravasated:
        advice.text += ". No rate is given for the line that has extravasated: use a new line."
        return advice
    shown, unit = advice.dose["value"], advice.dose["unit"]
    if unit == "ug/kg/min":
        if snap.weight_kg is None:
            return advice
        ug_min = rounded(shown * snap.weight_kg, "ug/min")
    else:
        ug_min = shown
    conc = _concentration(snap, adv, ne, pediatric)
    if conc is None:
        advice.text += ". Rate in mL/h: needs the infusion's concentration."
        return advice
    ug_ml, source = conc
    rate = rounded(rate_ml_h(ug_min, concentration_ug_ml=ug_ml), "mL/h")
    ug_ml = rounded(ug_ml, "ug/mL")
    limit = adv.setting("max_pump_rate", "mL/h")
    if rate > limit:
        adv.alert(
            "IMPLAUSIBLE_VALUE",
            "critical",
            f"{num(shown)} {unit_text(unit)} at {num(ug_ml)} mcg/mL would be {num(rate)} mL/h, "
            f"beyond the pump limit of {num(limit)} mL/h (site setting): check the weight, the "
            "dose and the concentration. No rate is given.",
            ["admin.concentration-and-rate", "data.implausible-values"],
        )
        return advice
    advice.rate = qty(rate, "mL/h")
    advice.concentration = qty(ug_ml, "ug/mL")
    advice.concentration_basis = "base"
    advice.rules.append("admin.concentration-and-rate")
    advice.text += f" = {num(rate)} mL/h at {num(ug_ml)} mcg/mL base ({source})."
    return advice


def advised_start(
    snap: Snapshot, adv: Advice, ne: NorepinephrineNow, pediatric: bool
) -> DoseAdvice:
    w = snap.weight_kg
    if pediatric:
        return _pediatric_start(snap, adv, ne)
    if w is not None:
        rid = "admin.start-dose"
        lo = adv.th(rid, "start", "ug/kg/min")
        hi = adv.th(rid, "start_high", "ug/kg/min")
        dose = qty(adv.setting("adult_start_dose", "ug/kg/min"), "ug/kg/min")
        ug_min = rounded(dose["value"] * w, "ug/min")
        advice = DoseAdvice(
            dose,
            rules=[rid],
            text=f"Start {num(dose['value'])} mcg/kg/min (site start within the usual "
            f"{num(lo)}-{num(hi)}), {num(ug_min)} mcg/min for {num(rounded(w, 'kg'))} kg",
        )
        return _with_rate(advice, snap, adv, ne, False)
    rid = "admin.start-dose-fixed"
    fixed = adv.th(rid, "start", "ug/min")
    hi = adv.th(rid, "start_high", "ug/min")
    adv.alert(
        "WEIGHT_MISSING",
        "warning",
        "No usable weight: weight-based dosing is impossible; doses are fixed in mcg/min.",
        [rid],
    )
    adv.need("weight")
    advice = DoseAdvice(
        qty(fixed, "ug/min"),
        rules=[rid],
        text=f"Start {num(fixed)} mcg/min (label initial {num(fixed)}-{num(hi)} mcg/min)",
    )
    return _with_rate(advice, snap, adv, ne, False)


def _pediatric_start(snap: Snapshot, adv: Advice, ne: NorepinephrineNow) -> DoseAdvice:
    w = snap.weight_kg
    neonate = snap.is_neonate(adv)
    rid = "population.neonatal-dose" if neonate else "admin.pediatric-dose"
    lo = adv.th(rid, "start", "ug/kg/min")
    hi = adv.th(rid, "start_high", "ug/kg/min")
    who = "Neonate" if neonate else "Child"
    range_text = f"{'neonatal' if neonate else 'paediatric'} range {num(lo)}-{num(hi)}"
    if w is None:
        adv.need("weight")
        return DoseAdvice(
            None, text=f"{who}: weight needed to dose ({range_text} mcg/kg/min).", rules=[rid]
        )
    dose = qty(lo, "ug/kg/min")
    ug_min = rounded(dose["value"] * w, "ug/min")
    advice = DoseAdvice(
        dose,
        rules=[rid],
        text=f"Start {num(dose['value'])} mcg/kg/min ({range_text}), {num(ug_min)} mcg/min",
    )
    return _with_rate(advice, snap, adv, ne, True)


def titrated(
    snap: Snapshot, adv: Advice, ne: NorepinephrineNow, pediatric: bool, direction: int
) -> DoseAdvice | None:
    """The running dose moved one site step up (+1), down (-1), or kept (0), with its rate.

    Advice is in the unit the pump is programmed in: an order in mcg/min is titrated in
    mcg/min (mcg/kg/min beside it when the weight is known), so nobody re-programmes a pump
    in another unit.
    """
    if not ne.running or not ne.usable or ne.entry is None:
        return None
    pump_per_min = ne.entry.dose.basis is DoseBasis.MASS
    per_kg = ne.ug_kg_min is not None and not pump_per_min
    if per_kg and ne.ug_kg_min is not None:
        cur, unit, shown = ne.ug_kg_min, "ug/kg/min", "mcg/kg/min"
        step = adv.setting("titration_step_weight" if direction >= 0 else "wean_step_weight", unit)
        hard = _hard_limit_weight(adv, pediatric)
    elif ne.ug_min is not None:
        cur, unit, shown = ne.ug_min, "ug/min", "mcg/min"
        step = adv.setting("titration_step_fixed" if direction >= 0 else "wean_step_fixed", unit)
        hard = adv.setting("hard_limit_fixed", unit)
        if snap.weight_kg is not None:
            hard = min(hard, _hard_limit_weight(adv, pediatric) * snap.weight_kg)
    else:
        return None
    cur = rounded(cur, unit)
    hard = rounded(hard, unit)
    if cur > hard:
        # Never put a dose above the hard limit in an action, not even "keep the current one".
        adv.cite("admin.dose-limits")
        return DoseAdvice(
            None,
            rules=["admin.dose-limits"],
            capped_at_limit=True,
            unchanged=True,
            text=f"The running {num(cur)} {shown} is above the hard limit of {num(hard)} "
            f"{shown}: verify the order and pump; no dose above the limit is advised.",
        )
    new = rounded(max(cur + direction * step, 0.0), unit)
    capped = False
    if direction > 0 and new > hard:
        # Never advise above the hard limit; at or over it already, advise no increase.
        new, capped = max(min(hard, new), cur) if cur < hard else cur, True
    rules = {1: ["admin.titration"], -1: ["response.wean"], 0: []}[direction]
    if capped:
        rules.append("admin.dose-limits")
    verb = {1: "Increase", -1: "Decrease", 0: "Keep"}[direction]
    text = (
        f"{verb} {num(cur)} -> {num(new)} {shown}" if direction else f"Keep {num(cur)} {shown}"
    )
    if not per_kg and snap.weight_kg:
        text += f" ({num(rounded(new / snap.weight_kg, 'ug/kg/min'))} mcg/kg/min)"
    advice = DoseAdvice(
        qty(new, unit),
        rules=rules,
        capped_at_limit=capped,
        unchanged=new <= cur and direction > 0,
        text=text,
    )
    if direction > 0:
        check = check_limits(adv.protocol, **({"ug_kg_min": new} if per_kg else {"ug_min": new}))
        if check.level == "high":
            adv.alert("HIGH_DOSE", "warning", f"Advised dose: {check.message}.", [check.rule])
    return _with_rate(advice, snap, adv, ne, pediatric)


def _hard_limit_weight(adv: Advice, pediatric: bool) -> float:
    hard: float = adv.setting("hard_limit_weight", "ug/kg/min")
    if pediatric:
        hard = min(hard, adv.setting("pediatric_max_dose", "ug/kg/min"))
    return hard
