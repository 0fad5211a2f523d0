"""Assessment: the output document of contract `vasoguide.assessment/1`.

Field names and codes here are the stable contract (../shared/contract/README.md); fields marked
"extension" are ours, optional, and documented in docs/CONTRACT-EXTENSIONS.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ACTION_CODES",
    "ALERT_CODES",
    "CONTRACT",
    "DECISIONS",
    "Action",
    "Alert",
    "Assessment",
    "BasisEntry",
    "Decision",
    "InputUsed",
    "NorepinephrineStatus",
    "OutQuantity",
    "ProtocolRef",
    "Target",
    "VolumeStatus",
]

CONTRACT: Literal["vasoguide.assessment/1"] = "vasoguide.assessment/1"

Decision = Literal[
    "START_NOREPINEPHRINE",
    "INCREASE_NOREPINEPHRINE",
    "CONTINUE_NOREPINEPHRINE",
    "DECREASE_NOREPINEPHRINE",
    "RESUSCITATE_FIRST",
    "PERMISSIVE_HYPOTENSION",
    "NOT_INDICATED",
    "INSUFFICIENT_DATA",
]
DECISIONS: tuple[str, ...] = Decision.__args__  # type: ignore[attr-defined]

ActionCode = Literal[
    "START_NOREPINEPHRINE",
    "INCREASE_NOREPINEPHRINE",
    "CONTINUE_NOREPINEPHRINE",
    "DECREASE_NOREPINEPHRINE",
    "GIVE_FLUID",
    "GIVE_BLOOD_PRODUCTS",
    "ASSESS_FLUID_RESPONSIVENESS",
    "CONTROL_BLEEDING",
    "ADD_VASOPRESSIN",
    "ADD_DOBUTAMINE",
    "CONSIDER_HYDROCORTISONE",
    "PLACE_ARTERIAL_CATHETER",
    "PLACE_CENTRAL_LINE",
    "INSPECT_INFUSION_SITE",
    "TREAT_EXTRAVASATION",
    "REASSESS_PERFUSION",
    "MEASURE_BLOOD_PRESSURE",
]
ACTION_CODES: tuple[str, ...] = ActionCode.__args__  # type: ignore[attr-defined]

AlertCode = Literal[
    "VOLUME_NOT_CONFIRMED",
    "PREMATURE_VASOPRESSOR",
    "NO_PERMISSIVE_HYPOTENSION",
    "PERIPHERAL_INFUSION",
    "EXTRAVASATION",
    "AVOID_ABRUPT_DISCONTINUATION",
    "HIGH_DOSE",
    "DOSE_UNIT_SUSPECT",
    "DOSE_ABOVE_LIMIT",
    "IMPLAUSIBLE_VALUE",
    "STALE_DATA",
    "WEIGHT_MISSING",
    "PERFUSION_NOT_IMPROVING",
    "INDIVIDUALIZE_TARGET",
    "LOW_CERTAINTY_EVIDENCE",
    "PEDIATRIC_PATIENT",
    "NONINVASIVE_PRESSURE_ONLY",
    "DATA_AFTER_ASSESSMENT_TIME",  # extension
]
ALERT_CODES: tuple[str, ...] = AlertCode.__args__  # type: ignore[attr-defined]

_OUT = ConfigDict(extra="forbid")


class OutQuantity(BaseModel):
    model_config = _OUT
    value: float
    unit: str


class Target(BaseModel):
    model_config = _OUT
    measure: Literal["map", "sbp"]
    low: float
    high: float | None = None
    unit: str = "mm[Hg]"
    basis: list[str] = Field(default_factory=list)  # extension: the rules that set it
    # Extension: further goals that hold at the same time (TBI: SBP >= 100/110 beside MAP 80);
    # below any of them is below target.
    also: list[Target] = Field(default_factory=list)


class Action(BaseModel):
    model_config = _OUT
    code: ActionCode
    text: str
    drug: str | None = None  # extension
    dose: OutQuantity | None = None
    dose_range: tuple[float, float] | None = None  # extension: the cited range, in dose.unit
    rate: OutQuantity | None = None
    concentration: OutQuantity | None = None
    concentration_basis: Literal["base", "salt"] | None = None  # extension
    basis: list[str] = Field(default_factory=list)


class Alert(BaseModel):
    model_config = _OUT
    code: AlertCode
    severity: Literal["info", "warning", "critical"]
    text: str
    basis: list[str] = Field(default_factory=list)


class BasisEntry(BaseModel):
    model_config = _OUT
    id: str
    statement: str
    source: str
    strength: str
    certainty: str
    recommendation: str | None = None  # extension
    verified: bool = False  # extension: the number was checked against the primary source
    kind: str = "guideline"  # extension: guideline | label | study | local convention
    deviation: str | None = None  # where this departs from the seed, and why
    settings: dict[str, OutQuantity | str | bool | float] = Field(default_factory=dict)


class InputUsed(BaseModel):
    model_config = _OUT
    code: str
    value: float | str | bool | None
    unit: str | None = None
    time: datetime | None = None
    method: str | None = None  # extension
    note: str | None = None  # extension (derived values say how)


class ProtocolRef(BaseModel):
    model_config = _OUT
    name: str
    version: str
    digest: str
    overrides: list[str] = Field(default_factory=list)  # extension: site settings changed


class NorepinephrineStatus(BaseModel):
    """Extension: what the engine understood of the running norepinephrine infusion."""

    model_config = _OUT
    running: bool
    dose: OutQuantity | None = None
    dose_ug_kg_min: float | None = None
    since: datetime | None = None
    started: datetime | None = None
    norepinephrine_equivalent_ug_kg_min: float | None = None


class VolumeStatus(BaseModel):
    """Extension: whether volume resuscitation is judged adequate, and on what."""

    model_config = _OUT
    adequate: bool | None
    source: str
    crystalloid_ml_per_kg: float | None = None


class Assessment(BaseModel):
    model_config = _OUT
    contract: Literal["vasoguide.assessment/1"] = CONTRACT
    time: datetime
    decision: Decision
    target: Target | None = None
    actions: list[Action] = Field(default_factory=list)
    alerts: list[Alert] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    basis: list[BasisEntry] = Field(default_factory=list)
    inputs: list[InputUsed] = Field(default_factory=list)
    protocol: ProtocolRef
    secondary_targets: list[Target] = Field(default_factory=list)  # extension
    norepinephrine: NorepinephrineStatus | None = None  # extension
    volume: VolumeStatus | None = None  # extension
    summary: str = ""  # extension: one sentence for people
