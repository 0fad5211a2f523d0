#!/usr/bin/env python3
"""Simulator benchmarks (a script, not a test): plant throughput and engine calls in the loop.

    python benchmarks/bench_sim.py            # plant patient-steps/s, engine calls/s
    python benchmarks/bench_sim.py --json

Anchors (issue #12): the plant alone at about 50 million patient-steps per second per core in
NumPy; 1,000 patients x 24 h with all three policies "in minutes" on two cores (measure that
with `vasoguide simulate`, which prints its wall time). Medians of repeated runs; the machine
is 2 shared cores, so compare figures measured in the same run only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from vasoguide.sim.cohort import make_block
from vasoguide.sim.params import load_params
from vasoguide.sim.plant import SUBSTEPS, Plant
from vasoguide.sim.run import SimConfig, run_block


def plant_rate(patients: int, minutes: int, repeats: int) -> tuple[float, float]:
    """Median (plant steps, plant+MAP minutes) per patient per second."""
    p = load_params()
    c, course = make_block(p, 1, 0, patients, minutes)
    dose = np.full(patients, 0.1)
    avp = np.zeros(patients)
    steps, mins = [], []
    for _ in range(repeats):
        plant = Plant(p, c, course)
        t0 = time.perf_counter()
        for m in range(minutes):
            plant.map(m, avp)
            plant.minute(dose)
        dt = time.perf_counter() - t0
        steps.append(patients * minutes * SUBSTEPS / dt)
        mins.append(patients * minutes / dt)
    return statistics.median(steps), statistics.median(mins)


def engine_rate(patients: int, hours: float, repeats: int) -> dict[str, float]:
    cfg = SimConfig(patients=patients, hours=hours, workers=1)
    rates, state_us, assess_us, wall = [], [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = run_block(cfg, 0, "vasoguide")
        dt = time.perf_counter() - t0
        calls = r.stats["engine_calls"]
        rates.append(calls / dt)
        state_us.append(r.stats["state_us"] / calls)
        assess_us.append(r.stats["assess_us"] / calls)
        wall.append(dt)
    return {
        "engine_calls_per_s_in_loop": statistics.median(rates),
        "state_build_us": statistics.median(state_us),
        "assess_us": statistics.median(assess_us),
        "block_wall_s": statistics.median(wall),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    out: dict[str, float] = {}
    for n in (100, 10_000, 100_000):
        steps, mins = plant_rate(n, 240 if n < 100_000 else 60, args.repeats)
        out[f"plant_steps_per_s_{n}"] = steps
        out[f"plant_patient_minutes_per_s_{n}"] = mins
    out.update(engine_rate(100, 6, args.repeats))
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        print(f"{k:40s} {v:,.1f}")


if __name__ == "__main__":
    main()
