"""HTTP hardening: content type and Origin (cross-site writes), Host (DNS rebinding), header and
body read deadlines on a real uvicorn socket, 422 for values with no finite result, and error
logs without exception messages."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from vasoguide.service import server
from vasoguide.service.app import create_app
from vasoguide.service.settings import Settings
from vasoguide.service.trail import Trail

from .conftest import AppClient
from .test_assess_api import STATE

JSON = {"Content-Type": "application/json"}


def _records(settings: Settings) -> int:
    return Trail(settings.database_url).verify().count


def _body() -> bytes:
    return httpx.Request("POST", "http://x", json=STATE).content


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=x", "application/jsonx"],
)
def test_only_json_bodies_are_accepted(
    client: AppClient, settings: Settings, content_type: str | None
) -> None:
    """A "simple" cross-site request (no preflight) can only carry these types: refused, and
    nothing reaches the trail."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/assess", content=_body(), headers=headers)
    assert response.status_code == 415
    assert _records(settings) == 0


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "application/fhir+json", "Application/JSON"])
def test_json_media_types_pass(client: AppClient, settings: Settings, content_type: str) -> None:
    response = client.post("/assess", content=_body(), headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    assert _records(settings) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:9999"},  # another port is another origin
        {"Origin": "null"},  # sandboxed frames and file:// pages
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_origin_writes_are_refused(
    client: AppClient, settings: Settings, headers: dict[str, str]
) -> None:
    response = client.post("/assess", json=STATE, headers=headers)
    assert response.status_code == 403
    assert _records(settings) == 0
    assert client.post("/dose", json={"value": 0.1, "unit": "ug/kg/min", "weight_kg": 80},
                       headers=headers).status_code == 403


def test_same_origin_and_non_browser_requests_pass(client: AppClient) -> None:
    same = {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/assess", json=STATE, headers=same).status_code == 200
    assert client.post("/assess", json=STATE).status_code == 200  # curl, an EHR: no Origin


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "10.0.0.7:8000"])
def test_dns_rebinding_host_is_refused_in_open_mode(
    client: AppClient, settings: Settings, host: str
) -> None:
    """A rebound name makes the attacker's page same-origin with the service: the Host header
    is the only trace, so open (loopback) mode serves loopback names only."""
    headers = {"Host": host, "Origin": f"http://{host}"}
    assert client.post("/assess", json=STATE, headers=headers).status_code == 400
    assert client.get("/healthz", headers={"Host": host}).status_code == 400
    assert _records(settings) == 0
    for ok in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert client.get("/healthz", headers={"Host": ok}).status_code == 200


def test_dose_without_a_finite_result_is_422(client: AppClient) -> None:
    response = client.post(
        "/dose", json={"value": 100, "unit": "ug/min", "concentration_ug_ml": 1e-320})
    assert response.status_code == 422, response.text
    assert response.json()["message"]


def test_value_errors_past_validation_are_422(
    make_client: Callable[..., AppClient], settings: Settings
) -> None:
    def bad(*_: Any) -> Any:
        raise ValueError("a non-finite value")

    response = make_client(settings, assess=bad).post("/assess", json=STATE)
    assert response.status_code == 422
    assert "finite" in response.json()["message"]


# --- a real uvicorn socket ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[int, Settings]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 't.sqlite'}", auth="none",
                        port=_free_port(), header_timeout_s=1.0, body_timeout_s=1.0)
    srv = uvicorn.Server(server.config(create_app(settings), settings, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started
    yield settings.port, settings
    srv.should_exit = True
    thread.join(10)


def _read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    start = time.monotonic()
    sock.settimeout(limit_s)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    return data, time.monotonic() - start


def test_short_body_gets_408_within_the_deadline(live: tuple[int, Settings]) -> None:
    """Content-Length 1000, 8 bytes sent: answered 408 and closed after body_timeout_s (1 s
    here), not held open."""
    port, settings = live
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /assess HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b"application/json\r\nContent-Length: 1000\r\n\r\n{\"time\":")
        data, elapsed = _read_until_closed(sock, 6.0)
    assert data.startswith(b"HTTP/1.1 408"), data[:80]
    assert elapsed < 4.0
    assert _records(settings) == 0


def test_slow_headers_are_cut_off(live: tuple[int, Settings]) -> None:
    port, _ = live
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /assess HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        start = time.monotonic()
        for _ in range(8):  # a byte every 0.3 s: each one used to reset nothing, and no end
            try:
                sock.sendall(b"X")
            except OSError:
                break
            time.sleep(0.3)
        data, _elapsed = _read_until_closed(sock, 6.0)
    assert time.monotonic() - start < 5.0
    assert b"200" not in data[:20]


def test_silent_connection_is_closed(live: tuple[int, Settings]) -> None:
    port, _ = live
    with socket.create_connection(("127.0.0.1", port)) as sock:
        data, elapsed = _read_until_closed(sock, 6.0)
    assert data == b"" and elapsed < 4.0


def test_keep_alive_requests_still_work(live: tuple[int, Settings]) -> None:
    port, _ = live
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(3):
            assert http.post("/assess", json=STATE).status_code == 200
            time.sleep(0.4)  # under the header deadline between requests on one connection


# --- logs --------------------------------------------------------------------------------

_SERVE = textwrap.dedent("""
    import sys
    import vasoguide.service.app as app_module

    def boom(state, protocol):
        raise RuntimeError("patient Jane Roe, MAP 52 mmHg, MRN 12345678")

    app_module.engine_assess = boom
    from vasoguide.service.cli import serve
    serve(host="127.0.0.1", port=int(sys.argv[1]), settings_file=None, db=sys.argv[2],
          auth="none")
""")


def test_error_logs_carry_type_and_frames_not_the_message(tmp_path: Path) -> None:
    """`vasoguide serve` as run in production: an exception whose message quotes patient data
    is logged as its type and frames (uvicorn's own "Exception in ASGI application" too)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port), f"sqlite:///{tmp_path / 't.sqlite'}"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.1)
        response = httpx.post(f"http://127.0.0.1:{port}/assess", json=STATE, timeout=10)
        assert response.status_code == 500
        assert "Jane" not in response.text
        time.sleep(0.3)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "RuntimeError" in err and 'File "' in err and "boom" in err, err[-2000:]
    assert "Jane Roe" not in err and "12345678" not in err, err[-2000:]


# Found by benchmarks/fuzz_service.py: these escaped parse_state as OverflowError, pint's
# TokenError and ZeroDivisionError (500s); now each is an InputError naming the field.
@pytest.mark.parametrize(("where", "value"), [
    ("time", "0001-01-01T00:30:00+01:00"),  # OverflowError converting to UTC
    ("unit", "mm[Hg]("),  # pint TokenError
    ("unit", "mm[Hg]/0"),  # ZeroDivisionError
])
def test_unparsable_state_values_are_422(client: AppClient, where: str, value: str) -> None:
    import copy

    state = copy.deepcopy(STATE)
    if where == "time":
        state["time"] = value
    else:
        state["observations"][0]["unit"] = value
    assert client.post("/assess", json=state).status_code == 422
