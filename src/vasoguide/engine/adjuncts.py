"""When norepinephrine alone is not enough: vasopressin, dobutamine, hydrocortisone."""

from __future__ import annotations

from ..display import number_text as num
from ..display import quantity_text, rounded
from .advice import Advice, hhmm, qty
from .infusions import NorepinephrineNow, drug_running
from .perfusion import Perfusion
from .snapshot import Snapshot, minutes

__all__ = ["other_adjuncts", "vasopressin_instead"]

_VASODILATORY = frozenset({"septic", "distributive"})


def other_adjuncts(
    snap: Snapshot, adv: Advice, ne: NorepinephrineNow, pressor: bool, perfusion: Perfusion
) -> None:
    """Hydrocortisone and dobutamine, considered whenever a vasopressor runs or is advised."""
    _hydrocortisone(snap, adv, ne)
    if pressor or ne.running:
        _dobutamine(snap, adv, perfusion)


def vasopressin_instead(snap: Snapshot, adv: Advice, ne: NorepinephrineNow, below: bool) -> bool:
    """Add ADD_VASOPRESSIN when due; True when it replaces escalating norepinephrine."""
    rid = "adjunct.vasopressin"
    if not (ne.running and below and snap.context.shock_type in _VASODILATORY):
        return False
    if drug_running(snap, "vasopressin"):
        return False
    if ne.ug_kg_min is None:
        if ne.usable and snap.weight_kg is None:
            adv.need("weight")
        return False
    if ne.ug_kg_min < adv.th(rid, "ne_dose_min", "ug/kg/min"):
        return False
    dose = adv.th(rid, "vasopressin_dose", "U/min")
    lo, hi = adv.th(rid, "label_start", "U/min"), adv.th(rid, "label_data_limited_above", "U/min")
    adv.act(
        "ADD_VASOPRESSIN",
        f"Add vasopressin {num(dose)} U/min instead of escalating norepinephrine (now "
        f"{num(rounded(ne.ug_kg_min, 'ug/kg/min'))} mcg/kg/min). Label alternative: start "
        f"{num(lo)} U/min and titrate; "
        f"data are limited above {num(hi)} U/min. Lowers norepinephrine needs; no mortality "
        "benefit "
        "shown.",
        [rid],
        drug="vasopressin",
        dose=qty(dose, "U/min"),
    )
    return True


def _hydrocortisone(snap: Snapshot, adv: Advice, ne: NorepinephrineNow) -> None:
    rid = "adjunct.hydrocortisone"
    if snap.context.shock_type != "septic" or not ne.running or ne.started is None:
        return
    epi = 0.0
    series = snap.infusions.get("epinephrine", [])
    if series and series[-1].dose.value > 0:
        from .infusions import ug_kg_min_of

        epi = ug_kg_min_of(series[-1], snap.weight_kg, adv)[0] or 0.0
    total = (ne.ug_kg_min or 0.0) + epi
    hours_on = minutes(snap.now - ne.started) / 60.0
    if total < adv.th(rid, "catecholamine_min", "ug/kg/min"):
        return
    if hours_on < adv.th(rid, "after", "h"):
        return
    daily = adv.th(rid, "daily_dose", "mg")
    split = adv.th(rid, "split_dose", "mg")
    adv.act(
        "CONSIDER_HYDROCORTISONE",
        f"Consider IV hydrocortisone {num(daily)} mg/day ({num(split)} mg every "
        f"{num(24 * split / daily)} h "
        "or as an infusion): "
        f"septic shock with norepinephrine/epinephrine {num(rounded(total, 'ug/kg/min'))} "
        "mcg/kg/min for "
        f"{num(rounded(hours_on, 'h'))} h.",
        [rid],
        drug="hydrocortisone",
        dose=qty(daily, "mg/d"),
    )


def _dobutamine(snap: Snapshot, adv: Advice, perfusion: Perfusion) -> None:
    rid = "adjunct.dobutamine"
    if snap.context.myocardial_dysfunction is not True or drug_running(snap, "dobutamine"):
        return
    max_age = adv.setting("cardiac_output_max_age", "min")
    ci = snap.latest("cardiac_index")
    low_output = False
    reason = ""
    if ci is not None and minutes(snap.now - ci.time) <= max_age:
        adv.use(ci, "L/min/m2")
        if ci.canonical < adv.setting("low_cardiac_index", "L/min/m2"):
            low_output = True
            reason = f"cardiac index {quantity_text(ci.value, ci.unit)} at {hhmm(ci.time)}"
    if not low_output and perfusion.poor:
        low_output = True
        reason = "persistent hypoperfusion: " + "; ".join(perfusion.poor)
    if not low_output:
        if ci is None:
            adv.need("cardiac_index")
        return
    start = adv.th(rid, "start", "ug/kg/min")
    usual_hi = adv.th(rid, "usual_max", "ug/kg/min")
    adv.act(
        "ADD_DOBUTAMINE",
        f"Myocardial dysfunction with low output ({reason}): add dobutamine, start {num(start)} "
        f"mcg/kg/min, usual range up to {num(usual_hi)} mcg/kg/min (label).",
        [rid],
        drug="dobutamine",
        dose=qty(start, "ug/kg/min"),
        dose_range=(start, usual_hi),
    )
