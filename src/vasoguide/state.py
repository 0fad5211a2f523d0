"""PatientState: the input document of contract `vasoguide.assessment/1`, as pydantic models.

Units are checked here, once, at the boundary: every quantity is converted to the canonical
unit of its kind and kept beside the value the user sent (`Quantity.canonical`). Unknown fields
are refused, so a misspelt flag (`traumatic_brain_injry`) is an error, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timezone, tzinfo
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from .errors import InputError, UnitError
from .units import DoseBasis, Kind, concentration_factor, dose_basis, factor

__all__ = [
    "DRUGS",
    "OBSERVATION_KINDS",
    "SHOCK_TYPES",
    "Concentration",
    "Context",
    "Dose",
    "Event",
    "Fluid",
    "FluidResponsivenessTest",
    "Infusion",
    "Lines",
    "Observation",
    "Patient",
    "PatientState",
    "Quantity",
    "TargetOverride",
    "Volume",
    "Weight",
    "parse_state",
]

ShockType = Literal[
    "septic",
    "hemorrhagic",
    "hypovolemic",
    "cardiogenic",
    "obstructive",
    "distributive",
    "mixed",
    "undifferentiated",
]
SHOCK_TYPES: tuple[str, ...] = ShockType.__args__  # type: ignore[attr-defined]

ObservationCode = Literal[
    "map",
    "sbp",
    "dbp",
    "heart_rate",
    "lactate",
    "urine_output",
    "crt",
    "scvo2",
    "cardiac_index",
    "cardiac_output",
    "ppv",
    "cvp",
    "gcs",
]

# What each observation code measures, and so which units it accepts.
OBSERVATION_KINDS: dict[str, Kind] = {
    "map": Kind.PRESSURE,
    "sbp": Kind.PRESSURE,
    "dbp": Kind.PRESSURE,
    "cvp": Kind.PRESSURE,
    "heart_rate": Kind.FREQUENCY,
    "lactate": Kind.SUBSTANCE_CONCENTRATION,
    "urine_output": Kind.VOLUME,
    "crt": Kind.DURATION,
    "scvo2": Kind.FRACTION,
    "ppv": Kind.FRACTION,
    "cardiac_index": Kind.CARDIAC_INDEX,
    "cardiac_output": Kind.FLOW,
    "gcs": Kind.SCORE,
}

Drug = Literal[
    "norepinephrine", "vasopressin", "epinephrine", "dobutamine", "dopamine", "phenylephrine"
]
DRUGS: tuple[str, ...] = Drug.__args__  # type: ignore[attr-defined]

FluidType = Literal[
    "crystalloid",
    "colloid",
    "albumin",
    "red_cells",
    "plasma",
    "platelets",
    "whole_blood",
    "cryoprecipitate",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

# Clinical data are timed between these years (de-identified databases shift dates into the
# 2100s-2200s). Why a bound at all: a time near year 1 or 9999
# overflows when re-expressed in the assessment's offset, and no ICU record is that far away.
_YEAR_MIN, _YEAR_MAX = 1800, 2500


def _plausible_year(t: datetime) -> datetime:
    if not _YEAR_MIN <= t.year <= _YEAR_MAX:
        raise ValueError(f"year {t.year} is outside {_YEAR_MIN}-{_YEAR_MAX}")
    return t


ClinicalTime = Annotated[AwareDatetime, AfterValidator(_plausible_year)]


class Quantity(BaseModel):
    """`{"value": number, "unit": UCUM}`; subclasses say what the quantity measures.

    `canonical` (the value in the canonical unit of its kind) is a cached property: the unit is
    checked by the owner's validator, and the engine's many reads afterwards are plain
    attribute reads. No private attributes, which pydantic would set up per instance.
    """

    model_config = _STRICT
    KIND: ClassVar[Kind | None] = None
    value: FiniteFloat
    unit: str = Field(min_length=0, max_length=40)

    @cached_property
    def canonical(self) -> float:
        if self.KIND is None:  # pragma: no cover - only subclasses are used as fields
            raise TypeError("a bare Quantity has no kind")
        return self.value * factor(self.unit, self.KIND)

    def check(self, field: str) -> float:
        """Raise UnitError naming `field` when the unit does not measure this kind.

        Also primes the cached property (functools' first access is slow in 3.11): the
        instance dict entry shadows the descriptor, so later reads are plain attribute reads.
        """
        if self.KIND is None:  # pragma: no cover
            raise TypeError("a bare Quantity has no kind")
        value = self.value * factor(self.unit, self.KIND, field)
        self.__dict__["canonical"] = value
        return value


class Weight(Quantity):
    KIND = Kind.BODY_WEIGHT


class Volume(Quantity):
    KIND = Kind.VOLUME


class Dose(Quantity):
    """An infusion dose; `basis` says whether it is per kg, per minute, in units or in mL/h."""

    @cached_property
    def _classified(self) -> tuple[DoseBasis, float]:
        return dose_basis(self.unit)

    @property
    def basis(self) -> DoseBasis:
        return self._classified[0]

    @cached_property
    def canonical(self) -> float:
        return self.value * self._classified[1]

    def check(self, field: str) -> float:
        classified = dose_basis(self.unit, field)
        value = self.value * classified[1]
        self.__dict__["_classified"] = classified
        self.__dict__["canonical"] = value
        return value


class Concentration(Quantity):
    """A drug concentration in ug/mL (mass) or U/mL (vasopressin)."""

    @cached_property
    def _classified(self) -> tuple[str, float]:
        return concentration_factor(self.unit)

    @property
    def measure(self) -> str:
        return self._classified[0]

    @cached_property
    def canonical(self) -> float:
        return self.value * self._classified[1]

    def check(self, field: str) -> float:
        classified = concentration_factor(self.unit, field)
        value = self.value * classified[1]
        self.__dict__["_classified"] = classified
        self.__dict__["canonical"] = value
        return value


class Patient(BaseModel):
    model_config = _STRICT
    age_years: Annotated[float, Field(ge=0, le=130)] | None = None
    age_days: Annotated[float, Field(ge=0, le=366)] | None = None
    weight: Weight | None = None
    sex: Literal["male", "female", "other", "unknown"] | None = None

    @model_validator(mode="after")
    def _weight_in_kg(self) -> Patient:
        if self.weight is not None:
            kg = self.weight.check("patient.weight.unit")
            if kg <= 0:
                raise InputError("patient.weight.value", "weight must be positive")
        return self


class TargetOverride(BaseModel):
    """Extension: a pressure target set by the treating clinician (for example in a child)."""

    model_config = _STRICT
    measure: Literal["map", "sbp"]
    low: Annotated[float, Field(gt=0, lt=300)]
    high: Annotated[float, Field(gt=0, lt=300)] | None = None
    unit: str = "mm[Hg]"
    reason: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TargetOverride:
        factor(self.unit, Kind.PRESSURE, "context.target.unit")
        if self.high is not None and self.high < self.low:
            raise InputError("context.target.high", "high must not be below low")
        return self


class Context(BaseModel):
    model_config = _STRICT
    shock_type: ShockType | None = None
    traumatic_brain_injury: bool | None = None
    gcs: Annotated[int, Field(ge=3, le=15)] | None = None
    spinal_cord_injury: bool | None = None
    bleeding_controlled: bool | None = None
    chronic_hypertension: bool | None = None
    myocardial_dysfunction: bool | None = None
    volume_status: Literal["adequate", "inadequate", "unknown"] = "unknown"
    target: TargetOverride | None = None


class Observation(BaseModel):
    model_config = _STRICT
    code: ObservationCode
    value: FiniteFloat
    unit: str = Field(default="", max_length=40)
    time: ClinicalTime
    start: ClinicalTime | None = None
    method: Literal["arterial", "noninvasive"] | None = None
    @cached_property
    def canonical(self) -> float:
        """The value in the canonical unit of its code (mm[Hg], mmol/L, mL, s, %, ...)."""
        return self.value * factor(self.unit, OBSERVATION_KINDS[self.code])

    @model_validator(mode="after")
    def _unit_fits_code(self) -> Observation:
        kind = OBSERVATION_KINDS[self.code]
        try:
            # Also primes the cached `canonical` (see Quantity.check).
            self.__dict__["canonical"] = self.value * factor(self.unit, kind, "unit")
        except UnitError as exc:
            raise ValueError(
                f"unit {self.unit!r} is not a {kind.value} unit, as {self.code} needs "
                f"(for example {_example_unit(kind)})"
            ) from exc
        if self.code == "urine_output" and self.start is None:
            raise ValueError("urine_output needs `start`: the volume collected from start to time")
        if self.start is not None and self.start > self.time:
            raise ValueError("start is after time")
        return self


def _example_unit(kind: Kind) -> str:
    from .units import canonical_unit

    return canonical_unit(kind)


class FluidResponsivenessTest(BaseModel):
    model_config = _STRICT
    method: Literal[
        "passive_leg_raise",
        "pulse_pressure_variation",
        "stroke_volume_variation",
        "fluid_challenge",
        "end_expiratory_occlusion",
        "echocardiography",
        "other",
    ]
    result: Literal["responsive", "unresponsive", "indeterminate"]
    time: ClinicalTime


class Fluid(BaseModel):
    model_config = _STRICT
    type: FluidType
    volume: Volume | None = None
    units: Annotated[float, Field(gt=0, le=200)] | None = None
    time: ClinicalTime

    @model_validator(mode="after")
    def _volume_or_units(self) -> Fluid:
        if self.volume is None and self.units is None:
            raise ValueError("a fluid needs `volume` or `units`")
        if self.volume is not None and self.volume.check("volume.unit") < 0:
            raise ValueError("volume must not be negative")
        return self


class Infusion(BaseModel):
    model_config = _STRICT
    drug: Drug
    dose: Dose
    concentration: Concentration | None = None
    concentration_basis: Literal["base", "salt"] | None = None
    route: Literal["central", "peripheral", "intraosseous"] | None = None
    time: ClinicalTime

    @model_validator(mode="after")
    def _dose_unit_fits_drug(self) -> Infusion:
        try:
            self.dose.check("dose.unit")
        except UnitError as exc:
            raise ValueError(str(exc)) from exc
        if self.dose.value < 0:
            raise ValueError("dose.value must not be negative (0 stops the infusion)")
        if self.concentration is not None:
            try:
                self.concentration.check("concentration.unit")
            except UnitError as exc:
                raise ValueError(str(exc)) from exc
            if self.concentration.value <= 0:
                raise ValueError("concentration.value must be positive")
        basis = self.dose.basis
        if basis is DoseBasis.VOLUME and self.concentration is None and self.dose.value > 0:
            raise ValueError(
                "a dose in mL/h needs `concentration`: a rate in mL means nothing without it"
            )
        if self.drug == "vasopressin" and basis in (DoseBasis.WEIGHT, DoseBasis.MASS):
            raise ValueError(f"vasopressin is dosed in U/min or U/h, not {self.dose.unit}")
        if self.drug != "vasopressin" and basis is DoseBasis.ACTIVITY:
            raise ValueError(f"{self.drug} is dosed by mass (ug/kg/min or ug/min), not units")
        return self


class Lines(BaseModel):
    model_config = _STRICT
    central_venous: bool | None = None
    arterial: bool | None = None


class Event(BaseModel):
    model_config = _STRICT
    code: Literal["extravasation"]
    time: ClinicalTime


class PatientState(BaseModel):
    """Everything the engine may know about one patient at `time` ("now")."""

    model_config = _STRICT
    time: ClinicalTime
    patient: Patient = Field(default_factory=Patient)
    context: Context = Field(default_factory=Context)
    observations: list[Observation] = Field(default_factory=list, max_length=100_000)
    fluid_responsiveness: list[FluidResponsivenessTest] = Field(default_factory=list)
    fluids: list[Fluid] = Field(default_factory=list, max_length=100_000)
    infusions: list[Infusion] = Field(default_factory=list, max_length=100_000)
    lines: Lines = Field(default_factory=Lines)
    events: list[Event] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_clock(self) -> PatientState:
        """Express every time in the offset of `time`, as one shared stdlib tzinfo.

        The instants are unchanged; times read in the patient's local offset, and comparing or
        subtracting datetimes that share one C-implemented tzinfo is several times faster than
        with a tzinfo per parsed string (the engine compares times on every rule).
        """
        offset = self.time.utcoffset()
        tz = timezone(offset) if offset else UTC
        _retime(self, "time", tz)
        for item in (
            *self.observations,
            *self.fluid_responsiveness,
            *self.fluids,
            *self.infusions,
            *self.events,
        ):
            _retime(item, "time", tz)
            if isinstance(item, Observation) and item.start is not None:
                _retime(item, "start", tz)
        return self


def _retime(model: BaseModel, name: str, tz: tzinfo) -> None:
    # The models are frozen to everyone else; the boundary may still normalise its own values.
    object.__setattr__(model, name, getattr(model, name).astimezone(tz))


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem, each naming the field by its dotted path."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = _loc(tuple(err.get("loc", ())))
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field (not in contract vasoguide.assessment/1)"
        lines.append(f"{loc or '(document)'}: {msg}")
    return lines


def parse_state(data: PatientState | Mapping[str, Any] | str | bytes) -> PatientState:
    """Validate a PatientState from a model, a mapping or JSON text; InputError names the field."""
    if isinstance(data, PatientState):
        return data
    try:
        if isinstance(data, str | bytes):
            return PatientState.model_validate_json(data)
        return PatientState.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        first = problems[0]
        field, _, message = first.partition(": ")
        raise InputError(field, message, problems) from None


__all__ += ["describe_validation_error"]
