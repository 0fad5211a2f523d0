"""CDS Hooks 2.0 wire models (tolerant of 3.0 additions), with the spec's invariants as checks.

Requests accept unknown fields (3.0 adds some; extensions are allowed). Responses are strict and
serialise without empty values: the spec forbids `null`, `""`, `[]` and `{}` for optional
attributes (only the `cards` array may be empty). Invariant ids (cds-r-1, cds-resp-6, ...) are
those of the HL7 logical models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "SUMMARY_MAX",
    "Action",
    "Card",
    "Coding",
    "DiscoveryResponse",
    "FeedbackItem",
    "FeedbackRequest",
    "FhirAuthorization",
    "HookRequest",
    "HookResponse",
    "Link",
    "OrderSelectContext",
    "OrderSignContext",
    "OverrideReason",
    "PatientViewContext",
    "ServiceDescription",
    "Source",
    "Suggestion",
    "dump",
]

SUMMARY_MAX = 139  # "less than 140 characters"

_TOLERANT = ConfigDict(extra="allow")
_STRICT = ConfigDict(extra="forbid")


# -- request -------------------------------------------------------------------------------


class FhirAuthorization(BaseModel):
    model_config = _TOLERANT
    access_token: str = Field(repr=False)  # never printed, logged or stored
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


class HookRequest(BaseModel):
    model_config = _TOLERANT
    hook: str
    hookInstance: str = Field(min_length=1)  # noqa: N815 - wire name
    fhirServer: str | None = None  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _cds_r_1(self) -> HookRequest:
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirAuthorization needs fhirServer (cds-r-1)")
        return self


class PatientViewContext(BaseModel):
    model_config = _TOLERANT
    userId: str  # noqa: N815
    patientId: str = Field(min_length=1)  # noqa: N815
    encounterId: str | None = None  # noqa: N815


class OrderSignContext(PatientViewContext):
    draftOrders: dict[str, Any]  # noqa: N815 - a Bundle

    @field_validator("draftOrders")
    @classmethod
    def _bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle":
            raise ValueError("draftOrders must be a FHIR Bundle")
        return value


class OrderSelectContext(OrderSignContext):
    selections: list[str] = Field(min_length=1)

    @field_validator("selections")
    @classmethod
    def _typed_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            kind, _, rid = item.partition("/")
            if not kind or not rid:
                raise ValueError(f"selection {item!r} is not Type/id")
        return value


# -- response ------------------------------------------------------------------------------


class Coding(BaseModel):
    model_config = _STRICT
    system: str
    code: str
    display: str | None = None


class OverrideReason(Coding):
    display: str = Field(min_length=1)  # cds-resp-4: every override reason has a display


class Source(BaseModel):
    model_config = _STRICT
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(BaseModel):
    model_config = _STRICT
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)  # cds-resp-5
    resource: dict[str, Any] | None = None
    resourceId: list[str] | None = None  # noqa: N815

    @model_validator(mode="after")
    def _shape(self) -> Action:
        if self.type in ("create", "update") and self.resource is None:
            raise ValueError(f"a {self.type} action carries the full resource")
        if self.type == "delete" and self.resource is not None:
            raise ValueError("a delete action names resourceId, not resource (cds-resp-2)")
        return self


class Suggestion(BaseModel):
    model_config = _STRICT
    label: str = Field(min_length=1)
    uuid: str
    isRecommended: bool | None = None  # noqa: N815
    actions: list[Action] = Field(min_length=1)


class Link(BaseModel):
    model_config = _STRICT
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None  # noqa: N815

    @model_validator(mode="after")
    def _cds_resp_3(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext only for smart links (cds-resp-3)")
        return self


class Card(BaseModel):
    model_config = _STRICT
    uuid: str
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None  # noqa: N815
    overrideReasons: list[OverrideReason] | None = None  # noqa: N815
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _invariants(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("suggestions need selectionBehavior (cds-resp-6)")
        recommended = sum(1 for s in self.suggestions or [] if s.isRecommended)
        if self.selectionBehavior == "at-most-one" and recommended > 1:
            raise ValueError("at-most-one allows one recommended suggestion (cds-resp-1)")
        return self


class HookResponse(BaseModel):
    model_config = _STRICT
    cards: list[Card] = Field(default_factory=list)


class ServiceDescription(BaseModel):
    model_config = _STRICT
    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None  # noqa: N815


class DiscoveryResponse(BaseModel):
    model_config = _STRICT
    services: list[ServiceDescription]


# -- feedback ------------------------------------------------------------------------------


class AcceptedSuggestion(BaseModel):
    model_config = _TOLERANT
    id: str


class OverrideReasonGiven(BaseModel):
    model_config = _TOLERANT
    reason: Coding | None = None
    userComment: str | None = Field(default=None, max_length=4000)  # noqa: N815


class FeedbackItem(BaseModel):
    model_config = _TOLERANT
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None  # noqa: N815
    overrideReason: OverrideReasonGiven | None = None  # noqa: N815
    outcomeTimestamp: AwareDatetime  # noqa: N815

    @model_validator(mode="after")
    def _outcome_fields(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("an accepted outcome lists acceptedSuggestions")
        if self.outcome == "accepted" and self.overrideReason is not None:
            raise ValueError("an accepted outcome has no overrideReason")
        return self


class FeedbackRequest(BaseModel):
    model_config = _TOLERANT
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=1000)


def _prune(value: Any) -> Any:
    """Drop None and empty containers recursively (the spec forbids them as values)."""
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def dump(model: BaseModel) -> dict[str, Any]:
    """The wire JSON of a response model: no nulls, no empty arrays/objects, `cards` kept."""
    data: dict[str, Any] = _prune(model.model_dump(mode="json", exclude_none=True))
    if isinstance(model, HookResponse):
        data.setdefault("cards", [])
    return data
