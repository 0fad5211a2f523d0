"""The simulator's parameter table (params.yaml): value, unit and source tag of every number."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULT_PARAMS", "Param", "Params", "load_params"]

DEFAULT_PARAMS = Path(__file__).with_name("params.yaml")
_TAGS = ("[V]", "[D]", "[M]", "[C]", "[fit]")


@dataclass(frozen=True)
class Param:
    name: str
    value: float | tuple[float, float]
    unit: str
    source: str
    iiv: float | None = None


class Params:
    """Read-only mapping of parameter name to `Param`; `p["x"]` is the value, `p.range("x")`."""

    def __init__(self, items: dict[str, Param]) -> None:
        self.items = items

    def __getitem__(self, name: str) -> float:
        v = self.items[name].value
        if isinstance(v, tuple):
            raise TypeError(f"{name} is a range; use .range()")
        return v

    def range(self, name: str) -> tuple[float, float]:
        v = self.items[name].value
        if not isinstance(v, tuple):
            raise TypeError(f"{name} is a single value")
        return v

    def iiv(self, name: str) -> float:
        return self.items[name].iiv or 0.0

    def replace(self, **values: float | tuple[float, float]) -> Params:
        """A copy with some values changed (the source becomes "[override]")."""
        items = dict(self.items)
        for k, v in values.items():
            old = items[k]
            items[k] = Param(k, v, old.unit, f"[override] was {old.value}", old.iiv)
        return Params(items)

    def table(self) -> list[tuple[str, str, str, str]]:
        rows = []
        for p in self.items.values():
            v = p.value
            text = f"{v[0]:g} to {v[1]:g}" if isinstance(v, tuple) else f"{v:g}"
            if p.iiv:
                text += f" (IIV {p.iiv:g})"
            rows.append((p.name, text, p.unit, p.source))
        return rows


def _param(name: str, raw: dict[str, Any]) -> Param:
    value = raw["value"]
    source = str(raw.get("source", ""))
    if not source.startswith(_TAGS):
        raise ValueError(f"params › {name}: source must start with one of {_TAGS}")
    v: float | tuple[float, float]
    if isinstance(value, list):
        if len(value) != 2 or value[0] > value[1]:
            raise ValueError(f"params › {name}: a range is [low, high]")
        v = (float(value[0]), float(value[1]))
    else:
        v = float(value)
    iiv = raw.get("iiv")
    return Param(name, v, str(raw.get("unit", "")), source, float(iiv) if iiv else None)


def load_params(path: Path | str | None = None, base: Params | None = None) -> Params:
    """The packaged table, or `path` read over it (an override file names only what changes)."""
    with DEFAULT_PARAMS.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    items = {k: _param(k, v) for k, v in raw.items()} if base is None else dict(base.items)
    if path is not None:
        with Path(path).open(encoding="utf-8") as fh:
            extra = yaml.safe_load(fh) or {}
        for k, v in extra.items():
            if k not in items:
                raise ValueError(f"params › {k}: no such parameter")
            entry = v if isinstance(v, dict) else {"value": v}
            merged = {"unit": items[k].unit, "source": "[C] site override", **entry}
            items[k] = _param(k, merged)
    return Params(items)
