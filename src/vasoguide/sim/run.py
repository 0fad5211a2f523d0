"""Run policies on seeded blocks of virtual patients, in worker processes when asked."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from .cohort import BLOCK, make_block
from .measures import patient_measures
from .params import Params, load_params
from .plant import Plant
from .policies import POLICIES, ClosedLoop, Manual, Policy, Vasoguide, World

__all__ = ["BlockResult", "SimConfig", "SimResult", "run_block", "simulate"]


@dataclass(frozen=True)
class SimConfig:
    patients: int = 1000
    hours: float = 24.0
    seed: int = 1
    method: str = "arterial"  # or "cuff"
    policies: tuple[str, ...] = POLICIES
    site: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # site-setting overrides (sweeps)
    params_file: Path | None = None
    workers: int = 2
    traces: int = 6  # example patients whose minute-by-minute traces are kept

    @property
    def minutes(self) -> int:
        return round(self.hours * 60)

    def params(self) -> Params:
        return load_params(self.params_file)


@dataclass
class BlockResult:
    policy: str
    rows: list[dict[str, Any]]
    traces: dict[str, NDArray[np.float64]]
    stats: Counter[str]


@dataclass
class SimResult:
    config: SimConfig
    params: Params
    rows: list[dict[str, Any]]
    traces: dict[str, dict[str, NDArray[np.float64]]]
    stats: dict[str, Counter[str]]
    seconds: float = 0.0


def _protocol(cfg: SimConfig) -> Any:
    from ..protocol import load_protocol

    if not cfg.settings:
        return load_protocol(site=cfg.site) if cfg.site else load_protocol()
    doc: dict[str, Any] = {"settings": {}}
    if cfg.site is not None:
        doc = yaml.safe_load(Path(cfg.site).read_text(encoding="utf-8")) or {}
        doc.setdefault("settings", {})
    doc["settings"].update(cfg.settings)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(doc, fh)
        path = fh.name
    try:
        return load_protocol(site=path)
    finally:
        os.unlink(path)


def run_block(cfg: SimConfig, block: int, policy_name: str) -> BlockResult:
    """Run one policy on one block of patients; the block's patients are the same for all."""
    p = cfg.params()
    n = min(BLOCK, cfg.patients - block * BLOCK)
    minutes = cfg.minutes
    c, course = make_block(p, cfg.seed, block, n, minutes)
    plant = Plant(p, c, course)
    world = World(
        n, cfg.method, np.full((n, minutes), np.nan), np.zeros(n), np.zeros(n),
        np.full(n, -1, dtype=np.int64),
    )
    policy: Policy
    if policy_name == "vasoguide":
        policy = Vasoguide(p, c, course, world, _protocol(cfg))
    elif policy_name == "manual":
        policy = Manual(p, c, course, world)
    elif policy_name == "closed-loop":
        policy = ClosedLoop(p, c, course, world)
    else:
        raise ValueError(f"no such policy: {policy_name}")
    true = np.empty((n, minutes))
    dose = np.empty((n, minutes))
    avp = np.empty((n, minutes))
    chart_every = round(p["chart_every"])
    cuff_every = round(p["cuff_interval"])
    for m in range(minutes):
        mp = plant.map(m, world.avp)
        true[:, m] = mp
        if cfg.method == "arterial":
            world.measured[:, m] = np.where(
                np.isnan(course.flush[:, m]), mp + course.arterial_error[:, m], course.flush[:, m]
            )
            charted = np.full(n, m % chart_every == 0)
        else:
            charted = ((m - course.phase) % cuff_every == 0) | (world.request == m)
            world.measured[:, m] = np.where(charted, mp + course.cuff_error[:, m], np.nan)
        policy.step(m, charted)
        dose[:, m] = world.ne
        avp[:, m] = world.avp
        plant.minute(world.ne)
    rows = patient_measures(p, c, true, dose, avp, policy_name)
    if isinstance(policy, Manual):
        for i, row in enumerate(rows):
            row["checks_below"] = int(policy.check_below[i])
            row["checks_in"] = int(policy.check_in[i])
            row["checks_above"] = int(policy.check_above[i])
    keep = min(cfg.traces, n) if block == 0 else 0
    traces = {
        "true": true[:keep], "measured": world.measured[:keep], "ne": dose[:keep],
        "avp": avp[:keep],
    }
    return BlockResult(policy_name, rows, traces, world.stats)


def _run(args: tuple[SimConfig, int, str]) -> BlockResult:
    return run_block(*args)


def simulate(cfg: SimConfig) -> SimResult:
    """All policies on the same seeded patients; blocks spread over `cfg.workers` processes."""
    import time

    t0 = time.perf_counter()
    blocks = (cfg.patients + BLOCK - 1) // BLOCK
    # Expensive (engine) tasks first so the pool stays busy to the end.
    order = sorted(cfg.policies, key=lambda name: name != "vasoguide")
    tasks = [(cfg, b, name) for name in order for b in range(blocks)]
    if cfg.workers <= 1 or len(tasks) == 1:
        results = [_run(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
            results = list(pool.map(_run, tasks))
    rows: list[dict[str, Any]] = []
    traces: dict[str, dict[str, NDArray[np.float64]]] = {}
    stats: dict[str, Counter[str]] = {}
    for r in results:
        rows.extend(r.rows)
        stats.setdefault(r.policy, Counter()).update(r.stats)
        if r.traces["true"].size:
            traces[r.policy] = r.traces
    rows.sort(key=lambda row: (row["policy"], row["patient"]))
    return SimResult(cfg, cfg.params(), rows, traces, stats, time.perf_counter() - t0)

