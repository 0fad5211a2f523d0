"""HTTP guards in front of the app: content type, Origin and Host, body size and read time.

Why each exists:
- A web page on any origin can send a "simple" cross-site POST (`text/plain`, form bodies) to
  the local service without a CORS preflight. Requiring a JSON media type forces a preflight,
  which this service never grants; `Origin` (and `Sec-Fetch-Site`) name the page that sent the
  request, so anything not same-origin is refused outright (403).
- DNS rebinding makes an attacker's host name resolve to 127.0.0.1, so the browser treats the
  attacker's page and the service as one origin. In open (unauthenticated) mode the `Host`
  header must therefore name loopback or the configured `public_url`.
- A client that announces a body and sends it slowly would hold a connection and a worker's
  memory indefinitely: the body must arrive whole within `body_timeout_s` (408 otherwise) and
  stay under `max_body_bytes` (413), checked as it arrives.

The guard reads the whole body (bounded) before the app runs and replays it, so the app never
waits on the network; a refused request never reaches the app (the answer closes the
connection, since the rest of its body is not read).
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import jsonio

__all__ = ["JSON_TYPES", "RequestGuard"]

JSON_TYPES = frozenset({"application/json", "application/fhir+json"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOOPBACK_NAMES = frozenset({"localhost"})


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _host_name(host: str) -> str:
    """`host[:port]` -> host (brackets kept off IPv6 literals)."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_loopback_host(host: str) -> bool:
    name = _host_name(host).lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _RefusedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _send_error(send: Send, status: int, message: str) -> None:
    body = jsonio.dumps({"message": message})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of a refused body is never read
    ]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI wrapper: refuse unsafe requests before the app sees them (see the module doc)."""

    def __init__(
        self, app: ASGIApp, *, public_url: str | None, open_mode: bool, max_body_bytes: int,
        body_timeout_s: float,
    ) -> None:
        self.app = app
        self.public_origin = _origin_of(public_url) if public_url else None
        self.public_host = urlsplit(public_url).netloc.lower() if public_url else None
        self.open_mode = open_mode
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            self._check_host(headers)
            if scope["method"] in _BODY_METHODS:
                self._check_origin(scope, headers)
                self._check_content_type(headers)
                body = await self._read_body(receive, headers)
            else:
                await self.app(scope, receive, send)
                return
        except _RefusedError as refused:
            await _send_error(send, refused.status, refused.message)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only http.disconnect is left

        await self.app(scope, replay, send)

    def _check_host(self, headers: Headers) -> None:
        if not self.open_mode:
            return  # with JWT the token, not the Host, decides (and `aud` is public_url only)
        host = headers.get("host", "").lower()
        if is_loopback_host(host) or (self.public_host is not None and host == self.public_host):
            return
        raise _RefusedError(400, "invalid Host for a loopback service")

    def _check_origin(self, scope: Scope, headers: Headers) -> None:
        origin = headers.get("origin")
        if origin is None:
            # Browsers send Origin on every cross-site POST; Sec-Fetch-Site says the same.
            if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                raise _RefusedError(403, "cross-site request refused")
            return
        allowed = {self.public_origin} if self.public_origin else set()
        host = headers.get("host")
        if host and (self.open_mode or self.public_origin is None):
            allowed.add(f"{scope.get('scheme', 'http')}://{host}".lower())
        if origin.lower() not in allowed:  # "null" (sandboxed frames, files) is never allowed
            raise _RefusedError(403, "cross-origin request refused")

    @staticmethod
    def _check_content_type(headers: Headers) -> None:
        media = headers.get("content-type", "").partition(";")[0].strip().lower()
        if media not in JSON_TYPES:
            raise _RefusedError(415, "Content-Type must be application/json")

    async def _read_body(self, receive: Receive, headers: Headers) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _RefusedError(413, "request body too large")
        chunks: list[bytes] = []
        size = 0
        # One deadline for the whole body: a trickle of bytes cannot keep extending it.
        with anyio.move_on_after(self.body_timeout_s) as scope:
            while True:
                message: dict[str, Any] = dict(await receive())
                if message["type"] == "http.disconnect":
                    raise _RefusedError(400, "client disconnected")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise _RefusedError(413, "request body too large")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if scope.cancelled_caught:
            raise _RefusedError(408, "request body not received in time")
        return b"".join(chunks)
