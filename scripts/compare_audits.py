"""Compare two audit output folders strictly: per-stay metrics and decisions, row for row.

    python scripts/compare_audits.py out-before/audit-eicu-demo out-after/audit-eicu-demo

Used to check that a refactoring of the audit (or another engine, e.g. `--engine spark`)
changes no number: both tables are sorted by their keys, then compared value for value
(floats exactly, NULLs equal only to NULLs). Exits 1 and prints the first differences if not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

KEYS = {"metrics": ["stay_id"], "decisions": ["stay_id", "time"]}


def differences(a: pa.Table, b: pa.Table, keys: list[str], limit: int = 10) -> list[str]:
    """Human-readable differences between two tables (empty when equal)."""
    if a.schema != b.schema:
        return [f"schemas differ:\n{a.schema}\n---\n{b.schema}"]
    if a.num_rows != b.num_rows:
        return [f"row counts differ: {a.num_rows} vs {b.num_rows}"]
    order = [(k, "ascending") for k in keys]
    ra, rb = a.sort_by(order).to_pylist(), b.sort_by(order).to_pylist()
    out: list[str] = []
    for x, y in zip(ra, rb, strict=True):
        for col in a.column_names:
            if x[col] != y[col]:
                out.append(f"{[x[k] for k in keys]} {col}: {x[col]!r} != {y[col]!r}")
                if len(out) >= limit:
                    return out
    return out


def main(argv: list[str]) -> int:
    left, right = Path(argv[0]), Path(argv[1])
    failed = False
    for name, keys in KEYS.items():
        diff = differences(pq.read_table(left / f"{name}.parquet"),
                           pq.read_table(right / f"{name}.parquet"), keys)
        print(f"{name}: {'equal' if not diff else 'DIFFERENT'}")
        for line in diff:
            print("  " + line)
        failed = failed or bool(diff)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
