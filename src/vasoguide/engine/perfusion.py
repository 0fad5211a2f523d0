"""Step 4, beyond pressure: urine output, lactate trend, capillary refill; ScvO2 as information.

Each marker answers "improving / not improving / unknown" with the values and times it used.
None of them overrides the pressure decision; together they say whether a pressure at target is
also perfusing the patient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..display import number_text as num
from ..display import rounded
from .advice import Advice, hhmm
from .snapshot import Snapshot, minutes

__all__ = ["Perfusion", "assess_perfusion"]


@dataclass(slots=True)
class Perfusion:
    poor: list[str] = field(default_factory=list)  # one phrase per marker not improving
    rules: list[str] = field(default_factory=list)


def assess_perfusion(snap: Snapshot, adv: Advice) -> Perfusion:
    out = Perfusion()
    _urine_output(snap, adv, out)
    _lactate(snap, adv, out)
    _capillary_refill(snap, adv, out)
    _scvo2(snap, adv)
    return out


def _urine_output(snap: Snapshot, adv: Advice, out: Perfusion) -> None:
    rid = "response.urine-output"
    window = adv.th(rid, "window", "min")
    recent = [
        o
        for o in snap.series("urine_output")
        if o.start is not None and minutes(snap.now - o.time) < window
    ]
    if not recent:
        return
    if snap.weight_kg is None:
        adv.need("weight")
        return
    first = min(o.start for o in recent if o.start is not None)
    hours = minutes(max(o.time for o in recent) - first) / 60.0
    if hours <= 0:
        return
    ml = sum(o.canonical for o in recent)
    rate = rounded(ml / snap.weight_kg / hours, "mL/kg/h")
    for o in recent:
        adv.use(o, "mL")
    adv.cite(rid)
    window_h = window / 60.0
    if rate >= adv.th(rid, "uo_min", "mL/kg/h"):
        return
    # KDIGO defines oliguria over 6 h: one short collection is a trend, not a verdict.
    if hours < window_h:
        adv.need(
            f"urine output over {num(window_h)} h (KDIGO window; {num(rate)} mL/kg/h over only "
            f"{num(rounded(hours, 'h'))} h charted)"
        )
        return
    out.poor.append(
        f"urine output {num(rate)} mL/kg/h over the last {num(rounded(hours, 'h'))} h (KDIGO "
        f"window {num(window_h)} h)"
    )
    out.rules.append(rid)


def _lactate(snap: Snapshot, adv: Advice, out: Perfusion) -> None:
    rid = "response.lactate"
    series = snap.series("lactate")
    if not series:
        adv.need("lactate")
        return
    latest = series[-1]
    if snap.age_minutes(latest.time) > adv.setting("lactate_max_age", "min"):
        adv.alert(
            "STALE_DATA",
            "info",
            f"Latest lactate is from {hhmm(latest.time)}, older than the site's limit.",
            ["data.staleness"],
        )
        adv.need("lactate (recent)")
        return
    adv.use(latest, "mmol/L")
    interval = adv.th(rid, "per_interval", "min")
    if latest.canonical <= adv.th(rid, "lactate_raised", "mmol/L"):
        adv.cite(rid)
        return
    earlier = [o for o in series[:-1] if minutes(latest.time - o.time) >= interval / 2]
    if not earlier:
        adv.need(f"repeat lactate ({num(interval / 60)} h after the last)")
        return
    prev = earlier[-1]
    adv.use(prev, "mmol/L")
    span = minutes(latest.time - prev.time)
    # Rounded so that an exact 20% fall is not lost to floating point (3.2 from 4.0).
    fall_pct = round(
        (prev.canonical - latest.canonical) / prev.canonical * 100.0 * (interval / span), 6
    )
    if not math.isfinite(fall_pct):
        # An earlier value so close to zero that no percentage exists (found by fuzzing).
        adv.need("lactate (a plausible earlier value for the trend)")
        return
    adv.cite(rid)
    wanted = adv.th(rid, "fall_min", "%")
    if fall_pct < wanted:
        change = (
            f"rising {num(rounded(-fall_pct, '%'))}%"
            if fall_pct < 0
            else f"falling only {num(rounded(fall_pct, '%'))}%"
        )
        out.poor.append(
            f"lactate {num(prev.canonical)} -> {num(latest.canonical)} mmol/L ({change} per "
            f"{num(interval / 60)} h; a fall of {num(wanted)}% is expected)"
        )
        out.rules.append(rid)


def _capillary_refill(snap: Snapshot, adv: Advice, out: Perfusion) -> None:
    rid = "response.capillary-refill"
    latest = snap.latest("crt")
    if latest is None or snap.age_minutes(latest.time) > adv.th(rid, "recheck", "min") * 2:
        return
    adv.use(latest, "s")
    adv.cite(rid)
    if latest.canonical > adv.th(rid, "crt_max", "s"):
        out.poor.append(f"capillary refill {num(latest.canonical)} s")
        out.rules.append(rid)


def _scvo2(snap: Snapshot, adv: Advice) -> None:
    latest = snap.latest("scvo2")
    if latest is not None:
        adv.use(latest, "%", note="information only: ScvO2 is no longer a resuscitation target")
        adv.cite("response.scvo2-information")
