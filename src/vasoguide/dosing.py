"""Dose arithmetic: ug/kg/min <-> ug/min <-> mL/h <-> mL/min, with weight and concentration.

Conversions that need patient facts take them as named arguments, never globals:

    rate (mL/h) = dose (ug/kg/min) x weight (kg) x 60 / concentration (ug/mL)
    rate (mL/h) = dose (ug/min) x 60 / concentration (ug/mL)

Concentrations are norepinephrine base unless said otherwise; a salt concentration is turned
into base with the protocol's salt-to-base factor (tartrate salt is about twice the base mass).
`check_limits` works like a pump's drug library: a soft limit warns, a hard limit blocks, and a
dose implausible by orders of magnitude is not used at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .display import number_text, quantity_text, rounded
from .errors import DoseError
from .units import DoseBasis, concentration_factor, dose_basis

if TYPE_CHECKING:
    from .protocol import Protocol

__all__ = [
    "DoseConversion",
    "LimitCheck",
    "check_conversion",
    "check_limits",
    "convert_dose",
    "rate_ml_h",
]


def rate_ml_h(ug_per_min: float, *, concentration_ug_ml: float) -> float:
    """Pump rate in mL/h delivering `ug_per_min` at `concentration_ug_ml`."""
    if not concentration_ug_ml > 0:  # also refuses NaN
        raise DoseError("concentration must be positive")
    return ug_per_min * 60.0 / concentration_ug_ml


def _finite_positive(value: float | None, what: str, allow_zero: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise DoseError(f"{what} must be a finite number, not {value}")
    if value < 0 or (value == 0 and not allow_zero):
        raise DoseError(f"{what} must be {'zero or more' if allow_zero else 'positive'}")


@dataclass(frozen=True, slots=True)
class DoseConversion:
    """One dose expressed every way a clinician or a pump needs it, as shown (display.py).

    Each number is rounded to its unit's display precision, and each is derived from the
    given value as entered, so that what is shown agrees with itself within rounding.
    """

    ug_kg_min: float | None
    ug_min: float
    ml_h: float | None
    ml_min: float | None
    weight_kg: float | None
    concentration_ug_ml: float | None  # always base
    concentration_basis: Literal["base", "salt"]  # how the concentration was entered
    concentration_entered_ug_ml: float | None = None  # as entered (salt when basis is salt)

    def lines(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.ug_kg_min is not None:
            out.append(("dose", quantity_text(self.ug_kg_min, "ug/kg/min")))
        out.append(("dose", quantity_text(self.ug_min, "ug/min")))
        if self.ml_h is not None and self.ml_min is not None and self.concentration_ug_ml:
            conc = f"at {quantity_text(self.concentration_ug_ml, 'ug/mL')} base"
            out.append(("rate", f"{quantity_text(self.ml_h, 'mL/h')} {conc}"))
            out.append(("rate", f"{quantity_text(self.ml_min, 'mL/min')} {conc}"))
        if self.concentration_basis == "salt" and self.concentration_entered_ug_ml is not None:
            entered = quantity_text(self.concentration_entered_ug_ml, "ug/mL")
            out.append(("note", f"{entered} tartrate salt entered; converted to base"))
        return out

    def as_json(self) -> dict[str, float | str | None]:
        return {
            "ug_kg_min": self.ug_kg_min,
            "ug_min": self.ug_min,
            "ml_h": self.ml_h,
            "ml_min": self.ml_min,
            "weight_kg": self.weight_kg,
            "concentration_ug_ml": self.concentration_ug_ml,
            "concentration_basis": "base",
            "concentration_entered_ug_ml": self.concentration_entered_ug_ml,
            "concentration_entered_basis": self.concentration_basis,
        }


def convert_dose(
    value: float,
    unit: str,
    *,
    weight_kg: float | None = None,
    concentration: float | None = None,
    concentration_unit: str = "ug/mL",
    concentration_basis: Literal["base", "salt"] = "base",
    salt_to_base: float | None = None,
) -> DoseConversion:
    """Express a norepinephrine dose or pump rate in ug/kg/min, ug/min, mL/h and mL/min.

    `salt_to_base` is required when `concentration_basis` is "salt" (the protocol's cited
    factor); it turns a salt concentration into base before any rate is computed. Every input
    must be finite and positive (a dose may be 0); DoseError names the one that is not.
    """
    _finite_positive(value, "the dose or rate", allow_zero=True)
    _finite_positive(weight_kg, "the weight")
    _finite_positive(concentration, "the concentration")
    basis, scale = dose_basis(unit, "dose.unit")
    canonical = value * scale
    conc_ug_ml: float | None = None
    entered: float | None = None
    if concentration is not None:
        measure, cscale = concentration_factor(concentration_unit, "concentration.unit")
        if measure != "mass":
            raise DoseError("norepinephrine concentration must be a mass per volume (ug/mL)")
        conc_ug_ml = entered = concentration * cscale
        if concentration_basis == "salt":
            if salt_to_base is None:
                raise DoseError("a salt concentration needs the salt-to-base factor")
            conc_ug_ml *= salt_to_base
        conc_ug_ml = rounded(conc_ug_ml, "ug/mL")
        _finite_positive(conc_ug_ml, "the concentration")
    if basis is DoseBasis.ACTIVITY:
        raise DoseError("unit-dosed drugs (vasopressin) are not converted to mass rates")
    w = weight_kg
    if basis is DoseBasis.WEIGHT:
        if w is None:
            raise DoseError("a dose per kg needs the weight (--weight)")
        per_kg: float | None = rounded(canonical, "ug/kg/min")
        ug_min = (per_kg or 0.0) * w
    elif basis is DoseBasis.MASS:
        ug_min = rounded(canonical, "ug/min")
        per_kg = ug_min / w if w else None
    else:  # a pump rate in mL/h
        if conc_ug_ml is None:
            raise DoseError("a rate in mL/h needs the concentration (--concentration)")
        ug_min = rounded(canonical, "mL/h") * conc_ug_ml / 60.0
        per_kg = ug_min / w if w else None
    ml_h: float | None = None
    if basis is DoseBasis.VOLUME:
        ml_h = rounded(canonical, "mL/h")
    elif conc_ug_ml:
        ml_h = rate_ml_h(ug_min, concentration_ug_ml=conc_ug_ml)
    numbers = [ug_min, per_kg, ml_h]
    if any(x is not None and not math.isfinite(x) for x in numbers):
        raise DoseError("the result is out of range: check the dose, weight and concentration")
    return DoseConversion(
        ug_kg_min=rounded(per_kg, "ug/kg/min") if per_kg is not None else None,
        ug_min=rounded(ug_min, "ug/min"),
        ml_h=rounded(ml_h, "mL/h") if ml_h is not None else None,
        ml_min=rounded(ml_h / 60.0, "mL/min") if ml_h is not None else None,
        weight_kg=rounded(w, "kg") if w is not None else None,
        concentration_ug_ml=conc_ug_ml,
        concentration_basis=concentration_basis,
        concentration_entered_ug_ml=(
            rounded(entered, "ug/mL") if entered is not None and concentration_basis == "salt"
            else None
        ),
    )


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """Where a norepinephrine dose stands against the protocol's limits."""

    level: Literal["ok", "high", "above_hard_limit", "implausible"]
    message: str
    rule: str


