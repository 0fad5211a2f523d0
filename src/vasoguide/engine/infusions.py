"""What is running: norepinephrine's dose, history and plausibility; other vasoactive drugs.

Each infusion entry is the rate set at its time; the latest entry per drug is the current one,
and 0 stops it. A dose implausible by orders of magnitude in its unit (mg written for mcg) is
flagged and never used: decisions then go without a dose rather than on a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..display import quantity_text, rounded
from ..dosing import check_limits
from ..state import Infusion
from ..units import DoseBasis
from .advice import Advice, Item, hhmm, qty
from .snapshot import Snapshot, minutes

__all__ = ["NorepinephrineNow", "norepinephrine_now", "ug_kg_min_of"]


@dataclass(slots=True)
class NorepinephrineNow:
    running: bool
    entry: Infusion | None = None
    ug_kg_min: float | None = None  # usable dose per kg (None: no weight, or not plausible)
    ug_min: float | None = None  # usable fixed dose
    usable: bool = True  # False when the charted dose is implausible in its unit
    since: datetime | None = None  # when the current dose was set
    started: datetime | None = None  # when the current run began
    concentration_ug_ml: float | None = None  # base
    stopped_from: float | None = None  # ug/kg/min before a stop (for the abrupt-stop check)
    stopped_at: datetime | None = None
    nee: float | None = None  # norepinephrine-equivalent dose of everything running

    def status(self) -> Item:
        """The Assessment's `norepinephrine` extension (validated with the Assessment)."""
        e = self.entry
        running = self.running
        return {
            "running": running,
            "dose": qty(e.dose.value, e.dose.unit) if (e is not None and running) else None,
            "dose_ug_kg_min": (
                rounded(self.ug_kg_min, "ug/kg/min") if self.ug_kg_min is not None else None
            ),
            "since": self.since if running else None,
            "started": self.started if running else None,
            "norepinephrine_equivalent_ug_kg_min": (
                rounded(self.nee, "ug/kg/min") if self.nee is not None else None
            ),
        }


def concentration_base(inf: Infusion, adv: Advice) -> float | None:
    """The infusion's concentration in ug/mL of base (a salt concentration is converted)."""
    if inf.concentration is None or inf.concentration.measure != "mass":
        return None
    basis = inf.concentration_basis or adv.setting("default_concentration_basis")
    value = inf.concentration.canonical
    if basis == "salt":
        value *= adv.th("admin.concentration-and-rate", "salt_to_base", "1")
    return value


def ug_kg_min_of(
    inf: Infusion, weight_kg: float | None, adv: Advice
) -> tuple[float | None, float | None]:
    """(ug/kg/min, ug/min) of base for a mass-dosed entry; None where the facts are missing.

    A dose charted as salt is turned into base with the cited salt-to-base factor.
    """
    basis, value = inf.dose.basis, inf.dose.canonical
    salt = (inf.concentration_basis or adv.setting("default_concentration_basis")) == "salt"
    to_base = adv.th("admin.concentration-and-rate", "salt_to_base", "1") if salt else 1.0
    if basis is DoseBasis.WEIGHT:
        return value * to_base, value * to_base * weight_kg if weight_kg else None
    if basis is DoseBasis.MASS:
        ug_min = value * to_base
    elif basis is DoseBasis.VOLUME:
        conc = concentration_base(inf, adv)  # already base
        if conc is None:
            return None, None
        ug_min = value * conc / 60.0
    else:
        return None, None
    return (ug_min / weight_kg if weight_kg else None), ug_min


