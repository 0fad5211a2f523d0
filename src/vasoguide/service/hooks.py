"""CDS Hooks endpoints: discovery, the three hooks of one service, and feedback.

One service id answers `order-select` (is norepinephrine indicated now; concentration and start
dose), `order-sign` (dose, unit, concentration and rate checks of each draft norepinephrine
order, with an `update` suggestion) and `patient-view` (information only). Data come from the
prefetch; whatever is missing is fetched from the client's FHIR server; when that fails the
answer is 412 with an OperationOutcome. Cards are advice only: no systemActions, ever.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from ..assessment import Assessment
from ..errors import InputError
from ..interop import map_resources
from ..interop.cards import decision_card, order_card
from ..interop.cdshooks import (
    Card,
    DiscoveryResponse,
    FeedbackRequest,
    HookRequest,
    HookResponse,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    ServiceDescription,
    dump,
)
from ..interop.lookback import concept_lookbacks, engine_lookback
from ..interop.medications import MedicationIndex, read_order
from ..interop.orders import check_order
from ..interop.prefetch import fill, is_error
from ..interop.resources import iter_resources
from ..state import PatientState
from . import jsonio
from .fhirserver import FetchError
from .outcomes import outcome_response
from .runtime import Runtime

__all__ = ["HOOKS", "router"]

log = logging.getLogger("vasoguide.service.hooks")

HOOKS = {
    "order-select": ("Norepinephrine: indication, concentration and start dose",
                     "When a norepinephrine order is picked: whether it is indicated now for "
                     "hypotension persisting after fluids, the pressure target, and the "
                     "protocol's concentration and starting dose, with the evidence."),
    "order-sign": ("Norepinephrine order check",
                   "Before a norepinephrine order is signed: checks its dose, unit, "
                   "concentration and pump rate against the protocol and the patient's weight, "
                   "and offers a corrected order as a suggestion (never applied automatically)."),
    "patient-view": ("Norepinephrine status",
                     "Information only: whether norepinephrine is indicated, running at target, "
                     "or should be titrated, with the inputs and evidence."),
}
_CONTEXTS: dict[str, type[PatientViewContext]] = {
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
    "patient-view": PatientViewContext,
}

router = APIRouter()


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("/cds-services", tags=["CDS Hooks"])
async def discovery(request: Request) -> dict[str, Any]:
    rt = _runtime(request)
    services = [
        ServiceDescription(hook=hook, title=title, description=text, id=rt.settings.service_id,
                           prefetch=rt.templates,
                           usageRequirements="Norepinephrine orders coded with RxNorm; vitals "
                           "and labs coded with LOINC. Advice for clinicians; review the basis.")
        for hook, (title, text) in HOOKS.items()
    ]
    return dump(DiscoveryResponse(services=services))


async def _json_body(request: Request) -> Any:
    try:
        return jsonio.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None


def _body(model: type[Any]) -> dict[str, Any]:
    schema = {"content": {"application/json": {"schema": model.model_json_schema()}}}
    return {"requestBody": {**schema, "required": True}}


@router.post("/cds-services/{service_id}", tags=["CDS Hooks"], response_model=None,
             openapi_extra=_body(HookRequest),
             responses={200: {"description": "CDS Hooks response: {\"cards\": [...]}"},
                        412: {"description": "required FHIR data unavailable "
                                             "(OperationOutcome)"}})
async def call_service(service_id: str, request: Request) -> Response | dict[str, Any]:
    rt = _runtime(request)
    if service_id != rt.settings.service_id:
        return outcome_response(404, "not-found", "no such CDS service")
    body = await _json_body(request)
    try:
        call = HookRequest.model_validate(body)
        context_model = _CONTEXTS.get(call.hook)
        if context_model is None:
            return outcome_response(400, "not-supported", f"hook {call.hook!r} not served here")
        context = context_model.model_validate(call.context)
    except ValidationError as exc:
        return outcome_response(400, "invalid", _validation_text(exc))
    try:
        data = await _gather(rt, call, context)
    except FetchError as exc:
        return outcome_response(412, "not-found", f"required data unavailable: {exc}")
    now = rt.clock()
    try:
        mapped = map_resources(data, now=now, patient_id=context.patientId, tables=rt.tables,
                               lookback=engine_lookback(rt.protocol),
                               concept_lookbacks=concept_lookbacks(rt.protocol))
    except InputError as exc:
        return outcome_response(412, "invalid", f"the patient's data are unusable: {exc.field}")
    assessment = rt.assess(mapped.state, rt.protocol)
    report = mapped.report.lines()
    cards = _cards(rt, call.hook, context, mapped.medications, mapped.state, assessment, report)
    response = dump(HookResponse(cards=cards))
    record = {
        "service": service_id, "hook": call.hook, "hookInstance": call.hookInstance,
        "patient": context.patientId, "user": context.userId,
        "assessment": assessment.model_dump(mode="json", exclude_none=True),
        "not_used": report, "response": response,
    }
    await anyio.to_thread.run_sync(lambda: rt.trail.append(
        "cards", record, protocol_digest=assessment.protocol.digest, time=now,
        card_uuids=[c.uuid for c in cards]))
    return jsonio.JsonResponse(response)


def _validation_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc or '(body)'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _gather(rt: Runtime, call: HookRequest, context: PatientViewContext) -> dict[str, Any]:
    """Prefetched data, completed from the FHIR server; FetchError when that cannot be done."""
    prefetch = call.prefetch or {}
    data: dict[str, Any] = {}
    queries: dict[str, str] = {}
    for key, template in rt.templates.items():
        if key in prefetch and not is_error(prefetch[key]):
            data[key] = prefetch[key]  # None is "no data" for a read: a valid answer
            continue
        query = fill(template, context.model_dump(), context.userId)
        if query is None:
            raise FetchError(f"{key}: the context lacks what the query needs")
        queries[key] = query
    if queries:
        if not call.fhirServer:
            raise FetchError(f"not prefetched and no fhirServer: {', '.join(sorted(queries))}")
        token = call.fhirAuthorization.access_token if call.fhirAuthorization else None
        data.update(await rt.fetcher.fetch_all(call.fhirServer, token, queries))
    return data


def _cards(
    rt: Runtime,
    hook: str,
    context: PatientViewContext,
    index: MedicationIndex,
    state: PatientState,
    assessment: Assessment,
    report: list[str],
) -> list[Card]:
    tables = rt.tables
    if hook == "patient-view":
        quiet = assessment.decision == "NOT_INDICATED" and not any(
            a.severity != "info" for a in assessment.alerts)
        return [] if quiet else [decision_card(assessment, tables=tables, report=report)]
    if not isinstance(context, OrderSignContext):  # ensured by _CONTEXTS; narrows the type
        return []
    drafts = []
    for resource, full_url in iter_resources(context.draftOrders):
        if resource.get("resourceType") == "Medication":
            index.add(resource, full_url)
    selected = set(context.selections) if isinstance(context, OrderSelectContext) else None
    for resource, _ in iter_resources(context.draftOrders):
        if resource.get("resourceType") != "MedicationRequest":
            continue
        if selected is not None and f"MedicationRequest/{resource.get('id')}" not in selected:
            continue
        read = read_order(resource, index, tables)
        if read.drug == "norepinephrine":
            drafts.append((resource, read))
    if not drafts:
        return []
    if hook == "order-select":
        return [decision_card(assessment, tables=tables, report=report, ordering=True)]
    cards: list[Card] = []
    if assessment.decision not in ("START_NOREPINEPHRINE", "INCREASE_NOREPINEPHRINE",
                                   "CONTINUE_NOREPINEPHRINE", "DECREASE_NOREPINEPHRINE"):
        cards.append(decision_card(assessment, tables=tables, report=report, ordering=True))
    weight = state.patient.weight.canonical if state.patient.weight is not None else None
    for resource, read in drafts:
        check = check_order(resource, read, weight_kg=weight, protocol=rt.protocol,
                            assessment=assessment, tables=tables)
        # A note alone (a non-default bag, say) is not worth interrupting the signature for.
        if check.proposal is not None or any(p.severity != "info" for p in check.problems):
            cards.append(order_card(check, assessment, tables=tables, report=report))
    return cards


@router.post("/cds-services/{service_id}/feedback", tags=["CDS Hooks"], response_model=None,
             openapi_extra=_body(FeedbackRequest))
async def feedback(service_id: str, request: Request) -> Response | dict[str, Any]:
    rt = _runtime(request)
    if service_id != rt.settings.service_id:
        return outcome_response(404, "not-found", "no such CDS service")
    try:
        given = FeedbackRequest.model_validate(await _json_body(request))
    except ValidationError as exc:
        return outcome_response(400, "invalid", _validation_text(exc))
    items = []
    for item in given.feedback:
        seq = await anyio.to_thread.run_sync(rt.trail.card_record, item.card)
        items.append({**item.model_dump(mode="json", exclude_none=True), "served_in": seq})
    await anyio.to_thread.run_sync(lambda: rt.trail.append(
        "feedback", {"service": service_id, "feedback": items},
        protocol_digest=rt.protocol.digest, time=rt.clock()))
    return JSONResponse({}, status_code=200)
