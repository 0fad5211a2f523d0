"""What the endpoints share: settings, protocol, engine, trail, FHIR fetcher, verifier, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..assessment import Assessment
from ..interop.codes import CodeTables
from ..protocol import Protocol
from ..state import PatientState
from .fhirserver import FhirFetcher
from .security import Verifier
from .settings import Settings
from .trail import Trail

__all__ = ["AssessFn", "Runtime"]

AssessFn = Callable[[PatientState, Protocol], Assessment]


@dataclass
class Runtime:
    settings: Settings
    protocol: Protocol
    assess: AssessFn
    trail: Trail
    fetcher: FhirFetcher
    verifier: Verifier | None
    clock: Callable[[], datetime]
    tables: CodeTables
    templates: dict[str, str]
    extra: dict[str, Any]
