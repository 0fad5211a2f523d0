#!/usr/bin/env python3
"""Engine and CLI benchmarks (a script, not a test): medians over repeated runs.

    python benchmarks/bench_engine.py            # assess() throughput and CLI wall time
    python benchmarks/bench_engine.py --json     # machine-readable

Targets (issue #2): at least 5,000 assessments per second on one core for a typical
septic-shock state, and `vasoguide assess --json` under 0.5 s wall time. The machine is
2 shared cores: read medians, and compare runs made at the same time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from vasoguide import assess, load_protocol, parse_state

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "septic start (model)": ROOT / "src/vasoguide/examples/1-septic-start.json",
    "septic wean (model)": ROOT / "src/vasoguide/examples/3-septic-wean.json",
}


def throughput(state: object, protocol: object, seconds: float = 1.0, repeats: int = 7) -> float:
    """Median assessments per second over `repeats` runs of about `seconds` each."""
    rates = []
    n = 200
    for _ in range(repeats):
        start = time.perf_counter()
        count = 0
        while time.perf_counter() - start < seconds:
            for _ in range(n):
                assess(state, protocol)  # type: ignore[arg-type]
            count += n
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def cli_wall(path: Path, repeats: int = 11) -> dict[str, float]:
    exe = Path(sys.executable).with_name("vasoguide")
    cmd = [str(exe), "assess", str(path), "--json"]
    subprocess.run(cmd, capture_output=True, check=True)  # warm the protocol cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    protocol = load_protocol()
    out: dict[str, object] = {}
    for name, path in CASES.items():
        doc = json.loads(path.read_text())
        out[name] = round(throughput(parse_state(doc), protocol, args.seconds))
        out[name.replace("model", "dict, validated each call")] = round(
            throughput(doc, protocol, args.seconds)
        )
    out["cli assess --json"] = cli_wall(CASES["septic start (model)"])
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for key, value in out.items():
        if isinstance(value, dict):
            print(
                f"{key}: median {value['median_s'] * 1000:.0f} ms "
                f"(min {value['min_s'] * 1000:.0f}, max {value['max_s'] * 1000:.0f})"
            )
        else:
            print(f"{key}: {value} assessments/s (median)")


if __name__ == "__main__":
    main()
