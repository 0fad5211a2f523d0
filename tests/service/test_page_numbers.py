"""Every number the bedside page shows is the service's JSON number, written as docs/DISPLAY.md
says (issue 7 section 1), in real Chromium.

The defect class: the page once wrote numbers with `toPrecision(3)` and stripped trailing
zeros, so 150 mL/h read "15", 560 "56" and 1050 "1.05e+3". These tests drive a few hundred
generated calculator inputs and a few dozen generated PatientStates through one page and compare
each number on it (parsed from the DOM text) with `display.number_text` of the JSON number the
service returned for the same input. The page marks each number it writes with the JSON field it
comes from (`<span class="num" data-src>`); any other digit in those places fails the test.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vasoguide.display import PRECISION, UNIT_TEXT, number_text, unit_text

from .page_inputs import dose_body, expected_sources, generated_inputs, generated_state, resolve
from .pagekit import CHROMIUM, SKIP_REASON, Problems, chromium, serve, watched_page

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: run scripts/install-browser.sh"
)

# In the page: every checked number, and any digit outside one in the places numbers appear.
COLLECT = """(root) => {
  const nums = [...document.querySelectorAll(`${root} .num`)]
    .map((n) => ({ src: n.dataset.src, text: n.textContent }));
  const stray = [];
  const places = root === "#calc" ? ["#c-out"] : ["#target", "#status", "#actions .dose",
                  "#legend", "#chart text:not(.tick):not(.axis-title)"];
  for (const sel of places) {
    for (const node of document.querySelectorAll(sel)) {
      if (sel === "#c-out" && !node.querySelector(".num")) continue; // a message, not a result
      const copy = node.cloneNode(true);
      copy.querySelectorAll(".num").forEach((n) => n.remove());
      if (/\\d/.test(copy.textContent)) stray.push(`${sel}: ${node.textContent}`);
    }
  }
  return { nums, stray, error: document.getElementById("error").hidden ? null
                                : document.getElementById("error").textContent };
}"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(tmp_path_factory.mktemp("page-numbers")) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[tuple[Any, Problems]]:
    """One page for the whole module (fast); it must end with a clean console."""
    with chromium(sync_api) as browser:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, timezone_id="Europe/Paris"
        )
        pg, problems = watched_page(context, base_url)
        yield pg, problems
        context.close()
    assert problems.all() == []


def check_numbers(shown: dict[str, Any], docs: dict[str, Any], expected: set[str]) -> None:
    assert shown["stray"] == [], "digits written outside a checked number"
    srcs = set()
    for n in shown["nums"]:
        value = resolve(docs, n["src"])
        assert isinstance(value, int | float) and not isinstance(value, bool), n
        assert n["text"] == number_text(value), (n, value)
        srcs.add(n["src"])
    assert expected <= srcs, f"numbers in the JSON not shown: {sorted(expected - srcs)}"


# ---- the writing rule itself: JS numberText/unitText against vasoguide.display ----------------

SPECIAL = [
    0.0,
    -0.0,
    1e21,
    1e-7,
    150.0,
    560.0,
    1000.0,
    1050.0,
    0.05,
    100.0,
    0.1 + 0.2,
    5e-324,
    1.7976931348623157e308,
    123456789.123,
    1e16,
    1e-21,
    0.125,
    35.92,
    47.099999999999994,
    -1.5,
    -1e-7,
    2.5e-5,
    1.05e3,
    79.8323,
    0.001,
    9.999999999999999e22,
]


def js_number_text(pg: Any, values: list[float]) -> list[str]:
    out: list[str] = pg.evaluate("(vs) => vs.map((v) => numberText(v))", values)
    return out


def test_number_text_is_display_number_text(page: tuple[Any, Problems]) -> None:
    pg, _ = page
    assert js_number_text(pg, SPECIAL) == [number_text(v) for v in SPECIAL]
    rng = random.Random(7)
    values = [rng.uniform(-1, 1) * 10 ** rng.uniform(-12, 25) for _ in range(2000)]
    values += [round(rng.uniform(0, 2000), rng.randint(0, 4)) for _ in range(2000)]
    assert js_number_text(pg, values) == [number_text(v) for v in values]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=50, max_size=200))
def test_number_text_agrees_on_any_float(page: tuple[Any, Problems], values: list[float]) -> None:
    assert js_number_text(page[0], values) == [number_text(v) for v in values]


