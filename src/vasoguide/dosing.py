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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .errors import DoseError
from .units import DoseBasis, concentration_factor, dose_basis

if TYPE_CHECKING:
    from .protocol import Protocol

__all__ = ["DoseConversion", "LimitCheck", "check_limits", "convert_dose", "rate_ml_h"]


def rate_ml_h(ug_per_min: float, *, concentration_ug_ml: float) -> float:
    """Pump rate in mL/h delivering `ug_per_min` at `concentration_ug_ml`."""
    if concentration_ug_ml <= 0:
        raise DoseError("concentration must be positive")
    return ug_per_min * 60.0 / concentration_ug_ml


@dataclass(frozen=True, slots=True)
class DoseConversion:
    """One dose expressed every way a clinician or a pump needs it."""

    ug_kg_min: float | None
    ug_min: float
    ml_h: float | None
    ml_min: float | None
    weight_kg: float | None
    concentration_ug_ml: float | None
    concentration_basis: Literal["base", "salt"]

    def lines(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.ug_kg_min is not None:
            out.append(("dose", f"{self.ug_kg_min:.4g} mcg/kg/min"))
        out.append(("dose", f"{self.ug_min:.4g} mcg/min"))
        if self.ml_h is not None and self.ml_min is not None:
            conc = f"at {self.concentration_ug_ml:.4g} mcg/mL ({self.concentration_basis})"
            out.append(("rate", f"{self.ml_h:.4g} mL/h {conc}"))
            out.append(("rate", f"{self.ml_min:.4g} mL/min {conc}"))
        return out


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
    factor); it turns a salt concentration into base before any rate is computed.
    """
    basis, scale = dose_basis(unit, "dose.unit")
    canonical = value * scale
    conc_ug_ml: float | None = None
    if concentration is not None:
        measure, cscale = concentration_factor(concentration_unit, "concentration.unit")
        if measure != "mass":
            raise DoseError("norepinephrine concentration must be a mass per volume (ug/mL)")
        conc_ug_ml = concentration * cscale
        if concentration_basis == "salt":
            if salt_to_base is None:
                raise DoseError("a salt concentration needs the salt-to-base factor")
            conc_ug_ml *= salt_to_base
        if conc_ug_ml <= 0:
            raise DoseError("concentration must be positive")
    if basis is DoseBasis.ACTIVITY:
        raise DoseError("unit-dosed drugs (vasopressin) are not converted to mass rates")
    if basis is DoseBasis.WEIGHT:
        if weight_kg is None:
            raise DoseError("a dose per kg needs the weight (--weight)")
        ug_min = canonical * weight_kg
    elif basis is DoseBasis.MASS:
        ug_min = canonical
    else:  # a pump rate in mL/h
        if conc_ug_ml is None:
            raise DoseError("a rate in mL/h needs the concentration (--concentration)")
        ug_min = canonical * conc_ug_ml / 60.0
    ml_h = rate_ml_h(ug_min, concentration_ug_ml=conc_ug_ml) if conc_ug_ml else None
    return DoseConversion(
        ug_kg_min=ug_min / weight_kg if weight_kg else None,
        ug_min=ug_min,
        ml_h=ml_h,
        ml_min=ml_h / 60.0 if ml_h is not None else None,
        weight_kg=weight_kg,
        concentration_ug_ml=conc_ug_ml,
        concentration_basis=concentration_basis,
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
            f"{value:.4g} {unit} is implausible by orders of magnitude (expected "
            f"{suspect_lo:g}-{suspect_hi:g} {unit}); check the unit (mg written for mcg?)",
            "data.dose-unit-suspect",
        )
    if value > hard:
        return LimitCheck(
            "above_hard_limit",
            f"{value:.4g} {unit} is above the hard limit of {hard:g} {unit}",
            "admin.dose-limits",
        )
    if high is not None and value >= high:
        return LimitCheck(
            "high",
            f"{value:.4g} {unit} is at or above the high-dose threshold of {high:g} {unit}",
            "admin.high-dose",
        )
    return LimitCheck("ok", f"{value:.4g} {unit} is within limits", "admin.dose-limits")

