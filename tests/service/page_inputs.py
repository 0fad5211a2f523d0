"""Generated inputs for the page-vs-JSON tests: dose-calculator inputs and PatientStates.

Seeded (the same few hundred inputs every run), and weighted toward what the page must write
right: doses and pump rates whose numbers have zeros a formatter can drop (100, 150, 560, 1000,
1050), weights in kg and lb, and times in several UTC offsets.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from vasoguide.state import SHOCK_TYPES

# Inputs whose answers have zeros a formatter can drop: 100, 150, 560, 1000, 1050 (mL/h, mcg/min).
DESIGNED: list[tuple[str, str, tuple[str, str] | None, str | None]] = [
    ("0.5", "ug/kg/min", ("80", "kg"), "16"),  # 40 mcg/min = 150 mL/h
    ("7", "ug/kg/min", ("80", "kg"), "16"),  # 560 mcg/min
    ("0.05", "ug/kg/min", ("80", "kg"), "2.4"),  # 100 mL/h
    ("100", "ug/min", None, "6"),  # 100 mcg/min = 1000 mL/h
    ("560", "ug/min", ("70", "kg"), "32"),  # 1050 mL/h
    ("1050", "ug/min", None, "60"),  # 1050 mcg/min = 1050 mL/h
    ("1000", "ug/min", ("100", "kg"), "100"),  # 10 mcg/kg/min, 600 mL/h
    ("1050", "mL/h", ("80", "kg"), "16"),  # 280 mcg/min
    ("150", "mL/h", ("80", "kg"), "16"),
    ("100", "mL/h", None, "16"),
    ("1000", "mL/h", ("176", "[lb_av]"), "64"),
    ("560", "mL/h", ("50", "kg"), "60"),  # 560 mcg/min
    ("0.1", "ug/kg/min", ("176", "[lb_av]"), "16"),
    ("0.001", "ug/kg/min", ("3.5", "kg"), "4"),
]


def generated_inputs(n: int, seed: int = 20261129) -> list[tuple[str, str, Any, str | None]]:
    rng = random.Random(seed)
    out: list[tuple[str, str, Any, str | None]] = list(DESIGNED)
    for _ in range(n):
        unit = rng.choice(["ug/kg/min", "ug/min", "mL/h"])
        if unit == "ug/kg/min":
            value = 10 ** rng.uniform(-3, 1.2)
        elif unit == "ug/min":
            value = 10 ** rng.uniform(-1, 3.2)
        else:
            value = 10 ** rng.uniform(-1, 3.4)
        value_text = f"{value:.{rng.randint(0, 3)}f}".rstrip("0").rstrip(".") or "0"
        if float(value_text) == 0:
            value_text = "1"
        weight: tuple[str, str] | None = None
        if unit == "ug/kg/min" or rng.random() < 0.6:
            if rng.random() < 0.3:
                weight = (f"{rng.uniform(2, 550):.1f}", "[lb_av]")
            else:
                weight = (f"{rng.uniform(0.5, 250):.{rng.randint(0, 1)}f}", "kg")
        conc: str | None = None
        if unit == "mL/h" or rng.random() < 0.7:
            conc = rng.choice(["4", "8", "16", "32", "64", "100", f"{rng.uniform(1, 200):.1f}"])
        out.append((value_text, unit, weight, conc))
    return out


OFFSETS = ["Z", "+01:00", "-05:00", "+05:30"]


def generated_state(rng: random.Random) -> dict[str, Any]:
    """A hypotensive patient after fluids, most often one the engine gives a dose for."""
    offset = rng.choice(OFFSETS)
    now = datetime.fromisoformat(f"2026-03-01T09:00:00{offset.replace('Z', '+00:00')}")

    def at(minutes_ago: float) -> str:
        return (now - timedelta(minutes=minutes_ago)).isoformat()

    adult = rng.random() < 0.85
    patient: dict[str, Any] = {"age_years": rng.randint(18, 92) if adult else rng.randint(1, 17)}
    if rng.random() < 0.9:
        kg = rng.uniform(45, 150) if adult else rng.uniform(8, 60)
        patient["weight"] = (
            {"value": round(kg / 0.45359237, 1), "unit": "[lb_av]"}
            if rng.random() < 0.3
            else {"value": round(kg, rng.randint(0, 2)), "unit": "kg"}
        )
    arterial = rng.random() < 0.7
    observations = [
        {
            "code": "map",
            "value": rng.randint(38, 80),
            "unit": "mm[Hg]",
            "time": at(m),
            "method": "arterial" if arterial else "noninvasive",
        }
        for m in sorted(
            {rng.randint(1, 8), *rng.sample(range(9, 120), rng.randint(0, 3))}, reverse=True
        )
    ]
    if rng.random() < 0.5:
        observations.append(
            {
                "code": "lactate",
                "value": round(rng.uniform(0.8, 9), 1),
                "unit": "mmol/L",
                "time": at(rng.randint(1, 60)),
            }
        )
    infusions = []
    for i in range(rng.choice([0, 1, 1, 2])):
        unit = rng.choice(["ug/kg/min", "ug/kg/min", "ug/min", "mL/h"])
        value = {
            "ug/kg/min": rng.uniform(0.01, 1.2),
            "ug/min": rng.uniform(1, 60),
            "mL/h": rng.uniform(1, 90),
        }[unit]
        inf: dict[str, Any] = {
            "drug": "norepinephrine",
            "dose": {"value": round(value, rng.randint(1, 3)), "unit": unit},
            "route": rng.choice(["central", "peripheral"]),
            "time": at(90 - 40 * i),
        }
        if unit == "mL/h" or rng.random() < 0.8:
            inf["concentration"] = {"value": rng.choice([4, 8, 16, 32, 64]), "unit": "ug/mL"}
        infusions.append(inf)
    context: dict[str, Any] = {
        "shock_type": rng.choice([*SHOCK_TYPES, "septic", "septic"]),
        "volume_status": rng.choice(["adequate", "unknown", "unknown"]),
    }
    if rng.random() < 0.1:
        context["traumatic_brain_injury"] = True
    return {
        "time": now.isoformat(),
        "patient": patient,
        "context": context,
        "observations": observations,
        "fluids": [
            {
                "type": "crystalloid",
                "volume": {"value": rng.choice([500, 1500, 2500, 3000]), "unit": "mL"},
                "time": at(100),
            }
        ],
        "fluid_responsiveness": [
            {
                "method": "passive_leg_raise",
                "result": rng.choice(["unresponsive", "unresponsive", "responsive"]),
                "time": at(50),
            }
        ],
        "infusions": infusions,
        "lines": {"arterial": arterial, "central_venous": rng.random() < 0.5},
        "events": [{"code": "extravasation", "time": at(10)}] if rng.random() < 0.05 else [],
    }


def expected_sources(a: dict[str, Any]) -> set[str]:
    """Every number of the Assessment the page must show."""
    out: set[str] = set()
    for i, t in enumerate([a.get("target"), *a.get("secondary_targets", [])]):
        if t:
            base = "a:target" if i == 0 else f"a:secondary_targets.{i - 1}"
            out |= {f"{base}.{k}" for k in ("low", "high") if k in t}
    for i, act in enumerate(a.get("actions", [])):
        if "dose" in act:
            out.add(f"a:actions.{i}.dose.value")
            if "rate" in act and "concentration" in act:
                out |= {f"a:actions.{i}.rate.value", f"a:actions.{i}.concentration.value"}
    ne = a.get("norepinephrine") or {}
    if ne.get("running") and "dose" in ne:
        out.add("a:norepinephrine.dose.value")
    for i, inp in enumerate(a.get("inputs", [])):
        if inp["code"] == "weight":
            out.add(f"a:inputs.{i}.value")
    if "crystalloid_ml_per_kg" in (a.get("volume") or {}):
        out.add("a:volume.crystalloid_ml_per_kg")
    return out


def resolve(docs: dict[str, Any], src: str) -> Any:
    """ "a:actions.0.dose.value" -> that number in document "a"."""
    doc, _, path = src.partition(":")
    node = docs[doc]
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def dose_body(value: str, unit: str, weight: Any, conc: str | None) -> dict[str, Any]:
    """The `/dose` request the page sends for these inputs."""
    body: dict[str, Any] = {"value": float(value), "unit": unit}
    if weight:
        body["weight"] = {"value": float(weight[0]), "unit": weight[1]}
    if conc:
        body["concentration_ug_ml"] = float(conc)
    return body
