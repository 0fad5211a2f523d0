"""The bedside page in a real headless Chromium (Debian's `chromium`, driven by Playwright).

Setup: `scripts/install-browser.sh` (apt-get chromium, pip playwright). Skipped, with the reason,
when either is missing. The app runs in uvicorn on 127.0.0.1 in a background thread.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from vasoguide.service.app import create_app
from vasoguide.service.settings import Settings

from .conftest import SAMPLE

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "Debian chromium is not installed: run scripts/install-browser.sh", allow_module_level=True
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: run scripts/install-browser.sh"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("e2e") / "trail.sqlite"
    app = create_app(Settings(database_url=f"sqlite:///{db}", auth="none"))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(base_url + "/")
    pg.wait_for_selector("body[data-ready='1']")
    yield pg
    context.close()
    assert errors == [], errors


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
    assert page.text_content("#target").startswith("Target MAP")
    assert page.locator("#actions li").count() == len(expected["actions"])
    for action in expected["actions"]:
        if action.get("dose") and action.get("rate"):
            assert "mL/h" in page.text_content("#actions")
    # the chart: three MAP points, a target line at the Assessment's target
    assert page.locator("#chart circle.mappt").count() == 3
    heights = [
        float(page.locator("#chart circle.mappt").nth(i).get_attribute("cy") or "nan")
        for i in range(3)
    ]
    assert heights[0] < heights[1] < heights[2]  # 63, 60, 58 mmHg: falling, drawn lower
    target = page.get_attribute("#chart line.tgt", "data-value")
    assert float(target or "nan") == expected["target"]["low"]
    page.click("#evidence summary")
    assert page.locator("#basis li").count() == len(expected["basis"])


def test_chart_shows_the_norepinephrine_dose(page: Any) -> None:
    page.click("#example")
    page.fill("#f-ne", "0.1")
    page.click("#assess")
    page.wait_for_selector("#decision[data-code]")
    assert page.locator("#chart path.ne").count() == 1
    assert "0.1 mcg/kg/min" in page.text_content("#chart")


def test_dose_calculator_matches_the_dosing_module(page: Any) -> None:
    page.fill("#c-weight", "80")
    page.fill("#c-conc", "16")
    page.select_option("#c-unit", "ug/kg/min")
    page.fill("#c-value", "0.1")
    page.wait_for_function("document.getElementById('c-out').dataset.mlh")
    assert float(page.get_attribute("#c-out", "data-mlh") or "nan") == pytest.approx(30.0)
    assert "8 mcg/min" in page.text_content("#c-out")


def test_fhir_bundle_file_is_mapped_and_unused_data_listed(page: Any) -> None:
    page.click("#tab-paste")
    page.set_input_files("#file", str(SAMPLE))
    page.wait_for_function("document.getElementById('paste').value.includes('Bundle')")
    page.click("#assess")
    page.wait_for_selector("#decision[data-code]")
    assert page.is_visible("#notused")
    page.click("#notused summary")
    assert "Observation/map-other: about another patient" in page.text_content("#notused-list")


def test_invalid_input_names_the_field(page: Any) -> None:
    page.click("#tab-paste")
    page.fill(
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
    page.click("#assess")
    page.wait_for_selector("#error:not([hidden])")
    assert "observations[0]" in page.text_content("#error")


def test_usable_on_a_tablet(browser: Any, base_url: str) -> None:
    context = browser.new_context(
        viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True
    )
    pg = context.new_page()
    pg.goto(base_url + "/")
    pg.wait_for_selector("body[data-ready='1']")
    started = time.monotonic()
    run_example(pg)
    assert time.monotonic() - started < 5
    overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    box = pg.locator("#assess").bounding_box()
    assert box is not None and box["height"] >= 40  # a finger-sized target
    context.close()
