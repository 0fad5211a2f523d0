"""Shared plumbing for readers: find a table in a folder, make mapping tables, new connections."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..dictionary import normalise
from ..events import EVENT_COLUMNS

__all__ = [
    "DatasetError",
    "connect",
    "default_rate_hold",
    "find_optional",
    "find_table",
    "finish",
    "ident",
    "item_map",
    "quote",
    "utc",
]


class DatasetError(ValueError):
    """A dataset folder is missing, incomplete, or not in the format its reader expects."""


def default_rate_hold() -> float:
    """The knowledge base's default `infusion_rate_hold` (minutes): how long a charted rate holds.

    A site setting; `open_dataset(..., protocol=)` passes the site's value instead.
    """
    from ...protocol import load_protocol

    return float(load_protocol().setting("infusion_rate_hold", "min"))


def connect(
    threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose session time zone is UTC (tz-aware times everywhere)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


def ident(name: str) -> str:
    """A safe SQL identifier prefix from a dataset name (`rows-1e+08` -> `ds_rows_1e_08`)."""
    return "ds_" + re.sub(r"\W", "_", name)


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def find_table(folder: Path, name: str) -> str:
    """Like `find_optional`, but the table must exist."""
    found = find_optional(folder, name)
    if found is None:
        raise DatasetError(f"{folder} has no table {name!r} (.parquet, .csv.gz or .csv)")
    return found


def find_optional(folder: Path, name: str) -> str | None:
    """A SQL table expression reading `name` (.parquet, .csv.gz, .csv, or a folder of parquet).

    CSVs are read as text (their types vary between releases) and cast where used.
    """
    parts = folder / name
    if parts.is_dir() and any(parts.glob("*.parquet")):
        # a table written in parts (large synthetic datasets)
        return f"read_parquet({quote(str(parts))} || '/*.parquet')"
    for ext in (".parquet", ".csv.gz", ".csv"):
        path = folder / f"{name}{ext}"
        if path.exists():
            if ext == ".parquet":
                return f"read_parquet({quote(str(path))})"
            return (
                f"read_csv({quote(str(path))}, header = true, all_varchar = true, "
                "quote = '\"', escape = '\"')"
            )
    return None


def utc(expr: str, tz: str = "UTC") -> str:
    """SQL for a naive source timestamp read in zone `tz`, as TIMESTAMPTZ."""
    return f"timezone({quote(tz)}, TRY_CAST({expr} AS TIMESTAMP))"


def item_map(
    con: duckdb.DuckDBPyConnection,
    name: str,
    mapping: Mapping[Any, Mapping[str, Any]],
    key_type: pa.DataType,
) -> str:
    """Register a code -> concept table (`key`, `code`, `method`, `unit`, `sign`) as `name`."""
    keys = list(mapping)
    table = pa.table(
        {
            "key": pa.array(keys, key_type),
            "code": pa.array([m["code"] for m in mapping.values()], pa.string()),
            "method": pa.array([m.get("method") for m in mapping.values()], pa.string()),
            "unit": pa.array([m.get("unit") for m in mapping.values()], pa.string()),
            "sign": pa.array([float(m.get("sign", 1)) for m in mapping.values()], pa.float64()),
        }
    )
    con.register(name, table)
    return name


def finish(
    con: duckdb.DuckDBPyConnection,
    prefix: str,
    raw_parts: Iterable[str],
    infusion_events: Iterable[duckdb.DuckDBPyRelation],
    aliases: Mapping[str, str],
) -> str:
    """Normalise raw measurement rows, union them with infusion events into table `prefix`."""
    raw_union = " UNION ALL ".join(f"SELECT * FROM ({p})" for p in raw_parts)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {prefix}_raw AS {raw_union}")
    measured = normalise(con, f"{prefix}_raw", dict(aliases))
    cols = ", ".join(EVENT_COLUMNS)
    parts = [f"SELECT {cols} FROM ({measured.sql_query()})"]
    parts += [f"SELECT {cols} FROM ({rel.sql_query()})" for rel in infusion_events]
    # Stored in stay and time order: each stay's rows are contiguous (as MEDS asks of subjects),
    # so per-stay reads touch few row groups.
    con.execute(
        f"CREATE OR REPLACE TABLE {prefix}_events AS SELECT * FROM ("
        + " UNION ALL ".join(parts)
        + ") ORDER BY stay_id, time"
    )
    return f"{prefix}_events"
