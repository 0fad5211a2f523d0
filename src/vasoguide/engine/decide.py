"""assess(state, protocol): the one answer about norepinephrine now, with every reason.

Pure: no I/O, no clock, no randomness. "Now" is `state.time`; only data at or before it is
used (see snapshot.py). The order below follows the seed's algorithm: who the patient is, what
is running, the target (step 2), the pressure, volume (step 1), the decision and its dose
(step 3), response and adjuncts (step 4), then route and safety checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from ..assessment import Assessment
from ..display import number_text as num
from ..display import quantity_text, rounded
from ..protocol import Protocol, load_protocol
from ..state import PatientState, parse_state
from .access import check_access
from .adjuncts import other_adjuncts, vasopressin_instead
from .advice import Advice, hhmm
from .dosing import DoseAdvice, advised_start, titrated
from .infusions import NorepinephrineNow, drug_running, minutes_on_dose, norepinephrine_now
from .perfusion import Perfusion, assess_perfusion
from .snapshot import Pressure, Snapshot, minutes
from .targets import Goal, TargetChoice, choose_target
from .volume import VolumeJudgement, judge_volume, volume_actions

__all__ = ["assess"]

_LOW_CERTAINTY = ("low", "very low", "level iii")


def assess(
    state: PatientState | Mapping[str, Any] | str | bytes, protocol: Protocol | None = None
) -> Assessment:
    """Assess a patient state against the protocol (the packaged default when None)."""
    s = parse_state(state)
    p = protocol if protocol is not None else load_protocol()
    adv = Advice(p, s.time)
    snap = Snapshot(s, adv)
    pediatric = _population(snap, adv)
    ne = norepinephrine_now(snap, adv)
    choice = choose_target(snap, adv, pediatric)
    vol = judge_volume(snap, adv, pediatric)
    perfusion = assess_perfusion(snap, adv)
    return _Decider(snap, adv, ne, choice, vol, perfusion, pediatric).run()


def _population(snap: Snapshot, adv: Advice) -> bool:
    if snap.weight_kg is not None:
        adv.use_value("weight", round(snap.weight_kg, 2), "kg")
    if snap.age_years is None:
        adv.need("age")
        return False
    adv.use_value("age", round(snap.age_years, 3), "a")
    if snap.age_years >= adv.setting("pediatric_age_below", "a"):
        return False
    neonate = snap.age_days is not None and snap.age_days < adv.setting("neonatal_age_below", "d")
    rules = ["population.pediatric"]
    text = (
        "Paediatric patient: adult defaults (targets, premixed concentrations, doses) do not "
        "apply; targets are age-based or set by the clinician."
    )
    if neonate:
        rules.append("population.neonatal-rescue-dose")
        rescue = adv.th("population.neonatal-rescue-dose", "rescue_dose", "ug/kg/min")
        text += (
            f" Neonate: {num(rescue)} mcg/kg/min (Tourneux 2008, 22 newborns, rescue after "
            "dopamine "
            "or dobutamine) is not a first-line dose."
        )
    adv.alert("PEDIATRIC_PATIENT", "warning", text, rules)
    return True


def _low_certainty_rules(adv: Advice) -> dict[str, str]:
    """Rules whose main citation rests on low or very low certainty (once per protocol)."""
    memo = adv.protocol.memo
    found: dict[str, str] | None = memo.get("low_certainty")
    if found is None:
        found = {}
        for rid, rule in adv.protocol.rules.items():
            c = rule.citations[0]
            if c.certainty.lower().startswith(_LOW_CERTAINTY) and c.direction != "convention":
                found[rid] = f"{c.strength}, {c.certainty}"
        memo["low_certainty"] = found
    return found


class _Decider:
    def __init__(
        self,
        snap: Snapshot,
        adv: Advice,
        ne: NorepinephrineNow,
        choice: TargetChoice,
        vol: VolumeJudgement,
        perfusion: Perfusion,
        pediatric: bool,
    ) -> None:
        self.snap, self.adv, self.ne, self.choice = snap, adv, ne, choice
        self.vol, self.perfusion, self.pediatric = vol, perfusion, pediatric
        self.summary = ""

    # -- the decision ------------------------------------------------------------------------
    def run(self) -> Assessment:
        snap, adv = self.snap, self.adv
        # An infant without a target still has a sourced hypotension floor to decide on.
        target = self.choice.primary or self.choice.floor
        pressure = snap.pressure(target.measure, adv) if target is not None else None
        if target is not None:
            adv.cite(*target.basis)
            for extra in self.choice.secondary:
                adv.cite(*extra.basis)
        decision = self._decide(target, pressure)
        pressor = decision == "START_NOREPINEPHRINE"
        other_adjuncts(snap, adv, self.ne, pressor, self.perfusion)
        check_access(snap, adv, self.ne, decision == "START_NOREPINEPHRINE", pressure)
        self._abrupt_stop()
        self._certainty(decision)
        self._bleeding(decision)
        self._data_after_now()
        return adv.build(
            decision,
            self.choice.primary,
            self.choice.secondary,
            self.ne.status(),
            self.vol.status(),
            self.summary,
        )

    def _decide(self, target: Goal | None, pressure: Pressure | None) -> str:
        adv, snap, ne = self.adv, self.snap, self.ne
        if target is None:
            self.summary = "No pressure target applies without a clinician-set target."
            return "INSUFFICIENT_DATA"
        if pressure is None:
            name = target.measure.upper()
            if self.pediatric:
                adv.need(f"{target.measure} (or a clinician-set target in context.target)")
            else:
                adv.need(target.measure)
            adv.act(
                "MEASURE_BLOOD_PRESSURE",
                f"Measure the {name} now (arterial line preferred).",
                ["data.pressure-required"],
            )
            rejected = snap.implausible.get(target.measure)
            if rejected:
                o = rejected[-1]
                self.summary = (
                    f"No usable {name}: {name} {quantity_text(o.value, o.unit)} at "
                    f"{hhmm(o.time)} is implausible and was not used; measure again."
                )
            else:
                self.summary = f"No {name} recorded: no advice on norepinephrine."
            return "INSUFFICIENT_DATA"
        age = snap.age_minutes(pressure.time)
        if age > adv.setting("pressure_max_age", "min"):
            adv.alert(
                "STALE_DATA",
                "warning",
                f"Latest {pressure.measure.upper()} is {num(rounded(age, 'min'))} min old "
                f"({hhmm(pressure.time)}).",
                ["data.staleness"],
            )
            adv.need(f"{target.measure} (current)")
            adv.act(
                "MEASURE_BLOOD_PRESSURE",
                "Measure the pressure now before any change.",
                ["data.pressure-required", "data.staleness"],
            )
            self.summary = "The latest pressure is stale: measure before deciding."
            return "INSUFFICIENT_DATA"
        self._record_pressure(pressure)
        name = pressure.measure.upper()
        value = rounded(pressure.value, "mm[Hg]")
        primary_below = target.is_below(pressure.value)
        above_high = target.high is not None and pressure.value > target.high
        triggers = [f"{name} {num(value)} below {num(target.low)}"] if primary_below else []
        triggers += self._secondary_below()
        below = bool(triggers)
        where = f"{name} {num(value)} mmHg ({hhmm(pressure.time)})"
        if target.floor_only:
            self.summary = (
                f"{where}; no target set (under 1 year); hypotension floor {name} "
                f"{num(target.low)} or less (Phoenix). "
            )
            if not below:
                return self._no_target_above_floor()
        else:
            band = num(target.low) + (f"-{num(target.high)}" if target.high is not None else "+")
            extra = "".join(
                f" and {g.measure.upper()} {num(g.low)}+" for g in self.choice.secondary
            )
            self.summary = f"{where}; target {name} {band}{extra}. "
        if below:
            self.summary += "; ".join(triggers) + ". "
        if ne.running:
            decision = self._running(target, pressure, below, above_high)
        else:
            decision = self._not_running(target, pressure, below, above_high)
        return decision

    def _record_pressure(self, p: Pressure) -> None:
        if p.derived:
            self.adv.cite("data.map-from-sbp-dbp")
            self.adv.use_value(
                "map", round(p.value, 1), "mm[Hg]", p.time, note="derived: DBP + (SBP - DBP) / 3"
            )
            for code in ("sbp", "dbp"):
                obs = next(
                    o
                    for o in reversed(self.snap.series(code))
                    if o.time == p.time and o.method == p.method
                )
                self.adv.use(obs, "mm[Hg]")
        elif p.reading is not None:
            self.adv.use(p.reading, "mm[Hg]")

    def _secondary_below(self) -> list[str]:
        """Each secondary target the patient is below, as "SBP 96 below 100"."""
        found: list[str] = []
        for t in self.choice.secondary:
            reading = self.snap.latest(t.measure)
            if reading is None:
                self.adv.need(t.measure)
                continue
            if self.snap.age_minutes(reading.time) > self.adv.setting("pressure_max_age", "min"):
                continue
            self.adv.use(reading, "mm[Hg]")
            if reading.canonical < t.low:
                shown = num(rounded(reading.canonical, "mm[Hg]"))
                found.append(f"{t.measure.upper()} {shown} below {num(t.low)}")
        return found

    def _no_target_above_floor(self) -> str:
        """An infant above the Phoenix floor with no target: nothing sourced to titrate to."""
        self.summary += "Above the floor: no target to titrate to until a clinician sets one."
        if self.ne.running:
            self._act_dose(
                "CONTINUE_NOREPINEPHRINE",
                "Keep the current dose (never stop abruptly) until a target is set.",
                self._step(0),
                ["target.infant-phoenix-map"],
            )
        return "INSUFFICIENT_DATA"

    def _life_threatening(self, p: Pressure) -> bool:
        key = "life_threatening_map" if p.measure == "map" else "life_threatening_sbp"
        return bool(p.value < self.adv.setting(key, "mm[Hg]"))

    def _not_running(self, target: Goal, p: Pressure, below: bool, above_high: bool) -> str:
        adv, vol = self.adv, self.vol
        cardiogenic = self.snap.context.shock_type == "cardiogenic"
        if below and self.choice.permissive:
            if not self._life_threatening(p):
                return self._below_permissive_band(p)
            # Life-threatening: norepinephrine in addition to blood, never instead of it.
            volume_actions(self.snap, adv, vol, ["volume.life-threatening-alongside-fluids"])
        if below:
            if vol.adequate is True or (cardiogenic and vol.adequate is None):
                adv.cite(*vol.rules)
                if vol.adequate is None:
                    self._volume_not_confirmed("warning", ["volume.cardiogenic-rapid-assessment"])
                    adv.act(
                        "ASSESS_FLUID_RESPONSIVENESS",
                        "Rapid volume assessment (echocardiography, dynamic test); fluids "
                        "are not the primary treatment of left-sided cardiogenic shock.",
                        ["volume.cardiogenic-rapid-assessment"],
                    )
                self._start(target, f"volume {self._volume_words()}")
                return "START_NOREPINEPHRINE"
            if self._life_threatening(p):
                rid = "volume.life-threatening-alongside-fluids"
                self._volume_not_confirmed("critical", [rid])
                volume_actions(self.snap, adv, vol, [rid])
                self._start(target, "life-threatening hypotension: alongside ongoing volume")
                return "START_NOREPINEPHRINE"
            adv.cite(*vol.rules)
            volume_actions(self.snap, adv, vol, ["pitfall.no-vasopressor-for-volume"])
            self.summary += (
                f"Below target but volume {self._volume_words()}: fluids or blood first; "
                "no vasopressor as a substitute for volume."
            )
            return "RESUSCITATE_FIRST"
        self._perfusion_check()
        if self.choice.permissive and not above_high:
            self.summary += "Within the permissive band: no vasopressor; control the bleeding."
            return "PERMISSIVE_HYPOTENSION"
        adv.cite("response.at-target")
        self.summary += "At or above target: norepinephrine not indicated."
        return "NOT_INDICATED"

    def _below_permissive_band(self, p: Pressure) -> str:
        """Bleeding trauma below the band, not life-threatening: blood and bleeding control.

        The trauma guideline's SBP 80-90 is a target, not a vasopressor trigger: it gives
        vasopressors in addition to fluids only for life-threatening hypotension (FACTS 3;
        the seed's "SBP < 80 starts norepinephrine" is erratum 4). The life-threatening level
        is the site setting `life_threatening_sbp` / `life_threatening_map`.
        """
        adv = self.adv
        key = "life_threatening_map" if p.measure == "map" else "life_threatening_sbp"
        level = adv.setting(key, "mm[Hg]")
        volume_actions(
            self.snap,
            adv,
            self.vol,
            ["target.trauma-permissive", "pitfall.no-vasopressor-for-volume"],
        )
        adv.cite("volume.life-threatening-alongside-fluids")
        self.summary += (
            "Below the permissive band: blood products and bleeding control first; "
            f"norepinephrine alongside them only if hypotension becomes life-threatening "
            f"({p.measure.upper()} below {num(level)} mmHg, site setting)."
        )
        return "RESUSCITATE_FIRST"

    def _unverified_dose(self, below: bool) -> str:
        """A running dose rejected as implausible: nothing is titrated until it is verified."""
        adv = self.adv
        if below and self.vol.adequate is False:
            volume_actions(self.snap, adv, self.vol, ["pitfall.no-vasopressor-for-volume"])
        adv.act(
            "CONTINUE_NOREPINEPHRINE",
            "Verify the pump's actual dose and unit first: the charted dose is implausible. "
            "Do not change the dose until it is known; then reassess"
            + (
                " (below target: titration or vasopressin depends on the real dose)."
                if below
                else "."
            ),
            ["data.dose-unit-suspect"],
            drug="norepinephrine",
        )
        self.summary += (
            "The charted norepinephrine dose is implausible: verify the pump's dose and unit "
            "before any change."
        )
        return "CONTINUE_NOREPINEPHRINE"

    def _running(self, target: Goal, p: Pressure, below: bool, above_high: bool) -> str:
        adv, ne, vol, snap = self.adv, self.ne, self.vol, self.snap
        on_dose = minutes_on_dose(ne, snap) or 0.0
        if not ne.usable:
            return self._unverified_dose(below)
        if below:
            if vol.adequate is False and not self._life_threatening(p):
                adv.cite(*vol.rules)
                self._volume_not_confirmed("warning", ["pitfall.no-vasopressor-for-volume"])
                volume_actions(snap, adv, vol, ["pitfall.no-vasopressor-for-volume"])
                self._act_dose(
                    "CONTINUE_NOREPINEPHRINE",
                    "Hold the dose (do not stop abruptly) while volume is restored; "
                    "no escalation as a substitute for volume.",
                    self._step(0),
                )
                self.summary += "Below target with inadequate volume: volume first, hold the dose."
                return "RESUSCITATE_FIRST"
            if vol.adequate is not True:
                self._volume_not_confirmed("warning", ["pitfall.no-vasopressor-for-volume"])
                if not vol.tested_recently:
                    volume_actions(snap, adv, vol, ["pitfall.no-vasopressor-for-volume"])
            if vasopressin_instead(snap, adv, ne, below=True):
                self._act_dose(
                    "CONTINUE_NOREPINEPHRINE",
                    "Hold norepinephrine at the current dose and add vasopressin "
                    "instead of escalating.",
                    self._step(0),
                )
                self.summary += "Below target on a high norepinephrine dose: add vasopressin."
                return "CONTINUE_NOREPINEPHRINE"
            interval = adv.setting("titration_interval", "min")
            if on_dose < interval:
                due = hhmm(ne.since) if ne.since else "?"
                self._act_dose(
                    "CONTINUE_NOREPINEPHRINE",
                    f"Below target, but the dose was changed {num(rounded(on_dose, 'min'))} min "
                    "ago (set "
                    f"at {due}); reassess and titrate up once it has run "
                    f"{num(interval)} min.",
                    self._step(0),
                    ["admin.titration"],
                )
                self.summary += "Below target; too soon after the last change: reassess shortly."
                return "CONTINUE_NOREPINEPHRINE"
            step = self._step(+1)
            if step is not None and step.capped_at_limit and step.unchanged:
                self._act_dose(
                    "CONTINUE_NOREPINEPHRINE",
                    "Below target at the hard dose limit: do not exceed it; consider "
                    "adjuncts and the cause of shock.",
                    step,
                    ["admin.dose-limits"],
                )
                self.summary += "Below target at the hard limit."
                return "CONTINUE_NOREPINEPHRINE"
            self._act_dose(
                "INCREASE_NOREPINEPHRINE",
                "Below target: titrate up one step and reassess.",
                step,
                ["admin.titration", *target.basis],
            )
            self.summary += "Below target: increase norepinephrine."
            return "INCREASE_NOREPINEPHRINE"
        self._perfusion_check()
        if self.choice.permissive:
            adv.alert(
                "PREMATURE_VASOPRESSOR",
                "warning",
                "Vasopressor running in a bleeding trauma patient within or above the "
                "permissive range: vasoconstriction may worsen organ perfusion before "
                "bleeding is controlled; use only transiently for life-threatening "
                "hypotension.",
                ["pitfall.premature-vasopressor-trauma"],
            )
        if above_high or self._sustained_above(target):
            self._wean(target)
            return "DECREASE_NOREPINEPHRINE"
        adv.cite("response.at-target")
        self._act_dose(
            "CONTINUE_NOREPINEPHRINE",
            "At target: continue the current dose.",
            self._step(0),
            ["response.at-target"],
        )
        self.summary += "At target: continue."
        return "CONTINUE_NOREPINEPHRINE"

    # -- pieces ------------------------------------------------------------------------------
    def _step(self, direction: int) -> DoseAdvice | None:
        return titrated(self.snap, self.adv, self.ne, self.pediatric, direction)

    def _volume_words(self) -> str:
        v = self.vol
        state = {True: "adequate", False: "inadequate", None: "not confirmed"}[v.adequate]
        return f"{state} ({v.source})"

    def _volume_not_confirmed(self, severity: str, basis: list[str]) -> None:
        self.adv.alert(
            "VOLUME_NOT_CONFIRMED",
            severity,
            f"Vasopressor with volume {self._volume_words()}.",
            basis,
        )

    def _start(self, target: Goal, why: str) -> None:
        dose = advised_start(self.snap, self.adv, self.ne, self.pediatric)
        basis = [*target.basis, "admin.ne-first-line", *dose.rules]
        if self.snap.context.shock_type == "septic":
            self.adv.cite("evidence.early-vasopressor")
        self._act_dose(
            "START_NOREPINEPHRINE", f"Start norepinephrine ({why}). {dose.text}", dose, basis
        )
        self.summary += f"{why[0].upper()}{why[1:]}: start norepinephrine. {dose.text}"

    def _act_dose(
        self, code: str, text: str, dose: DoseAdvice | None, basis: list[str] | None = None
    ) -> None:
        fields: dict[str, Any] = {"drug": "norepinephrine"}
        rules = list(basis or [])
        if dose is not None:
            rules += [r for r in dose.rules if r not in rules]
            if dose.dose is not None:
                fields["dose"] = dose.dose
            if dose.rate is not None and dose.concentration is not None:
                fields["rate"] = dose.rate
                fields["concentration"] = dose.concentration
                fields["concentration_basis"] = dose.concentration_basis
            if dose.text and dose.text not in text:
                text = f"{text} {dose.text}"
        self.adv.act(code, text.strip(), rules or ["admin.titration"], **fields)

    def _wean(self, target: Goal) -> None:
        adv = self.adv
        step = self._step(-1)
        text = "Above target: wean gradually, one step at a time, never abruptly."
        if drug_running(self.snap, "vasopressin"):
            text += (
                " Vasopressin is also running: evidence on which to stop first is mixed; "
                "many centres taper norepinephrine first."
            )
        self._act_dose("DECREASE_NOREPINEPHRINE", text, step, ["response.wean"])
        adv.alert(
            "AVOID_ABRUPT_DISCONTINUATION",
            "info",
            "Taper norepinephrine gradually; sudden cessation causes marked hypotension.",
            ["pitfall.no-abrupt-stop"],
        )
        self.summary += "Above target: decrease norepinephrine gradually."

    def _sustained_above(self, target: Goal) -> bool:
        adv, snap = self.adv, self.snap
        level = target.low + adv.setting("wean_margin", "mm[Hg]")
        window = adv.setting("wean_sustained", "min")
        since = snap.now - _minutes(window)
        readings = snap.pressures_since(target.measure, since)
        if not readings or readings[0].time > since:
            return False
        if all(o.canonical >= level for o in readings):
            for o in readings:
                adv.use(o, "mm[Hg]")
            return True
        return False

    def _perfusion_check(self) -> None:
        poor = self.perfusion.poor
        if not poor:
            return
        rules = ["response.perfusion-not-improving", *self.perfusion.rules]
        self.adv.alert(
            "PERFUSION_NOT_IMPROVING",
            "warning",
            "Pressure at target but perfusion is not improving: "
            + "; ".join(poor)
            + ". A higher pressure does not improve perfusion in every patient.",
            [*rules, "evidence.no-response-physiology"],
        )
        self.adv.act(
            "REASSESS_PERFUSION",
            "Reassess perfusion and its causes (volume, cardiac output, source control).",
            rules,
        )

    def _abrupt_stop(self) -> None:
        ne, adv = self.ne, self.adv
        if ne.running or ne.stopped_at is None or ne.stopped_from is None:
            return
        recent = minutes(self.snap.now - ne.stopped_at) <= adv.setting("wean_sustained", "min")
        if recent and ne.stopped_from > adv.setting("abrupt_stop_above", "ug/kg/min"):
            adv.alert(
                "AVOID_ABRUPT_DISCONTINUATION",
                "warning",
                f"Norepinephrine was stopped at {hhmm(ne.stopped_at)} from "
                f"{num(rounded(ne.stopped_from, 'ug/kg/min'))} mcg/kg/min: watch for marked "
                "hypotension; taper "
                "rather than stop.",
                ["pitfall.no-abrupt-stop"],
            )

    def _data_after_now(self) -> None:
        later = self.snap.later
        if later:
            # Never silently: a reading after "now" is a clock or charting problem worth seeing.
            self.adv.alert(
                "DATA_AFTER_ASSESSMENT_TIME",
                "info",
                f"{len(later)} item(s) timed after the assessment time (first at "
                f"{hhmm(min(later))}) were not used: only data at or before "
                f"{hhmm(self.snap.now)} count.",
                ["data.staleness"],
            )

    def _certainty(self, decision: str) -> None:
        adv = self.adv
        main = next((a for a in adv.actions if a["code"] == decision), None)
        if main is None:
            return
        grades = _low_certainty_rules(adv)
        low = [rid for rid in main["basis"] if rid in grades]
        if low:
            adv.alert(
                "LOW_CERTAINTY_EVIDENCE",
                "info",
                "This advice rests on low-certainty evidence: "
                + "; ".join(f"{rid} ({grades[rid]})" for rid in low)
                + ".",
                low,
            )

    def _bleeding(self, decision: str) -> None:
        ctx, adv = self.snap.context, self.adv
        if ctx.shock_type != "hemorrhagic" or ctx.bleeding_controlled is True:
            return
        adv.act(
            "CONTROL_BLEEDING",
            "Control the bleeding as fast as possible (surgery, angioembolisation); the "
            "permissive target holds only until bleeding is controlled.",
            self.choice.rules or ["target.trauma-permissive"],
        )
        if self.ne.running or decision == "START_NOREPINEPHRINE":
            adv.alert(
                "LOW_CERTAINTY_EVIDENCE",
                "info",
                "Vasopressors in bleeding trauma: observational studies suggest harm with "
                "high risk of bias; a 2017 systematic review could not conclude on benefit "
                "or harm.",
                ["evidence.trauma-vasopressor-uncertain"],
            )


def _minutes(m: float) -> timedelta:
    return timedelta(minutes=m)
