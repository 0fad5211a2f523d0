"""The patient as of `state.time`: only data at or before now, implausible values set aside.

Everything later than now is dropped here, before any rule looks at the data: that is what
makes an Assessment independent of the future (the no-look-ahead property tested in
tests/test_properties.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..state import Event, Fluid, FluidResponsivenessTest, Infusion, Observation, PatientState
from .advice import Advice, hhmm

__all__ = ["Snapshot", "minutes"]

# Observation codes checked against plausibility bounds, with the bound that applies.
_PLAUSIBLE_RULE = "data.implausible-values"


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


class Snapshot:
    def __init__(self, state: PatientState, adv: Advice) -> None:
        self.now = now = state.time
        self.context = state.context
        self.lines = state.lines
        self.obs: dict[str, list[Observation]] = {}
        implausible: list[Observation] = []
        bounds = _bounds(adv)
        for o in state.observations:
            if o.time > now:
                continue
            hi = bounds.get(o.code)
            if o.canonical < 0 or (hi is not None and (o.canonical >= hi or o.canonical <= 0)):
                implausible.append(o)
                continue
            self.obs.setdefault(o.code, []).append(o)
        for series in self.obs.values():
            series.sort(key=lambda x: x.time)
        for o in implausible:
            adv.alert(
                "IMPLAUSIBLE_VALUE",
                "warning",
                f"{o.code} {o.value:g} {o.unit} at {hhmm(o.time)} is outside the plausible range "
                "and was not used.",
                [_PLAUSIBLE_RULE],
            )
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
        self.weight_kg: float | None = patient.weight.canonical if patient.weight else None
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

    # -- reading the series ----------------------------------------------------------------
    def latest(self, code: str) -> Observation | None:
        series = self.obs.get(code)
        return series[-1] if series else None

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
            return Pressure(measure, latest.canonical, latest.time, latest.method)
        return derived

    def _derived_map(self) -> Pressure | None:
        dbps = {o.time: o for o in self.series("dbp")}
        for sbp in reversed(self.series("sbp")):
            dbp = dbps.get(sbp.time)
            if dbp is not None:
                value = dbp.canonical + (sbp.canonical - dbp.canonical) / 3.0
                method = sbp.method if sbp.method == dbp.method else None
                return Pressure("map", value, sbp.time, method, derived=True)
        return None

    def pressures_since(self, measure: str, since: datetime) -> list[Observation]:
        """Readings after `since`, plus the one in force at `since` (first in the list)."""
        series = self.series(measure)
        before = [o for o in series if o.time <= since]
        after = [o for o in series if o.time > since]
        return ([before[-1]] if before else []) + after


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
