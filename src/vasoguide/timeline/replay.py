"""As-of replay: the engine's decision at each decision time of a stay, from the past only.

At each decision time t (each new blood pressure, or every N minutes) a PatientState is built
from the stay's usable events at or before t, within the protocol's longest look-back window
(plus the latest value of each concept, so staleness is the engine's to judge), and passed to
`vasoguide.engine.assess`. Nothing after t is read: the no-look-ahead test appends later events
and checks that no earlier decision changes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from ..assessment import Assessment
from ..protocol import Protocol
from ..state import Context, Fluid, Infusion, Lines, Observation, Patient, PatientState, parse_state

__all__ = [
    "DECISION_SCHEMA",
    "StateCache",
    "StayEvents",
    "build_state",
    "decision_times",
    "lookback",
    "pressure_lookback",
    "replay_stay",
    "state_at",
]

# Settings (all durations) that bound how far back the engine looks; the replay passes the
# longest of them, so trimming old rows cannot change an Assessment.
_LOOKBACK_SETTINGS = (
    "fluid_lookback",
    "lactate_max_age",
    "pressure_max_age",
    "fluid_test_max_age",
    "cardiac_output_max_age",
    "wean_sustained",
    "titration_interval",
)

DECISION_SCHEMA = pa.schema(
    [
        pa.field("stay_id", pa.int64()),
        pa.field("time", pa.timestamp("us", tz="UTC")),
        pa.field("decision", pa.string()),
        pa.field("target_measure", pa.string()),
        pa.field("target_low", pa.float64()),
        pa.field("target_high", pa.float64()),
        pa.field("pressure", pa.float64()),  # the latest value of the target's measure
        pa.field("ne_running", pa.bool_()),
        pa.field("ne_dose_ug_kg_min", pa.float64()),
        pa.field("volume_adequate", pa.bool_()),
        pa.field("alerts", pa.list_(pa.string())),
        pa.field("warnings", pa.list_(pa.string())),  # alerts of severity warning or critical
        pa.field("actions", pa.list_(pa.string())),
        pa.field("missing", pa.list_(pa.string())),
        pa.field("summary", pa.string()),
        pa.field("evaluated", pa.bool_()),  # False: skipped by `prune` (see replay_stay)
    ]
)

_FLUID_TYPES = {"crystalloid", "colloid", "albumin", "red_cells", "plasma"}


@dataclass
class StayEvents:
    """One stay's usable events, grouped by concept and sorted by time (built once)."""

    stay_id: int
    admission: datetime | None
    discharge: datetime | None
    trauma: bool | None
    age_years: float | None
    brain_injury: bool | None = None
    spinal_injury: bool | None = None
    by_code: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    times: dict[str, list[datetime]] = field(default_factory=dict)

    @classmethod
    def from_rows(
        cls, stay: dict[str, Any], rows: Iterable[dict[str, Any]]
    ) -> StayEvents:
        out = cls(
            stay_id=int(stay["stay_id"]),
            admission=stay.get("admission"),
            discharge=stay.get("discharge"),
            trauma=stay.get("trauma"),
            age_years=stay.get("age_years"),
            brain_injury=stay.get("brain_injury"),
            spinal_injury=stay.get("spinal_injury"),
        )
        for r in rows:
            if r.get("quality") is not None:
                continue
            out.by_code.setdefault(str(r["code"]), []).append(r)
        for code, series in out.by_code.items():
            # Stops sort before starts at one instant, so a restart is not hidden by its stop.
            # The key is total (the engine reads the last row at an instant as the latest):
            # arterial after cuff, then by value, so the replay does not depend on the order
            # the database returned same-instant rows in (runs gave different decisions).
            series.sort(key=_row_order)
            out.times[code] = [r["time"] for r in series]
        return out

    def window(self, code: str, start: datetime, now: datetime) -> list[dict[str, Any]]:
        """Rows of `code` in (start, now], plus the latest one at or before `start`."""
        times = self.times.get(code)
        if not times:
            return []
        hi = bisect_right(times, now)
        # the row in force at `start` (the latest at or before it) comes along
        lo = min(bisect_right(times, start), hi) - 1
        return self.by_code[code][max(lo, 0) : hi]


