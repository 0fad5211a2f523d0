#!/usr/bin/env python3
"""Record pint's answers for the units vasoguide meets into src/vasoguide/units_table.json.

The table only spares the start-up cost of pint (about 0.8 s): every entry is pint's own
answer, and tests/test_units.py recomputes each one with pint. Run after changing units, the
knowledge base or the common spellings below:

    python scripts/gen_units_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

from vasoguide import units
from vasoguide.units import Kind

COMMON = {
    Kind.PRESSURE: ["mm[Hg]", "mmHg", "mm Hg", "kPa", "cm[H2O]", "cmH2O"],
    Kind.SUBSTANCE_CONCENTRATION: ["mmol/L", "mmol/l", "mM"],
    Kind.VOLUME: ["mL", "ml", "L", "l", "cc"],
    Kind.DURATION: ["s", "sec", "min"],
    Kind.FRACTION: ["%", "percent", "1", ""],
    Kind.CARDIAC_INDEX: ["L/min/m2", "L/min/m**2", "l/min/m2"],
    Kind.FLOW: ["L/min", "l/min", "mL/min"],
    Kind.FREQUENCY: ["/min", "1/min", "{beats}/min", "bpm"],
    Kind.SCORE: ["{score}", "1", ""],
    Kind.BODY_WEIGHT: ["kg", "g", "[lb_av]", "lb", "lbs"],
    Kind.DRUG_MASS: ["mg", "ug", "mcg", "g"],
    Kind.VOLUME_PER_WEIGHT: ["mL/kg"],
    Kind.URINE_RATE: ["mL/kg/h"],
}
DOSES = [
    "ug/kg/min",
    "mcg/kg/min",
    "µg/kg/min",
    "mg/kg/min",
    "ng/kg/min",
    "ug/kg/h",
    "mcg/kg/hr",
    "mg/kg/h",
    "ug/min",
    "mcg/min",
    "mg/h",
    "mg/hr",
    "ug/h",
    "U/min",
    "U/h",
    "units/min",
    "units/hr",
    "U/hr",
    "mL/h",
    "mL/hr",
    "ml/h",
    "ml/hr",
    "mL/min",
]
CONCENTRATIONS = [
    "ug/mL",
    "mcg/mL",
    "mcg/ml",
    "ug/ml",
    "mg/mL",
    "mg/ml",
    "mg/L",
    "U/mL",
    "units/mL",
    "U/ml",
]


def main() -> None:
    from vasoguide.protocol import load_protocol
    from vasoguide.protocol.examples import check_example

    units._table = {k: ({} if k != "known" else []) for k in units._EMPTY}
    units._factor_index = {}
    units._known = frozenset()
    units._recording = {}
    for kind, spellings in COMMON.items():
        for s in spellings:
            units.factor(s, kind)
            units.is_known_unit(s)
    for s in DOSES:
        units.dose_basis(s)
        units.is_known_unit(s)
    for s in CONCENTRATIONS:
        units.concentration_factor(s)
    protocol = load_protocol()
    for rid, rule in protocol.rules.items():
        for example in rule.examples:
            check_example(protocol, rid, example)
    for path in sorted((Path(units.__file__).parent / "examples").glob("*.json")):
        from vasoguide import assess

        assess(path.read_text(encoding="utf-8"), protocol)
    rec = units._recording
    known = sorted(rec.pop("known_set", set()))
    doc = {
        "generated_by": "scripts/gen_units_table.py (pint's answers, recorded)",
        "factor": dict(sorted(rec.get("factor", {}).items())),
        "dose": dict(sorted(rec.get("dose", {}).items())),
        "concentration": dict(sorted(rec.get("concentration", {}).items())),
        "ratio": dict(sorted(rec.get("ratio", {}).items())),
        "known": known,
    }
    out = units._TABLE_PATH
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"wrote {out}: " + ", ".join(f"{k} {len(v)}" for k, v in doc.items() if k != "generated_by")
    )


if __name__ == "__main__":
    main()
