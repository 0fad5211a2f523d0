"""The FastAPI application: `create_app(settings)`.

Endpoints: `POST /assess` (the contract), `POST /fhir/state` (Bundle -> PatientState and report),
`GET /healthz`, the CDS Hooks endpoints (hooks.py), the bedside page at `/` and the OpenAPI
document at `/openapi.json`. Authentication (security.py) guards every endpoint that takes or
returns patient data when it is enabled; `/healthz`, the page's static files and the OpenAPI
document are public (they hold no patient data).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..display import rounded
from ..dosing import check_conversion, convert_dose
from ..engine import assess as engine_assess
from ..errors import DoseError, InputError, UnitError, VasoguideError
from ..interop import map_resources
from ..interop.codes import tables as code_tables
from ..interop.prefetch import templates
from ..protocol import Protocol, load_protocol
from ..state import PatientState, parse_state
from ..units import Kind, factor
from . import jsonio
from .fhirserver import FhirFetcher
from .guards import RequestGuard
from .hooks import router as hooks_router
from .openapi import bundle_schema, dose_schema
from .openapi import document as openapi_document
from .outcomes import outcome_response
from .runtime import AssessFn, Runtime
from .security import Authenticate, SharedReplayCache, Verifier
from .settings import Settings
from .trail import open_trail

__all__ = ["create_app"]

log = logging.getLogger("vasoguide.service")
STATIC = Path(str(resources.files(__package__).joinpath("static")))
_PUBLIC = ("/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/")


class WeightQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(gt=0, allow_inf_nan=False)
    unit: str = Field(default="kg", max_length=40)  # kg, [lb_av], lb, g


class DoseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(ge=0, allow_inf_nan=False)
    unit: str = Field(max_length=40)
    weight_kg: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    weight: WeightQuery | None = None  # the weight as typed, in its unit (the page's kg or lb)
    concentration_ug_ml: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    def kilograms(self) -> float | None:
        """The weight used, in kg. A weight converted from another unit is rounded as it is
        shown (0.1 kg; docs/DISPLAY.md), so the dose per kg is computed from the shown weight."""
        if self.weight is None:
            return self.weight_kg
        if self.weight_kg is not None:
            raise DoseError("give the weight once: weight or weight_kg")
        kg = self.weight.value * factor(self.weight.unit, Kind.BODY_WEIGHT, "weight.unit")
        return kg if self.weight.unit == "kg" else rounded(kg, "kg")


def _state_schema() -> dict[str, Any]:
    return {"content": {"application/json": {"schema": PatientState.model_json_schema()}},
            "required": True}


def create_app(
    settings: Settings | None = None,
    *,
    protocol: Protocol | None = None,
    assess: AssessFn | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Build the app. Keyword arguments replace parts for tests (a fake FHIR server transport,
    a frozen clock); production uses the defaults."""
    settings = settings or Settings()
    settings.check()
    # httpx logs every request URL at INFO; FHIR query URLs name the patient, so keep them out
    # of the logs even when a deployment turns INFO logging on.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    proto = protocol or load_protocol(settings.kb_dir, settings.site_file)
    client = httpx.AsyncClient(transport=transport, follow_redirects=False)
    tables = code_tables()
    trail = open_trail(settings)
    runtime = Runtime(
        settings=settings,
        protocol=proto,
        assess=assess or engine_assess,
        trail=trail,
        fetcher=FhirFetcher(client, timeout_s=settings.fhir_timeout_s,
                            max_pages=settings.fhir_max_pages, allow_http=settings.fhir_allow_http),
        # The jti replay cache lives in the trail database: one cache for every worker.
        verifier=Verifier(settings, client, SharedReplayCache(trail))
        if settings.auth_enabled else None,
        clock=clock or (lambda: datetime.now(UTC)),
        tables=tables,
        templates=templates(tables),
        extra={},
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()
        runtime.trail.close()

    app = FastAPI(
        title="vasoguide",
        version=proto.version,
        summary="Decision support for norepinephrine in hypotension persisting after fluids",
        lifespan=lifespan,
        # Bodies over the limit are refused with 413 as they are read (Content-Length or not).
        max_body_size=settings.max_body_bytes,
    )
    app.state.runtime = runtime

    if runtime.verifier is not None:  # settings.check() made sure public_url is set
        app.add_middleware(Authenticate, verifier=runtime.verifier,
                           public_url=settings.public_url or "", public_paths=_PUBLIC)
    # Outermost: content type, Origin/Host, body size and read deadline (guards.py).
    app.add_middleware(RequestGuard, public_url=settings.public_url,
                       open_mode=not settings.auth_enabled,
                       max_body_bytes=settings.max_body_bytes,
                       body_timeout_s=settings.body_timeout_s)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Type and frames only: messages may quote patient values.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("internal error %s on %s\n%s", type(exc).__name__, request.url.path, frames)
        return outcome_response(500, "exception", "internal error")

    @app.exception_handler(ValueError)
    async def invalid_value(request: Request, exc: ValueError) -> Response:
        # A value error past request validation (a dose whose result is not finite, a number
        # JSON cannot carry) is the input's fault: 422 with what is known, never a 500.
        log.info("invalid input %s on %s", type(exc).__name__, request.url.path)
        if isinstance(exc, InputError):
            return JSONResponse({"field": exc.field, "message": str(exc),
                                 "detail": exc.problems}, status_code=422)
        message = (str(exc).splitlines()[0] if isinstance(exc, VasoguideError) and str(exc)
                   else "invalid input: these values give no valid (finite) result")
        if request.url.path.startswith("/cds-services"):
            return outcome_response(400, "invalid", message)
        return JSONResponse({"message": message}, status_code=422)

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        p = runtime.protocol
        return {"status": "ok", "protocol": {"name": p.name, "version": p.version,
                                             "digest": p.digest}}

    @app.post("/assess", tags=["contract"], response_model=None,
              openapi_extra={"requestBody": _state_schema()},
              responses={422: {"description": "not a valid PatientState; names the field"}})
    async def assess_endpoint(request: Request) -> Response | dict[str, Any]:
        """Assess a PatientState (contract vasoguide.assessment/1) and return the Assessment."""
        try:
            state = parse_state(await request.body())
        except InputError as exc:
            return JSONResponse({"field": exc.field, "message": str(exc),
                                 "detail": exc.problems}, status_code=422)
        assessment = runtime.assess(state, runtime.protocol)
        out = assessment.model_dump(mode="json", exclude_none=True)
        record = {"state": state.model_dump(mode="json", exclude_none=True), "assessment": out}
        await anyio.to_thread.run_sync(lambda: runtime.trail.append(
            "assessment", record, protocol_digest=assessment.protocol.digest,
            time=runtime.clock()))
        return jsonio.JsonResponse(out)

    @app.post("/fhir/state", tags=["FHIR"], response_model=None)
    async def fhir_state(request: Request) -> Response | dict[str, Any]:
        """A FHIR R4 Bundle -> the PatientState it describes, and what could not be used."""
        try:
            bundle = jsonio.loads(await request.body())
            if not isinstance(bundle, dict):
                raise ValueError("not an object")
            mapped = map_resources(bundle)
        except InputError as exc:
            return JSONResponse({"field": exc.field, "message": str(exc),
                                 "detail": exc.problems}, status_code=422)
        except ValueError:
            return JSONResponse({"field": "(document)", "message": "not a JSON object",
                                 "detail": ["(document): not a JSON object"]}, status_code=422)
        return {"state": mapped.state.model_dump(mode="json", exclude_none=True),
                "not_used": mapped.report.lines()}

    @app.post("/dose", tags=["contract"], response_model=None)
    async def dose(request: Request) -> Response | dict[str, Any]:
        """Norepinephrine dose <-> pump rate (vasoguide.dosing), with the protocol's limits."""
        try:
            given = DoseQuery.model_validate_json(await request.body())
            conv = convert_dose(given.value, given.unit, weight_kg=given.kilograms(),
                                concentration=given.concentration_ug_ml)
            limit = check_conversion(runtime.protocol, conv)
        except (ValidationError, DoseError, UnitError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return JSONResponse({"message": message}, status_code=422)
        return {"ug_kg_min": conv.ug_kg_min, "ug_min": conv.ug_min, "ml_h": conv.ml_h,
                "weight_kg": conv.weight_kg, "concentration_ug_ml": conv.concentration_ug_ml,
                "limit": {"level": limit.level, "message": limit.message, "rule": limit.rule}}

    app.include_router(hooks_router)

    def openapi() -> dict[str, Any]:
        # Request bodies as they really are (openapi.py): resolvable references, the PatientState,
        # a typed CDS Hooks request per hook, so API fuzzers reach past validation.
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(
                app, templates=runtime.templates, service_id=settings.service_id,
                extra_bodies={"/dose": dose_schema(DoseQuery.model_json_schema()),
                              "/fhir/state": bundle_schema()})
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