# The settings that bound how far back the engine reads blood pressures: staleness, the
# sustained-above-target window of weaning, and the titration interval. Older readings (beyond
# the latest one) are left out of each state: at ~100 readings a day they are most of its
# size, and tests/timeline/test_replay.py checks that leaving them out changes no decision.
_PRESSURE_SETTINGS = ("pressure_max_age", "wean_sustained", "titration_interval")


def lookback(protocol: Protocol) -> timedelta:
    """The longest window any setting gives the engine to look back over."""
    minutes = [float(protocol.setting(k, "min")) for k in _LOOKBACK_SETTINGS]
    return timedelta(minutes=max(minutes))


def _row_order(r: dict[str, Any]) -> tuple[Any, ...]:
    value = r.get("numeric_value")
    return (r["time"], r.get("action") != "stop", r.get("method") == "arterial",
            value is not None, value if value is not None else 0.0, r.get("unit") or "",
            r.get("concentration") or 0.0)


def pressure_lookback(protocol: Protocol) -> timedelta:
    """How far back blood pressures are passed (plus always the latest one)."""
    minutes = [float(protocol.setting(k, "min")) for k in _PRESSURE_SETTINGS]
    return timedelta(minutes=max(minutes))


def decision_times(stay: StayEvents, every_minutes: float | None = None) -> list[datetime]:
    """Each new MAP or SBP within the stay, or a grid every N minutes from admission."""
    lo, hi = stay.admission, stay.discharge
    if every_minutes:
        known = [t for ts in stay.times.values() for t in ts]
        start = lo or (min(known) if known else None)
        end = hi or (max(known) if known else None)
        if start is None or end is None:
            return []
        step = timedelta(minutes=every_minutes)
        n = int((end - start) / step) + 1
        return [start + i * step for i in range(n)]
    times = sorted(set(stay.times.get("map", [])) | set(stay.times.get("sbp", [])))
    return [t for t in times if (lo is None or t >= lo) and (hi is None or t <= hi)]


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": float(value), "unit": unit}


def state_at(
    stay: StayEvents,
    now: datetime,
    window: timedelta,
    default_concentration_ug_ml: float | None,
    shock_type: str | None = None,
    pressure_window: timedelta | None = None,
) -> dict[str, Any]:
    """The PatientState document of `stay` as of `now` (a dict in the contract's shape).

    Rows of the last `window` are passed, plus the latest older row of each concept (so the
    rate in force and stale values stay visible); pressures only over `pressure_window`.
    """
    start = now - window
    pressure_start = now - (pressure_window or window)
    weights = stay.window("weight", now, now)
    patient: dict[str, Any] = {}
    if weights:
        patient["weight"] = _quantity(weights[-1]["numeric_value"], "kg")
    if stay.age_years is not None and 0 <= stay.age_years <= 130:
        patient["age_years"] = round(float(stay.age_years), 2)
    context: dict[str, Any] = {}
    if shock_type:
        context["shock_type"] = shock_type
    elif stay.trauma:
        # Proxy: a trauma stay is replayed as bleeding trauma with control unknown.
        context["shock_type"] = "hemorrhagic"
    if stay.brain_injury:
        context["traumatic_brain_injury"] = True
    if stay.spinal_injury:
        context["spinal_cord_injury"] = True
    observations: list[dict[str, Any]] = []
    arterial = False
    for code in ("map", "sbp"):
        for r in stay.window(code, pressure_start, now):
            obs = {"code": code, "value": r["numeric_value"], "unit": "mm[Hg]", "time": r["time"]}
            if r.get("method"):
                obs["method"] = r["method"]
                arterial = arterial or r["method"] == "arterial"
            observations.append(obs)
    for r in stay.window("lactate", start, now):
        observations.append(
            {"code": "lactate", "value": r["numeric_value"], "unit": "mmol/L", "time": r["time"]}
        )
    urine = stay.window("urine_output", start, now)
    all_urine = stay.times.get("urine_output", [])
    for r in urine:
        # A urine volume was collected since the previous charting (or since admission).
        i = bisect_left(all_urine, r["time"])
        since = all_urine[i - 1] if i > 0 else (stay.admission or r["time"])
        if r["numeric_value"] < 0 or since > r["time"]:
            continue
        observations.append(
            {"code": "urine_output", "value": r["numeric_value"], "unit": "mL",
             "start": since, "time": r["time"]}
        )
    fluids = []
    for code in stay.by_code:
        kind = code.removeprefix("fluid.")
        if not code.startswith("fluid.") or kind not in _FLUID_TYPES:
            continue
        for r in stay.window(code, start, now):
            if r["time"] > start and r["numeric_value"] > 0:
                fluids.append(
                    {"type": kind, "volume": _quantity(r["numeric_value"], "mL"), "time": r["time"]}
                )
    infusions = []
    for code in stay.by_code:
        if not code.startswith("infusion."):
            continue
        for r in stay.window(code, start, now):
            entry: dict[str, Any] = {
                "drug": code.removeprefix("infusion."),
                "dose": _quantity(r["numeric_value"], r["unit"]),
                "time": r["time"],
            }
            conc = r.get("concentration") or (
                default_concentration_ug_ml if r["unit"] == "mL/h" else None
            )
            if r["unit"] == "mL/h":
                if conc is None:
                    continue  # a rate in mL/h means nothing without a concentration
                entry["concentration"] = _quantity(conc, "ug/mL")
            infusions.append(entry)
    state: dict[str, Any] = {
        "time": now,
        "patient": patient,
        "context": context,
        "observations": observations,
        "fluids": fluids,
        "infusions": infusions,
        "lines": {"arterial": True} if arterial else {},
    }
    return state


