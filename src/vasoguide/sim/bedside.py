"""What the bedside records for one patient, and the PatientState built from it.

The vasoguide policy sees only this record: charted MAP readings (with their method), the
norepinephrine and vasopressin pump settings with their times, weight, age and context. It never
sees the true MAP, the concentration or any model parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..state import PatientState

__all__ = ["T0", "Bedside"]

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # an arbitrary, fixed origin for simulated times


def _iso(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


@dataclass
class Bedside:
    """One patient's chart: readings and pump changes, minute-stamped."""

    weight_kg: float
    age_years: float
    method: str  # "arterial" or "noninvasive"
    readings: list[tuple[int, float]] = field(default_factory=list)
    ne: list[tuple[int, float]] = field(default_factory=list)  # (minute, ug/kg/min)
    avp: list[tuple[int, float]] = field(default_factory=list)  # (minute, U/min)

    def chart(self, minute: int, value: float) -> None:
        self.readings.append((minute, round(value)))

    def set_ne(self, minute: int, dose: float) -> None:
        self.ne.append((minute, dose))

    def ne_now(self) -> float:
        return self.ne[-1][1] if self.ne else 0.0

    def state(self, minute: int, window: int) -> PatientState:
        """The PatientState at `minute`: readings of the last `window` minutes, pump history."""
        obs: list[dict[str, Any]] = []
        for t, v in reversed(self.readings):
            if t < minute - window:
                break
            obs.append(
                {"code": "map", "value": v, "unit": "mm[Hg]", "time": _iso(t),
                 "method": self.method}
            )
        obs.reverse()
        infusions = [
            {"drug": "norepinephrine", "dose": {"value": d, "unit": "ug/kg/min"},
             "route": "central", "time": _iso(t)}
            for t, d in self._ne_history()
        ]
        infusions += [
            {"drug": "vasopressin", "dose": {"value": d, "unit": "U/min"}, "route": "central",
             "time": _iso(t)}
            for t, d in self.avp[-1:]
        ]
        doc = {
            "time": _iso(minute),
            "patient": {"age_years": self.age_years, "weight": {"value": self.weight_kg,
                                                                "unit": "kg"}},
            "context": {"shock_type": "septic", "volume_status": "adequate"},
            "observations": obs,
            "infusions": infusions,
            "lines": {"central_venous": True, "arterial": self.method == "arterial"},
        }
        return PatientState.model_validate(doc)

    def _ne_history(self) -> list[tuple[int, float]]:
        """The pump changes the engine needs: the current run's start and the last few changes.

        Older changes only tell the engine when the run started; dropping the middle keeps the
        state small (the engine's cost grows with its inputs).
        """
        ne = self.ne
        if not ne:
            return []
        start = len(ne) - 1
        while start > 0 and ne[start - 1][1] > 0 and ne[start][1] > 0:
            start -= 1
        if ne[-1][1] <= 0:  # stopped: keep the stop and what it stopped from
            return ne[-2:]
        keep = ne[max(start, len(ne) - 4):]
        return ([ne[start]] if start < len(ne) - 4 else []) + keep
