"""The EHR round trip: a stay exported as FHIR, sent through the CDS Hooks service at each decision
time, compared with the in-process replay of the same stay.

At each (sampled) decision time t of the replay, the prefetch holds exactly the exported resources
known at t (`export.prefetch_at`); the service runs in-process (httpx ASGI transport, its clock
set to t) and its Assessment is captured from the engine call it makes; the replay's Assessment
comes from `timeline.replay.state_at`. Compared: decision, target (measure, low, high) and the
advised norepinephrine dose. Patient-view at every time; order-sign as well when norepinephrine
is charted as running, with the charted rate as the draft MedicationRequest.

Needs the `data` and `service` extras.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from .assessment import Assessment
from .interop.export import Exported, export_stay, patient_id_of, prefetch_at
from .protocol import Protocol
from .state import PatientState, parse_state

__all__ = ["Comparison", "RoundTrip", "compare", "ne_stays", "sample_times"]

SERVICE_ID = "vasoguide-norepinephrine"
SLIP = "order-sign (mg slip)"  # order-sign with the advised dose written in mg/kg/min


def _advised(a: Assessment) -> tuple[float, str] | None:
    for action in a.actions:
        if action.drug == "norepinephrine" and action.dose is not None:
            return action.dose.value, action.dose.unit
    return None


def _target(a: Assessment) -> tuple[str, float, float | None] | None:
    t = a.target
    return (t.measure, t.low, t.high) if t is not None else None


@dataclass(frozen=True)
class Comparison:
    stay_id: int
    time: datetime
    hook: str
    replay: tuple[str, Any, Any]  # decision, target, advised dose
    service: tuple[str, Any, Any] | None  # None: the service did not answer 200
    status: int
    cards: int
    critical_update: bool  # order-sign: a critical card with an update suggestion

    @property
    def same_decision(self) -> bool:
        return self.service is not None and self.service[0] == self.replay[0]

    @property
    def same_target(self) -> bool:
        return self.service is not None and self.service[1] == self.replay[1]

    @property
    def same_dose(self) -> bool:
        return self.service is not None and self.service[2] == self.replay[2]

    @property
    def concordant(self) -> bool:
        return self.same_decision and self.same_target and self.same_dose


def compare(replay: Assessment, service: Assessment | None) -> tuple[tuple[str, Any, Any],
                                                                   tuple[str, Any, Any] | None]:
    r = (replay.decision, _target(replay), _advised(replay))
    s = None if service is None else (service.decision, _target(service), _advised(service))
    return r, s


def sample_times(times: list[datetime], most: int | None,
                 starts: Sequence[datetime] = ()) -> list[datetime]:
    """Up to `most` decision times evenly spaced over the stay (all of them when None), plus
    the decision time just before and just after each of the first `most` norepinephrine
    starts (where START and the first titrations are decided)."""
    if most is None or len(times) <= most:
        return times
    chosen: set[datetime] = set()
    if most == 1:
        chosen.add(times[-1])
    else:
        step = (len(times) - 1) / (most - 1)
        chosen |= {times[round(i * step)] for i in range(most)}
    for start in list(starts)[:most]:
        i = bisect_right(times, start)
        chosen |= {times[j] for j in (i - 1, i) if 0 <= j < len(times)}
    return sorted(chosen)


def ne_stays(es: Any) -> list[int]:
    """Stays of an EventSet with a usable norepinephrine infusion event."""
    rows = es.con.sql(
        f"SELECT DISTINCT stay_id FROM {es.events} WHERE code = 'infusion.norepinephrine' "
        "AND quality IS NULL ORDER BY stay_id").fetchall()
    return [int(r[0]) for r in rows]


def _offers(resource: Any, advised: tuple[float, str] | None) -> bool:
    """The suggested MedicationRequest carries the advised dose (value and unit)."""
    if not isinstance(resource, dict) or advised is None:
        return False
    for instruction in resource.get("dosageInstruction", []):
        for dr in instruction.get("doseAndRate", []):
            q = dr.get("rateQuantity", {})
            if q.get("code") == advised[1] and q.get("value") == advised[0]:
                return True
    return False


def _slip_order(pid: str, advised: tuple[float, str], conc: float | None) -> dict[str, Any]:
    unit = advised[1].replace("ug/", "mg/", 1)
    ucum = "http://unitsofmeasure.org"
    rx = {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7512"}
    med: dict[str, Any] = {"resourceType": "Medication", "id": "bag", "code": {"coding": [rx]}}
    if conc:
        med["ingredient"] = [{"itemCodeableConcept": {"coding": [rx]}, "strength": {
            "numerator": {"value": conc, "unit": "mcg", "system": ucum, "code": "ug"},
            "denominator": {"value": 1, "unit": "mL", "system": ucum, "code": "mL"}}}]
    return {"resourceType": "MedicationRequest", "id": "slip-ne", "status": "draft",
            "intent": "order", "subject": {"reference": f"Patient/{pid}"},
            "contained": [med], "medicationReference": {"reference": "#bag"},
            "dosageInstruction": [{"doseAndRate": [{"rateQuantity": {
                "value": advised[0], "unit": unit, "system": ucum, "code": unit}}]}]}


def _charted_order(stay: Any, t: datetime, pid: str,
                   default_conc: float | None) -> dict[str, Any] | None:
    """The norepinephrine rate charted in force at t, as a draft MedicationRequest."""
    rows = stay.window("infusion.norepinephrine", t, t)
    if not rows or rows[-1].get("action") == "stop" or not rows[-1]["numeric_value"] > 0:
        return None
    r = rows[-1]
    conc = r.get("concentration") or default_conc
    rx = {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7512"}
    med: dict[str, Any] = {"resourceType": "Medication", "id": "bag", "code": {"coding": [rx]}}
    if conc:
        ucum = "http://unitsofmeasure.org"
        med["ingredient"] = [{"itemCodeableConcept": {"coding": [rx]}, "strength": {
            "numerator": {"value": conc, "unit": "mcg", "system": ucum, "code": "ug"},
            "denominator": {"value": 1, "unit": "mL", "system": ucum, "code": "mL"}}}]
    rate = {"value": r["numeric_value"], "unit": r["unit"],
            "system": "http://unitsofmeasure.org", "code": r["unit"]}
    return {"resourceType": "MedicationRequest", "id": "charted-ne", "status": "draft",
            "intent": "order", "subject": {"reference": f"Patient/{pid}"},
            "contained": [med], "medicationReference": {"reference": "#bag"},
            "dosageInstruction": [{"doseAndRate": [{"rateQuantity": rate}]}]}


@dataclass
class RoundTrip:
    """The service in-process with a settable clock, and the captured Assessment of each call."""

    protocol: Protocol
    assess: Callable[[PatientState, Protocol], Assessment]
    database_url: str = "sqlite://"
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    last: Assessment | None = None
    client: Any = None
    templates: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def running(self) -> Iterator[RoundTrip]:
        import anyio.from_thread
        import httpx

        from .service.app import create_app
        from .service.settings import Settings

        def capture(state: PatientState, protocol: Protocol) -> Assessment:
            self.last = self.assess(state, protocol)
            return self.last

        settings = Settings(database_url=self.database_url, auth="none")
        app = create_app(settings, protocol=self.protocol, assess=capture,
                         clock=lambda: self.now)
        self.templates = app.state.runtime.templates
        with anyio.from_thread.start_blocking_portal() as portal:
            lifespan = app.router.lifespan_context(app)
            portal.call(lifespan.__aenter__)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")

            def post(body: dict[str, Any]) -> httpx.Response:
                async def call() -> httpx.Response:
                    return await client.post(f"/cds-services/{SERVICE_ID}", json=body)
                return portal.call(call)

            self.client = post
            try:
                yield self
            finally:
                portal.call(client.aclose)
                portal.call(lifespan.__aexit__, None, None, None)

    def call(self, hook: str, pid: str, t: datetime, prefetch: dict[str, Any],
             draft: dict[str, Any] | None = None) -> tuple[int, Assessment | None, list[Any]]:
        self.now, self.last = t, None
        context: dict[str, Any] = {"userId": "Practitioner/roundtrip", "patientId": pid}
        if hook == "order-sign":
            context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                      "entry": [{"resource": draft}] if draft else []}
        body = {"hook": hook, "hookInstance": str(uuid4()),
                "context": context, "prefetch": prefetch}
        response = self.client(body)
        cards = response.json().get("cards", []) if response.status_code == 200 else []
        return response.status_code, self.last, cards

    def stay(self, es: Any, stay_id: int, most: int | None) -> list[Comparison]:
        from .timeline.replay import (
            decision_times,
            default_concentration,
            lookback,
            pressure_lookback,
            state_at,
        )
        from .timeline.stay import load_stay

        st = load_stay(es, stay_id)
        conc = default_concentration(self.protocol)
        exported: list[Exported] = export_stay(st, dataset=es.dataset,
                                               default_concentration_ug_ml=conc)
        pid = patient_id_of(es.dataset, stay_id)
        window, bp_window = lookback(self.protocol), pressure_lookback(self.protocol)
        out = []
        starts = [r["time"] for r in st.by_code.get("infusion.norepinephrine", [])
                  if r.get("action") == "start"]
        for t in sample_times(decision_times(st), most, starts):
            replayed = self.assess(parse_state(state_at(st, t, window, conc, None, bp_window)),
                                   self.protocol)
            prefetch = prefetch_at(exported, t, self.templates)
            hooks: list[tuple[str, dict[str, Any] | None]] = [("patient-view", None)]
            draft = _charted_order(st, t, pid, conc)
            if draft is not None:
                hooks.append(("order-sign", draft))
            advised = _advised(replayed)
            if replayed.decision == "START_NOREPINEPHRINE" and advised is not None:
                # The mg-for-mcg slip on the advised dose: a critical card must offer the fix.
                hooks.append((SLIP, _slip_order(pid, advised, conc)))
            for hook, order in hooks:
                sent = "order-sign" if hook == SLIP else hook
                status, served, cards = self.call(sent, pid, t, prefetch, order)
                r, s = compare(replayed, served)
                critical_update = any(
                    c.get("indicator") == "critical" and any(
                        a.get("type") == "update" and _offers(a.get("resource"), advised)
                        for sg in c.get("suggestions", []) for a in sg.get("actions", []))
                    for c in cards)
                out.append(Comparison(stay_id, t, hook, r, s, status, len(cards),
                                      critical_update))
        return out
