"""The protocol knowledge base: versioned data files, validated twice (schema, then lints)."""

from __future__ import annotations

from .lint import lint
from .loader import DEFAULT_KB, Protocol, load_protocol

__all__ = ["DEFAULT_KB", "Protocol", "lint", "load_protocol"]
