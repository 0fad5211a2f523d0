"""How clinical numbers are rounded and written, for every surface (one implementation).

The rule, documented in docs/DISPLAY.md:

1. The engine rounds each number it outputs to the precision of its unit (`PRECISION`) and
   derives dependent numbers from the rounded value (a pump rate is computed from the dose that
   is shown, never from an unrounded one).
2. Every surface (CLI text, page, cards, reports) writes that number exactly as it is in the
   JSON: plain decimal notation, never scientific notation, a leading zero before the decimal
   point ("0.05"), no trailing zeros after it ("150", not "150.0"; ISMP's error-prone
   abbreviations list: a trailing zero is misread as a ten-fold dose), and no digit of the
   integer part ever dropped. Surfaces format; they never round again.
3. Units are written as clinicians write them (`unit_text`): "mcg", "mmHg", "mL/h".

The page's JavaScript has the same two functions (`numberText`, `unitText` in
service/static/app.js); tests compare every number each surface shows with the JSON.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = [
    "MIN_SIGNIFICANT",
    "PRECISION",
    "UNIT_TEXT",
    "number_text",
    "quantity_text",
    "rounded",
    "unit_text",
]

# Decimals kept per UCUM unit. Why these: pumps are programmed in 0.1 mL/h steps; norepinephrine
# doses are prescribed to 0.01 mcg/kg/min (three decimals keep 0.125 exact); pressures are
# charted as whole mmHg. A unit not listed keeps 3 significant figures (`rounded`).
PRECISION: dict[str, int] = {
    "ug/kg/min": 3,
    "ug/min": 1,
    "mL/h": 1,
    "mL/min": 2,
    "ug/mL": 2,
    "mg/mL": 4,
    "U/min": 3,
    "U/h": 2,
    "mU/kg/min": 2,
    "mm[Hg]": 0,
    "kg": 1,
    "g": 0,
    "mL": 0,
    "L": 2,
    "mL/kg": 1,
    "mL/kg/h": 2,
    "mmol/L": 1,
    "%": 0,
    "min": 0,
    "h": 1,
    "a": 1,
    "mo": 1,
    "d": 0,
    "/min": 0,
}

# Doses, rates, concentrations and weights also keep at least 3 significant figures: a tiny
# neonatal rate (0.0338 mL/h on a syringe driver) is not shown as 0 and the shown dose, weight,
# concentration and rate stay consistent within 0.5 %.
MIN_SIGNIFICANT: frozenset[str] = frozenset(
    {"ug/kg/min", "ug/min", "mL/h", "mL/min", "ug/mL", "mg/mL", "U/min", "U/h", "mU/kg/min", "kg"}
)

# UCUM spellings people read differently.
UNIT_TEXT: dict[str, str] = {
    "mm[Hg]": "mmHg",
    "a": "years",
    "mo": "months",
    "d": "days",
    "{units}": "units",
    "/min": "/min",
}


def rounded(value: float, unit: str) -> float:
    """`value` rounded to the display precision of `unit` (3 significant figures if unlisted)."""
    if not math.isfinite(value):
        return value
    if value == 0:
        return 0.0
    sig3 = max(0, 2 - math.floor(math.log10(abs(value))))
    digits = PRECISION.get(unit)
    if digits is None:
        digits = sig3
    elif unit in MIN_SIGNIFICANT:
        digits = max(digits, sig3)
    if abs(value) >= 1e15:
        return value  # no fractional digit left to round (and beyond Decimal's 28 digits)
    # Decimal on the shortest repr: 0.125 rounds as written, not as its binary neighbour.
    out = float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_EVEN))
    return 0.0 if out == 0 else out  # no "-0"


def number_text(value: float) -> str:
    """A number as clinicians write it: "150", "0.05", "1050", never "1.05e+3" or "150.0"."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a number a clinician can be shown")
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def unit_text(unit: str) -> str:
    """UCUM to the spelling clinicians read: ug -> mcg, mm[Hg] -> mmHg, a -> years."""
    if unit in UNIT_TEXT:
        return UNIT_TEXT[unit]
    return unit.replace("ug", "mcg").replace("{units}", "units")


def quantity_text(value: float, unit: str) -> str:
    """ "150 mL/h", "0.05 mcg/kg/min", "58 mmHg"."""
    return f"{number_text(value)} {unit_text(unit)}"
