"""Running the app under uvicorn: header-read deadline and logs without exception messages.

- uvicorn arms no timer while a request's headers arrive (its keep-alive timer is cancelled by
  the first byte), so a client sending headers a byte at a time held a connection forever. The
  protocol classes below close a connection whose request headers are not complete within
  `header_timeout_s` of its first byte (or of the connection opening). The body has its own
  deadline in `guards.RequestGuard`.
- uvicorn logs "Exception in ASGI application" with the full traceback, whose last line is the
  exception's message, and a message can quote patient values. Every handler here formats
  exceptions as their type and frames only (`SafeFormatter`).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import Settings

__all__ = ["SafeFormatter", "log_config", "protocol_class", "run"]


class SafeFormatter(logging.Formatter):
    """Exceptions as `Type` + frames: never the message (which may hold patient data)."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        kind, _value, tb = ei
        frames = "".join(traceback.format_tb(tb)).rstrip("\n")
        name = getattr(kind, "__qualname__", str(kind))
        return f"Traceback (most recent call last):\n{frames}\n{name} (message not logged)"

    def format(self, record: logging.LogRecord) -> str:
        cached = record.exc_text  # another handler may have cached the full traceback
        record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached


def log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's logging layout with `SafeFormatter` on every handler, vasoguide's loggers
    included (they would otherwise reach Python's last-resort handler)."""
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = {"class": "logging.StreamHandler", "formatter": "safe", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"safe": {"()": SafeFormatter, "fmt": fmt}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
            "vasoguide": {"handlers": ["default"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }


class _HeaderDeadline:
    """Mixin for uvicorn's HTTP protocols: close the connection when a request's headers take
    longer than `header_timeout_s` (counted from the connection or the request's first byte)."""

    header_timeout_s = 10.0  # replaced by the uvicorn Config's `header_timeout_s` when set
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _header_timer: asyncio.TimerHandle | None = None

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)  # type: ignore[call-arg]
        self.header_timeout_s = float(getattr(config, "header_timeout_s", self.header_timeout_s))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first byte of a new request on a kept-alive connection
        super().data_received(data)  # type: ignore[misc]
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # headers complete: a request is being served

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class H11WithDeadline(_HeaderDeadline, H11Protocol):
    pass


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HttpToolsWithDeadline(_HeaderDeadline, HttpToolsProtocol):
        pass

    _FASTEST: type[asyncio.Protocol] = HttpToolsWithDeadline
except ImportError:  # pragma: no cover - uvicorn[standard] installs httptools
    _FASTEST = H11WithDeadline


def protocol_class(_settings: Settings | None = None) -> type[asyncio.Protocol]:
    """uvicorn's fastest available HTTP protocol with the header deadline (module-level
    classes: worker processes unpickle them by name). The deadline itself is read from the
    uvicorn Config (`config()` sets it), else 10 s."""
    return _FASTEST


def config(app: Any, settings: Settings, **extra: Any) -> uvicorn.Config:
    """The uvicorn configuration the service runs with (also used by tests and benchmarks)."""
    level = str(extra.get("log_level", "info")).upper()
    cfg = uvicorn.Config(
        app, host=settings.host, port=settings.port, access_log=settings.access_log,
        log_config=log_config(level), http=protocol_class(settings),
        timeout_keep_alive=settings.keep_alive_s, **extra,
    )
    cfg.header_timeout_s = settings.header_timeout_s  # type: ignore[attr-defined]
    return cfg


def run(app: Any, settings: Settings) -> None:
    uvicorn.Server(config(app, settings)).run()