def check_limits(
    protocol: Protocol, *, ug_kg_min: float | None = None, ug_min: float | None = None
) -> LimitCheck:
    """Pump-library style check of a norepinephrine dose (per kg when known, else fixed)."""
    p = protocol
    if ug_kg_min is not None:
        suspect_hi = p.setting("unit_suspect_weight", "ug/kg/min")
        suspect_lo = p.setting("unit_suspect_low_weight", "ug/kg/min")
        hard = p.setting("hard_limit_weight", "ug/kg/min")
        high = p.threshold("admin.high-dose", "high_dose", "ug/kg/min")
        value, unit = ug_kg_min, "mcg/kg/min"
    elif ug_min is not None:
        suspect_hi = p.setting("unit_suspect_fixed", "ug/min")
        suspect_lo = 0.0
        hard = p.setting("hard_limit_fixed", "ug/min")
        high = None
        value, unit = ug_min, "mcg/min"
    else:
        raise DoseError("check_limits needs a dose")
    if value >= suspect_hi or (0 < value < suspect_lo):
        return LimitCheck(
            "implausible",
            f"{number_text(value)} {unit} is implausible by orders of magnitude (expected "
            f"{number_text(suspect_lo)}-{number_text(suspect_hi)} {unit}); check the unit "
            "(mg written for mcg?)",
            "data.dose-unit-suspect",
        )
    if value > hard:
        return LimitCheck(
            "above_hard_limit",
            f"{number_text(value)} {unit} is above the hard limit of {number_text(hard)} {unit}",
            "admin.dose-limits",
        )
    if high is not None and value >= high:
        return LimitCheck(
            "high",
            f"{number_text(value)} {unit} is at or above the high-dose threshold of "
            f"{number_text(high)} {unit}",
            "admin.high-dose",
        )
    return LimitCheck("ok", f"{number_text(value)} {unit} is within limits", "admin.dose-limits")



def check_conversion(protocol: Protocol, conv: DoseConversion) -> LimitCheck:
    """Pump-library check of a whole conversion: the dose, then the weight and the rate.

    The per-kg limits cannot catch a wrong weight or a rate no pump delivers, so both are
    checked too (the weight against the widest plausible band, as no age is given here).
    """
    dose = (
        check_limits(protocol, ug_kg_min=conv.ug_kg_min)
        if conv.ug_kg_min is not None
        else check_limits(protocol, ug_min=conv.ug_min)
    )
    if dose.level == "implausible":
        return dose
    w = conv.weight_kg
    if w is not None:
        low = protocol.setting("plausible_weight_min_unknown", "kg")
        high = protocol.setting("plausible_weight_max_unknown", "kg")
        if not low <= w <= high:
            return LimitCheck(
                "implausible",
                f"weight {number_text(w)} kg is implausible (expected {number_text(low)}-"
                f"{number_text(high)} kg): check the weight and its unit",
                "data.implausible-values",
            )
    limit = protocol.setting("max_pump_rate", "mL/h")
    if conv.ml_h is not None and conv.ml_h > limit:
        return LimitCheck(
            "implausible",
            f"{number_text(conv.ml_h)} mL/h is beyond the pump limit of {number_text(limit)} "
            "mL/h (site setting): check the dose, weight and concentration",
            "admin.concentration-and-rate",
        )
    return dose
