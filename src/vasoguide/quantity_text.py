"""Quantities typed as text on the command line: "80kg", "176 lb", "32ug/mL", "4mg/250mL"."""

from __future__ import annotations

import re

from .errors import InputError
from .units import Kind, factor

__all__ = ["parse_concentration", "parse_weight"]

_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([^\d\s].*?)\s*$")
_AMOUNT_PER_VOLUME = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Zµμ]+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-zA-Z]+)\s*$"
)


def parse_weight(text: str) -> float:
    """A body weight in kg from text such as "80kg", "80 kg" or "176lb"."""
    m = _NUMBER_UNIT.match(text)
    if not m:
        raise InputError("weight", f"{text!r} is not a weight such as 80kg or 176lb")
    kg = float(m.group(1)) * factor(m.group(2), Kind.BODY_WEIGHT, "weight")
    if kg <= 0:
        raise InputError("weight", "weight must be positive")
    return kg


def parse_concentration(text: str) -> float:
    """A concentration in ug/mL from "32ug/mL", "32 mcg/mL", "4mg/250mL" or "0.016 mg/mL"."""
    m = _AMOUNT_PER_VOLUME.match(text)
    if not m:
        raise InputError(
            "concentration", f"{text!r} is not a concentration such as 32ug/mL or 4mg/250mL"
        )
    amount = float(m.group(1)) * factor(m.group(2), Kind.DRUG_MASS, "concentration") * 1000.0
    volume = float(m.group(3) or 1) * factor(m.group(4), Kind.VOLUME, "concentration")
    if amount <= 0 or volume <= 0:
        raise InputError("concentration", "concentration must be positive")
    return amount / volume
