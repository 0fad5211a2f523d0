"""A page on another origin tries to write to the local service, in a real Chromium.

The service runs open on 127.0.0.1 (local use); the "attacker" page is served from another
port (another origin) and tries every way a page can send a body without the user's help:
`fetch` with `no-cors` and `text/plain`, a form posted with `text/plain` and url-encoded
bodies, and `fetch` with `application/json` (which needs a CORS preflight). None may reach the
trail. Skipped, with the reason, when Chromium or Playwright is missing
(`scripts/install-browser.sh`).
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from vasoguide.service import server
from vasoguide.service.app import create_app
from vasoguide.service.settings import Settings
from vasoguide.service.trail import Trail

from .test_assess_api import STATE

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "Debian chromium is not installed: run scripts/install-browser.sh", allow_module_level=True
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: run scripts/install-browser.sh"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _attack_page(target: str) -> str:
    body = json.dumps(STATE)
    return f"""<!doctype html><html><body>
<form id="plain" method="POST" action="{target}/assess" enctype="text/plain" target="sink">
  <input type="hidden" name='{body[:-1]},"x":"' value='"}}'>
</form>
<form id="urlenc" method="POST" action="{target}/assess" target="sink">
  <input type="hidden" name="state" value='{body}'>
</form>
<iframe name="sink"></iframe>
<script>
window.results = {{}};
async function go() {{
  const body = {json.dumps(body)};
  try {{
    const r = await fetch("{target}/assess", {{method: "POST", mode: "no-cors",
      headers: {{"Content-Type": "text/plain"}}, body}});
    window.results.nocors = "sent:" + r.type;
  }} catch (e) {{ window.results.nocors = "blocked"; }}
  try {{
    const r = await fetch("{target}/assess", {{method: "POST",
      headers: {{"Content-Type": "application/json"}}, body}});
    window.results.json = "status:" + r.status;
  }} catch (e) {{ window.results.json = "blocked"; }}
  window.results.done = true;
}}
</script></body></html>"""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'trail.sqlite'}", auth="none",
                        port=_free_port())
    srv = uvicorn.Server(server.config(create_app(settings), settings, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{settings.port}", settings
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def attacker(service: tuple[str, Settings]) -> Iterator[str]:
    page = _attack_page(service[0]).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_a_page_on_another_origin_cannot_write_to_the_trail(
    service: tuple[str, Settings], attacker: str
) -> None:
    base, settings = service
    statuses: list[int] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("response", lambda r: statuses.append(r.status) if "/assess" in r.url else None)
        page.goto(attacker)
        page.evaluate("go()")
        page.wait_for_function("window.results.done === true", timeout=15000)
        results = page.evaluate("window.results")
        for form in ("#plain", "#urlenc"):
            with page.expect_response(lambda r: "/assess" in r.url, timeout=15000):
                page.eval_on_selector(form, "f => f.submit()")
        # the bedside page itself, same origin, still works
        same = browser.new_page()
        same.goto(base + "/")
        ok = same.evaluate(
            "async (s) => (await fetch('/assess', {method: 'POST', headers: "
            "{'Content-Type': 'application/json'}, body: JSON.stringify(s)})).status", STATE)
        browser.close()
    assert results["json"] == "blocked"  # the preflight is not granted: nothing sent
    assert results["nocors"] == "sent:opaque"  # sent, and refused by the service (below)
    assert statuses and all(s in (403, 405, 415) for s in statuses), statuses
    assert ok == 200
    assert Trail(settings.database_url).verify().count == 1  # only the same-origin request
