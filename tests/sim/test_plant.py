"""The plant's physiology, pinned to the reference's derived numbers (SIMULATOR.md 2.1, 2.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vasoguide.sim.cohort import Course, reference_patients
from vasoguide.sim.params import load_params
from vasoguide.sim.plant import Plant

P = load_params()


def run(plant: Plant, dose: float, minutes: int) -> list[float]:
    out = []
    for _ in range(minutes):
        plant.minute(np.full(plant.c.n, dose))
        out.append(float(plant.concentration[0]))
    return out


def test_endogenous_baseline_is_production_over_clearance() -> None:
    # Li 2024: 497.7 ng/min / 2.1 L/min = 237 ng/L = 1.40 nmol/L (SIMULATOR.md 2.1 [D]).
    plant = Plant(P, reference_patients(P))
    assert plant.concentration[0] == pytest.approx(1.40, abs=0.01)
    conc = run(plant, 0.0, 60)
    assert max(conc) - min(conc) < 1e-9  # a steady state: no drift without infusion


def test_steady_state_at_0_1_in_a_70_kg_adult() -> None:
    # Derived increment 19.7 nmol/L at 0.1 ug/kg/min (Li), plus the 1.4 endogenous baseline.
    conc = run(Plant(P, reference_patients(P)), 0.1, 120)
    assert conc[-1] - 1.40 == pytest.approx(19.7, rel=0.02)


@pytest.mark.parametrize(("saps", "increment"), [(20, 13.8), (60, 46.0)])
def test_steady_state_across_beloeil_severity(saps: float, increment: float) -> None:
    # Beloeil: CL 3 L/min at SAPS II 20, 0.9 at 60 -> 41.4 nmol/min / CL (derived).
    slope = (P["cl_saps60"] - P["cl_saps20"]) / 40.0
    cl = P["cl_saps20"] + slope * (saps - 20)
    conc = run(Plant(P, reference_patients(P, cl=np.array([cl]))), 0.1, 240)
    baseline = P["production"] / P["molar_mass"] / cl
    assert conc[-1] - baseline == pytest.approx(increment, rel=0.03)


def test_washout_terminal_half_life() -> None:
    # Li's two compartments: terminal half-life about 5.5 min (SIMULATOR.md 2.1 [D]).
    plant = Plant(P, reference_patients(P))
    run(plant, 0.1, 120)
    conc = np.array(run(plant, 0.0, 40)) - 1.40
    slope = np.polyfit(np.arange(15, 40), np.log(conc[15:40]), 1)[0]
    assert math.log(2) / -slope == pytest.approx(5.55, abs=0.2)
    assert conc[5] < 0.5 * 19.7  # and most of the effect is gone within minutes (label: 1-2 min)


def test_line_dead_space_delays_the_rise() -> None:
    plant = Plant(P, reference_patients(P, lag_min=np.array([3.0])))
    before = float(plant.concentration[0])
    conc = run(plant, 0.1, 6)
    assert conc[1] == pytest.approx(before, abs=1e-9)  # nothing arrives for 3 minutes
    assert conc[5] > 5.0


def test_fast_clearance_stays_stable() -> None:
    # An explicit Euler step of 15 s diverges at k = (CL + Q) / Vc = 20/min; the exact step not.
    fast = reference_patients(P, cl=np.array([9.4]), vc=np.array([0.5]))
    conc = run(Plant(P, fast), 0.1, 60)
    expected = 0.1 * 70 * 1000 / P["molar_mass"] / 9.4 + P["production"] / P["molar_mass"] / 9.4
    assert all(c > 0 for c in conc)
    assert conc[-1] == pytest.approx(expected, rel=0.01)


def _course(n: int, minutes: int, map0: float) -> Course:
    z = np.zeros((n, minutes))
    return Course(z + map0, z + 1.0, z, z * np.nan, z, z, np.zeros(n, dtype=np.int64))


def test_emax_response_half_effect_at_ec50() -> None:
    # With C = EC50 the rise is dMAP / 2 (Oualha's direct Emax on total NE).
    c = reference_patients(P, production=np.array([P["ec50"] * P["cl_reference"]]))
    plant = Plant(P, c, _course(1, 2, 50.0))
    assert plant.map(0, np.zeros(1))[0] == pytest.approx(50.0 + P["dmap_moderate"] / 2)


def test_vasopressin_adds_pressure_on_top_of_norepinephrine() -> None:
    plant = Plant(P, reference_patients(P), _course(1, 2, 50.0))
    without = plant.map(0, np.zeros(1))[0]
    with_avp = plant.map(0, np.full(1, 0.03))[0]
    assert 1.0 < with_avp - without < P["dmap_moderate"]


def test_haemorrhage_lowers_pressure_and_refills() -> None:
    from vasoguide.sim.cohort import make_block

    p = P.replace(haemorrhage_per_day=3.0)
    _, course = make_block(p, 5, 0, 20, 24 * 60)
    low = course.volume.min(axis=1)
    assert (low < 0.9).any()  # a 1 L bleed in a 55-110 kg adult is 13-26 % of volume
    assert np.allclose(course.volume[:, 0], 1.0)
