"""Issue 9's "done when": fluids, a passive-leg-raise result and an arterial MAP of 58 read from
FHIR give START with a dose and rate; a mg/kg/min draft order then gets a critical card whose
`update` suggestion carries the corrected MedicationRequest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from vasoguide.service.settings import Settings

from ..interop.care_data import fluid, observation, patient, plr, septic
from .conftest import NOW, AppClient, hook_request, ne_order, prefetch_from
from .test_hooks import SERVICE, assert_spec_cards


def resuscitated() -> list[dict[str, Any]]:
    return [
        patient(), septic(),
        observation("wt", "29463-7", 80, "kg", NOW - timedelta(hours=5)),
        observation("map", "76214-6", 58, "mm[Hg]", NOW - timedelta(minutes=5)),
        observation("lac", "2524-7", 3.1, "mmol/L", NOW - timedelta(minutes=30)),
        fluid("f1", "fluid-crystalloid", NOW - timedelta(hours=1), ml=1500),
        fluid("f2", "fluid-crystalloid", NOW - timedelta(minutes=20), rate_ml_h=500, hours=2),
        plr(NOW - timedelta(minutes=10)),
    ]


def call(client: AppClient, hook: str, resources: list[dict[str, Any]],
         orders: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    body = hook_request(hook, prefetch=prefetch_from(resources), orders=list(orders))
    response = client.post(SERVICE, json=body)
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = assert_spec_cards(response.json())
    return cards


def test_fluids_and_leg_raise_from_fhir_give_start_with_dose_and_rate(
    make_client: Callable[..., AppClient], settings: Settings
) -> None:
    client = make_client(settings)
    (card,) = call(client, "patient-view", resuscitated())
    summary = card["summary"]
    assert "indicated" in summary and "start" in summary, summary
    assert "mcg/kg/min" in summary and "mL/h" in summary, summary


def test_without_fluids_and_test_volume_is_not_confirmed(
    make_client: Callable[..., AppClient], settings: Settings
) -> None:
    client = make_client(settings)
    bare = [r for r in resuscitated()
            if r["resourceType"] != "MedicationAdministration" and r["id"] != "plr"]
    (card,) = call(client, "patient-view", bare)
    assert "start" not in card["summary"] and "mL/h" not in card["summary"], card["summary"]


def test_mg_per_kg_draft_gets_a_critical_card_with_the_corrected_order(
    make_client: Callable[..., AppClient], settings: Settings
) -> None:
    client = make_client(settings)
    draft = ne_order(dose=(0.05, "mg/kg/min"))
    cards = call(client, "order-sign", resuscitated(), [draft])
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert critical, cards
    (suggestion,) = critical[0]["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "update"
    order = action["resource"]
    assert order["resourceType"] == "MedicationRequest" and order["id"] == draft["id"]
    rates = {d["rateQuantity"]["code"]: d["rateQuantity"]["value"]
             for d in order["dosageInstruction"][0]["doseAndRate"]}
    from vasoguide import load_protocol

    p = load_protocol()
    start = p.setting("adult_start_dose", "ug/kg/min")
    conc = p.setting("default_concentration", "ug/mL")
    assert rates["ug/kg/min"] == start  # the advised start dose, in micrograms
    assert rates["mL/h"] == start * 80 * 60 / conc  # at 80 kg and the default concentration


def test_the_basis_is_built_once_for_all_cards_of_a_response(
    make_client: Callable[..., AppClient], settings: Settings, monkeypatch: Any
) -> None:
    from vasoguide.interop import cards as cards_module

    built = []
    original = cards_module._basis_markdown

    def counting(*args: Any) -> str:
        built.append(1)
        return original(*args)

    monkeypatch.setattr(cards_module, "_basis_markdown", counting)
    client = make_client(settings)
    bare = [r for r in resuscitated()
            if r["resourceType"] != "MedicationAdministration" and r["id"] != "plr"]
    cards = call(client, "order-sign", bare, [ne_order(dose=(0.05, "mg/kg/min"))])
    assert len(cards) == 2  # not indicated now, and the order's unit
    assert len(built) == 1
    tail = cards[0]["detail"].split("**Decision:**")[1]
    assert cards[1]["detail"].endswith(tail)
