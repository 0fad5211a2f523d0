"""Service settings: embedded defaults, then a settings file, then VASOGUIDE_* environment.

Defaults suit local use: loopback only, open access, an SQLite trail in the user's data folder.
Anywhere else (a host that is not loopback) CDS Hooks JWT authentication is on unless turned off
explicitly, and the service refuses to start without at least one trusted issuer.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Issuer", "Settings", "default_database_url", "load_settings"]

ENV_PREFIX = "VASOGUIDE_"


def default_database_url(env: Mapping[str, str] | None = None) -> str:
    environ = os.environ if env is None else env
    base = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'vasoguide' / 'trail.sqlite'}"


class Issuer(BaseModel):
    """A trusted CDS client: its `iss`, and where its public keys are (a JWKS URL or inline)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    iss: str = Field(min_length=1)
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = None
    jku_allowed: list[str] = Field(default_factory=list)  # extra JWKS URLs a token may name
    tenants: list[str] | None = None  # when set, the `tenant` claim must be one of these

    @model_validator(mode="after")
    def _has_keys(self) -> Issuer:
        if self.jwks_url is None and self.jwks is None and not self.jku_allowed:
            raise ValueError(f"issuer {self.iss}: give jwks_url, jwks or jku_allowed")
        return self


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str = Field(default_factory=default_database_url)
    auth: Literal["auto", "jwt", "none"] = "auto"
    issuers: list[Issuer] = Field(default_factory=list)
    # The base URL clients call: the only source of the JWT `aud` (never the Host header).
    public_url: str | None = None
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    # Deadlines for a request's headers and its whole body (a slow sender holds a connection).
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    body_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Idle keep-alive: longer than common clients' pool expiry (httpx 5 s), so that the client,
    # not the server, closes an idle connection (no race on a connection being reused).
    keep_alive_s: int = Field(default=15, ge=1, le=600)
    jwt_max_lifetime_s: int = Field(default=3600, ge=60)  # also how long a jti is remembered
    jwt_leeway_s: int = Field(default=30, ge=0, le=300)
    jwks_cache_s: int = Field(default=300, ge=0)
    fhir_timeout_s: float = Field(default=3.0, gt=0)
    fhir_allow_http: bool = False  # only for tests and local FHIR servers
    fhir_max_pages: int = Field(default=5, ge=1)
    # Tamper evidence: HMAC key for the trail chain (a file outside the database), and where
    # signed checkpoints of the head are appended (ideally another host or append-only store).
    trail_key_file: str | None = None
    trail_checkpoint_file: str | None = None
    trail_checkpoint_every: int = Field(default=100, ge=1)
    kb_dir: str | None = None
    site_file: str | None = None
    service_id: str = "vasoguide-norepinephrine"
    access_log: bool = True  # paths only: no endpoint takes patient data in its URL

    @property
    def auth_enabled(self) -> bool:
        if self.auth == "auto":
            return not is_loopback(self.host)
        return self.auth == "jwt"

    def check(self) -> None:
        """Refuse configurations that would be unsafe to serve."""
        if self.auth_enabled and not self.issuers:
            raise ValueError(
                "JWT authentication is on (host is not loopback, or auth=jwt) but no trusted "
                "issuer is configured: set VASOGUIDE_ISSUERS or `issuers` in the settings file"
            )
        if self.auth_enabled and not self.public_url:
            # The expected `aud` must not come from the request (Host, X-Forwarded-*): a token
            # minted for another service would be accepted when sent with that service's Host.
            raise ValueError(
                "JWT authentication is on but public_url is not set: set VASOGUIDE_PUBLIC_URL "
                "or `public_url` to the base URL clients call (e.g. https://cds.example.org)"
            )
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
                    or parts.fragment:
                raise ValueError(f"public_url must be an absolute http(s) URL: {self.public_url}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        data: Any = tomllib.loads(text)
    elif path.suffix == ".json":
        data = json.loads(text)
    else:
        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: settings must be a mapping")
    return data


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        simple = field.annotation in (str, int, float, bool) or name in ("auth",)
        out[name] = raw if simple or not raw.lstrip().startswith(("[", "{")) else json.loads(raw)
    return out


def load_settings(
    file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults < file (argument or VASOGUIDE_SETTINGS) < environment < explicit overrides."""
    environ = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = file or environ.get(ENV_PREFIX + "SETTINGS")
    if path:
        data.update(_read_file(Path(path)))
    data.update(_from_env(environ))
    data.update({k: v for k, v in overrides.items() if v is not None})
    data.setdefault("database_url", default_database_url(environ))
    return Settings.model_validate(data)
