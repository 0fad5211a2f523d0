"""One contract over every rule: cited, unit-checked, examples and boundary pairs, deterministic.

A new rule is checked automatically; nothing here names a particular rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from vasoguide import assess
from vasoguide.protocol import Protocol, lint, load_protocol
from vasoguide.protocol.examples import expand
from vasoguide.units import is_known_unit

_P = load_protocol()
RULES = sorted(_P.rules)
ENGINE = Path(__file__).resolve().parents[1] / "src" / "vasoguide" / "engine"


def test_knowledge_base_lints_clean(protocol: Protocol) -> None:
    assert lint(protocol) == []


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_is_cited(protocol: Protocol, rule_id: str) -> None:
    rule = protocol.rules[rule_id]
    assert rule.citations, "a rule needs at least one citation"
    for c in rule.citations:
        assert c.source in protocol.sources
        assert c.strength.strip() and c.certainty.strip()
        assert not c.verified or c.tag == "V", "only [V] facts may be marked verified"
    entry = protocol.basis(rule_id)
    assert entry.source and entry.strength and entry.certainty


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_thresholds_have_known_units(protocol: Protocol, rule_id: str) -> None:
    for name, th in protocol.rules[rule_id].thresholds.items():
        assert is_known_unit(th.unit), f"{name}: {th.unit}"


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_has_fire_silent_and_boundary_examples(protocol: Protocol, rule_id: str) -> None:
    rule = protocol.rules[rule_id]
    assert any(e.fires for e in rule.examples)
    assert any(not e.fires for e in rule.examples)
    for name, th in rule.thresholds.items():
        if th.kind == "threshold":
            pair = [e for e in rule.examples if e.boundary == name]
            assert len(pair) >= 2, f"threshold {name} needs a boundary pair"


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_examples_are_deterministic(protocol: Protocol, rule_id: str) -> None:
    for example in protocol.rules[rule_id].examples:
        state = expand(example.given, protocol.bases)
        first = assess(state, protocol).model_dump_json()
        assert assess(state, protocol).model_dump_json() == first


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_deviation_explains_errata(protocol: Protocol, rule_id: str) -> None:
    rule = protocol.rules[rule_id]
    if rule.errata:
        assert rule.deviation and len(rule.deviation) > 20


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_site_settings_are_local_convention(protocol: Protocol, rule_id: str) -> None:
    for key in protocol.rules[rule_id].settings:
        setting = protocol.settings[key]
        assert setting.convention == "local" and setting.why


FORBIDDEN_CALLS = {
    "now",
    "today",
    "utcnow",
    "time",
    "perf_counter",
    "monotonic",
    "open",
    "urandom",
    "random",
    "getenv",
    "input",
    "print",
}
FORBIDDEN_MODULES = {
    "os",
    "sys",
    "time",
    "random",
    "socket",
    "subprocess",
    "pathlib",
    "requests",
    "httpx",
    "urllib",
    "io",
    "shutil",
    "sqlite3",
}


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_engine_never_reads_the_clock_or_does_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {a.name.split(".")[0] for a in node.names}
            assert not names & FORBIDDEN_MODULES, f"{path.name} imports {names & FORBIDDEN_MODULES}"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            assert node.module.split(".")[0] not in FORBIDDEN_MODULES, node.module
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


NUMBER_ALLOWED = {0, 1, 2, 3, 4, 5, 6, 10, 24, 60, 100, 1000, 365.25}


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_engine_hard_codes_no_clinical_number(path: Path) -> None:
    """Numbers in the engine are arithmetic (60 min/h, /3 for MAP, 100 for %), never thresholds."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            assert node.value in NUMBER_ALLOWED, f"{path.name}:{node.lineno} literal {node.value}"
