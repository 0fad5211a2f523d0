"""Step 1: is volume resuscitation adequate, and on what evidence?

Order of evidence: the clinician's own judgement (`context.volume_status`), then a recent
dynamic fluid-responsiveness test, then the volume given (30 mL/kg crystalloid in sepsis, the
paediatric bolus volume in children, blood products in bleeding trauma). `adequate` is True,
False (inadequate: fluid responsive or judged so), or None (not established).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..display import number_text as num
from ..display import rounded
from .advice import Advice, Item, hhmm
from .snapshot import Snapshot, minutes

__all__ = ["VolumeJudgement", "judge_volume"]

_CRYSTALLOID = frozenset({"crystalloid"})
_PEDIATRIC_BOLUS = frozenset({"crystalloid", "colloid", "albumin"})
_BLOOD = frozenset({"red_cells", "plasma", "platelets", "whole_blood", "cryoprecipitate"})


@dataclass(slots=True)
class VolumeJudgement:
    adequate: bool | None
    source: str
    rules: list[str] = field(default_factory=list)
    ml_per_kg: float | None = None
    blood_products: int = 0
    tested_recently: bool = False

    def status(self) -> Item:
        """The Assessment's `volume` extension (validated with the Assessment)."""
        ml_kg = round(self.ml_per_kg, 1) if self.ml_per_kg is not None else None
        return {"adequate": self.adequate, "source": self.source, "crystalloid_ml_per_kg": ml_kg}


def _volume_ml_per_kg(
    snap: Snapshot, adv: Advice, kinds: frozenset[str], rule: str
) -> float | None:
    lookback = adv.setting("fluid_lookback", "min")
    given = [
        f
        for f in snap.fluids
        if f.type in kinds and f.volume is not None and minutes(snap.now - f.time) <= lookback
    ]
    if snap.weight_kg is None:
        return None
    total = sum(f.volume.canonical for f in given if f.volume is not None)
    if given:
        first, last = min(f.time for f in given), max(f.time for f in given)
        adv.use_value(
            "fluids",
            round(total),
            "mL",
            last,
            note=f"{len(given)} entries from {hhmm(first)} to {hhmm(last)} counted by {rule}",
        )
    return total / snap.weight_kg


def _crystalloid_types(adv: Advice) -> frozenset[str]:
    """Shock types for which crystalloid per kg counts (site setting; "unknown" = none given)."""
    memo = adv.protocol.memo
    found: frozenset[str] | None = memo.get("crystalloid_types")
    if found is None:
        raw = str(adv.setting("crystalloid_criterion_shock_types"))
        found = frozenset(t.strip() for t in raw.split(",") if t.strip())
        memo["crystalloid_types"] = found
    return found


def _volume_given(
    snap: Snapshot, adv: Advice, kinds: frozenset[str], rid: str, threshold: str, what: str
) -> VolumeJudgement:
    """Adequate when the volume given per kg reaches the rule's threshold; else not confirmed."""
    ml_kg = _volume_ml_per_kg(snap, adv, kinds, rid)
    if ml_kg is None:
        adv.need("weight")
        return VolumeJudgement(None, f"weight unknown: {what} per kg unknown", [rid])
    enough = ml_kg >= adv.th(rid, threshold, "mL/kg")
    return VolumeJudgement(
        True if enough else None, f"{num(rounded(ml_kg, 'mL/kg'))} mL/kg {what} given", [rid], ml_kg
    )


def judge_volume(snap: Snapshot, adv: Advice, pediatric: bool) -> VolumeJudgement:
    ctx = snap.context
    tests_max_age = adv.setting("fluid_test_max_age", "min")
    recent = [t for t in snap.tests if minutes(snap.now - t.time) <= tests_max_age]
    latest = next((t for t in reversed(recent) if t.result != "indeterminate"), None)
    blood = [f for f in snap.fluids if f.type in _BLOOD]
    units = int(sum(f.units or 0 for f in blood))

    if ctx.volume_status != "unknown":
        adv.use_value("volume_status", ctx.volume_status)
        j = VolumeJudgement(
            ctx.volume_status == "adequate", "clinician judgement", ["volume.clinician-judgement"]
        )
        j.tested_recently = latest is not None
        j.blood_products = units
        return j
    if latest is not None:
        adv.use_value(f"fluid_responsiveness.{latest.method}", latest.result, time=latest.time)
        return VolumeJudgement(
            latest.result == "unresponsive",
            f"{latest.method.replace('_', ' ')} {latest.result} at {hhmm(latest.time)}",
            ["volume.dynamic-responsiveness"],
            tested_recently=True,
            blood_products=units,
        )
    shock = ctx.shock_type
    if pediatric:
        return _volume_given(
            snap, adv, _PEDIATRIC_BOLUS, "volume.pediatric-boluses", "bolus_total", "fluid boluses"
        )
    if (shock or "unknown") in _crystalloid_types(adv):
        return _volume_given(
            snap,
            adv,
            _CRYSTALLOID,
            "volume.sepsis-crystalloid-30",
            "crystalloid_min",
            "crystalloid",
        )
    if shock == "hemorrhagic":
        rid = "volume.hemorrhage-blood-products"
        adv.cite(rid)
        if units:
            adv.use_value("blood_products", units, "{units}", max(f.time for f in blood))
        text = (
            f"{units} units of blood products given; adequacy is the clinician's judgement"
            if units
            else "no blood products recorded"
        )
        return VolumeJudgement(None, text, [rid], blood_products=units)
    if shock == "cardiogenic":
        return VolumeJudgement(
            None,
            "cardiogenic shock: rapid volume assessment",
            ["volume.cardiogenic-rapid-assessment"],
        )
    return VolumeJudgement(None, "no judgement, test or volume threshold available", [])


def volume_actions(snap: Snapshot, adv: Advice, vol: VolumeJudgement, basis: list[str]) -> None:
    """The fluid, blood and testing actions that go with volume not (yet) adequate."""
    if snap.context.shock_type == "hemorrhagic":
        adv.act(
            "GIVE_BLOOD_PRODUCTS",
            "Continue blood product replacement (restricted volume replacement to the target "
            "until bleeding is controlled).",
            ["volume.hemorrhage-blood-products", *basis],
        )
    elif snap.context.shock_type == "cardiogenic":
        pass  # fluids are not the primary treatment of (left-sided) cardiogenic shock
    else:
        adv.act(
            "GIVE_FLUID",
            "Give fluid (crystalloid) and reassess; no vasopressor as a substitute for volume.",
            [*vol.rules, *basis],
        )
    if not vol.tested_recently:
        adv.act(
            "ASSESS_FLUID_RESPONSIVENESS",
            "Assess fluid responsiveness with a dynamic test (passive leg raise with stroke "
            "volume, pulse pressure or stroke volume variation).",
            ["volume.dynamic-responsiveness"],
        )


__all__ += ["volume_actions"]
