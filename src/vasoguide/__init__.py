"""vasoguide: cited, unit-safe decision support for norepinephrine in persistent hypotension.

Decision support for clinicians, never an autonomous controller: it advises, it does not act.
"""

from __future__ import annotations

from .assessment import Assessment
from .engine import assess
from .errors import DoseError, InputError, ProtocolError, UnitError, VasoguideError
from .protocol import Protocol, load_protocol
from .state import PatientState, parse_state

__all__ = [
    "Assessment",
    "DoseError",
    "InputError",
    "PatientState",
    "Protocol",
    "ProtocolError",
    "UnitError",
    "VasoguideError",
    "__version__",
    "assess",
    "load_protocol",
    "parse_state",
]

__version__ = "0.1.0"
