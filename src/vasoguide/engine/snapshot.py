"""The patient as of `state.time`: only data at or before now, implausible values set aside.

Everything later than now is dropped here, before any rule looks at the data: that is what
makes an Assessment independent of the future (the no-look-ahead property tested in
tests/test_properties.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..display import number_text, quantity_text, rounded
from ..state import Event, Fluid, FluidResponsivenessTest, Infusion, Observation, PatientState
from .advice import Advice, hhmm

__all__ = ["Snapshot", "minutes"]

# Observation codes checked against plausibility bounds, with the bound that applies.
_PLAUSIBLE_RULE = "data.implausible-values"
_PRESSURES = ("map", "sbp", "dbp")


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


@dataclass(slots=True)
class Pressure:
    """One blood-pressure value used for a decision (charted, or derived from SBP and DBP)."""

    measure: str
    value: float
    time: datetime
    method: str | None
    derived: bool = False
    reading: Observation | None = None  # the charted reading (None when derived)


class Snapshot:
    def __init__(self, state: PatientState, adv: Advice) -> None:
        self.now = now = state.time
        self.context = state.context
        self.lines = state.lines
        self.obs: dict[str, list[Observation]] = {}
        implausible: list[Observation] = []
        self.implausible: dict[str, list[Observation]] = {}
        later: list[datetime] = []
        bounds = _bounds(adv)
        for o in state.observations:
            if o.time > now:
                later.append(o.time)
                continue
            hi = bounds.get(o.code)
            if o.canonical < 0 or (hi is not None and (o.canonical >= hi or o.canonical <= 0)):
                implausible.append(o)
                self.implausible.setdefault(o.code, []).append(o)
                continue
            self.obs.setdefault(o.code, []).append(o)
        for series in self.obs.values():
            series.sort(key=lambda x: x.time)
        for o in implausible:
            adv.alert(
                "IMPLAUSIBLE_VALUE",
                "warning",
                f"{o.code.upper() if o.code in _PRESSURES else o.code.replace('_', ' ')} "
                f"{quantity_text(o.value, o.unit)} at {hhmm(o.time)} is outside the plausible "
                "range and was not used.",
                [_PLAUSIBLE_RULE],
            )
        later += [x.time for x in state.fluids if x.time > now]
        later += [x.time for x in state.infusions if x.time > now]
        later += [x.time for x in state.events if x.time > now]
        later += [x.time for x in state.fluid_responsiveness if x.time > now]
        self.later = later  # reported last (decide.py), so that it changes nothing else
        self.tests: list[FluidResponsivenessTest] = sorted(
            (t for t in state.fluid_responsiveness if t.time <= now), key=lambda t: t.time
        )
        self.fluids: list[Fluid] = [f for f in state.fluids if f.time <= now]
        self.events: list[Event] = [e for e in state.events if e.time <= now]
        self.infusions: dict[str, list[Infusion]] = {}
        for inf in state.infusions:
            if inf.time <= now:
                self.infusions.setdefault(inf.drug, []).append(inf)
        for series_i in self.infusions.values():
            series_i.sort(key=lambda x: x.time)

        patient = state.patient
        if patient.age_years is not None:
            self.age_years: float | None = patient.age_years
        elif patient.age_days is not None:
            self.age_years = patient.age_days / 365.25
        else:
            self.age_years = None
        self.age_days: float | None = (
            patient.age_days
            if patient.age_days is not None
            else (patient.age_years * 365.25 if patient.age_years is not None else None)
        )
        self.weight_kg: float | None = None
        if patient.weight is not None:
            self.weight_kg = self._plausible_weight(patient.weight.canonical, adv)
        self.line_extravasated = any(e.code == "extravasation" for e in self.events)

    def _plausible_weight(self, kg: float, adv: Advice) -> float | None:
        """The weight if plausible for the age (site bands); else flagged and not used.

        The per-kg hard limit cannot catch a wrong weight (800 kg for 80 kg gives ten times
        the rate at an ordinary per-kg dose), so the weight itself is checked against age.
        """
        band = _weight_band(self.age_years, adv)
        low = adv.setting(f"plausible_weight_min_{band}", "kg")
        high = adv.setting(f"plausible_weight_max_{band}", "kg")
        if low <= kg <= high:
            return kg
        who = {"unknown": "any age", "adult": "an adult"}.get(band, f"an age of {band}")
        adv.alert(
            "IMPLAUSIBLE_VALUE",
            "critical",
            f"Weight {number_text(rounded(kg, 'kg'))} kg is implausible for {who} (site range "
            f"{number_text(low)}-{number_text(high)} kg): not used; no weight-based dose or "
            "rate rests on it. Check the weight and its unit.",
            [_PLAUSIBLE_RULE],
        )
        adv.need("weight (plausible for the age)")
        return None

    def is_neonate(self, adv: Advice) -> bool:
        return self.age_days is not None and self.age_days < adv.setting(
            "neonatal_age_below", "d"
        )

    # -- reading the series ----------------------------------------------------------------
    def latest(self, code: str) -> Observation | None:
        """The latest reading; for a pressure, an arterial one in the same minute wins.

        Charted ICU data often hold a cuff and an arterial value in one minute; taking
        whichever sorts last made decisions flip across a threshold.
        """
        series = self.obs.get(code)
        if not series:
            return None
        last = series[-1]
        if code in _PRESSURES and last.method != "arterial":
            minute = last.time.replace(second=0, microsecond=0)
            for o in reversed(series):
                if o.time < minute:
                    break
                if o.method == "arterial":
                    return o
        return last

    def series(self, code: str) -> list[Observation]:
        return self.obs.get(code, [])

    def age_minutes(self, t: datetime) -> float:
        return minutes(self.now - t)

    def pressure(self, measure: str, adv: Advice) -> Pressure | None:
        """The latest MAP or SBP; a MAP may be derived from a same-time SBP/DBP pair."""
        latest = self.latest(measure)
        derived: Pressure | None = None
        if measure == "map" and adv.setting("derive_map_from_sbp_dbp"):
            derived = self._derived_map()
        if latest is not None and (derived is None or latest.time >= derived.time):
            return Pressure(measure, latest.canonical, latest.time, latest.method, False, latest)
        return derived

    def _derived_map(self) -> Pressure | None:
        # Pair SBP and DBP of the same time and method; an arterial pair in the same minute as
        # the latest pair wins over a cuff pair (as for charted readings).
        dbps = {(o.time, o.method): o for o in self.series("dbp")}
        found: Pressure | None = None
        for sbp in reversed(self.series("sbp")):
            if found is not None and sbp.time < found.time.replace(second=0, microsecond=0):
                break
            dbp = dbps.get((sbp.time, sbp.method))
            if dbp is None:
                continue
            value = dbp.canonical + (sbp.canonical - dbp.canonical) / 3.0
            pair = Pressure("map", value, sbp.time, sbp.method, derived=True)
            if found is None:
                found = pair
            if sbp.method == "arterial":
                return pair
        return found

    def pressures_since(self, measure: str, since: datetime) -> list[Observation]:
        """Readings after `since`, plus the one in force at `since` (first in the list)."""
        series = self.series(measure)
        before = [o for o in series if o.time <= since]
        after = [o for o in series if o.time > since]
        return ([before[-1]] if before else []) + after


def _weight_band(age_years: float | None, adv: Advice) -> str:
    if age_years is None:
        return "unknown"
    if age_years < 1:
        return "infant"
    if age_years < adv.setting("adolescent_age_from", "a"):
        return "child"
    if age_years < adv.setting("pediatric_age_below", "a"):
        return "adolescent"
    return "adult"


def _bounds(adv: Advice) -> dict[str, float]:
    memo = adv.protocol.memo
    cached: dict[str, float] | None = memo.get("plausible_bounds")
    if cached is not None:
        return cached
    rid = _PLAUSIBLE_RULE
    memo["plausible_bounds"] = bounds = {
        "map": adv.th(rid, "map_high", "mm[Hg]"),
        "sbp": adv.th(rid, "sbp_high", "mm[Hg]"),
        "dbp": adv.th(rid, "map_high", "mm[Hg]"),
        "heart_rate": adv.th(rid, "heart_rate_high", "/min"),
        "lactate": adv.setting("plausible_lactate_high", "mmol/L"),
    }
    return bounds
