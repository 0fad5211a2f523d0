"""Compare two audit output folders strictly: per-stay metrics and decisions, row for row.

    python scripts/compare_audits.py out-before/audit-eicu-demo out-after/audit-eicu-demo \
        [--ignore-tied-stays ../shared/data/eicu-demo]

Used to check that a refactoring of the audit (or another engine, e.g. `--engine spark`)
changes no number: both tables are sorted by their keys, then compared value for value
(floats exactly, NULLs equal only to NULLs). Exits 1 and prints the first differences if not.

`--ignore-tied-stays DATASET` leaves out the stays with two usable rows of one concept at one
instant (an arterial and a cuff MAP...): before perstay.sort_events, which of them the replay
saw last depended on the database's row order (two runs of one audit could differ there).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
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


def tied_stays(dataset: str) -> set[int]:
    from vasoguide.timeline.readers import open_dataset

    es = open_dataset(dataset)
    rows = es.con.sql(
        f"SELECT DISTINCT stay_id FROM {es.events} WHERE quality IS NULL "
        "GROUP BY stay_id, code, time HAVING count(*) > 1"
    ).fetchall()
    return {int(r[0]) for r in rows}


def _without(table: pa.Table, stays: set[int]) -> pa.Table:
    keep = pc.invert(pc.is_in(table.column("stay_id"), pa.array(sorted(stays), pa.int64())))
    return table.filter(keep)


def main(argv: list[str]) -> int:
    left, right = Path(argv[0]), Path(argv[1])
    tied: set[int] = set()
    if len(argv) == 4 and argv[2] == "--ignore-tied-stays":
        tied = tied_stays(argv[3])
        print(f"leaving out {len(tied)} stays with rows tied at one instant")
    failed = False
    for name, keys in KEYS.items():
        a = _without(pq.read_table(left / f"{name}.parquet"), tied)
        b = _without(pq.read_table(right / f"{name}.parquet"), tied)
        diff = differences(a, b, keys)
        print(f"{name}: {'equal' if not diff else 'DIFFERENT'} ({a.num_rows} rows)")
        for line in diff:
            print("  " + line)
        failed = failed or bool(diff)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
