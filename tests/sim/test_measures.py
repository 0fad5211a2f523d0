"""Measures on known traces give known numbers (SIMULATOR.md 5.5 definitions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vasoguide.sim.measures import calibration, episodes, summarise, trace_measures

BAND = (65.0, 75.0)


def m(true: list[float], dose: list[float] | None = None) -> dict[str, float]:
    t = np.array([true], dtype=float)
    d = np.array([dose if dose is not None else [0.0] * len(true)], dtype=float)
    return {k: float(v[0]) for k, v in trace_measures(t, d, np.zeros_like(d), BAND).items()}


def test_all_in_band() -> None:
    r = m([70.0] * 120)
    assert (r["pct_in"], r["pct_below"], r["pct_above"]) == (100.0, 0.0, 0.0)
    assert r["time_to_target"] == 0.0
    assert r["episodes_below"] == 0.0


def test_band_edges_are_inside() -> None:
    r = m([65.0] * 60 + [75.0] * 60)
    assert r["pct_in"] == 100.0


def test_half_below_then_in_band() -> None:
    r = m([60.0] * 30 + [70.0] * 30)
    assert r["pct_below"] == 50.0
    assert r["pct_in"] == 50.0
    assert r["twa_below"] == pytest.approx(2.5)  # 5 mmHg below for half the time
    assert r["longest_below"] == 30.0
    assert r["time_to_target"] == 30.0


def test_episodes_and_above() -> None:
    r = m([60.0] * 10 + [80.0] * 10 + [60.0] * 5 + [70.0] * 15)
    assert r["episodes_below"] == 2.0
    assert r["longest_below"] == 10.0
    assert r["pct_above"] == 25.0


def test_never_reaching_target() -> None:
    assert math.isnan(m([50.0] * 60)["time_to_target"])


def test_dose_measures() -> None:
    # 0.1 for 60 min, stop 30 min, restart at 0.2 for 30 min: 2 hours.
    dose = [0.1] * 60 + [0.0] * 30 + [0.2] * 30
    r = m([70.0] * 120, dose)
    assert r["ne_total"] == pytest.approx(0.1 * 60 + 0.2 * 30)
    assert r["ne_peak"] == 0.2
    assert r["stops"] == 1.0
    assert r["restarts"] == 1.0
    assert r["titrations_per_h"] == pytest.approx(2 / 2.0)


def test_episodes_helper_counts_runs() -> None:
    counts, longest = episodes(np.array([[True, True, False, True], [False] * 4]))
    assert counts.tolist() == [2, 0]
    assert longest.tolist() == [2, 0]


def test_summary_ci_and_calibration() -> None:
    rows = [
        {"policy": "manual", "pct_in": float(v), "checks_below": 1, "checks_in": 2,
         "checks_above": 1, **{k: 0.0 for k in (
             "pct_below", "pct_above", "twa_below", "longest_below", "episodes_below",
             "time_to_target", "ne_total", "ne_peak", "titrations_per_h", "stops", "restarts",
             "pct_vasopressin")}}
        for v in (40, 50, 60)
    ]
    s = summarise(rows)[("manual",)]["pct_in"]
    assert s["mean"] == 50.0
    assert s["lo"] == pytest.approx(50 - 1.96 * 10 / math.sqrt(3))
    assert s["median"] == 50.0
    assert calibration(rows) == {"below": 0.25, "in": 0.5, "above": 0.25, "readings": 12}


def test_paired_difference_matches_patients() -> None:
    from vasoguide.sim.measures import paired_difference

    ref = [{"patient": i, "pct_below": 30.0 + i} for i in range(4)]
    rows = [{"patient": i, "pct_below": 28.0 + i + (0.5 if i % 2 else -0.5)} for i in (3, 2, 1, 0)]
    mean, lo, hi = paired_difference(rows, ref, "pct_below")
    assert mean == pytest.approx(-2.0)
    assert lo < -2.0 < hi
    assert hi - lo < 2.0  # paired: the 3-point spread between patients does not enter
