"""One stay out of an EventSet: its events for the replay and its derived series for charts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..protocol import Protocol
from . import derive
from .events import EventSet
from .replay import StayEvents, default_concentration

__all__ = ["StayNotFoundError", "load_stay", "stay_series"]


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
    out["fluids"] = pairs(
        f"SELECT time, fluid_ml_per_kg FROM ({fl}) WHERE stay_id = {sid} ORDER BY time"
    )
    return out
