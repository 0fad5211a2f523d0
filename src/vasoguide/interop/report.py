"""What the FHIR mapping could not use, and why, in sentences a clinician can read."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Finding", "MappingReport"]


@dataclass(frozen=True)
class Finding:
    """One resource (or one part of one) that was not used, or a note on how data was read."""

    ref: str  # `Observation/bp-1`, or `Observation/bp-1 component 8478-0`
    message: str
    used: bool = False  # True for notes about data that *was* used (an assumption made)

    def __str__(self) -> str:
        return f"{self.ref}: {self.message}"


@dataclass
class MappingReport:
    findings: list[Finding] = field(default_factory=list)

    def unusable(self, ref: str, message: str) -> None:
        self.findings.append(Finding(ref, message))

    def note(self, ref: str, message: str) -> None:
        self.findings.append(Finding(ref, message, used=True))

    def lines(self) -> list[str]:
        return [str(f) for f in self.findings]
