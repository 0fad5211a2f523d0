"""Virtual patients: per-patient parameters and the policy-independent disturbances.

Everything random about a patient is drawn here, once per block of patients, from a seed that
names the block; so every policy meets the same patients, the same wandering vasodilation and
the same measurement errors, whatever the number of worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .params import Params

__all__ = ["BLOCK", "Cohort", "Course", "make_block", "reference_patients"]

BLOCK = 100  # patients per block; fixed so that results do not depend on the worker count
F = NDArray[np.float64]
B = NDArray[np.bool_]


@dataclass(frozen=True)
class Cohort:
    """Per-patient constants (arrays of length n)."""

    ids: NDArray[np.int64]
    weight: F  # kg
    age: F  # years
    severe: B  # >= 4 organ dysfunctions (Oualha's dMAP 12 class)
    saps: F
    cl: F  # L/min
    vc: F  # L
    vp: F  # L
    q: F  # L/min
    production: F  # nmol/min
    lag_min: F  # input lag + line dead space, min
    ec50: F  # nmol/L (Oualha EC50 / responsiveness)
    responsiveness: F  # fold (1 = typical)
    dmap: F  # mmHg
    resonant: B  # under-damped arterial line

    @property
    def n(self) -> int:
        return int(self.weight.size)


@dataclass(frozen=True)
class Course:
    """Policy-independent time courses, one row per patient, one column per minute."""

    map0: F  # drug-free MAP intercept (mmHg), with wander, steps and recovery
    volume: F  # blood volume / initial (haemorrhage); MAP scales with it (PAS assumption)
    arterial_error: F  # mmHg, added to the true MAP
    flush: F  # NaN, or the artefact value shown instead of the pressure
    cuff_error: F  # mmHg, for a cuff reading taken that minute
    uniform: F  # U(0,1) draws for nurse behaviour (manual care)
    phase: NDArray[np.int64]  # per-patient offset of periodic checks (minutes)


def _lognormal(rng: np.random.Generator, sd: float, n: int) -> F:
    return np.exp(rng.normal(0.0, sd, n)) if sd else np.ones(n)


def make_cohort(p: Params, rng: np.random.Generator, first_id: int, n: int) -> Cohort:
    weight = rng.uniform(*p.range("weight"), n)
    age = rng.uniform(*p.range("age"), n)
    severe = rng.uniform(size=n) < p["severe_fraction"]
    saps = np.where(
        severe, rng.uniform(*p.range("saps_severe"), n), rng.uniform(*p.range("saps_moderate"), n)
    )
    # Beloeil 2005: CL 3 L/min at SAPS II 20 to 0.9 at 60, linear in between (derived).
    slope = (p["cl_saps60"] - p["cl_saps20"]) / 40.0
    cl_typ = np.clip(p["cl_saps20"] + slope * (saps - 20.0), p["cl_saps60"], p["cl_saps20"])
    allo = (weight / 70.0) ** p["allometry_cl"]
    cl = cl_typ * allo * _lognormal(rng, p["cl_iiv"], n)
    vc = p["vc"] * weight / 70.0 * _lognormal(rng, p.iiv("vc"), n)
    vp = p["vp"] * weight / 70.0 * _lognormal(rng, p.iiv("vp"), n)
    q = p["q"] * allo
    production = p["production"] / p["molar_mass"] * allo * _lognormal(rng, p["production_iiv"], n)
    lag = p["lag"] / 60.0 * (weight / 70.0) ** 0.25 + rng.uniform(0.0, p["dead_space_max"], n)
    # 95% of patients between 1/k and k times as responsive (Rinehart's 0.1x-10x).
    resp = np.exp(rng.normal(0.0, np.log(p["responsiveness_95"]) / 1.96, n))
    ec50 = p["ec50"] / resp
    dmap = np.where(severe, p["dmap_severe"], p["dmap_moderate"]) * _lognormal(
        rng, p["dmap_iiv"], n
    )
    resonant = rng.uniform(size=n) < p["resonant_fraction"]
    return Cohort(
        np.arange(first_id, first_id + n), weight, age, severe, saps, cl, vc, vp, q,
        production, lag, ec50, resp, dmap, resonant,
    )


def reference_patients(p: Params, n: int = 1, **changes: F) -> Cohort:
    """n copies of Li 2024's typical 70 kg adult (no variability, no dead space), for tests."""
    ones = np.ones(n)
    fields: dict[str, Any] = {
        "ids": np.arange(n), "weight": 70.0 * ones, "age": 35.0 * ones,
        "severe": np.zeros(n, dtype=bool), "saps": 30.0 * ones, "cl": p["cl_reference"] * ones,
        "vc": p["vc"] * ones, "vp": p["vp"] * ones, "q": p["q"] * ones,
        "production": p["production"] / p["molar_mass"] * ones, "lag_min": p["lag"] / 60 * ones,
        "ec50": p["ec50"] * ones, "responsiveness": ones, "dmap": p["dmap_moderate"] * ones,
        "resonant": np.zeros(n, dtype=bool),
    }
    fields.update(changes)
    return Cohort(**fields)


