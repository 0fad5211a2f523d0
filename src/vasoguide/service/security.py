"""CDS Hooks client authentication: a JWT signed by an allow-listed issuer, checked strictly.

Checked (CDS Hooks 2.0 "Trusting CDS Clients" and best practices): `alg` is RS384 or ES384 (never
`none`, never HMAC); `typ` is JWT and `kid` is present; `iss` is allow-listed and the key comes
from that issuer's JWKS (its configured URL or inline set, or a `jku` on its allow-list); `aud`
is exactly the URL being called; `exp`, `iat` and `jti` are present, the token is not expired
and lives no longer than the configured maximum; a `jti` is accepted once. Extra claims (`nbf`,
`sub`, Epic) are tolerated; `nbf` is enforced when present. Any failure is a bare 401: the
reason goes to a debug log line without the token, and never to the client.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import httpx
import jwt
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWTError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .settings import Issuer, Settings

__all__ = [
    "ALGORITHMS", "AuthError", "Authenticate", "JwksCache", "ReplayCache", "SharedReplayCache",
    "Verifier",
]

ALGORITHMS = ("RS384", "ES384")
_KEY_TYPES = {"RS384": "RSA", "ES384": "EC"}  # an RSA JWK without `alg` reads as RS256: by type
log = logging.getLogger("vasoguide.service.security")


class AuthError(Exception):
    """Authentication failed; the message is for the debug log only, never the client."""


class ReplayCache:
    """Remembers each (iss, jti) until its token expires; bounded so it cannot grow unchecked."""

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._max = max_entries
        self._clock = clock

    def first_use(self, iss: str, jti: str, exp: float) -> bool:
        now = self._clock()
        with self._lock:
            if len(self._seen) >= self._max:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                if len(self._seen) >= self._max:
                    return False  # full of live tokens: refuse rather than forget one
            key = (iss, jti)
            if key in self._seen and self._seen[key] > now:
                return False
            self._seen[key] = exp
            return True


class SharedReplayCache:
    """The replay cache kept in the trail database, so that several workers (processes) on
    one database accept each `jti` once between them."""

    def __init__(self, store: _JtiStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def first_use(self, iss: str, jti: str, exp: float) -> bool:
        return self._store.first_use(iss, jti, exp, self._clock())


class _JtiStore(Protocol):
    def first_use(self, iss: str, jti: str, exp: float, now: float) -> bool: ...


class _Replay(Protocol):
    def first_use(self, iss: str, jti: str, exp: float) -> bool: ...


@dataclass
class _Keys:
    keys: dict[str, PyJWK] = field(default_factory=dict)
    fetched: float = 0.0


class JwksCache:
    """Public keys per JWKS URL, refreshed after `ttl` seconds or once on an unknown `kid`."""

    def __init__(self, client: httpx.AsyncClient, ttl: float, min_refresh: float = 30.0) -> None:
        self._client = client
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._cache: dict[str, _Keys] = {}

    async def key(self, url: str, kid: str) -> PyJWK | None:
        now = time.monotonic()
        entry = self._cache.get(url)
        stale = entry is None or now - entry.fetched > self._ttl
        unknown = entry is not None and kid not in entry.keys
        if stale or (unknown and entry is not None and now - entry.fetched > self._min_refresh):
            entry = _Keys(_parse_jwks(await self._fetch(url)), now)
            self._cache[url] = entry
        return entry.keys.get(kid) if entry else None

    async def _fetch(self, url: str) -> dict[str, Any]:
        response = await self._client.get(url, timeout=5.0)
        response.raise_for_status()
        data = response.json()
        if not isinstance(data, dict):
            raise AuthError("JWKS is not an object")
        return data


def _parse_jwks(data: dict[str, Any]) -> dict[str, PyJWK]:
    out: dict[str, PyJWK] = {}
    for key in PyJWKSet.from_dict(data).keys:
        if key.key_id:
            out[key.key_id] = key
    return out


class Verifier:
    def __init__(
        self, settings: Settings, client: httpx.AsyncClient, replay: _Replay | None = None
    ) -> None:
        self._issuers: dict[str, Issuer] = {i.iss: i for i in settings.issuers}
        self._inline = {i.iss: _parse_jwks(i.jwks) for i in settings.issuers if i.jwks}
        self._jwks = JwksCache(client, settings.jwks_cache_s)
        self._replay: _Replay = replay or ReplayCache()
        self._leeway = settings.jwt_leeway_s
        self._max_lifetime = settings.jwt_max_lifetime_s

    async def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The token's claims, or AuthError. `audience` is the exact URL that was called."""
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthError("no bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (PyJWTError, json.JSONDecodeError) as exc:
            raise AuthError(f"malformed token: {type(exc).__name__}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise AuthError(f"algorithm {alg!r} not allowed")
        if str(header.get("typ", "")).upper() != "JWT" or not isinstance(kid, str) or not kid:
            raise AuthError("header needs typ JWT and kid")
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthError(f"issuer not allow-listed: {iss!r}")
        key = await self._key(issuer, header.get("jku"), kid)
        if key is None:
            raise AuthError(f"no key {kid!r} for issuer {iss!r}")
        if _KEY_TYPES[alg] != key.key_type or (alg == "ES384" and key.algorithm_name != alg):
            raise AuthError("key type does not match alg")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer.iss,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "strict_aud": False},
            )
        except PyJWTError as exc:
            raise AuthError(f"rejected: {type(exc).__name__}") from None
        if float(claims["exp"]) - float(claims["iat"]) > self._max_lifetime:
            raise AuthError("token lifetime above the maximum")
        if issuer.tenants is not None and claims.get("tenant") not in issuer.tenants:
            raise AuthError("tenant not allow-listed")
        remember_until = float(claims["exp"]) + self._leeway  # accepted until then
        first = await anyio.to_thread.run_sync(  # a database round trip when shared
            self._replay.first_use, issuer.iss, str(claims["jti"]), remember_until)
        if not first:
            raise AuthError("jti replayed")
        return claims

    async def _key(self, issuer: Issuer, jku: Any, kid: str) -> PyJWK | None:
        if jku is not None:
            allowed = set(issuer.jku_allowed) | ({issuer.jwks_url} if issuer.jwks_url else set())
            if not isinstance(jku, str) or jku not in allowed:
                raise AuthError("jku not allow-listed for this issuer")
            return await self._fetch_key(jku, kid)
        inline = self._inline.get(issuer.iss)
        if inline is not None and kid in inline:
            return inline[kid]
        if issuer.jwks_url:
            return await self._fetch_key(issuer.jwks_url, kid)
        return None

    async def _fetch_key(self, url: str, kid: str) -> PyJWK | None:
        try:
            return await self._jwks.key(url, kid)
        except (httpx.HTTPError, ValueError, PyJWTError) as exc:
            raise AuthError(f"JWKS unavailable: {type(exc).__name__}") from None


class Authenticate:
    """ASGI middleware: every path but the public ones needs a valid CDS Hooks JWT.

    `aud` must be the configured `public_url` + path. Never the request's Host or
    X-Forwarded-* headers: the client chooses those, so a token minted for another service
    would pass when sent with that service's Host.
    """

    def __init__(
        self, app: ASGIApp, *, verifier: Verifier, public_url: str,
        public_paths: tuple[str, ...],
    ) -> None:
        if not public_url:
            raise ValueError("JWT authentication needs public_url (the expected audience)")
        self.app = app
        self.verifier = verifier
        self.public_url = public_url.rstrip("/")
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.public_paths or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            await self.verifier.verify(request.headers.get("authorization"),
                                       self.public_url + path)
        except AuthError as exc:
            log.debug("authentication failed: %s", exc)  # the reason, never the token
            response = Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
