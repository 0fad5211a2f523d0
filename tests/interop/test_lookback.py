"""The CDS Hooks path maps observations over the engine's look-back only: same advice, less work."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vasoguide.engine import assess
from vasoguide.interop import map_resources
from vasoguide.interop.lookback import DURATION_UNITS, engine_lookback
from vasoguide.protocol import load_protocol
from vasoguide.units import convert

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 3, 1, 8, tzinfo=UTC)
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _obs(rid: str, code: str, value: float, unit: str, t: datetime) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": _iso(t),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def _bundle(extra: list[dict[str, Any]]) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((DATA / "septic-bundle.json").read_text())
    bundle["entry"] += [{"resource": r} for r in extra]
    return bundle


def _history(hours: int) -> list[dict[str, Any]]:
    """Vitals every 15 min, lactate every 4 h, urine hourly, over `hours` before now."""
    out = []
    for k in range(hours * 4):
        t = NOW - timedelta(minutes=15 * k + 2)
        out.append(_obs(f"m{k}", "76214-6", 62 + (k % 7), "mm[Hg]", t))
        if k % 16 == 0:
            out.append(_obs(f"l{k}", "2524-7", 3.5 - k / 100, "mmol/L", t))
        if k % 4 == 0:
            u = _obs(f"u{k}", "9187-6", 40, "mL", t)
            del u["effectiveDateTime"]
            u["effectivePeriod"] = {"start": _iso(t - timedelta(hours=1)), "end": _iso(t)}
            out.append(u)
    return out


def test_lookback_is_the_protocols_longest_duration() -> None:
    protocol = load_protocol()
    longest = max(
        [convert(float(s.value), s.unit, "min") for s in protocol.settings.values()
         if s.unit in DURATION_UNITS and not isinstance(s.value, bool | str)]
        + [convert(t.value, t.unit, "min") for r in protocol.rules.values()
           for t in r.thresholds.values() if t.unit in DURATION_UNITS])
    window = engine_lookback(protocol)
    assert window == timedelta(minutes=longest)
    # Every look-back the engine applies to observations and fluids fits inside it.
    for key in ("fluid_lookback", "lactate_max_age", "pressure_max_age", "wean_sustained",
                "cardiac_output_max_age", "fluid_test_max_age", "titration_interval"):
        assert timedelta(minutes=protocol.setting(key, "min")) <= window
    for rid, name in (("response.urine-output", "window"), ("response.lactate", "per_interval")):
        assert timedelta(minutes=protocol.threshold(rid, name, "min")) <= window


@pytest.mark.parametrize("hours", [2, 30, 48])
def test_same_assessment_with_and_without_the_window(hours: int) -> None:
    protocol = load_protocol()
    bundle = _bundle(_history(hours))
    full = map_resources(bundle, now=NOW)
    windowed = map_resources(bundle, now=NOW, lookback=engine_lookback(protocol))
    a = assess(full.state, protocol).model_dump(mode="json")
    b = assess(windowed.state, protocol).model_dump(mode="json")
    assert a == b
    if hours > 24:
        assert len(windowed.state.observations) < len(full.state.observations)


def test_old_readings_are_dropped_and_reported_but_the_latest_of_each_kind_kept() -> None:
    protocol = load_protocol()
    window = engine_lookback(protocol)
    old = NOW - window - timedelta(hours=1)
    extra = [
        _obs("old-map-1", "8478-0", 70, "mm[Hg]", old - timedelta(hours=1)),
        _obs("old-map-2", "8478-0", 71, "mm[Hg]", old),
        _obs("old-cvp", "60985-9", 8, "mm[Hg]", old),  # only reading of its kind: kept
    ]
    mapped = map_resources(_bundle(extra), now=NOW, lookback=window)
    times = {(o.code, o.value): o.time for o in mapped.state.observations}
    assert ("map", 71) in times and ("map", 70) not in times
    assert ("cvp", 8) in times
    line = next(x for x in mapped.report.lines() if "look-back" in x)
    assert "1 map readings" in line and "24 h" in line
    # Without a window (the CLI, /fhir/state) everything is kept and nothing is said.
    everything = map_resources(_bundle(extra), now=NOW)
    assert ("map", 70) in {(o.code, o.value) for o in everything.state.observations}
    assert not any("look-back" in x for x in everything.report.lines())


def test_a_stale_only_reading_still_gives_the_stale_alert() -> None:
    protocol = load_protocol()
    window = engine_lookback(protocol)
    bundle = _bundle([])
    bundle["entry"] = [e for e in bundle["entry"]
                       if e["resource"].get("code", {}).get("coding", [{}])[0].get("code")
                       != "2524-7"]
    bundle["entry"] += [{"resource": _obs(f"lac{k}", "2524-7", 4 - k / 10, "mmol/L",
                                          NOW - window - timedelta(hours=k + 1))}
                        for k in range(3)]
    full = assess(map_resources(bundle, now=NOW).state, protocol)
    windowed = assess(map_resources(bundle, now=NOW, lookback=window).state, protocol)
    assert full.model_dump() == windowed.model_dump()
    assert any(a.code == "STALE_DATA" for a in windowed.alerts)


def test_an_unusable_old_reading_does_not_hide_an_older_usable_one() -> None:
    protocol = load_protocol()
    window = engine_lookback(protocol)
    old = NOW - window - timedelta(hours=1)
    bad = _obs("old-cvp-bad", "60985-9", 9, "mm[Hg]", old)
    bad["status"] = "entered-in-error"
    extra = [bad, _obs("old-cvp", "60985-9", 8, "mm[Hg]", old - timedelta(hours=2)),
             _obs("older-cvp", "60985-9", 7, "mm[Hg]", old - timedelta(hours=3))]
    mapped = map_resources(_bundle(extra), now=NOW, lookback=window)
    cvps = [o.value for o in mapped.state.observations if o.code == "cvp"]
    assert cvps == [8]
    lines = mapped.report.lines()
    assert any("Observation/old-cvp-bad" in x and "entered-in-error" in x for x in lines)
    assert any("1 cvp readings" in x for x in lines)


def test_the_one_pass_reader_gives_what_the_full_reader_gives() -> None:
    from vasoguide.interop.codes import tables
    from vasoguide.interop.observations import observation_times, read_observation, read_plain
    from vasoguide.interop.report import MappingReport
    from vasoguide.interop.resources import iter_resources

    codes = tables()
    variants = _history(3)
    odd = _obs("odd", "8478-0", 60, "mm[Hg]", NOW)
    odd["valueQuantity"] = {"value": 61, "unit": "mmHg"}  # no UCUM code: the display unit
    variants += [odd, _obs("int", "2524-7", 3, "mmol/L", NOW)]
    fast = 0
    for resource, _ in iter_resources(_bundle(variants)):
        if resource.get("resourceType") != "Observation":
            continue
        times = observation_times(resource)
        one = read_plain(resource, codes, times)
        full = read_observation(resource, codes, MappingReport())
        if one is not None:
            fast += 1
            assert [one] == full
    assert fast > len(variants) // 2


def _pressures(pattern: list[float]) -> list[dict[str, Any]]:
    """MAP every 5 min, newest last, with SBP, plus an NE segment running an hour."""
    out = []
    for k, value in enumerate(reversed(pattern)):
        t = NOW - timedelta(minutes=5 * k + 1)
        out.append(_obs(f"pm{k}", "76214-6", value, "mm[Hg]", t))
        out.append(_obs(f"ps{k}", "76215-3", value + 40, "mm[Hg]", t))
    return out


@pytest.mark.parametrize("pattern", [
    [60] * 30,  # low throughout
    [58] * 20 + [70] * 10,  # above target for the last 50 min: weaning windows
    [75] * 20 + [62, 63, 61],  # just fell below target
    [66] * 5,  # short history
])
def test_per_concept_lookbacks_give_the_same_assessment(pattern: list[float]) -> None:
    from vasoguide.interop.lookback import concept_lookbacks

    protocol = load_protocol()
    bundle = _bundle(_history(30) + _pressures(pattern))
    window = engine_lookback(protocol)
    wide = map_resources(bundle, now=NOW, lookback=window)
    narrow = map_resources(bundle, now=NOW, lookback=window,
                           concept_lookbacks=concept_lookbacks(protocol))
    a = assess(wide.state, protocol).model_dump(mode="json")
    b = assess(narrow.state, protocol).model_dump(mode="json")
    assert a == b
    if len(pattern) > 10:
        assert len(narrow.state.observations) < len(wide.state.observations)


def test_pressure_lookback_settings_match_the_replays() -> None:
    pytest.importorskip("pyarrow")
    from vasoguide.interop.lookback import PRESSURE_SETTINGS, concept_lookbacks
    from vasoguide.timeline import replay

    protocol = load_protocol()
    assert PRESSURE_SETTINGS == replay._PRESSURE_SETTINGS
    assert concept_lookbacks(protocol)["map"] == replay.pressure_lookback(protocol)