def make_course(p: Params, c: Cohort, rng: np.random.Generator, minutes: int) -> Course:
    n, t = c.n, np.arange(minutes, dtype=float)
    start = np.where(
        c.severe, rng.uniform(*p.range("map0_severe"), n), rng.uniform(*p.range("map0_moderate"), n)
    )
    # Wandering vasodilation: Ornstein-Uhlenbeck, starting at 0 (Rinehart "wanders at random").
    rho = np.exp(-1.0 / p["wander_tau"])
    shocks = rng.normal(0.0, p["wander_sd"] * np.sqrt(1.0 - rho**2), (n, minutes))
    wander = np.empty((n, minutes))
    acc = np.zeros(n)
    for m in range(minutes):
        wander[:, m] = acc
        acc = rho * acc + shocks[:, m]
    map0 = start[:, None] + wander
    # Occasional worsening steps, fading over hours.
    n_steps = rng.poisson(p["steps_per_day"] * minutes / 1440.0, n)
    for k in range(int(n_steps.max(initial=0))):
        has = n_steps > k
        at = rng.uniform(0, minutes, n)
        size = rng.uniform(*p.range("step_size"), n)
        dt = t[None, :] - at[:, None]
        map0 += np.where(has[:, None] & (dt >= 0), size[:, None] * np.exp(
            -np.clip(dt, 0, None) / p["step_recovery_tau"]), 0.0)
    # Resolution of shock: the drug-free MAP rises over hours from a random onset.
    onset = rng.uniform(*p.range("recovery_onset"), n) * 60.0
    gain = rng.uniform(*p.range("recovery_gain"), n)
    ramp = np.clip((t[None, :] - onset[:, None]) / (p["recovery_duration"] * 60.0), 0.0, 1.0)
    map0 += gain[:, None] * ramp
    volume = _haemorrhage(p, c, rng, t)
    # Arterial line: bias in under-damped lines, slowly varying error, flush artefacts.
    rho_a = np.exp(-1.0 / p["arterial_noise_tau"])
    eps = rng.normal(0.0, p["arterial_noise_sd"] * np.sqrt(1.0 - rho_a**2), (n, minutes))
    err = np.empty((n, minutes))
    acc = rng.normal(0.0, p["arterial_noise_sd"], n)
    for m in range(minutes):
        acc = rho_a * acc + eps[:, m]
        err[:, m] = acc
    err += np.where(c.resonant, p["resonant_bias"], 0.0)[:, None]
    flush_on = rng.uniform(size=(n, minutes)) < p["flushes_per_hour"] / 60.0
    flush = np.where(flush_on, rng.uniform(*p.range("flush_value"), (n, minutes)), np.nan)
    bias = np.where(c.resonant, p["cuff_bias_resonant"], p["cuff_bias"])
    sd = np.where(c.resonant, p["cuff_sd_resonant"], p["cuff_sd"])
    cuff = bias[:, None] + sd[:, None] * rng.standard_normal((n, minutes))
    uniform = rng.uniform(size=(n, minutes))
    phase = rng.integers(0, 60, n)
    return Course(map0, volume, err, flush, cuff, uniform, phase)


def _haemorrhage(p: Params, c: Cohort, rng: np.random.Generator, t: F) -> F:
    """Blood volume fraction: bleeds at `bleed_rate`, refilled at `refill_rate` (PAS rates)."""
    n = c.n
    bv0 = p["blood_volume"] * c.weight
    lost = np.zeros((n, t.size))
    count = rng.poisson(p["haemorrhage_per_day"] * t.size / 1440.0, n)
    for k in range(int(count.max(initial=0))):
        has = (count > k)[:, None]
        at = rng.uniform(0, t.size, n)[:, None]
        total = p["bleed_rate"] * p["bleed_minutes"]
        loss = p["bleed_rate"] * np.clip(t[None, :] - at, 0, p["bleed_minutes"])
        refill_at = at + p["bleed_minutes"] + p["refill_delay"]
        refill = p["refill_rate"] * np.clip(t[None, :] - refill_at, 0, total / p["refill_rate"])
        lost += np.where(has, loss - refill, 0.0)
    return np.asarray(np.clip(1.0 - lost / bv0[:, None], 0.3, 1.0))


def make_block(p: Params, seed: int, block: int, n: int, minutes: int) -> tuple[Cohort, Course]:
    """Block `block` of a seeded cohort: patients block*BLOCK .. block*BLOCK + n - 1."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, block]))
    cohort = make_cohort(p, rng, block * BLOCK, n)
    return cohort, make_course(p, cohort, rng, minutes)
