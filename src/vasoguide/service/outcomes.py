"""FHIR OperationOutcome bodies for error responses (CDS Hooks 3.0 recommends them)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["operation_outcome", "outcome_response"]


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def outcome_response(status: int, code: str, diagnostics: str) -> JSONResponse:
    return JSONResponse(operation_outcome(code, diagnostics), status_code=status,
                        media_type="application/fhir+json")