def norepinephrine_now(snap: Snapshot, adv: Advice) -> NorepinephrineNow:
    series = snap.infusions.get("norepinephrine", [])
    if not series:
        return NorepinephrineNow(False, nee=_nee(snap, adv, None))
    current = series[-1]
    if current.dose.value == 0:
        before = [e for e in series[:-1] if e.dose.value > 0]
        stopped_from = ug_kg_min_of(before[-1], snap.weight_kg, adv)[0] if before else None
        return NorepinephrineNow(
            False,
            current,
            stopped_from=stopped_from,
            stopped_at=current.time,
            nee=_nee(snap, adv, None),
        )
    since = current.time
    for prev in reversed(series[:-1]):
        if prev.dose.value != current.dose.value or prev.dose.unit != current.dose.unit:
            break
        since = prev.time
    started = series[0].time
    for i in range(len(series) - 1, -1, -1):
        if series[i].dose.value == 0:
            break
        started = series[i].time
    ne = NorepinephrineNow(True, current, since=since, started=started)
    ne.concentration_ug_ml = concentration_base(current, adv)
    per_kg, per_min = ug_kg_min_of(current, snap.weight_kg, adv)
    adv.use_value(
        "norepinephrine",
        current.dose.value,
        current.dose.unit,
        current.time,
        note=f"current rate set at {hhmm(since)}; running since {hhmm(started)}",
    )
    check = (
        check_limits(adv.protocol, ug_kg_min=per_kg)
        if per_kg is not None
        else (check_limits(adv.protocol, ug_min=per_min) if per_min is not None else None)
    )
    if check is not None and check.level == "implausible":
        ne.usable = False
        adv.alert(
            "DOSE_UNIT_SUSPECT",
            "critical",
            f"Charted norepinephrine {quantity_text(current.dose.value, current.dose.unit)}: "
            f"{check.message}. "
            "It is not used for any decision or dose.",
            [check.rule],
        )
        adv.need("norepinephrine dose in a plausible unit")
        ne.nee = None
        return ne
    ne.ug_kg_min, ne.ug_min = per_kg, per_min
    if check is not None and check.level == "above_hard_limit":
        adv.alert("DOSE_ABOVE_LIMIT", "critical", check.message + ".", [check.rule])
    elif check is not None and check.level == "high":
        adv.alert(
            "HIGH_DOSE",
            "warning",
            check.message + " (see rule admin.high-dose, Martin 2015); "
            "review adjuncts and the cause of shock.",
            [check.rule],
        )
    if per_kg is None and snap.weight_kg is None:
        adv.need("weight")
    ne.nee = _nee(snap, adv, per_kg)
    return ne


def _nee(snap: Snapshot, adv: Advice, ne_ug_kg_min: float | None) -> float | None:
    """Norepinephrine-equivalent dose (Goradia 2021) of every vasoactive drug running now."""
    rid = "data.norepinephrine-equivalent"
    total = ne_ug_kg_min or 0.0
    any_drug = ne_ug_kg_min is not None
    for drug, series in snap.infusions.items():
        if drug in ("norepinephrine", "dobutamine") or not series or series[-1].dose.value == 0:
            continue
        entry = series[-1]
        if drug == "vasopressin":
            if entry.dose.basis is DoseBasis.ACTIVITY:
                total += entry.dose.canonical * adv.th(rid, "vasopressin_factor", "1")
                any_drug = True
            continue
        per_kg, _ = ug_kg_min_of(entry, snap.weight_kg, adv)
        if per_kg is None:
            return None
        divisor = {
            "epinephrine": "epinephrine_divisor",
            "phenylephrine": "phenylephrine_divisor",
            "dopamine": "dopamine_divisor",
        }[drug]
        total += per_kg / adv.th(rid, divisor, "1")
        any_drug = True
    if any_drug and total > 0:
        adv.cite(rid)
        return total
    return None


def minutes_on_dose(ne: NorepinephrineNow, snap: Snapshot) -> float | None:
    return minutes(snap.now - ne.since) if ne.since else None


def drug_running(snap: Snapshot, drug: str) -> bool:
    series = snap.infusions.get(drug, [])
    return bool(series) and series[-1].dose.value > 0


__all__ += ["concentration_base", "drug_running", "minutes_on_dose"]
