"""CDS Hooks JWT authentication: what passes, and every way a token must fail (401, no detail)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from vasoguide.service.app import create_app
from vasoguide.service.settings import Issuer, Settings

from .conftest import AppClient, hook_request, prefetch_from, sample_resources

BASE = "http://127.0.0.1:8000"
ISS = "https://ehr.example.test"
JKU = "https://ehr.example.test/.well-known/jwks.json"
SERVICE = "/cds-services/vasoguide-norepinephrine"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())
OTHER_EC_KEY = ec.generate_private_key(ec.SECP384R1())


def jwk(key: Any, kid: str) -> dict[str, Any]:
    algo = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    data: dict[str, Any] = json.loads(algo.to_jwk(key.public_key()))
    data["kid"] = kid
    return data


def token(
    aud: str = BASE + SERVICE,
    *,
    key: Any = RSA_KEY,
    alg: str = "RS384",
    kid: str = "rsa-1",
    claims: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISS,
        "aud": aud,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sub": "ehr-client",
        "nbf": now - 300,
    }
    payload.update(claims or {})
    for name in drop:
        payload.pop(name)
    return jwt.encode(
        payload, key, algorithm=alg, headers={"kid": kid, "typ": "JWT", **(headers or {})}
    )


@pytest.fixture
def jwks_requests() -> list[httpx.Request]:
    return []


@pytest.fixture
def secure(tmp_path: Path, jwks_requests: list[httpx.Request]) -> AppClient:
    inline = {"keys": [jwk(RSA_KEY, "rsa-1")]}

    def serve_jwks(request: httpx.Request) -> httpx.Response:
        jwks_requests.append(request)
        return httpx.Response(200, json={"keys": [jwk(EC_KEY, "ec-1")]})

    settings = Settings(
        host="0.0.0.0",  # auth "auto" must turn JWT on off loopback
        public_url=BASE,
        database_url=f"sqlite:///{tmp_path / 't.sqlite'}",
        issuers=[Issuer(iss=ISS, jwks=inline, jku_allowed=[JKU])],
    )
    assert settings.auth_enabled
    return AppClient(create_app(settings, transport=httpx.MockTransport(serve_jwks)))


def call(client: AppClient, tok: str | None, path: str = SERVICE) -> httpx.Response:
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    if path == "/cds-services":
        return client.get(path, headers=headers)
    body = hook_request("patient-view", prefetch=prefetch_from(sample_resources()))
    return client.post(path, json=body, headers=headers)


def test_valid_rs384_token_passes(secure: AppClient) -> None:
    assert call(secure, token()).status_code == 200
    assert call(secure, token(BASE + "/cds-services"), "/cds-services").status_code == 200


def test_es384_key_from_allow_listed_jku(
    secure: AppClient, jwks_requests: list[httpx.Request]
) -> None:
    tok = token(key=EC_KEY, alg="ES384", kid="ec-1", headers={"jku": JKU})
    assert call(secure, tok).status_code == 200
    assert (
        call(secure, token(key=EC_KEY, alg="ES384", kid="ec-1", headers={"jku": JKU})).status_code
        == 200
    )
    assert len(jwks_requests) == 1  # keys are cached


def _hs256() -> str:
    return jwt.encode(
        {
            "iss": ISS,
            "aud": BASE + SERVICE,
            "exp": int(time.time()) + 60,
            "iat": int(time.time()),
            "jti": "x",
        },
        "a-shared-secret-of-32-bytes-long!",
        algorithm="HS256",
        headers={"kid": "rsa-1"},
    )


def _none_alg() -> str:
    now = int(time.time())
    return jwt.encode(
        {"iss": ISS, "aud": BASE + SERVICE, "exp": now + 60, "iat": now, "jti": "n"},
        None,
        algorithm="none",
        headers={"kid": "rsa-1"},
    )


BAD: dict[str, Callable[[], str | None]] = {
    "no token": lambda: None,
    "garbage": lambda: "not.a.jwt",
    "alg none": _none_alg,
    "HS256": _hs256,
    "RS256 not allowed": lambda: token(alg="RS256"),
    "wrong audience path": lambda: token(BASE + "/cds-services"),
    "audience prefix only": lambda: token(BASE),
    "expired": lambda: token(claims={"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}),
    "not yet valid": lambda: token(claims={"nbf": int(time.time()) + 600}),
    "unknown issuer": lambda: token(claims={"iss": "https://evil.example"}),
    "unknown kid": lambda: token(kid="rsa-2"),
    "signed by another key": lambda: token(
        key=OTHER_EC_KEY, alg="ES384", kid="ec-1", headers={"jku": JKU}
    ),
    "jku not allow-listed": lambda: token(
        key=EC_KEY, alg="ES384", kid="ec-1", headers={"jku": "https://evil.example/jwks"}
    ),
    "no jti": lambda: token(drop=("jti",)),
    "no iat": lambda: token(drop=("iat",)),
    "lifetime too long": lambda: token(claims={"exp": int(time.time()) + 7200}),
    "alg/key mismatch": lambda: token(key=EC_KEY, alg="ES384", kid="rsa-1"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tokens_get_a_bare_401(secure: AppClient, case: str) -> None:
    response = call(secure, BAD[case]())
    assert response.status_code == 401
    assert response.content == b""


def test_replayed_jti_is_refused(secure: AppClient) -> None:
    tok = token()
    assert call(secure, tok).status_code == 200
    assert call(secure, tok).status_code == 401


def test_feedback_and_assess_need_a_token(secure: AppClient) -> None:
    assert secure.post(SERVICE + "/feedback", json={"feedback": []}).status_code == 401
    assert secure.post("/assess", json={}).status_code == 401
    ok = secure.post(
        "/assess", json={}, headers={"Authorization": f"Bearer {token(BASE + '/assess')}"}
    )
    assert ok.status_code == 422  # authenticated, then validated


def test_public_paths_need_no_token(secure: AppClient) -> None:
    assert secure.get("/healthz").status_code == 200
    assert secure.get("/openapi.json").status_code == 200
    assert secure.get("/").status_code == 200


def test_token_never_logged(secure: AppClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    tok = token(BASE + "/wrong")
    assert call(secure, tok).status_code == 401
    assert tok not in caplog.text and tok.split(".")[1] not in caplog.text


def test_off_loopback_without_issuers_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(host="10.1.2.3", database_url=f"sqlite:///{tmp_path / 't.sqlite'}")
    with pytest.raises(ValueError, match="no trusted issuer"):
        create_app(settings)


OTHER = "http://other-service.example"


@pytest.mark.parametrize(
    "spoof",
    [
        {"Host": "other-service.example"},
        {"X-Forwarded-Host": "other-service.example", "X-Forwarded-Proto": "http"},
        {"Forwarded": "host=other-service.example;proto=http"},
    ],
)
def test_audience_never_follows_host_or_forwarded_headers(
    secure: AppClient, spoof: dict[str, str]
) -> None:
    """A token the trusted issuer minted for another service, replayed here with that service's
    Host (or proxy headers), is refused: the expected `aud` is `public_url` + path only."""
    foreign = token(OTHER + SERVICE)
    body = hook_request("patient-view", prefetch=prefetch_from(sample_resources()))
    headers = {"Authorization": f"Bearer {foreign}", **spoof}
    assert secure.post(SERVICE, json=body, headers=headers).status_code == 401
    # The token for this service still passes whatever Host the client sends.
    mine = {"Authorization": f"Bearer {token()}", **spoof}
    assert secure.post(SERVICE, json=body, headers=mine).status_code == 200


def test_foreign_host_via_base_url_is_refused(tmp_path: Path) -> None:
    """The same attack through the client's own base URL (the Host it connects to)."""
    settings = Settings(
        host="0.0.0.0", public_url=BASE, database_url=f"sqlite:///{tmp_path / 't.sqlite'}",
        issuers=[Issuer(iss=ISS, jwks={"keys": [jwk(RSA_KEY, "rsa-1")]})],
    )
    client = AppClient(create_app(settings), base_url=OTHER)
    try:
        assert call(client, token(OTHER + SERVICE)).status_code == 401
        assert call(client, token(BASE + SERVICE)).status_code == 200
    finally:
        client.close()


