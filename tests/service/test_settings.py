"""Settings: embedded defaults < file < environment < flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from vasoguide.service.settings import Settings, load_settings


def test_defaults_are_local_and_open(tmp_path: Path) -> None:
    s = load_settings(env={"XDG_DATA_HOME": str(tmp_path)})
    assert (s.host, s.port, s.auth_enabled) == ("127.0.0.1", 8000, False)
    assert s.database_url == f"sqlite:///{tmp_path / 'vasoguide' / 'trail.sqlite'}"


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text('host = "0.0.0.0"\nport = 9000\n[[issuers]]\niss = "https://a"\n'
                    'jwks_url = "https://a/jwks"\n')
    issuers = json.dumps([{"iss": "https://b", "jwks_url": "https://b/jwks"}])
    s = load_settings(path, env={"VASOGUIDE_PORT": "9100", "VASOGUIDE_ISSUERS": issuers},
                      port=9200)
    assert s.host == "0.0.0.0" and s.port == 9200 and s.auth_enabled
    assert [i.iss for i in s.issuers] == ["https://b"]
    via_env = load_settings(env={"VASOGUIDE_SETTINGS": str(path)})
    assert via_env.port == 9000 and via_env.issuers[0].iss == "https://a"


def test_unknown_or_invalid_settings_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("prot: 1\n")
    with pytest.raises(ValidationError):
        load_settings(path, env={})
    with pytest.raises(ValidationError):
        load_settings(env={"VASOGUIDE_AUTH": "maybe"})
    with pytest.raises(ValidationError, match="jwks_url, jwks or jku_allowed"):
        load_settings(env={"VASOGUIDE_ISSUERS": json.dumps([{"iss": "https://x"}])})


def test_server_keep_alive_outlasts_client_pools() -> None:
    """Issue 10, defect 7: with uvicorn's keep-alive equal to httpx's pool expiry (5 s each),
    a client reused a connection just as the server closed it: a reset under load
    (benchmarks/soak_service.py probes the race). The server must keep idle connections longer
    than common clients do, so the client always closes first."""
    import httpx

    from vasoguide.service.app import create_app
    from vasoguide.service.server import config

    settings = Settings(auth="none", database_url="sqlite:///:memory:")
    served = config(create_app(settings), settings)
    assert served.timeout_keep_alive > httpx.Limits().keepalive_expiry
