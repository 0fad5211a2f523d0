"""Step 2: which pressure target applies to this patient, and why.

The target depends on the shock type and on who the patient is: bleeding trauma has a
permissive systolic band until bleeding is controlled; brain and spinal cord injury have higher
targets and no permissive hypotension; sepsis has MAP 65; cardiogenic and other shock use a site
convention; children have age-based limits or a clinician-set target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..display import number_text as num
from ..display import unit_text
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
    # A hypotension floor that is not a treatment target (Phoenix MAP bands in infants):
    # at or below `low` is hypotension needing a decision; there is no band to aim for.
    floor_only: bool = False

    def is_below(self, value: float) -> bool:
        return value <= self.low if self.floor_only else value < self.low

    def as_dict(self, also: list[Goal] | None = None) -> dict[str, object]:
        out: dict[str, object] = {
            "measure": self.measure,
            "low": self.low,
            "high": self.high,
            "unit": MMHG,
            "basis": self.basis,
        }
        if also:
            out["also"] = [g.as_dict() for g in also]
        return out


@dataclass(slots=True)
class TargetChoice:
    primary: Goal | None
    secondary: list[Goal] = field(default_factory=list)
    permissive: bool = False  # bleeding-trauma band: below it is hypotension, within it is not
    floor: Goal | None = None  # no target, but a sourced hypotension floor (infants)

    @property
    def rules(self) -> list[str]:
        return self.primary.basis if self.primary else []


def _target(
    measure: str, low: float, high: float | None, basis: list[str], floor_only: bool = False
) -> Goal:
    return Goal(measure, low, high, basis, floor_only)


def choose_target(snap: Snapshot, adv: Advice, pediatric: bool) -> TargetChoice:
    ctx = snap.context
    if ctx.target is not None:
        from ..units import convert

        t = ctx.target
        adv.cite("target.clinician-set")
        low = convert(t.low, t.unit, MMHG)
        high = convert(t.high, t.unit, MMHG) if t.high is not None else None
        band = num(t.low) + (f"-{num(t.high)}" if t.high is not None else "+")
        adv.use_value("target", f"{t.measure} {band} {unit_text(t.unit)}", note=t.reason)
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
            text = (
                f"Lower target {num(lower)} mmHg applied for age {num(age)} (site setting: "
                "SSC 2026)."
            )
        else:
            text = (
                f"Age {num(age)}: a MAP target of {num(lower)}-{num(upper)} mmHg is acceptable in "
                "patients "
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
    """Children: PALS SBP (1-10 y) when an SBP is charted, else the 5th-percentile MAP (1-17 y).

    Under 1 year no sourced target exists: the Phoenix Sepsis Score's MAP bands mark
    hypotension that needs a decision, and a clinician-set target is asked for.
    """
    age = snap.age_years
    sbp_rid, map_rid = "target.pediatric-sbp", "target.pediatric-map-percentile"
    if age is None:
        adv.cite(sbp_rid)
        adv.need("context.target (a clinician-set pressure target for this age)")
        return TargetChoice(None)
    years = int(age)
    in_sbp_ages = adv.th(sbp_rid, "age_min", "a") <= age <= adv.th(sbp_rid, "age_max", "a")
    has_map = snap.latest("map") is not None or snap.pressure("map", adv) is not None
    if in_sbp_ages and (snap.latest("sbp") is not None or not has_map):
        low = adv.th(sbp_rid, "sbp_base", MMHG) + adv.th(sbp_rid, "sbp_per_year", MMHG) * years
        return TargetChoice(_target("sbp", low, None, [sbp_rid]))
    if adv.th(map_rid, "age_min", "a") <= age < adv.th(map_rid, "age_below", "a"):
        per_year = adv.th(map_rid, "map_per_year", MMHG) * years
        # Whole mmHg, rounded up: "MAP 44.5 or more" is met by the same charted whole-mmHg
        # readings as "45 or more", and the target is written as clinicians chart it.
        p5 = float(math.ceil(adv.th(map_rid, "map5_base", MMHG) + per_year))
        p50 = float(math.ceil(adv.th(map_rid, "map50_base", MMHG) + per_year))
        adv.alert(
            "INDIVIDUALIZE_TARGET",
            "info",
            f"Age {years}: 5th-percentile MAP {num(p5)} mmHg is the default floor; a clinician may "
            f"set a target up to the 50th percentile ({num(p50)} mmHg) in context.target (the "
            "paediatric SSC makes no recommendation between them).",
            [map_rid],
        )
        return TargetChoice(_target("map", p5, None, [map_rid]))
    return _infant_floor(snap, adv)


def _infant_floor(snap: Snapshot, adv: Advice) -> TargetChoice:
    """Under 1 year: Phoenix MAP bands as a hypotension floor, never as a target."""
    rid = "target.infant-phoenix-map"
    adv.need("context.target (a clinician-set pressure target for this age)")
    days, years = snap.age_days, snap.age_years
    if days is None or years is None or years >= adv.th(rid, "age_below", "a"):
        adv.cite("target.pediatric-sbp")
        return TargetChoice(None)
    young = days < adv.th(rid, "neonate_age_below", "d")
    band = "under 1 month" if young else "1-11 months"
    one = adv.th(rid, "map_1pt_max_neonate" if young else "map_1pt_max_infant", MMHG)
    two = adv.th(rid, "map_2pt_max_neonate" if young else "map_2pt_max_infant", MMHG)
    adv.alert(
        "INDIVIDUALIZE_TARGET",
        "warning",
        f"No sourced MAP target under 1 year: set one (context.target). The Phoenix Sepsis Score "
        f"marks MAP {num(one)} mmHg or less ({band}) as cardiovascular dysfunction (2 points at "
        f"{num(two)} or less); it is a floor for a decision, not a target.",
        [rid],
    )
    return TargetChoice(None, floor=_target("map", one, None, [rid], floor_only=True))
