"""The traceability table is generated, current, and every seed quote is really in the seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from vasoguide.protocol import Protocol
from vasoguide.traceability import normalise, seed_statements, traceability_markdown

from .conftest import REPO, SEED

pytestmark = pytest.mark.skipif(not SEED.exists(), reason="the seed is not beside the repo")
DOC = REPO / "docs" / "TRACEABILITY.md"


def test_every_seed_quote_is_in_the_seed(protocol: Protocol) -> None:
    seed = normalise(" ".join(seed_statements(SEED.read_text(encoding="utf-8"))))
    for rid, rule in protocol.rules.items():
        for quote in rule.seed:
            assert normalise(quote) in seed, f"{rid}: {quote!r} is not in the seed"


def test_only_rationale_sentences_have_no_rule(protocol: Protocol) -> None:
    text = traceability_markdown(protocol, SEED.read_text(encoding="utf-8"))
    section = text.split("## Seed statements with no rule")[1].split("##")[0]
    unmatched = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(unmatched) == 2  # receptor pharmacology, haemorrhage phases (erratum 17)
    assert any("α1-adrenergic" in line for line in unmatched)


def test_committed_table_is_current(protocol: Protocol) -> None:
    fresh = traceability_markdown(protocol, SEED.read_text(encoding="utf-8"))
    assert DOC.exists(), "run: vasoguide protocol trace --seed ../shared/seed/... --out docs/..."
    assert Path(DOC).read_text(encoding="utf-8") == fresh, "regenerate docs/TRACEABILITY.md"
