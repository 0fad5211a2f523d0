"""The one error tree of vasoguide.

    VasoguideError
    ├── InputError (ValueError)           bad PatientState: names the field
    │   └── UnitError (also TypeError)    a unit unknown, or of the wrong dimension
    ├── ProtocolError                      the knowledge base failed its schema or lints
    └── DoseError (ValueError)             a dose conversion impossible with the facts given

Every error renders as one sentence a clinician can read, and keeps its fields for programs.
"""

from __future__ import annotations

__all__ = ["DoseError", "InputError", "ProtocolError", "UnitError", "VasoguideError"]


class VasoguideError(Exception):
    """Root of every error this package raises on purpose."""


class InputError(VasoguideError, ValueError):
    """A PatientState (or part of one) is not valid; `field` is its dotted path."""

    def __init__(self, field: str, message: str, problems: list[str] | None = None) -> None:
        self.field = field
        self.message = message
        self.problems = problems or [f"{field}: {message}"]
        super().__init__(f"{field}: {message}" if field else message)


class UnitError(InputError, TypeError):
    """A unit is unknown, or measures the wrong thing (kilograms for a pressure)."""

    def __init__(self, field: str, unit: str, expected: str) -> None:
        self.unit = unit
        self.expected = expected
        super().__init__(field, f"unit {unit!r} is not {expected}")


class ProtocolError(VasoguideError):
    """The knowledge base is invalid; `problems` lists every problem with its path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        head = f"{len(problems)} problem(s) in the knowledge base"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in problems))


class DoseError(VasoguideError, ValueError):
    """A dose or rate cannot be converted with the facts given (say, no weight)."""
