"""Generate many PatientStates with Hypothesis and count what must never happen.

Not a timed test: a benchmark-style run (issue 7's "done when"), reported in the closing note.

    .venv/bin/python benchmarks/fuzz_engine.py [--examples 100000] [--seed 7]

Counted: tracebacks (anything but a clean InputError), advised norepinephrine doses or rates that
are negative, NaN or infinite or above the hard limit, and pump rates inconsistent with
dose x weight / concentration (the contract's 2 %). Half the states come from the general
strategy of tests/test_properties.py, half from the dosing strategy of tests/test_surfaces.py.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from tests.test_properties import states  # noqa: E402
from tests.test_surfaces import dosing_states  # noqa: E402

from vasoguide import InputError, assess, load_protocol  # noqa: E402

P = load_protocol()
HARD = {"ug/kg/min": P.setting("hard_limit_weight", "ug/kg/min"),
        "ug/min": P.setting("hard_limit_fixed", "ug/min")}
MAX_RATE = P.setting("max_pump_rate", "mL/h")


def weight_used(a: Any) -> float | None:
    for i in a.inputs:
        if i.code == "weight" and isinstance(i.value, float):
            return float(i.value)
    return None


def check(state: dict[str, Any], counts: Counter[str], examples: list[dict[str, Any]]) -> None:
    counts["states"] += 1
    try:
        a = assess(state, P)
    except InputError:
        counts["input errors (clean, field named)"] += 1
        return
    except Exception:  # counting is the point
        counts["tracebacks"] += 1
        if len(examples) < 5:
            examples.append({"state": state, "traceback": traceback.format_exc()})
        return
    counts["assessments"] += 1
    w = weight_used(a)
    for act in a.actions:
        if act.drug != "norepinephrine" or act.dose is None:
            continue
        counts["advised doses"] += 1
        d = act.dose.value
        if not math.isfinite(d) or d < 0:
            counts["doses negative or not finite"] += 1
        if act.dose.unit in HARD and d > HARD[act.dose.unit] + 1e-9:
            counts["doses above the hard limit"] += 1
        if act.rate is None:
            continue
        counts["advised rates"] += 1
        r = act.rate.value
        if not math.isfinite(r) or r < 0 or r > MAX_RATE:
            counts["rates negative, not finite or above the pump limit"] += 1
            continue
        conc = act.concentration.value if act.concentration else None
        if not conc:
            counts["rates without a concentration"] += 1
            continue
        if act.dose.unit == "ug/kg/min":
            if w is None:
                counts["per-kg rates without a weight"] += 1
                continue
            ug_min = d * w
        else:
            ug_min = d
        want = ug_min * 60 / conc
        if abs(r - want) > 0.02 * want + 1e-9:
            counts["rates inconsistent with dose x weight / concentration"] += 1
            if len(examples) < 5:
                examples.append({"state": state, "action": act.model_dump(mode="json")})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    counts: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []

    @seed(args.seed)
    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(states(), dosing_states()))
    def run(state: dict[str, Any]) -> None:
        check(state, counts, examples)

    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": round(seconds, 1), **counts}, indent=2))
    for ex in examples:
        print(json.dumps(ex, default=str)[:3000])
    bad = [k for k in counts if k.startswith(("tracebacks", "doses ", "rates "))]
    sys.exit(1 if any(counts[k] for k in bad) else 0)


if __name__ == "__main__":
    main()
