"""The package's public face is short, sorted and deliberate."""

from __future__ import annotations

import vasoguide


def test_public_api_is_exactly_this() -> None:
    assert vasoguide.__all__ == [
        "Assessment",
        "DoseError",
        "InputError",
        "PatientState",
        "Protocol",
        "ProtocolError",
        "UnitError",
        "VasoguideError",
        "__version__",
        "assess",
        "load_protocol",
        "parse_state",
    ]
    assert vasoguide.__all__ == sorted(vasoguide.__all__)
    for name in vasoguide.__all__:
        assert hasattr(vasoguide, name)


def test_assess_accepts_a_mapping_and_uses_the_default_protocol() -> None:
    a = vasoguide.assess({"time": "2026-03-01T08:00:00Z", "context": {"shock_type": "septic"}})
    assert a.decision == "INSUFFICIENT_DATA"
    assert a.protocol.name == vasoguide.load_protocol().name
