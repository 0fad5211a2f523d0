"""One stay out of an EventSet: its events for the replay and its derived series for charts."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from ..protocol import Protocol
from . import derive
from .events import EventSet
from .replay import StayEvents, default_concentration

__all__ = ["StayNotFoundError", "load_stay", "stale_note", "stay_series"]


class StayNotFoundError(LookupError):
    """The dataset has no stay with this id."""


def load_stay(es: EventSet, stay_id: int) -> StayEvents:
    rel = es.con.sql(f"SELECT * FROM {es.stays} WHERE stay_id = {int(stay_id)}")
    stays = rel.to_arrow_table().to_pylist()
    if not stays:
        sample = es.con.sql(
            f"SELECT stay_id FROM {es.stays} ORDER BY stay_id LIMIT 5"
        ).fetchall()
        raise StayNotFoundError(
            f"dataset {es.dataset} has no stay {stay_id} "
            f"(for example: {', '.join(str(s[0]) for s in sample)})"
        )
    rows = es.con.sql(
        f"SELECT * FROM {es.events} WHERE stay_id = {int(stay_id)} AND quality IS NULL "
        "ORDER BY time"
    ).to_arrow_table().to_pylist()
    return StayEvents.from_rows(stays[0], rows)


def stay_series(es: EventSet, stay_id: int, protocol: Protocol) -> dict[str, Any]:
    """Pressures, NE dose, NE-equivalent and cumulative fluids (mL/kg) of one stay."""
    con, sid = es.con, int(stay_id)
    conc = default_concentration(protocol)

    def pairs(sql: str) -> list[tuple[datetime, Any]]:
        # through Arrow: tz-aware datetimes without needing pytz
        table = con.sql(sql).to_arrow_table()
        return list(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))

    out: dict[str, Any] = {"pressures": {}}
    for measure in ("map", "sbp"):
        rel = derive.pressures(con, es.events, measure)
        out["pressures"][measure] = pairs(
            f"SELECT time, value FROM ({rel.sql_query()}) WHERE stay_id = {sid} ORDER BY time"
        )
    dose = derive.norepinephrine_dose(con, es.events, conc).sql_query()
    out["ne_dose"] = pairs(
        f"SELECT time, dose_ug_kg_min FROM ({dose}) WHERE stay_id = {sid} ORDER BY time"
    )
    nee = derive.norepinephrine_equivalent(con, es.events, conc).sql_query()
    out["nee"] = pairs(
        f"SELECT time, nee_ug_kg_min FROM ({nee}) WHERE stay_id = {sid} ORDER BY time"
    )
    fl = derive.cumulative_fluids(con, es.events).sql_query()
    # cumulative volume in mL: never decreases (mL/kg would drop when a new weight is charted)
    out["fluids"] = pairs(
        f"SELECT time, fluid_ml FROM ({fl}) WHERE stay_id = {sid} ORDER BY time"
    )
    weights = pairs(
        f"SELECT time, numeric_value FROM {es.events} WHERE stay_id = {sid} "
        "AND code = 'weight' AND quality IS NULL ORDER BY time"
    )
    out["weight_kg"] = weights[0][1] if weights else None
    # rows not used (artefacts, unit problems, rejected doses): drawn as marked points
    flagged = con.sql(
        f"SELECT time, code, numeric_value, unit, quality FROM {es.events} "
        f"WHERE stay_id = {sid} AND quality IS NOT NULL AND quality <> 'rewritten' "
        "AND code IN ('map', 'sbp', 'infusion.norepinephrine') ORDER BY time"
    ).to_arrow_table().to_pylist()
    out["flagged"] = flagged
    return out


def stale_note(
    st: StayEvents, decisions: list[dict[str, Any]], protocol: Protocol
) -> str | None:
    """Why STALE_DATA shows up, when it is on at least a quarter of the decisions.

    A STALE_DATA alert means the target's pressure was older than `pressure_max_age`, or the
    lactate older than `lactate_max_age`. The note counts each cause from the stay's own rows
    and gives the stay's charting interval, so a reader can tell a data artefact (hourly
    charting against a 15-minute window) from a patient left unmeasured.
    """
    stale = [d for d in decisions if "STALE_DATA" in (d.get("alerts") or [])]
    if not decisions or len(stale) * 4 < len(decisions):
        return None
    max_age = float(protocol.setting("pressure_max_age", "min"))
    lactate_age = float(protocol.setting("lactate_max_age", "h"))
    old_bp = 0
    for d in stale:
        measure = d.get("target_measure") or "map"
        latest = st.window(measure, d["time"], d["time"])
        if not latest or (d["time"] - latest[-1]["time"]).total_seconds() / 60 > max_age:
            old_bp += 1
    gaps = []
    for measure in ("map", "sbp"):
        times = st.times.get(measure, [])
        gaps += [(b - a).total_seconds() / 60 for a, b in itertools.pairwise(times)]
    gaps.sort()
    interval = f"{gaps[len(gaps) // 2]:.0f} min" if gaps else "unknown"
    parts = [f"STALE_DATA on {len(stale)} of {len(decisions)} decisions."]
    if old_bp:
        parts.append(
            f"At {old_bp} the latest target pressure was older than the site's "
            f"pressure_max_age ({max_age:.0f} min): this stay charts pressures every "
            f"{interval} (median interval), and decisions also fall on the other measure's "
            "readings and on infusion changes. The window suits a bedside monitor (pressure "
            "every 2-5 min on an infusion); with charted ICU data most decisions between "
            "readings are stale by design, not because the patient was left unmeasured. "
            "pressure_max_age is a site setting; the audit counts only measured time."
        )
    if len(stale) - old_bp:
        parts.append(
            f"At {len(stale) - old_bp} only the lactate was older than lactate_max_age "
            f"({lactate_age:g} h): the pressure was current; lactate is measured a few times "
            "a day in these data."
        )
    return " ".join(parts)
