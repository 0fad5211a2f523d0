"""The numbers the page writes are already at display precision in the service's JSON.

The page never rounds (docs/DISPLAY.md): it writes each JSON number as it is. So the JSON the
page reads, from `/dose` and `/assess`, must carry each number rounded to the precision of its
unit (`display.PRECISION`). Same generated inputs as the browser tests, no browser needed.
"""

from __future__ import annotations

import json
import random
from typing import Any

from vasoguide.display import rounded

from .conftest import AppClient
from .page_inputs import dose_body, expected_sources, generated_inputs, generated_state, resolve

DOSE_UNITS = {
    "ug_kg_min": "ug/kg/min",
    "ug_min": "ug/min",
    "ml_h": "mL/h",
    "weight_kg": "kg",
    "concentration_ug_ml": "ug/mL",
}

def unit_of(a: dict[str, Any], src: str) -> str:
    """The unit of the number at `src` in an Assessment."""
    path = src.removeprefix("a:")
    if path.startswith("volume.crystalloid_ml_per_kg"):
        return "mL/kg"
    if path.endswith(".value"):  # a quantity {value, unit} or an input {code, value, unit}
        unit: str = resolve({"a": a}, "a:" + path.removesuffix(".value") + ".unit")
        return unit
    parent = resolve({"a": a}, "a:" + path.rsplit(".", 1)[0])  # a target's low/high
    return str(parent.get("unit", "mm[Hg]"))


def off_precision(doc: dict[str, Any], numbers: dict[str, tuple[float, str]]) -> list[str]:
    return [
        f"{src} = {value!r} {unit} (shown rounded: {rounded(value, unit)!r})"
        for src, (value, unit) in numbers.items()
        if rounded(value, unit) != value
    ]


def test_dose_json_is_at_display_precision(client: AppClient) -> None:
    problems = []
    for value, unit, weight, conc in generated_inputs(300):
        reply = client.post("/dose", json=dose_body(value, unit, weight, conc))
        assert reply.status_code == 200, reply.text
        d = reply.json()
        numbers = {k: (d[k], u) for k, u in DOSE_UNITS.items() if d[k] is not None}
        problems += off_precision(d, numbers)
    assert problems == []


def test_assessment_numbers_the_page_shows_are_at_display_precision(client: AppClient) -> None:
    rng = random.Random(1129)
    problems = []
    for _ in range(100):
        reply = client.post(
            "/assess",
            content=json.dumps(generated_state(rng)),
            headers={"Content-Type": "application/json"},
        )
        assert reply.status_code == 200, reply.text
        a = reply.json()
        numbers = {src: (resolve({"a": a}, src), unit_of(a, src)) for src in expected_sources(a)}
        problems += off_precision(a, numbers)
    assert problems == []