@pytest.mark.parametrize("auth", ["auto", "jwt"])
def test_jwt_mode_refuses_to_start_without_public_url(tmp_path: Path, auth: str) -> None:
    settings = Settings.model_validate({
        "host": "10.1.2.3", "auth": auth, "database_url": f"sqlite:///{tmp_path / 't.sqlite'}",
        "issuers": [{"iss": ISS, "jwks": {"keys": [jwk(RSA_KEY, "rsa-1")]}}],
    })
    with pytest.raises(ValueError, match="public_url"):
        create_app(settings)


@pytest.mark.parametrize("url", ["cds.example.org", "ftp://cds.example.org", "https://x/?a=1"])
def test_public_url_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        Settings(auth="none", public_url=url).check()


def test_loopback_default_is_open(tmp_path: Path) -> None:
    assert not Settings(host="127.0.0.1").auth_enabled
    assert not Settings(host="::1").auth_enabled
    assert Settings(host="127.0.0.1", auth="jwt").auth_enabled


def test_a_jti_replayed_on_another_worker_is_refused(tmp_path: Path) -> None:
    """Two workers (two apps, as two uvicorn processes would build) on one trail database."""
    settings = Settings(
        host="0.0.0.0",
        public_url=BASE,
        database_url=f"sqlite:///{tmp_path / 'shared.sqlite'}",
        issuers=[Issuer(iss=ISS, jwks={"keys": [jwk(RSA_KEY, "rsa-1")]})],
    )
    first, second = AppClient(create_app(settings)), AppClient(create_app(settings))
    tok = token()
    assert call(first, tok).status_code == 200
    assert call(second, tok).status_code == 401
    assert call(first, tok).status_code == 401
    assert call(second, token()).status_code == 200  # a fresh jti passes on either
    first.close()
    second.close()


def test_shared_replay_cache_forgets_expired_tokens(tmp_path: Path) -> None:
    from vasoguide.service.security import SharedReplayCache
    from vasoguide.service.trail import Trail

    trail = Trail(f"sqlite:///{tmp_path / 'jti.sqlite'}")
    clock = [1000.0]
    a, b = SharedReplayCache(trail, lambda: clock[0]), SharedReplayCache(trail, lambda: clock[0])
    assert a.first_use(ISS, "j1", 1100.0)
    assert not b.first_use(ISS, "j1", 1100.0)
    assert b.first_use("https://other.example.test", "j1", 1100.0)  # per issuer
    clock[0] = 1200.0  # expired: the id may be used by a new token
    assert b.first_use(ISS, "j1", 1300.0)
    assert not a.first_use(ISS, "j1", 1300.0)
    trail.close()