def test_number_text_refuses_what_is_not_a_number(page: tuple[Any, Problems]) -> None:
    refused = page[0].evaluate(
        """() => [NaN, Infinity, -Infinity, null, undefined, "150"].map((v) => {
             try { numberText(v); return false; } catch { return true; } })"""
    )
    assert refused == [True] * 6
    for v in (math.nan, math.inf):
        with pytest.raises(ValueError):
            number_text(v)


def test_unit_text_is_display_unit_text(page: tuple[Any, Problems]) -> None:
    pg, _ = page
    assert pg.evaluate("() => UNIT_TEXT") == UNIT_TEXT
    units = sorted(
        {
            *PRECISION,
            *UNIT_TEXT,
            "ug/kg/min",
            "mg/kg/min",
            "ug",
            "{units}/min",
            "[lb_av]",
            "L/min/m2",
            "mmol/L",
            "ug/mL",
        }
    )
    assert pg.evaluate("(us) => us.map(unitText)", units) == [unit_text(u) for u in units]


# ---- the dose calculator: a few hundred inputs through /dose ----------------------------------

CALC = """async ([value, unit, weight, wunit, conc]) => {
  document.getElementById("c-value").value = value;
  document.getElementById("c-unit").value = unit;
  document.getElementById("c-weight").value = weight;
  document.getElementById("c-weight-unit").value = wunit;
  document.getElementById("c-conc").value = conc;
  await calc();
}"""


def test_calculator_shows_the_service_numbers(page: tuple[Any, Problems], base_url: str) -> None:
    pg, problems = page
    seen_zeros = set()
    with httpx.Client(base_url=base_url) as http:
        for value, unit, weight, conc in generated_inputs(300):
            body = dose_body(value, unit, weight, conc)
            reply = http.post("/dose", json=body)
            assert reply.status_code == 200, (body, reply.text)
            expected_json = reply.json()
            pg.evaluate(
                CALC,
                [
                    value,
                    unit,
                    weight[0] if weight else "",
                    weight[1] if weight else "kg",
                    conc or "",
                ],
            )
            shown = pg.evaluate(COLLECT, "#calc")
            expected = {
                f"d:{k}"
                for k in ("ug_kg_min", "ug_min", "ml_h", "weight_kg", "concentration_ug_ml")
                if expected_json[k] is not None
            }
            check_numbers(shown, {"d": expected_json}, expected)
            text = pg.text_content("#c-out") or ""
            for key in ("ug_min", "ml_h"):
                v = expected_json[key]
                if v in (100, 150, 560, 1000, 1050):
                    seen_zeros.add(v)
                    assert number_text(v) in text
    assert seen_zeros == {100, 150, 560, 1000, 1050}
    assert problems.all() == []


def test_calculator_through_typing(page: tuple[Any, Problems]) -> None:
    """The real path (input events, the page's debounce) once: 0.5 mcg/kg/min at 80 kg, 16."""
    pg, _ = page
    pg.fill("#c-value", "")
    pg.select_option("#c-unit", "ug/kg/min")
    pg.fill("#c-weight", "80")
    pg.select_option("#c-weight-unit", "kg")
    pg.fill("#c-conc", "16")
    pg.fill("#c-value", "0.5")
    pg.wait_for_function("document.getElementById('c-out').dataset.mlh === '150'", timeout=5000)
    assert pg.text_content("#c-out") == (
        "0.5 mcg/kg/min = 40 mcg/min = 150 mL/h (weight 80 kg, at 16 mcg/mL)"
    )


# ---- assessments: a few dozen generated PatientStates through /assess -------------------------

ASSESS = """async (text) => {
  document.getElementById("paste").value = text;
  await assess();
}"""


def test_assessments_show_the_service_numbers(page: tuple[Any, Problems], base_url: str) -> None:
    pg, problems = page
    pg.click("#tab-paste")
    rng = random.Random(1129)
    with_rate = 0
    with httpx.Client(base_url=base_url) as http:
        for _ in range(100):
            state = generated_state(rng)
            text = json.dumps(state)
            reply = http.post("/assess", content=text, headers={"Content-Type": "application/json"})
            assert reply.status_code == 200, reply.text
            a = reply.json()
            pg.evaluate(ASSESS, text)
            shown = pg.evaluate(COLLECT, "#result")
            assert shown["error"] is None, shown["error"]
            assert pg.get_attribute("#decision", "data-code") == a["decision"]
            check_numbers(shown, {"a": a, "s": state}, expected_sources(a))
            with_rate += any("rate" in act for act in a.get("actions", []))
    # The generator reaches the numbers that matter: advised doses with a pump rate.
    assert with_rate >= 10
    assert problems.all() == []
