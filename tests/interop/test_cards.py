"""Cards are pure functions of the Assessment and obey the CDS Hooks card rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vasoguide.assessment import (
    DECISIONS,
    Action,
    Alert,
    Assessment,
    BasisEntry,
    InputUsed,
    OutQuantity,
    ProtocolRef,
    Target,
)
from vasoguide.interop.cards import decision_card, detail_markdown, summary_of
from vasoguide.interop.cdshooks import (
    Action as CardAction,
)
from vasoguide.interop.cdshooks import (
    Card,
    FeedbackItem,
    HookResponse,
    OverrideReason,
    Source,
    Suggestion,
    dump,
)
from vasoguide.interop.codes import load_tables, tables
from vasoguide.interop.prefetch import fill, templates

NOW = datetime(2026, 3, 1, 8, tzinfo=UTC)
REF = ProtocolRef(name="vasoguide-norepinephrine", version="1.0.0", digest="sha256:" + "a" * 64)


def assessment(decision: str = "START_NOREPINEPHRINE", **kw: Any) -> Assessment:
    base: dict[str, Any] = {
        "time": NOW, "decision": decision, "protocol": REF,
        "target": Target(measure="map", low=65, basis=["target.septic-map"]),
        "inputs": [InputUsed(code="map", value=58.0, unit="mm[Hg]", time=NOW,
                             method="arterial")],
        "actions": [Action(code="START_NOREPINEPHRINE", text="Start.", drug="norepinephrine",
                           dose=OutQuantity(value=0.05, unit="ug/kg/min"),
                           rate=OutQuantity(value=15, unit="mL/h"),
                           concentration=OutQuantity(value=16, unit="ug/mL"),
                           basis=["admin.start-dose"])],
        "basis": [BasisEntry(id="admin.start-dose", statement="Start low.",
                             source="SSC 2021, rec 40 (suggest; weak; low)", strength="weak",
                             certainty="low"),
                  BasisEntry(id="target.septic-map", statement="MAP 65.",
                             source="SSC 2021, rec 38", strength="strong", certainty="moderate")],
    }
    base.update(kw)
    return Assessment(**base)


def test_summary_states_decision_pressure_target_and_dose() -> None:
    text = summary_of(assessment())
    assert text == ("Norepinephrine indicated (MAP 58 vs target MAP ≥65 mmHg): start "
                    "0.05 mcg/kg/min = 15 mL/h at 16 mcg/mL")


@pytest.mark.parametrize("decision", DECISIONS)
def test_every_decision_has_a_summary_under_140(decision: str) -> None:
    a = assessment(decision, missing=["map", "weight"] * 40)
    card = decision_card(a, tables=tables())
    assert 0 < len(card.summary) < 140


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=300), st.lists(st.text(max_size=80), max_size=10))
def test_any_text_gives_a_valid_card(text: str, missing: list[str]) -> None:
    a = assessment("INSUFFICIENT_DATA", missing=missing, summary=text,
                   alerts=[Alert(code="STALE_DATA", severity="warning", text=text)])
    card = decision_card(a, tables=tables(), report=[text])
    assert len(card.summary) < 140 and card.indicator == "warning"
    assert card.detail is not None and not re.search(r"(?<!\\)<", card.detail)


def test_detail_escapes_html_and_markdown_from_data() -> None:
    a = assessment(summary="<img src=x onerror=alert(1)> [link](javascript:x)")
    detail = detail_markdown(a, report=["Observation/x: unit '<b>' | bad"])
    assert not re.search(r"(?<!\\)<", detail), "an unescaped < reaches the client"
    assert "\\<img" in detail and "\\[link\\]" in detail
    assert "\\<b\\>' \\| bad" in detail


def test_indicator_follows_the_worst_alert_and_the_hook() -> None:
    crit = assessment(alerts=[Alert(code="DOSE_ABOVE_LIMIT", severity="critical", text="x")])
    assert decision_card(crit, tables=tables()).indicator == "critical"
    assert decision_card(assessment(), tables=tables()).indicator == "info"
    waiting = assessment("RESUSCITATE_FIRST", actions=[])
    assert decision_card(waiting, tables=tables()).indicator == "info"
    assert decision_card(waiting, tables=tables(), ordering=True).indicator == "warning"


def test_source_names_the_guideline_of_the_decision() -> None:
    card = decision_card(assessment(), tables=tables())
    assert card.source.label.startswith("SSC 2021, rec 40")
    assert "vasoguide-norepinephrine 1.0.0" in card.source.label


def test_override_reasons_all_have_displays() -> None:
    card = decision_card(assessment(), tables=tables())
    assert card.overrideReasons and all(r.display for r in card.overrideReasons)


def test_card_model_enforces_spec_invariants() -> None:
    src = Source(label="x")
    action = CardAction(type="update", description="d", resource={"resourceType": "X"})
    with pytest.raises(ValidationError, match="cds-resp-6"):
        Card(uuid="u", summary="s", indicator="info", source=src,
             suggestions=[Suggestion(label="l", uuid="v", actions=[action])])
    with pytest.raises(ValidationError):
        Card(uuid="u", summary="x" * 140, indicator="info", source=src)
    with pytest.raises(ValidationError):
        OverrideReason(system="s", code="c", display="")
    with pytest.raises(ValidationError):
        CardAction(type="update", description="d")
    with pytest.raises(ValidationError):
        FeedbackItem(card="c", outcome="accepted", outcomeTimestamp=NOW)


def test_dump_omits_nulls_and_empties_but_keeps_cards() -> None:
    assert dump(HookResponse(cards=[])) == {"cards": []}
    card = Card(uuid="u", summary="s", indicator="info", source=Source(label="x"))
    assert dump(HookResponse(cards=[card])) == {
        "cards": [{"uuid": "u", "summary": "s", "indicator": "info", "source": {"label": "x"}}]}


def test_prefetch_templates_fill_and_refuse_missing_tokens() -> None:
    filled = {k: fill(v, {"patientId": "a b"}) for k, v in templates(tables()).items()}
    assert filled["patient"] == "Patient/a%20b"
    assert "http://loinc.org|8478-0" in (filled["observations"] or "")
    assert fill("Patient/{{context.patientId}}", {}) is None
    assert fill("Practitioner/{{userPractitionerId}}", {}, "Practitioner/dr1") == \
        "Practitioner/dr1"


def test_codes_must_be_strings() -> None:
    data = {"systems": {}, "observations": [{"system": "s", "code": 1234, "concept": "map"}],
            "drugs": [], "conditions": [], "override_reasons": {"system": "x", "reasons": []},
            "order_checks": {"rate_tolerance_fraction": 0.05, "rate_decimals": 1}}
    with pytest.raises(ValueError, match="codes are strings"):
        load_tables(data)


def test_markdown_escape_matches_the_reference_pattern() -> None:
    import random

    from vasoguide.interop.cards import _MD_SPECIAL, _md

    rng = random.Random(4)
    chars = "ab\\`*_[]<>|~\n é#"
    for _ in range(2000):
        text = "".join(rng.choice(chars) for _ in range(12))
        assert _md(text) == _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")
