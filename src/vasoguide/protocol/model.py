"""The knowledge base's schema: sources, rules with citations and thresholds, site settings.

These models define structure only (the first of two validations); `lint.py` checks meaning.
Loaded knowledge is frozen: the engine reads it and never changes it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Citation",
    "Example",
    "ProtocolMeta",
    "Rule",
    "Setting",
    "Source",
    "Threshold",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True, defer_build=True)

SourceKind = Literal[
    "guideline", "label", "study", "review", "consensus", "data convention", "local convention"
]
Tag = Literal["V", "S", "M", "local"]


class Source(BaseModel):
    """A document the knowledge base cites (guideline, drug label, trial)."""

    model_config = _FROZEN
    citation: str = Field(min_length=5)
    short: str = Field(min_length=2)
    year: int | None = Field(default=None, ge=1900, le=2100)
    kind: SourceKind
    identifier: str | None = None  # doi, PMID, PMC id or label set id
    superseded_by: str | None = None


class Citation(BaseModel):
    """Where a rule comes from: source, recommendation, direction, strength, certainty."""

    model_config = _FROZEN
    source: str
    recommendation: str | None = None
    direction: Literal["recommend", "suggest", "against", "statement", "finding", "convention"]
    strength: str = Field(min_length=1)
    certainty: str = Field(min_length=1)
    verified: bool
    tag: Tag
    note: str | None = None


class Threshold(BaseModel):
    """A clinical number with its unit.

    `kind`: a decision `threshold` (it gates advice, so it needs a boundary pair of examples),
    or a `value` shown or used as such (a dose, a volume, an alternative target, a conversion
    factor). `source` names the citation a number comes from when the rule has several.
    """

    model_config = _FROZEN
    value: float
    unit: str
    kind: Literal["threshold", "value"] = "threshold"
    source: str | None = None
    note: str | None = None


class Example(BaseModel):
    """A case kept next to its rule: does the rule fire, and what should the Assessment say."""

    model_config = _FROZEN
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    fires: bool
    boundary: str | None = None
    given: dict[str, Any]
    expect: dict[str, Any] = Field(default_factory=dict)


class Rule(BaseModel):
    model_config = _FROZEN
    id: str = Field(pattern=r"^[a-z]+\.[a-z0-9\-]+$")
    title: str
    step: Literal[
        "volume",
        "target",
        "administration",
        "response",
        "pitfall",
        "adjunct",
        "population",
        "evidence",
        "data",
    ]
    statement: str = Field(min_length=10)
    seed: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(min_length=1)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    settings: list[str] = Field(default_factory=list)
    deviation: str | None = None
    errata: list[int] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)


class Setting(BaseModel):
    """A site setting: a number or switch no source gives, with a documented default."""

    model_config = _FROZEN
    value: float | bool | str
    unit: str | None = None
    choices: list[str] | None = None
    # The values a site may choose, in `unit`: a sanity bound on configuration (a negative
    # concentration or titration interval is refused), not a clinical recommendation.
    range: tuple[float, float] | None = None
    affects: list[str] = Field(min_length=1)
    why: str = Field(min_length=10)
    convention: Literal["local"] = "local"


class ProtocolMeta(BaseModel):
    model_config = _FROZEN
    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    schema_version: Literal[1]
    title: str
    disclaimer: str
