"""The pure decision engine: `assess(state, protocol)`; no I/O, no clock."""

from __future__ import annotations

from .decide import assess

__all__ = ["assess"]
