"""FHIR care data -> PatientState: fluids and blood, tests, lines, bleeding, events, routes, and
local codes through a site mapping file; what cannot be used is reported with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from vasoguide.interop import codes as codes_module
from vasoguide.interop import map_resources
from vasoguide.interop.codes import load_tables
from vasoguide.interop.prefetch import templates

from .care_data import (
    coded_observation,
    device,
    fluid,
    infusion,
    observation,
    patient,
    plr,
    procedure,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def mapped(*resources: dict[str, Any], **kwargs: Any) -> Any:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in (patient(), *resources)]}
    return map_resources(bundle, now=NOW, **kwargs)


def test_fluid_volume_from_dose_and_from_rate_times_duration() -> None:
    m = mapped(fluid("a", "fluid-crystalloid", NOW - timedelta(hours=2), ml=1000),
               fluid("b", "fluid-albumin", NOW - timedelta(hours=1), rate_ml_h=100, hours=2.5))
    got = {(f.type, f.volume.value if f.volume else None) for f in m.state.fluids}
    assert got == {("crystalloid", 1000.0), ("albumin", 250.0)}
    (b,) = [f for f in m.state.fluids if f.type == "albumin"]
    assert b.time == NOW - timedelta(hours=1)  # given by the end of its period


def test_running_fluid_counts_up_to_now_and_not_beyond() -> None:
    running = fluid("r", "fluid-crystalloid", NOW, rate_ml_h=600, hours=0.5,
                    status="in-progress")
    (f,) = mapped(running).state.fluids
    assert f.volume is not None and f.volume.value == pytest.approx(300)
    assert f.time == NOW


def test_blood_products_from_administration_and_procedure() -> None:
    m = mapped(fluid("rbc", "blood-red-cells", NOW - timedelta(hours=1), ml=300),
               procedure("tx", "116863004", NOW - timedelta(minutes=30),
                         system="http://snomed.info/sct"))
    kinds = sorted((f.type, f.units or 0) for f in m.state.fluids)
    assert kinds == [("red_cells", 0), ("red_cells", 1)]
    assert any("counts one unit" in line for line in m.report.lines())


def test_fluid_without_volume_or_in_error_is_reported() -> None:
    m = mapped(fluid("novol", "fluid-crystalloid", NOW, rate_ml_h=None),
               fluid("err", "fluid-crystalloid", NOW, ml=500, status="entered-in-error"))
    assert m.state.fluids == []
    lines = "\n".join(m.report.lines())
    assert "MedicationAdministration/novol" in lines and "no volume" in lines
    assert "MedicationAdministration/err" in lines and "entered-in-error" in lines


def test_leg_raise_bleeding_and_extravasation() -> None:
    m = mapped(plr(NOW - timedelta(minutes=10), "responsive"),
               coded_observation("b1", "bleeding-controlled", NOW - timedelta(hours=2),
                                 valueBoolean=False),
               coded_observation("b2", "bleeding-controlled", NOW - timedelta(hours=1),
                                 valueBoolean=True),
               coded_observation("x", "extravasation", NOW - timedelta(minutes=3)))
    (t,) = m.state.fluid_responsiveness
    assert (t.method, t.result) == ("passive_leg_raise", "responsive")
    assert m.state.context.bleeding_controlled is True  # the latest charting wins
    assert [e.code for e in m.state.events] == ["extravasation"]


def test_uncoded_test_result_is_reported() -> None:
    m = mapped(plr(NOW, "maybe"))
    assert m.state.fluid_responsiveness == []
    assert any("Observation/plr" in line and "result" in line for line in m.report.lines())


def test_lines_from_devices_and_from_invasive_pressure() -> None:
    m = mapped(device("cvc", "central-venous-catheter"))
    assert m.state.lines.central_venous is True and m.state.lines.arterial is None
    m = mapped(device("cvc", "central-venous-catheter", status="inactive"),
               observation("map", "76214-6", 70, "mm[Hg]", NOW))
    assert m.state.lines.central_venous is False and m.state.lines.arterial is True


def test_infusion_route_rate_and_concentration() -> None:
    m = mapped(infusion("ne", "7512", NOW - timedelta(hours=1), (0.1, "ug/kg/min"),
                        route="peripheral-venous", strength_ug_ml=16),
               infusion("vp", "11149", NOW - timedelta(hours=2), (0.03, "U/min"),
                        end=NOW - timedelta(hours=1)))
    ne = [i for i in m.state.infusions if i.drug == "norepinephrine"]
    assert [(i.dose.value, i.route, i.concentration.value if i.concentration else None)
            for i in ne] == [(0.1, "peripheral", 16.0)]
    vaso = sorted((i.time, i.dose.value) for i in m.state.infusions if i.drug == "vasopressin")
    assert [v for _, v in vaso] == [0.03, 0]  # stopped at the end of its period


def test_unmapped_local_codes_are_reported_then_mapped_by_a_site_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = "https://ehr.example.org/codes"
    ns = fluid("ns", "NS-1000", NOW - timedelta(hours=1), ml=1000, system=local)
    leg = coded_observation("leg", "PLR", NOW, valueCodeableConcept={"coding": [
        {"system": "urn:vasoguide:concept", "code": "unresponsive"}]})
    leg["code"]["coding"][0]["system"] = local
    m = mapped(ns, leg)
    assert m.state.fluids == [] and m.state.fluid_responsiveness == []
    lines = "\n".join(m.report.lines())
    assert "MedicationAdministration/ns" in lines and "Observation/leg" in lines

    site = {"systems": {"ehr": local},
            "fluids": [{"system": "ehr", "code": "NS-1000", "fluid": "crystalloid"}],
            "care_observations": [{"system": "ehr", "code": "PLR", "test": "passive_leg_raise"}]}
    path = tmp_path / "site-codes.yaml"
    path.write_text(yaml.safe_dump(site))
    monkeypatch.setenv(codes_module.SITE_CODES_ENV, str(path))
    codes_module.tables.cache_clear()
    try:
        tables = codes_module.tables()
        m = mapped(ns, leg, tables=tables)
        assert [f.type for f in m.state.fluids] == ["crystalloid"]
        assert [t.method for t in m.state.fluid_responsiveness] == ["passive_leg_raise"]
        # the prefetch asks for the site's codes too
        assert f"{local}|PLR" in templates(tables)["observations"]
    finally:
        codes_module.tables.cache_clear()


def test_site_file_cannot_redefine_a_packaged_code() -> None:
    data = yaml.safe_load(
        (Path(codes_module.__file__).parent / "codes.yaml").read_text(encoding="utf-8"))
    clash = {"fluids": [{"system": "vasoguide", "code": "fluid-crystalloid", "fluid": "plasma"}]}
    with pytest.raises(ValueError, match="duplicate"):
        load_tables(data, clash)


def test_templates_ask_for_the_care_resources() -> None:
    t = templates(codes_module.tables())
    assert "urn:vasoguide:concept|passive-leg-raise" in t["observations"]
    assert t["procedures"].startswith("Procedure?patient=")
    assert t["devices"].startswith("Device?patient=")


def test_a_refused_infusion_is_reported_and_the_rest_used() -> None:
    # vasopressin in ug/min is refused by the contract: the state is re-validated item by item
    m = mapped(infusion("vp", "11149", NOW - timedelta(hours=1), (2, "ug/min")),
               infusion("ne", "7512", NOW - timedelta(hours=1), (0.1, "ug/kg/min")),
               fluid("a", "fluid-crystalloid", NOW - timedelta(hours=2), ml=1000),
               plr(NOW - timedelta(minutes=10)))
    assert [i.drug for i in m.state.infusions] == ["norepinephrine"]
    assert len(m.state.fluids) == 1 and len(m.state.fluid_responsiveness) == 1
    lines = [x for x in m.report.lines() if "MedicationAdministration/vp" in x]
    assert len(lines) == 1 and "U/min" in lines[0]
