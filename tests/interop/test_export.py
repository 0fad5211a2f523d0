"""`vasoguide export`: every exported resource is valid FHIR R4 by an independent model set
(fhirclient's R4 4.0.1 models, strict), nothing is known before its time, and the FHIR reader
gives the engine the same answer as the in-process replay."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vasoguide.cli import _protocol
from vasoguide.engine import assess
from vasoguide.interop import map_resources
from vasoguide.interop.codes import tables
from vasoguide.interop.export import (
    Exported,
    bundle_of,
    export_stay,
    patient_id_of,
    prefetch_at,
)
from vasoguide.interop.lookback import engine_lookback
from vasoguide.interop.prefetch import templates
from vasoguide.state import parse_state

fhirclient = pytest.importorskip("fhirclient.models.bundle")
from vasoguide.timeline.replay import (  # noqa: E402 - after the skip: needs the data extra
    StayEvents,
    default_concentration,
    lookback,
    pressure_lookback,
    state_at,
)

T0 = datetime(2150, 1, 1, 6, 0, tzinfo=UTC)
# R4 primitive formats (https://hl7.org/fhir/R4/datatypes.html), which the models do not check.
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_DATETIME = re.compile(r"^([0-9]{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3])"
                       r":[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]"
                       r"|14:00)))?)?)?$")


def row(code: str, minutes: float, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"time": T0 + timedelta(minutes=minutes), "code": code, "numeric_value": value,
            "unit": unit, "quality": None, **extra}


def synthetic_stay() -> StayEvents:
    """A septic-looking stay: cuff then arterial MAP, lactate, urine, fluids, NE in mL/h
    (no concentration charted), then in ug/kg/min, stopped; vasopressin added."""
    rows = [row("weight", 0, 82, "kg"), row("weight", 0, 81.98, "kg"),
            row("lactate", 20, 4.2, "mmol/L"), row("lactate", 200, 2.9, "mmol/L")]
    for i, m in enumerate([60, 58, 57, 62, 66, 70, 71, 69, 72, 74]):
        method = "noninvasive" if i < 3 else "arterial"
        rows.append(row("map", 15 + 30 * i, m, "mm[Hg]", method=method))
        rows.append(row("sbp", 15 + 30 * i, m + 35, "mm[Hg]", method=method))
    rows += [row("urine_output", 60 * h, 25, "mL") for h in range(1, 6)]
    rows += [row("fluid.crystalloid", 10, 1000, "mL"), row("fluid.crystalloid", 70, 1500, "mL"),
             row("fluid.albumin", 100, 250, "mL")]
    rows += [row("infusion.norepinephrine", 100, 15, "mL/h", action="start"),
             row("infusion.norepinephrine", 160, 0.15, "ug/kg/min", action="change"),
             row("infusion.norepinephrine", 250, 0, "ug/kg/min", action="stop"),
             row("infusion.vasopressin", 190, 0.03, "U/min", action="start")]
    stay = {"stay_id": 7, "admission": T0, "discharge": T0 + timedelta(hours=8),
            "trauma": False, "age_years": 63.4}
    return StayEvents.from_rows(stay, rows)


def validate_r4(resource: dict[str, Any]) -> None:
    """Strict fhirclient R4 models (types, cardinality, unknown elements) plus id/dateTime."""
    from fhirclient.models.fhirelementfactory import FHIRElementFactory

    model = FHIRElementFactory.instantiate(resource["resourceType"], None)
    type(model)(resource, strict=True)  # raises FHIRValidationError

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif key == "id":
            assert _ID.match(value), value
        elif key in ("effectiveDateTime", "start", "end", "timestamp", "birthDate"):
            assert _DATETIME.match(value), (key, value)

    walk(resource)


@pytest.fixture(scope="module")
def protocol() -> Any:
    return _protocol(None, None)


@pytest.fixture(scope="module")
def exported(protocol: Any) -> list[Exported]:
    return export_stay(synthetic_stay(), dataset="synthetic",
                       default_concentration_ug_ml=default_concentration(protocol))


def test_every_exported_resource_and_bundle_is_valid_r4(exported: list[Exported]) -> None:
    kinds = set()
    for e in exported:
        validate_r4(e.resource)
        kinds.add(e.resource["resourceType"])
    assert kinds == {"Patient", "Observation", "MedicationAdministration"}
    validate_r4(bundle_of(exported))
    validate_r4(bundle_of(exported, T0 + timedelta(hours=3)))


def test_the_validator_can_fail(exported: list[Exported]) -> None:
    from fhirclient.models.fhirabstractbase import FHIRValidationError

    bad = json.loads(json.dumps(exported[1].resource))
    bad["valueQuantity"]["value"] = "58"
    with pytest.raises(FHIRValidationError):
        validate_r4(bad)


def test_nothing_is_known_before_its_time(exported: list[Exported]) -> None:
    keys = templates(tables())
    for minutes in (0, 101, 159, 161, 251, 480):
        t = T0 + timedelta(minutes=minutes)
        for key, value in prefetch_at(exported, t, keys).items():
            entries = [] if key == "patient" else value.get("entry", [])
            for entry in entries:
                text = json.dumps(entry["resource"])
                for stamp in re.findall(r"\d{4}-\d\d-\d\dT[\d:]+Z", text):
                    assert datetime.fromisoformat(stamp) <= t, (key, stamp, t)
    running = prefetch_at(exported, T0 + timedelta(minutes=120), keys)
    states = {e["resource"]["id"]: e["resource"]["status"]
              for e in running["medicationadministrations"]["entry"]}
    assert states["norepinephrine-0"] == "in-progress"
    later = prefetch_at(exported, T0 + timedelta(minutes=170), keys)
    states = {e["resource"]["id"]: e["resource"]["status"]
              for e in later["medicationadministrations"]["entry"]}
    assert states == {"norepinephrine-0": "completed", "norepinephrine-1": "in-progress",
                      "crystalloid-0": "completed", "crystalloid-1": "completed",
                      "albumin-0": "completed"}


def test_fhir_reader_gives_the_replays_answer(exported: list[Exported], protocol: Any) -> None:
    stay = synthetic_stay()
    conc = default_concentration(protocol)
    pid = patient_id_of("synthetic", 7)
    seen = set()
    for minutes in range(15, 300, 30):
        t = T0 + timedelta(minutes=minutes)
        replay = assess(parse_state(state_at(stay, t, lookback(protocol), conc, None,
                                             pressure_lookback(protocol))), protocol)
        mapped = map_resources(bundle_of(exported, t), now=t, patient_id=pid,
                               lookback=engine_lookback(protocol))
        served = assess(mapped.state, protocol)
        assert (served.decision, served.target, served.actions) == (
            replay.decision, replay.target, replay.actions), t
        seen.add(replay.decision)
    assert len(seen) >= 3  # the stay goes through several decisions


def test_export_command_writes_valid_bundles(tmp_path: Path) -> None:
    from vasoguide.cli import _register_extensions, app

    _register_extensions(["vasoguide", "export"])
    args = ["export", "--dataset", "demo", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--stay", "29279905", "--stay", "29842315"])
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("clif-demo-stay-*.fhir.json"))
    assert len(files) == 2
    for path in files:
        validate_r4(json.loads(path.read_text()))
    result = CliRunner().invoke(app, [*args, "--stay", "1"])
    assert result.exit_code == 2 and "no stay 1" in result.output
