"""What the bedside page's browser tests share: the app in uvicorn on 127.0.0.1, Debian's
Chromium through Playwright, and a page that records every console error and failed request.

Setup: `scripts/install-browser.sh` (apt-get chromium, pip playwright). The test modules skip,
with the reason, only when the browser or Playwright is truly missing.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from vasoguide.service.app import create_app
from vasoguide.service.settings import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "Debian chromium is not installed: run scripts/install-browser.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(trail_dir: Path) -> Iterator[str]:
    """The service on a free loopback port, in a background thread; yields its base URL."""
    app = create_app(Settings(database_url=f"sqlite:///{trail_dir / 'trail.sqlite'}", auth="none"))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium(sync_api: Any) -> Iterator[Any]:
    """Debian's Chromium (never Playwright's downloaded browser)."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Problems:
    """Everything a nurse's browser console would show as an error."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.page_errors + self.console_errors + self.failed_requests + self.bad_responses

    def clear(self) -> None:
        for part in (
            self.page_errors,
            self.console_errors,
            self.failed_requests,
            self.bad_responses,
        ):
            part.clear()


def watched_page(context: Any, base_url: str) -> tuple[Any, Problems]:
    """A new page on `/`, ready, with its console errors and failed requests recorded."""
    context.set_default_timeout(10_000)
    pg = context.new_page()
    problems = Problems()
    pg.on("pageerror", lambda exc: problems.page_errors.append(str(exc)))
    pg.on(
        "console",
        lambda msg: problems.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    pg.on(
        "requestfailed",
        lambda req: problems.failed_requests.append(f"{req.method} {req.url}: {req.failure}"),
    )
    pg.on(
        "response",
        lambda r: (
            problems.bad_responses.append(f"{r.status} {r.request.method} {r.url}")
            if r.status >= 400
            else None
        ),
    )
    pg.goto(base_url + "/")
    pg.wait_for_selector("body[data-ready='1']")
    return pg, problems
