"""Entry point for the CLI's `vasoguide assess --fhir`: a Bundle -> (PatientState, report)."""

from __future__ import annotations

from .bundle import bundle_to_state

__all__ = ["bundle_to_state"]
