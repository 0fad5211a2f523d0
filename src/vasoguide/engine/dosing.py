"""Step 3 doses: the starting dose, one titration step up or down, and the pump rate for each.

A rate in mL/h is never produced without the concentration it assumes: the running
infusion's own, else the site's default for adults, and none by default for children.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    ug_min: float,
    snap: Snapshot,
    adv: Advice,
    ne: NorepinephrineNow,
    pediatric: bool,
) -> DoseAdvice:
    conc = _concentration(snap, adv, ne, pediatric)
    if conc is None:
        advice.text += " Rate in mL/h: needs the infusion's concentration."
        return advice
    ug_ml, source = conc
    rate = rate_ml_h(ug_min, concentration_ug_ml=ug_ml)
    advice.rate = qty(rate, "mL/h", 2)
    advice.concentration = qty(ug_ml, "ug/mL")
    advice.concentration_basis = "base"
    advice.rules.append("admin.concentration-and-rate")
    advice.text += f" = {rate:.2f} mL/h at {ug_ml:g} mcg/mL base ({source})."
    return advice


def advised_start(
    snap: Snapshot, adv: Advice, ne: NorepinephrineNow, pediatric: bool
) -> DoseAdvice:
    w = snap.weight_kg
    if pediatric:
        rid = "admin.pediatric-dose"
        lo, hi = adv.th(rid, "start", "ug/kg/min"), adv.th(rid, "start_high", "ug/kg/min")
        if w is None:
            adv.need("weight")
            return DoseAdvice(
                None, text=f"Child: weight needed to dose ({lo:g}-{hi:g} mcg/kg/min).", rules=[rid]
            )
        advice = DoseAdvice(
            qty(lo, "ug/kg/min"),
            rules=[rid],
            text=f"Start {lo:g} mcg/kg/min (paediatric range {lo:g}-{hi:g}), {lo * w:.3g} mcg/min",
        )
        return _with_rate(advice, lo * w, snap, adv, ne, pediatric)
    if w is not None:
        rid = "admin.start-dose"
        dose = adv.th(rid, "start", "ug/kg/min")
        hi = adv.th(rid, "start_high", "ug/kg/min")
        advice = DoseAdvice(
            qty(dose, "ug/kg/min"),
            rules=[rid],
            text=f"Start {dose:g} mcg/kg/min (usual start {dose:g}-{hi:g}), "
            f"{dose * w:.3g} mcg/min for {w:g} kg",
        )
        return _with_rate(advice, dose * w, snap, adv, ne, pediatric)
    rid = "admin.start-dose-fixed"
    dose = adv.th(rid, "start", "ug/min")
    hi = adv.th(rid, "start_high", "ug/min")
    adv.alert(
        "WEIGHT_MISSING",
        "warning",
        "No weight: weight-based dosing is impossible; doses are fixed in mcg/min.",
        [rid],
    )
    adv.need("weight")
    advice = DoseAdvice(
        qty(dose, "ug/min"),
        rules=[rid],
        text=f"Start {dose:g} mcg/min (label initial {dose:g}-{hi:g} mcg/min)",
    )
    return _with_rate(advice, dose, snap, adv, ne, pediatric)


def titrated(
    snap: Snapshot, adv: Advice, ne: NorepinephrineNow, pediatric: bool, direction: int
) -> DoseAdvice | None:
    """The running dose moved one site step up (+1), down (-1), or kept (0), with its rate."""
    if not ne.running or not ne.usable or ne.entry is None:
        return None
    per_kg = ne.ug_kg_min is not None and (
        ne.entry.dose.basis is not DoseBasis.MASS or snap.weight_kg is not None
    )
    if per_kg and ne.ug_kg_min is not None:
        cur, unit, shown = ne.ug_kg_min, "ug/kg/min", "mcg/kg/min"
        step = adv.setting("titration_step_weight" if direction >= 0 else "wean_step_weight", unit)
        hard = adv.setting("hard_limit_weight", unit)
    elif ne.ug_min is not None:
        cur, unit, shown = ne.ug_min, "ug/min", "mcg/min"
        step = adv.setting("titration_step_fixed" if direction >= 0 else "wean_step_fixed", unit)
        hard = adv.setting("hard_limit_fixed", unit)
    else:
        return None
    if cur > hard:
        # Never put a dose above the hard limit in an action, not even "keep the current one".
        adv.cite("admin.dose-limits")
        return DoseAdvice(
            None,
            rules=["admin.dose-limits"],
            capped_at_limit=True,
            unchanged=True,
            text=f"The running {cur:.3g} {shown} is above the hard limit of {hard:g} {shown}: "
            "verify the order and pump; no dose above the limit is advised.",
        )
    new = max(cur + direction * step, 0.0)
    capped = False
    if direction > 0 and new > hard:
        # Never advise above the hard limit; at or over it already, advise no increase.
        new, capped = max(min(hard, new), cur) if cur < hard else cur, True
    rules = {1: ["admin.titration"], -1: ["response.wean"], 0: []}[direction]
    if capped:
        rules.append("admin.dose-limits")
    verb = {1: "Increase", -1: "Decrease", 0: "Keep"}[direction]
    text = f"{verb} {cur:.3g} -> {new:.3g} {shown}" if direction else f"Keep {cur:.3g} {shown}"
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
    ug_min = new * snap.weight_kg if (per_kg and snap.weight_kg) else new
    if per_kg and not snap.weight_kg:
        return advice
    return _with_rate(advice, ug_min, snap, adv, ne, pediatric)
