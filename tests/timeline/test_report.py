"""The audit report a quality team circulates: parsed HTML, not screenshots."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from vasoguide.engine import assess
from vasoguide.protocol import load_protocol
from vasoguide.timeline.audit import DEFINITIONS, SPREAD, run_audit
from vasoguide.timeline.report import REPORT_FIGURES, audit_header, audit_html

from .conftest import T0, at, event, event_set, shock_course

PROTOCOL = load_protocol()


class _Page(HTMLParser):
    """Text per element kind, links and ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.imgs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "img":
            self.imgs.append(str(a.get("src")))
        if tag not in ("img", "meta", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self.stack and data.strip():
            self.text.setdefault(self.stack[-1], []).append(data.strip())


@pytest.fixture(scope="module")
def page() -> _Page:
    rows = shock_course()
    rows += [event(15 * i, "map", 80, "mm[Hg]", method="noninvasive", stay_id=11)
             for i in range(10)]
    stays = [{"stay_id": s, "subject_id": s, "admission": T0, "discharge": at(24 * 60),
              "care_unit": unit, "trauma": False, "age_years": 60.0}
             for s, unit in ((10, "MICU"), (11, "SICU"))]
    result = run_audit(event_set(rows, stays), PROTOCOL, assess)
    metrics = result.metrics.to_pylist()
    header = audit_header("test-set", PROTOCOL, metrics, "Open Database License (ODbL) v1.0",
                          datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    text = audit_html("test-set", result.headline, metrics, result.quality.to_pylist(),
                      ("a caveat",), DEFINITIONS, header)
    parsed = _Page()
    parsed.feed(text)
    return parsed


def test_the_header_says_what_when_with_what_and_under_which_licence(page: _Page) -> None:
    th = page.text["th"]
    for field in ("Dataset", "Period", "Generated", "Software", "Knowledge base",
                  "Site settings in force", "Data licence"):
        assert field in th
    td = " ".join(page.text["td"])
    assert PROTOCOL.digest in td and PROTOCOL.version in td
    assert "infusion_rate_hold = 6 h" in td
    assert "2026-01-02 03:04 UTC" in td and "ODbL" in td


def test_figures_have_plain_labels_and_median_iqr_n_on_one_line(page: _Page) -> None:
    labels = page.text["a"]
    for _, label, _, _ in REPORT_FIGURES:
        assert label in labels
    # no code name (snake_case) is shown as a label
    assert not [t for t in labels if re.fullmatch(r"[a-z]+(_[a-z]+)+", t)]
    cells = page.text["td"]
    spread = [c for c in cells if re.fullmatch(r".+ \[.+–.+\].* \(n = \d+ stays\)", c)]
    assert len(spread) >= len([f for f in REPORT_FIGURES if f[3] not in ("count", "pooled3")
                               and not f[3].startswith("of:")])
    assert any(c.endswith("mcg/kg/min (n = 1 stays)") for c in cells)
    assert not any("ug/" in c for c in cells)


def test_definitions_are_a_click_away(page: _Page) -> None:
    links = [h.removeprefix("#") for h in page.hrefs if h.startswith("#def-")]
    assert links and all(link in page.ids for link in links)
    assert {f"def-median_{k}" for k in SPREAD} <= page.ids


def test_exclusions_caveats_trends_and_charts(page: _Page) -> None:
    items = page.text["li"]
    assert "a caveat" in items
    assert any("without a usable blood pressure" in i for i in items)
    assert any("without a usable dose" in i for i in items)
    assert any("rejected as implausible" in i for i in items)
    assert "By unit" in page.text["h2"]
    assert page.imgs and page.imgs[0].startswith("data:image/png;base64,")
