"""Three ways to run the pump on the same virtual patients.

- `Vasoguide`: at each decision time the bedside record becomes a PatientState, `assess()` is
  called, and a virtual nurse applies the advised dose (and vasopressin) after `nurse_delay`.
- `Manual`: a nurse who looks at the pressure every `manual_check_every` minutes and titrates by
  fixed steps, sometimes late; its parameters are fitted to the demo data's manual-care
  figures (SIMULATOR.md 5.4) and the fit is a test.
- `ClosedLoop`: a gain-scheduled PI controller on the 1-minute arterial MAP, in the spirit of
  the published closed-loop vasopressor systems (not a copy of any of them).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..protocol import Protocol
from .bedside import Bedside
from .cohort import Cohort, Course
from .params import Params

__all__ = ["POLICIES", "ClosedLoop", "Manual", "Policy", "Vasoguide", "World"]

F = NDArray[np.float64]
I64 = NDArray[np.int64]
_PLAUSIBLE = (20.0, 200.0)  # the project's artefact range (validation/REFERENCE.md)


@dataclass
class World:
    """What is set and seen at the bedside, shared by the run loop and the policy."""

    n: int
    method: str  # "arterial" or "cuff"
    measured: F  # (n, minutes) readings, NaN where none was taken
    ne: F  # pump now, ug/kg/min
    avp: F  # vasopressin now, U/min
    request: I64  # minute of a requested extra cuff reading, -1 for none
    stats: Counter[str] = field(default_factory=Counter)


class Policy:
    name = "policy"

    def __init__(self, p: Params, c: Cohort, course: Course, world: World) -> None:
        self.p, self.c, self.course, self.w = p, c, course, world
        n = c.n
        self.pend_t = np.full(n, -1, dtype=np.int64)
        self.pend_ne = np.full(n, np.nan)
        self.pend_avp = np.full(n, np.nan)
        self.delay = round(p["nurse_delay"])

    def schedule(self, i: int, m: int, ne: float | None, avp: float | None) -> None:
        self.pend_t[i] = m + self.delay
        if ne is not None:
            self.pend_ne[i] = ne
        if avp is not None:
            self.pend_avp[i] = avp

    def apply_due(self, m: int) -> None:
        due = np.flatnonzero(self.pend_t == m)
        for i in due:
            if not np.isnan(self.pend_ne[i]):
                self.changed(int(i), m, float(self.pend_ne[i]), "ne")
                self.w.ne[i] = self.pend_ne[i]
            if not np.isnan(self.pend_avp[i]):
                self.changed(int(i), m, float(self.pend_avp[i]), "avp")
                self.w.avp[i] = self.pend_avp[i]
        self.pend_t[due] = -1
        self.pend_ne[due] = np.nan
        self.pend_avp[due] = np.nan

    def changed(self, i: int, m: int, value: float, drug: str) -> None:
        """Hook: a pump change was made (the vasoguide nurse charts it)."""

    def step(self, m: int, charted: NDArray[np.bool_]) -> None:
        raise NotImplementedError


class Vasoguide(Policy):
    name = "vasoguide"

    def __init__(
        self, p: Params, c: Cohort, course: Course, world: World, protocol: Protocol
    ) -> None:
        super().__init__(p, c, course, world)
        from ..engine import assess

        self.assess, self.protocol = assess, protocol
        method = "arterial" if world.method == "arterial" else "noninvasive"
        self.beds = [Bedside(float(c.weight[i]), float(c.age[i]), method) for i in range(c.n)]
        s = protocol.settings
        lookback = s["wean_sustained"].value
        gap = p["chart_every"] if world.method == "arterial" else p["cuff_interval"]
        self.window = int(float(lookback) + gap + 1)
        self.every = round(p["chart_every"])

    def changed(self, i: int, m: int, value: float, drug: str) -> None:
        bed = self.beds[i]
        (bed.ne if drug == "ne" else bed.avp).append((m, value))

    def step(self, m: int, charted: NDArray[np.bool_]) -> None:
        self.apply_due(m)
        w, stats = self.w, self.w.stats
        for i in np.flatnonzero(charted):
            self.beds[i].chart(m, float(w.measured[i, m]))
        # Decision times: each charted reading, and (with a cuff) every `chart_every` minutes
        # too, when the nurse checks the pump; a stale pressure then asks for a new reading.
        due = charted | (m % self.every == 0)
        for i in np.flatnonzero(due & (self.pend_t < 0)):
            t0 = time.perf_counter()
            state = self.beds[i].state(m, self.window)
            t1 = time.perf_counter()
            a = self.assess(state, self.protocol)
            t2 = time.perf_counter()
            stats["engine_calls"] += 1
            stats["state_us"] += round((t1 - t0) * 1e6)
            stats["assess_us"] += round((t2 - t1) * 1e6)
            stats[f"decision:{a.decision}"] += 1
            self._follow(int(i), m, a)

    def _follow(self, i: int, m: int, a: object) -> None:
        from ..assessment import Assessment

        if not isinstance(a, Assessment):  # pragma: no cover - narrowing for mypy
            raise TypeError(type(a).__name__)
        bed, ne, avp = self.beds[i], None, None
        for act in a.actions:
            if act.code in ("START_NOREPINEPHRINE", "INCREASE_NOREPINEPHRINE",
                            "DECREASE_NOREPINEPHRINE") and act.dose is not None:
                dose = act.dose.value
                if act.dose.unit.replace("mcg", "ug") == "ug/min":
                    dose /= bed.weight_kg
                if abs(dose - bed.ne_now()) > 1e-9:
                    ne = dose
            elif act.code == "ADD_VASOPRESSIN" and act.dose is not None and not bed.avp:
                avp = act.dose.value
            elif (act.code == "MEASURE_BLOOD_PRESSURE" and self.w.method == "cuff"
                  and self.w.request[i] < m):
                self.w.request[i] = m + self.delay
        if ne is not None or avp is not None:
            self.schedule(i, m, ne, avp)


class Manual(Policy):
    """The calibrated manual-care nurse (parameters `manual_*` in params.yaml)."""

    name = "manual"

    def __init__(self, p: Params, c: Cohort, course: Course, world: World) -> None:
        super().__init__(p, c, course, world)
        self.every = round(p["manual_check_every"])
        self.last = np.full(c.n, np.nan)  # latest plausible reading the nurse has seen
        n = c.n
        self.check_below = np.zeros(n)
        self.check_in = np.zeros(n)
        self.check_above = np.zeros(n)

    def step(self, m: int, charted: NDArray[np.bool_]) -> None:
        self.apply_due(m)
        p, w = self.p, self.w
        seen = w.measured[:, m]
        ok = charted & (seen >= _PLAUSIBLE[0]) & (seen <= _PLAUSIBLE[1])
        self.last = np.where(ok, seen, self.last)
        check = ((m - self.course.phase) % self.every == 0) & ~np.isnan(self.last)
        if not check.any():
            return
        lo, hi = p.range("band")
        y, ne = self.last, w.ne
        on = check & (ne > 0)
        self.check_below += on & (y < lo)
        self.check_in += on & (y >= lo) & (y <= hi)
        self.check_above += on & (y > hi)
        acts = check & (self.course.uniform[:, m] < p["manual_act_probability"]) & (
            self.pend_t < 0
        )
        start = acts & (ne <= 0) & (y < lo)
        up = acts & (ne > 0) & (y < lo)
        down = acts & (ne > 0) & (y > p["manual_wean_above"])
        for i in np.flatnonzero(start):
            self.schedule(int(i), m, p["manual_start"], None)
        for i in np.flatnonzero(up):
            add_avp = ne[i] >= p["vasopressin_above"] and w.avp[i] <= 0
            new = min(ne[i] + p["manual_step_up"], p["hard_limit"])
            self.schedule(int(i), m, None if add_avp else new,
                          p["vasopressin_dose"] if add_avp else None)
        for i in np.flatnonzero(down):
            self.schedule(int(i), m, max(ne[i] - p["manual_step_down"], 0.0), None)


class ClosedLoop(Policy):
    """Velocity-form PI on MAP, gain scheduled on the running dose; acts on the pump directly."""

    name = "closed-loop"

    def __init__(self, p: Params, c: Cohort, course: Course, world: World) -> None:
        super().__init__(p, c, course, world)
        self.err_prev = np.full(c.n, np.nan)

    def step(self, m: int, charted: NDArray[np.bool_]) -> None:
        p, w = self.p, self.w
        seen = w.measured[:, m]
        ok = ~np.isnan(seen) & (seen >= _PLAUSIBLE[0]) & (seen <= _PLAUSIBLE[1])
        if not ok.any():
            return
        err = np.where(ok, p["loop_target"] - seen, np.nan)
        prev = np.where(np.isnan(self.err_prev), err, self.err_prev)
        gain = p["loop_gain"] + p["loop_gain_relative"] * w.ne
        step_min = 1.0 if w.method == "arterial" else p["cuff_interval"]
        delta = gain * ((err - prev) + err * step_min / p["loop_integral_tau"])
        new = np.clip(w.ne + np.nan_to_num(delta), 0.0, p["hard_limit"])
        new = np.where(new < 0.005, 0.0, new)  # the pump's smallest useful rate
        w.ne[:] = np.where(ok, new, w.ne)
        # Vasopressin at the SSC panel's norepinephrine level, as for manual care.
        add = ok & (err > 0) & (w.ne >= p["vasopressin_above"]) & (w.avp <= 0)
        w.avp[add] = p["vasopressin_dose"]
        self.err_prev = np.where(ok, err, self.err_prev)


POLICIES = ("vasoguide", "manual", "closed-loop")
