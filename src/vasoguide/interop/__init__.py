"""FHIR R4 and CDS Hooks: the only part of vasoguide that knows either.

`bundle_to_state` turns a Bundle (or a CDS Hooks prefetch) into a PatientState and a report of
every resource it could not use; `cards` turns an Assessment into CDS Hooks cards (pure).
"""

from __future__ import annotations

from .bundle import MappedState, bundle_to_state, map_resources

__all__ = ["MappedState", "bundle_to_state", "map_resources"]
