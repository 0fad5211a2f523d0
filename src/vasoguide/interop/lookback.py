"""How far back the engine can look: the window the CDS Hooks path maps observations over.

Taken from the protocol, never written here: the longest duration among the site settings and
the rules' thresholds (in the knowledge base today: fluids counted over 24 h, the extravasation
window 12 h, lactate staleness and the urine-output window 6 h, the lactate interval 2 h, wean
and staleness windows in minutes). Durations are the numbers whose unit is s, min or h; ages in
days (`d`) or years (`a`) are not look-backs. Observations are looked back over 6 h at most, so
the fluid window gives a fourfold margin; the mapper also keeps the latest reading of each kind
before the cut, so "latest" and "the reading in force at t" are answered as with every reading.
"""

from __future__ import annotations

from datetime import timedelta

from ..protocol import Protocol
from ..units import convert

__all__ = ["DURATION_UNITS", "PRESSURE_SETTINGS", "concept_lookbacks", "engine_lookback"]

# The settings that bound how far back the engine reads blood pressures: staleness, the
# sustained-above-target window of weaning, the titration interval (the same list as
# `timeline.replay.pressure_lookback`; a test keeps them equal).
PRESSURE_SETTINGS = ("pressure_max_age", "wean_sustained", "titration_interval")
_PRESSURES = ("map", "sbp", "dbp")

DURATION_UNITS = ("s", "min", "h")


def engine_lookback(protocol: Protocol) -> timedelta:
    """The longest look-back among the protocol's settings and thresholds (cached per protocol)."""
    cached = protocol.memo.get("interop.lookback")
    if isinstance(cached, timedelta):
        return cached
    minutes = 0.0
    numbers = [(s.value, s.unit) for s in protocol.settings.values()]
    numbers += [(t.value, t.unit) for r in protocol.rules.values() for t in r.thresholds.values()]
    for value, unit in numbers:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if unit in DURATION_UNITS and number:
            minutes = max(minutes, convert(float(value), unit, "min"))
    if minutes <= 0:
        raise ValueError("the protocol gives no look-back duration")
    window = timedelta(minutes=minutes)
    protocol.memo["interop.lookback"] = window
    return window


def concept_lookbacks(protocol: Protocol) -> dict[str, timedelta]:
    """Per-concept windows shorter than `engine_lookback`: blood pressures (cached per protocol).

    The mapper keeps, beyond the window, the latest reading of each kind, so staleness stays
    the engine's to judge.
    """
    cached = protocol.memo.get("interop.concept_lookbacks")
    if isinstance(cached, dict):
        return cached
    minutes = max(float(protocol.setting(k, "min")) for k in PRESSURE_SETTINGS)
    out = {concept: timedelta(minutes=minutes) for concept in _PRESSURES}
    protocol.memo["interop.concept_lookbacks"] = out
    return out
