"""Step 2: which pressure target applies to this patient, and why.

The target depends on the shock type and on who the patient is: bleeding trauma has a
permissive systolic band until bleeding is controlled; brain and spinal cord injury have higher
targets and no permissive hypotension; sepsis has MAP 65; cardiogenic and other shock use a site
convention; children have age-based limits or a clinician-set target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .advice import Advice
from .snapshot import Snapshot

__all__ = ["Goal", "TargetChoice", "choose_target"]

MMHG = "mm[Hg]"


@dataclass(frozen=True, slots=True)
class Goal:
    """A pressure target inside the engine; the Assessment's `target` is made from it."""

    measure: str
    low: float
    high: float | None
    basis: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "measure": self.measure,
            "low": self.low,
            "high": self.high,
            "unit": MMHG,
            "basis": self.basis,
        }


@dataclass(slots=True)
class TargetChoice:
    primary: Goal | None
    secondary: list[Goal] = field(default_factory=list)
    permissive: bool = False  # bleeding-trauma band: below it is hypotension, within it is not

    @property
    def rules(self) -> list[str]:
        return self.primary.basis if self.primary else []


def _target(measure: str, low: float, high: float | None, basis: list[str]) -> Goal:
    return Goal(measure, low, high, basis)


def choose_target(snap: Snapshot, adv: Advice, pediatric: bool) -> TargetChoice:
    ctx = snap.context
    if ctx.target is not None:
        from ..units import convert

        t = ctx.target
        adv.cite("target.clinician-set")
        low = convert(t.low, t.unit, MMHG)
        high = convert(t.high, t.unit, MMHG) if t.high is not None else None
        adv.use_value("target", f"{t.measure} {t.low:g}-{t.high or ''} {t.unit}", note=t.reason)
        return TargetChoice(_target(t.measure, low, high, ["target.clinician-set"]))
    neuro = ctx.traumatic_brain_injury is True or ctx.spinal_cord_injury is True
    # The neurotrauma targets are written for adults and adolescents (BTF: from age 15).
    adolescent = snap.age_years is not None and snap.age_years >= adv.th(
        "target.tbi-sbp-by-age", "age_min", "a"
    )
    if neuro and (not pediatric or adolescent):
        return _neurotrauma_target(snap, adv)
    if pediatric:
        return _pediatric_target(snap, adv)
    shock = ctx.shock_type
    if shock == "hemorrhagic":
        return _bleeding_trauma_target(snap, adv)
    if shock == "septic":
        return _septic_target(snap, adv)
    if shock == "cardiogenic":
        low = adv.setting("cardiogenic_map_target", MMHG)
        return TargetChoice(_target("map", low, None, ["target.cardiogenic-map"]))
    if shock is None:
        adv.need("shock_type")
    low = adv.setting("default_map_target", MMHG)
    return TargetChoice(_target("map", low, None, ["target.other-shock-map"]))


def _septic_target(snap: Snapshot, adv: Advice) -> TargetChoice:
    rid = "target.septic-map-65"
    low = adv.th(rid, "map_low", MMHG)
    basis = [rid]
    age = snap.age_years
    older = "target.older-adult-map"
    if age is not None and age >= adv.th(older, "age_min", "a"):
        lower = adv.th(older, "map_low", MMHG)
        upper = adv.th(older, "map_high", MMHG)
        if adv.setting("older_adult_target") == "ssc2026":
            low = lower
            basis.append(older)
            text = f"Lower target {lower:g} mmHg applied for age {age:g} (site setting: SSC 2026)."
        else:
            text = (
                f"Age {age:g}: a MAP target of {lower:g}-{upper:g} mmHg is acceptable in patients "
                "aged 65 or over (SSC 2026, conditional; 65 trial). Older age does not call for a "
                "higher target."
            )
        adv.alert("INDIVIDUALIZE_TARGET", "info", text, [older])
    _chronic_hypertension(snap, adv)
    return TargetChoice(_target("map", low, None, basis))


def _chronic_hypertension(snap: Snapshot, adv: Advice) -> None:
    if snap.context.chronic_hypertension is True:
        rid = "target.chronic-hypertension"
        adv.alert("INDIVIDUALIZE_TARGET", "info", adv.protocol.rules[rid].statement, [rid])


