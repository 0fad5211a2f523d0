"""The bedside page in a real headless Chromium (Debian's `chromium`, driven by Playwright), as a
nurse uses it (issue 9 section 4): times with their zone, weight in kg or lb, a chart with axis
units and a legend that matches its lines, the evidence tags explained, and a browser console
with no error and no failed request after any of it.

Setup: `scripts/install-browser.sh` (apt-get chromium, pip playwright). Skipped, with the reason,
when either is missing. The app runs in uvicorn on 127.0.0.1 in a background thread.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from vasoguide.display import number_text, rounded
from vasoguide.protocol.model import Tag

from .conftest import SAMPLE
from .pagekit import CHROMIUM, SKIP_REASON, Problems, chromium, serve, watched_page

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: run scripts/install-browser.sh"
)

ZONE = "America/New_York"  # not the machine's zone, and not UTC


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(tmp_path_factory.mktemp("e2e")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(sync_api) as b:
        yield b


@pytest.fixture
def watched(browser: Any, base_url: str) -> Iterator[tuple[Any, Problems]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=ZONE)
    pg, problems = watched_page(context, base_url)
    yield pg, problems
    context.close()


@pytest.fixture
def page(watched: tuple[Any, Problems]) -> Iterator[Any]:
    """A page whose console must stay clean: no error, no failed or refused request."""
    pg, problems = watched
    yield pg
    assert problems.all() == []


def run_example(pg: Any) -> dict[str, Any]:
    pg.click("#example")
    pg.click("#assess")
    pg.wait_for_selector("#decision[data-code]")
    state: dict[str, Any] = json.loads(pg.input_value("#paste"))
    return state


def test_example_shows_decision_target_actions_and_chart(page: Any, base_url: str) -> None:
    state = run_example(page)
    expected = httpx.post(base_url + "/assess", json=state).json()
    assert page.get_attribute("#decision", "data-code") == expected["decision"]
    low = number_text(expected["target"]["low"])
    assert page.text_content("#target") == f"Target MAP ≥ {low} mmHg"
    assert page.locator("#actions li").count() == len(expected["actions"])
    for action in expected["actions"]:
        if action.get("dose") and action.get("rate"):
            assert "mL/h at" in page.text_content("#actions")  # never a rate without its bag
    # the chart: three MAP points, a target line at the Assessment's target
    assert page.locator("#chart circle.s-mappt").count() == 3
    heights = [
        float(page.locator("#chart circle.s-mappt").nth(i).get_attribute("cy") or "nan")
        for i in range(3)
    ]
    assert heights[0] < heights[1] < heights[2]  # 63, 60, 58 mmHg: falling, drawn lower
    target = page.get_attribute("#chart line.s-tgt", "data-value")
    assert float(target or "nan") == expected["target"]["low"]
    page.click("#evidence summary")
    assert page.locator("#basis li").count() == len(expected["basis"])


def test_times_are_shown_and_sent_with_their_zone(page: Any) -> None:
    zone_label = page.text_content("#f-time-zone") or ""
    m = re.fullmatch(r"\(UTC([+−])(\d\d):(\d\d), America/New_York\)", zone_label)
    assert m, zone_label
    offset = f"{'-' if m[1] == '−' else '+'}{m[2]}:{m[3]}"
    state = run_example(page)
    # The state carries the nurse's offset, so the engine's text reads in wall-clock time.
    assert state["time"].endswith(offset)
    assert all(o["time"].endswith(offset) for o in state["observations"])
    latest_map = max(
        (o for o in state["observations"] if o["code"] == "map"), key=lambda o: o["time"]
    )
    assert f"({latest_map['time'][11:16]})" in (page.text_content("#summary") or "")
    when = page.text_content("#when") or ""
    assert f"{state['time'][:10]} {state['time'][11:16]}" in when
    assert f"UTC{m[1]}{m[2]}:{m[3]}, America/New_York" in when
    titles = page.locator("#chart .axis-title").all_text_contents()
    assert f"time (UTC{m[1]}{m[2]}:{m[3]}, America/New_York)" in titles
    ticks = page.locator("#chart text.tick").all_text_contents()
    assert any(re.fullmatch(r"\d\d:\d\d", t) for t in ticks)


def test_weight_in_pounds_is_converted_by_the_service(page: Any, base_url: str) -> None:
    page.click("#example")
    page.fill("#f-weight", "176")
    page.select_option("#f-weight-unit", "[lb_av]")
    page.click("#assess")
    page.wait_for_selector("#decision[data-code]")
    state = json.loads(page.input_value("#paste"))
    assert state["patient"]["weight"] == {"value": 176, "unit": "[lb_av]"}  # sent as typed
    a = httpx.post(base_url + "/assess", json=state).json()
    kg = next(i["value"] for i in a["inputs"] if i["code"] == "weight")
    assert kg == pytest.approx(176 * 0.45359237, rel=1e-3)
    assert f"Weight used {number_text(kg)} kg" in (page.text_content("#status") or "")
    # The calculator: the weight in lb, converted once by the service and shown as used.
    page.fill("#c-weight", "176")
    page.select_option("#c-weight-unit", "[lb_av]")
    page.fill("#c-conc", "16")
    page.select_option("#c-unit", "ug/kg/min")
    page.fill("#c-value", "0.1")
    page.wait_for_function("document.getElementById('c-out').dataset.mlh", timeout=5000)
    body = {
        "value": 0.1,
        "unit": "ug/kg/min",
        "weight": {"value": 176, "unit": "[lb_av]"},
        "concentration_ug_ml": 16,
    }
    d = httpx.post(base_url + "/dose", json=body).json()
    assert d["weight_kg"] == rounded(176 * 0.45359237, "kg") == 79.8
    assert f"weight {number_text(d['weight_kg'])} kg" in (page.text_content("#c-out") or "")
    assert f"{number_text(d['ug_min'])} mcg/min" in (page.text_content("#c-out") or "")


def test_chart_has_axis_units_a_dose_axis_and_a_legend_matching_its_lines(page: Any) -> None:
    page.click("#example")
    page.fill("#f-ne", "0.1")
    page.click("#assess")
    page.wait_for_selector("#decision[data-code]")
    titles = page.locator("#chart .axis-title").all_text_contents()
    assert "MAP (mmHg)" in titles
    assert "mcg/kg/min" in titles  # the second axis, in the dose's unit
    assert page.locator("#chart path.s-ne").count() == 1
    assert page.locator("#chart .ne-tick .num").all_text_contents() == ["0.1"]
    drawn = page.evaluate(
        """() => [...new Set([...document.querySelectorAll('#chart [class^="s-"]')]
                 .map((n) => n.getAttribute('class')).filter((c) => c !== 's-mappt'))].sort()"""
    )
    keyed = sorted(page.eval_on_selector_all("#legend .key", "ks => ks.map(k => k.dataset.series)"))
    assert keyed == drawn == ["s-map", "s-ne", "s-tgt"]
    # each legend swatch is drawn exactly like its line
    style = """(sel) => { const s = getComputedStyle(document.querySelector(sel));
                          return [s.stroke, s.strokeDasharray, s.strokeWidth]; }"""
    for cls in drawn:
        assert page.evaluate(style, f"#legend .{cls}") == page.evaluate(style, f"#chart .{cls}")
    legend = page.text_content("#legend") or ""
    assert "MAP (mmHg, left axis)" in legend and "norepinephrine (mcg/kg/min, right axis)" in legend


def test_evidence_tags_are_explained(page: Any) -> None:
    run_example(page)
    assert page.is_visible("#tag-key")
    key = page.text_content("#tag-key") or ""
    for tag in Tag.__args__:  # every tag the knowledge base can carry
        assert re.search(rf"\[{tag}\] \w+", key), tag
    page.click("#evidence summary")
    shown = set(re.findall(r"\[(\w+)\]", page.text_content("#result") or ""))
    assert shown and shown <= set(Tag.__args__)


def test_dose_calculator_matches_the_dosing_module(page: Any) -> None:
    page.fill("#c-weight", "80")
    page.fill("#c-conc", "16")
    page.select_option("#c-unit", "ug/kg/min")
    page.fill("#c-value", "0.1")
    page.wait_for_function("document.getElementById('c-out').dataset.mlh", timeout=5000)
    assert page.get_attribute("#c-out", "data-mlh") == "30"
    assert "8 mcg/min" in page.text_content("#c-out")


LATE_FIRST_ANSWER = """async () => {
  const realFetch = window.fetch;
  let n = 0;
  window.fetch = async (...args) => {  // the first answer arrives after the second
    const k = n++, reply = await realFetch(...args);
    if (k === 0) await new Promise((done) => setTimeout(done, 300));
    return reply;
  };
  const set = (v) => { document.getElementById("c-value").value = v; };
  set("0.5"); const first = calc(); set("0.7"); const second = calc();
  await Promise.all([first, second]);
  window.fetch = realFetch;
  return document.getElementById("c-out").textContent;
}"""


def test_calculator_never_shows_an_answer_to_an_older_question(page: Any) -> None:
    page.fill("#c-weight", "80")
    page.fill("#c-conc", "16")
    page.select_option("#c-unit", "ug/kg/min")
    shown = page.evaluate(LATE_FIRST_ANSWER)
    assert shown.startswith("0.7 mcg/kg/min = 56 mcg/min = 210 mL/h"), shown
    page.fill("#c-value", "0.9")  # while the answer is pending, the old one reads as stale
    assert "stale" in (page.get_attribute("#c-out", "class") or "")
    page.wait_for_function("document.getElementById('c-out').dataset.mlh === '270'")
    assert "stale" not in (page.get_attribute("#c-out", "class") or "")


def test_calculator_asks_for_what_it_needs_without_a_refused_request(
    watched: tuple[Any, Problems],
) -> None:
    pg, problems = watched
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url) if r.url.endswith("/dose") else None)
    pg.select_option("#c-unit", "ug/kg/min")
    pg.fill("#c-value", "0.1")
    pg.wait_for_function(
        "document.getElementById('c-out').textContent.includes('weight')", timeout=5000
    )
    pg.select_option("#c-unit", "mL/h")
    pg.wait_for_function(
        "document.getElementById('c-out').textContent.includes('concentration')", timeout=5000
    )
    pg.fill("#c-value", "-3")
    pg.wait_for_function(
        "document.getElementById('c-out').textContent.startsWith('Value')", timeout=5000
    )
    assert requests == []
    assert problems.all() == []


def test_fhir_bundle_file_is_mapped_and_unused_data_listed(page: Any) -> None:
    page.click("#tab-paste")
    page.set_input_files("#file", str(SAMPLE))
    page.wait_for_function("document.getElementById('paste').value.includes('Bundle')")
    page.click("#assess")
    page.wait_for_selector("#decision[data-code]")
    assert page.is_visible("#notused")
    page.click("#notused summary")
    assert "Observation/map-other: about another patient" in page.text_content("#notused-list")


def test_invalid_input_names_the_field(watched: tuple[Any, Problems]) -> None:
    pg, problems = watched
    pg.click("#tab-paste")
    pg.fill(
        "#paste",
        json.dumps(
            {
                "time": "2026-03-01T08:00:00Z",
                "observations": [
                    {"code": "map", "value": 60, "unit": "kg", "time": "2026-03-01T07:55:00Z"}
                ],
            }
        ),
    )
    pg.click("#assess")
    pg.wait_for_selector("#error:not([hidden])")
    assert "observations[0]" in pg.text_content("#error")
    # The one refused request is this one, and nothing else went wrong.
    assert [p for p in problems.bad_responses if "/assess" not in p] == []
    assert problems.page_errors == [] and problems.failed_requests == []


def test_usable_on_a_tablet(browser: Any, base_url: str) -> None:
    context = browser.new_context(
        viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True
    )
    pg, problems = watched_page(context, base_url)
    started = time.monotonic()
    run_example(pg)
    assert time.monotonic() - started < 5
    overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    box = pg.locator("#assess").bounding_box()
    assert box is not None and box["height"] >= 40  # a finger-sized target
    context.close()
    assert problems.all() == []
