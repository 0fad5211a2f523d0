"""Every example a rule owns is a test: does the rule fire, and does the Assessment say so.

Test ids read `rule::example`, e.g. `target.septic-map-65::map-64-starts`; the examples live
next to their rules in src/vasoguide/kb/rules/*.yaml.
"""

from __future__ import annotations

import pytest

from vasoguide.protocol import Protocol, load_protocol
from vasoguide.rule_examples import check_example

_P = load_protocol()
CASES = [(rid, ex) for rid, rule in _P.rules.items() for ex in rule.examples]


@pytest.mark.parametrize(("rule_id", "example"), CASES, ids=[f"{r}::{e.name}" for r, e in CASES])
def test_rule_example(protocol: Protocol, rule_id: str, example) -> None:  # type: ignore[no-untyped-def]
    assert check_example(protocol, rule_id, example) == []


def test_examples_cover_every_rule() -> None:
    assert {rid for rid, _ in CASES} == set(_P.rules)