def _bleeding_trauma_target(snap: Snapshot, adv: Advice) -> TargetChoice:
    ctx = snap.context
    if ctx.bleeding_controlled is True:
        low = adv.setting("default_map_target", MMHG)
        return TargetChoice(_target("map", low, None, ["target.trauma-bleeding-controlled"]))
    rid = "target.trauma-permissive"
    if ctx.bleeding_controlled is None:
        adv.need("bleeding_controlled")
    if snap.latest("sbp") is None and snap.latest("map") is not None:
        # The guideline states the band both ways: SBP 80-90 or MAP 50-60 mmHg.
        low, high = adv.th(rid, "map_low", MMHG), adv.th(rid, "map_high", MMHG)
        return TargetChoice(_target("map", low, high, [rid]), permissive=True)
    low, high = adv.th(rid, "sbp_low", MMHG), adv.th(rid, "sbp_high", MMHG)
    return TargetChoice(_target("sbp", low, high, [rid]), permissive=True)


def _neurotrauma_target(snap: Snapshot, adv: Advice) -> TargetChoice:
    ctx = snap.context
    lows: list[tuple[float, str]] = []
    high: float | None = None
    secondary: list[Goal] = []
    if ctx.traumatic_brain_injury is True:
        rid = "target.tbi-severe-map"
        gcs_obs = snap.latest("gcs")
        gcs = ctx.gcs if ctx.gcs is not None else (gcs_obs.canonical if gcs_obs else None)
        if gcs is None:
            adv.need("gcs")
        if gcs is not None and gcs <= adv.th(rid, "gcs_max", "{score}"):
            lows.append((adv.th(rid, "map_low", MMHG), rid))
        else:
            lows.append((adv.setting("tbi_nonsevere_map_target", MMHG), rid))
        if gcs is not None:
            adv.use_value("gcs", gcs, "{score}")
        sbp_target = _btf_sbp_target(snap, adv)
        if sbp_target is not None:
            secondary.append(sbp_target)
    if ctx.spinal_cord_injury is True:
        rid = "target.sci-map"
        if adv.setting("sci_target_guideline") == "aospine2024":
            sci_low, sci_high = (
                adv.th(rid, "aospine_map_low", MMHG),
                adv.th(rid, "aospine_map_high", MMHG),
            )
        else:
            sci_low, sci_high = adv.th(rid, "map_low", MMHG), adv.th(rid, "map_high", MMHG)
        lows.append((sci_low, rid))
        high = sci_high
    low = max(v for v, _ in lows)
    if high is not None and high < low:
        high = None
    basis = [r for _, r in lows]
    if ctx.shock_type == "hemorrhagic":
        adv.alert(
            "NO_PERMISSIVE_HYPOTENSION",
            "warning",
            "Brain or spinal cord injury: permissive hypotension does not apply; adequate "
            "perfusion pressure comes first, and rapid bleeding control is paramount.",
            ["target.no-permissive-in-neurotrauma"],
        )
        if ctx.bleeding_controlled is not True:
            adv.act(
                "CONTROL_BLEEDING",
                "Control the bleeding as fast as possible (surgery, angioembolisation).",
                ["target.no-permissive-in-neurotrauma"],
            )
    return TargetChoice(_target("map", low, high, basis), secondary)


def _btf_sbp_target(snap: Snapshot, adv: Advice) -> Goal | None:
    """Brain Trauma Foundation: SBP >= 100 at 50-69 years, >= 110 at 15-49 or over 70."""
    rid = "target.tbi-sbp-by-age"
    age = snap.age_years
    if age is None:
        adv.need("age")
        return None
    if age < adv.th(rid, "age_min", "a"):
        return None
    older_from = adv.th(rid, "age_50_69_from", "a")
    older_to = adv.th(rid, "age_50_69_below", "a")
    if older_from <= age < older_to:
        low = adv.th(rid, "sbp_low_50_69", MMHG)
    else:
        low = adv.th(rid, "sbp_low_other", MMHG)
    adv.cite(rid)
    return _target("sbp", low, None, [rid])


def _pediatric_target(snap: Snapshot, adv: Advice) -> TargetChoice:
    rid = "target.pediatric-sbp"
    age = snap.age_years
    if age is not None and adv.th(rid, "age_min", "a") <= age <= adv.th(rid, "age_max", "a"):
        low = adv.th(rid, "sbp_base", MMHG) + adv.th(rid, "sbp_per_year", MMHG) * int(age)
        return TargetChoice(_target("sbp", low, None, [rid]))
    adv.cite(rid)
    adv.need("context.target (a clinician-set pressure target for this age)")
    return TargetChoice(None)