Assess = Callable[[Any, Protocol], Assessment]


def _frozen(value: Any) -> Any:
    """A hashable key for a state part (dicts and lists of plain values)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _utc_times(part: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.astimezone(UTC) if isinstance(v, datetime) else v) for k, v in part.items()}


class StateCache:
    """Validated parts of one stay's PatientStates, reused across its decision times.

    A row sits in the windows of many decisions; validating it again in every state was about
    half of the replay's time. Here each part (an observation, a fluid, an infusion, the
    patient, the context, the lines) is validated once per stay by its own model, with every
    time in UTC (one shared tzinfo, as PatientState's validator sets), and cached under a
    key of its plain values.
    """

    def __init__(self) -> None:
        self._parts: dict[Any, Any] = {}

    def part(self, model: Any, data: dict[str, Any], key: Any = None) -> Any:
        key = (model.__name__, key if key is not None else _frozen(data))
        found = self._parts.get(key)
        if found is None:
            found = self._parts[key] = model.model_validate(_utc_times(data))
        return found


def _fluid_key(f: dict[str, Any]) -> Any:
    return (f["type"], f["volume"]["value"], f["time"])


def _infusion_key(i: dict[str, Any]) -> Any:
    conc = i.get("concentration")
    return (i["drug"], i["dose"]["value"], i["dose"]["unit"], i["time"],
            conc["value"] if conc else None)


def build_state(doc: dict[str, Any], cache: StateCache) -> PatientState:
    """`parse_state(doc)` for a document from `state_at`, assembled from cached parts.

    Equal to `parse_state(doc)` (tested on every decision of real and synthetic stays): the
    parts are validated by the same models, the document has no validator of its own beyond
    putting every time on one tzinfo (UTC here; a document in another offset is parsed in full).
    """
    now: datetime = doc["time"]
    if now.utcoffset():
        return parse_state(doc)
    return PatientState.model_construct(
        time=now.astimezone(UTC),
        patient=cache.part(Patient, doc["patient"]),
        context=cache.part(Context, doc["context"]),
        observations=[cache.part(Observation, o, tuple(o.items())) for o in doc["observations"]],
        fluids=[cache.part(Fluid, f, _fluid_key(f)) for f in doc["fluids"]],
        infusions=[cache.part(Infusion, i, _infusion_key(i)) for i in doc["infusions"]],
        lines=cache.part(Lines, doc["lines"]),
        # every field given: a default factory left to model_construct costs it an
        # inspect.signature call (milliseconds) per state
        fluid_responsiveness=[],
        events=[],
    )


def replay_stay(
    stay: StayEvents,
    protocol: Protocol,
    assess: Assess,
    every_minutes: float | None = None,
    shock_type: str | None = None,
    times: Sequence[datetime] | None = None,
    prune: bool = False,
    trim_pressures: bool = True,
) -> list[dict[str, Any]]:
    """The decision timeline of one stay: one row (DECISION_SCHEMA) per decision time.

    With `prune`, the engine is skipped where its answer cannot matter to the audit: no
    vasopressor charted within the look-back window and the latest pressure at or above the
    lower target of the last evaluated Assessment (the contract's NOT_INDICATED situation).
    Skipped rows keep the time and pressure, with `evaluated` False and no decision.
    `trim_pressures` passes only the pressures of `pressure_lookback` (plus the latest).
    """
    window = lookback(protocol)
    bp_window = pressure_lookback(protocol) if trim_pressures else None
    conc = default_concentration(protocol)
    out = []
    last: Assessment | None = None
    cache = StateCache()  # each row validated once per stay, not once per decision
    for now in times if times is not None else decision_times(stay, every_minutes):
        if prune and last is not None and _quiet(stay, now, window, last):
            out.append(skipped_row(stay, now, last))
            continue
        state = build_state(state_at(stay, now, window, conc, shock_type, bp_window), cache)
        last = assess(state, protocol)
        out.append(decision_row(stay.stay_id, now, last, stay))
    return out


def _quiet(stay: StayEvents, now: datetime, window: timedelta, last: Assessment) -> bool:
    """No vasopressor within the window and the pressure at or above the last lower target."""
    target = last.target
    if target is None:
        return False
    for code in stay.by_code:
        if code.startswith("infusion."):
            rows = stay.window(code, now - window, now)
            if rows and (rows[-1].get("action") != "stop" or rows[-1]["time"] > now - window):
                return False
    latest = stay.window(target.measure, now, now)
    return bool(latest) and latest[-1]["numeric_value"] >= target.low


def skipped_row(stay: StayEvents, now: datetime, last: Assessment) -> dict[str, Any]:
    row = decision_row(stay.stay_id, now, last, stay)
    row.update(decision=None, ne_running=False, ne_dose_ug_kg_min=None, volume_adequate=None,
               alerts=[], warnings=[], actions=[], missing=[], summary="", evaluated=False)
    return row


def default_concentration(protocol: Protocol) -> float | None:
    """The site's default concentration (ug/mL) for rates in mL/h, or None when unset."""
    try:
        value = float(protocol.setting("default_concentration", "ug/mL"))
    except (KeyError, TypeError, ValueError):
        return None
    return value if value > 0 else None


def decision_row(
    stay_id: int, now: datetime, a: Assessment, stay: StayEvents | None = None
) -> dict[str, Any]:
    target = a.target
    pressure = None
    if target is not None and stay is not None:
        latest = stay.window(target.measure, now, now)
        pressure = latest[-1]["numeric_value"] if latest else None
    ne = a.norepinephrine
    return {
        "stay_id": stay_id,
        "time": now,
        "decision": a.decision,
        "target_measure": target.measure if target else None,
        "target_low": target.low if target else None,
        "target_high": target.high if target else None,
        "pressure": pressure,
        "ne_running": ne.running if ne else None,
        "ne_dose_ug_kg_min": ne.dose_ug_kg_min if ne else None,
        "volume_adequate": a.volume.adequate if a.volume else None,
        "alerts": sorted({x.code for x in a.alerts}),
        "warnings": sorted({x.code for x in a.alerts if x.severity != "info"}),
        "actions": sorted({x.code for x in a.actions}),
        "missing": list(a.missing),
        "summary": a.summary,
        "evaluated": True,
    }


def decisions_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=DECISION_SCHEMA)


__all__ += ["decision_row", "decisions_table", "default_concentration", "skipped_row"]
