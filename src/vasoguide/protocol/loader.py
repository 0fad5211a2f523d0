"""Load the knowledge base (YAML data), apply a site file, compute its digest.

The default knowledge base ships inside the package (`vasoguide/kb/`). A site file may override
site settings only (never a cited threshold); every override is recorded in the Assessment.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..assessment import BasisEntry, OutQuantity, ProtocolRef
from ..errors import ProtocolError
from ..units import convert
from .model import ProtocolMeta, Rule, Setting, Source

__all__ = ["DEFAULT_KB", "Protocol", "load_protocol", "read_raw"]

DEFAULT_KB = Path(__file__).resolve().parent.parent / "kb"


class Protocol:
    """A validated, versioned knowledge base: rules, sources, settings; read-only."""

    def __init__(
        self,
        meta: ProtocolMeta,
        sources: dict[str, Source],
        rules: dict[str, Rule],
        settings: dict[str, Setting],
        overrides: Iterable[str] = (),
        bases: dict[str, Any] | None = None,
        rule_files: dict[str, str] | None = None,
    ) -> None:
        self.meta = meta
        self.sources = sources
        self.rules = rules
        self.settings = settings
        self.overrides = list(overrides)
        self.bases = bases or {}  # named example states the rules' examples start from
        self.rule_files = rule_files or {}  # rule id -> "rules/x.yaml"
        self.cache_key: str | None = None
        self.memo: dict[str, Any] = {}  # values the engine derives once per protocol
        self.digest = "sha256:" + hashlib.sha256(self._canonical_json().encode()).hexdigest()
        self.ref = ProtocolRef(
            name=meta.name, version=meta.version, digest=self.digest, overrides=self.overrides
        )
        self._thresholds: dict[tuple[str, str, str], float] = {}
        self._basis: dict[str, BasisEntry] = {rid: self._basis_entry(r) for rid, r in rules.items()}

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def version(self) -> str:
        return self.meta.version

    def _canonical_json(self) -> str:
        doc = {
            "meta": self.meta.model_dump(),
            "sources": {k: v.model_dump() for k, v in sorted(self.sources.items())},
            "rules": {k: v.model_dump() for k, v in sorted(self.rules.items())},
            "settings": {k: v.model_dump() for k, v in sorted(self.settings.items())},
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)

    # -- reading numbers -------------------------------------------------------------------
    def threshold(self, rule_id: str, name: str, unit: str) -> float:
        """A rule's cited threshold, converted to `unit` (cached; the engine only sees floats)."""
        key = (rule_id, name, unit)
        cached = self._thresholds.get(key)
        if cached is None:
            th = self.rules[rule_id].thresholds[name]
            cached = convert(th.value, th.unit, unit)
            self._thresholds[key] = cached
        return cached

    def setting(self, key: str, unit: str | None = None) -> Any:
        """A site setting's value; numbers with a unit are converted to `unit` when given."""
        cache_key = ("setting", key, unit or "")
        cached = self._thresholds.get(cache_key)
        if cached is not None:
            return cached
        s = self.settings[key]
        if unit is not None and isinstance(s.value, int | float) and not isinstance(s.value, bool):
            if s.unit is None:
                raise KeyError(f"setting {key} has no unit")
            value = convert(float(s.value), s.unit, unit)
            self._thresholds[cache_key] = value
            return value
        return s.value

    def basis(self, rule_id: str) -> BasisEntry:
        return self._basis[rule_id]

    def _basis_entry(self, rule: Rule) -> BasisEntry:
        first = rule.citations[0]
        src = self.sources.get(first.source)
        parts = []
        for c in rule.citations:
            s = self.sources.get(c.source)
            label = s.short if s else c.source
            if c.recommendation:
                label += f", {c.recommendation}"
            label += f" ({c.direction}; {c.strength}; {c.certainty}"
            label += "; verified)" if c.verified else f"; unverified [{c.tag}])"
            parts.append(label)
        used: dict[str, OutQuantity | str | bool | float] = {}
        for key in rule.settings:
            st = self.settings.get(key)
            if st is None:
                continue
            if st.unit and isinstance(st.value, int | float) and not isinstance(st.value, bool):
                used[key] = OutQuantity(value=float(st.value), unit=st.unit)
            else:
                used[key] = st.value
        return BasisEntry(
            id=rule.id,
            statement=rule.statement,
            source="; ".join(parts),
            strength=first.strength,
            certainty=first.certainty,
            recommendation=first.recommendation,
            verified=all(c.verified for c in rule.citations),
            kind=src.kind if src else "unknown",
            deviation=rule.deviation,
            settings=used,
        )


def _load_yaml(text: str) -> Any:
    # Imported here: the cached default protocol needs no YAML at all (PyYAML costs ~60 ms).
    # libyaml's loader when present: the pure-Python one costs about half a second per start.
    import yaml

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)


def _read_yaml(path: Path) -> Any:
    return _load_yaml(path.read_text(encoding="utf-8"))


def read_raw(kb_dir: Path) -> dict[str, Any]:
    """Read every YAML file of a knowledge base folder into one raw document.

    A file that is not valid YAML is recorded in `raw["problems"]`, never raised mid-way.
    """
    raw: dict[str, Any] = {"rules": [], "rule_files": {}, "problems": []}
    if not kb_dir.is_dir():
        raw["problems"].append(f"{kb_dir}: not a knowledge base folder")
    for path in sorted(kb_dir.rglob("*.yaml")):
        rel = path.relative_to(kb_dir).as_posix()
        try:
            doc = _load_yaml(path.read_text(encoding="utf-8"))
        except Exception as exc:  # yaml.YAMLError; yaml is imported lazily
            if not type(exc).__module__.startswith("yaml"):
                raise
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raw["problems"].append(f"{rel}{where}: not valid YAML: {getattr(exc, 'problem', exc)}")
            continue
        if rel == "protocol.yaml":
            raw["meta"] = doc
        elif rel == "sources.yaml":
            raw["sources"] = doc
        elif rel == "settings.yaml":
            raw["settings"] = doc
        elif rel.startswith("rules/"):
            for i, rule in enumerate((doc or {}).get("rules", [])):
                raw["rules"].append(rule)
                raw["rule_files"][len(raw["rules"]) - 1] = f"{rel} › rules[{i}]"
        elif rel.startswith("examples/"):
            raw.setdefault("bases", {}).update(doc or {})
    return raw


def _build(raw: dict[str, Any], site: dict[str, Any] | None) -> Protocol:
    problems: list[str] = list(raw.get("problems", []))

    def parse(model: Any, data: Any, where: str) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = " › ".join(str(p) for p in err["loc"])
                problems.append(f"{where} › {loc}: {err['msg']}")
            return None

    meta = parse(ProtocolMeta, raw.get("meta"), "protocol.yaml")
    sources = {
        k: s
        for k, v in (raw.get("sources") or {}).items()
        if (s := parse(Source, v, f"sources.yaml › {k}")) is not None
    }
    settings_raw = dict(raw.get("settings") or {})
    overrides: list[str] = []
    for key, value in _site_settings(site, problems).items():
        if key not in settings_raw:
            problems.append(f"site file › settings › {key}: no such site setting")
            continue
        base = dict(settings_raw[key])
        old = base.get("value")
        problem = _site_value_problem(value, old, base.get("range"), base.get("unit"))
        if problem:
            problems.append(f"site file › settings › {key}: {problem}")
            continue
        base["value"] = value
        settings_raw[key] = base
        overrides.append(f"{key}={value}")
    settings = {
        k: s
        for k, v in settings_raw.items()
        if (s := parse(Setting, v, f"settings.yaml › {k}")) is not None
    }
    rules: dict[str, Rule] = {}
    rule_files: dict[str, str] = {}
    for i, r in enumerate(raw.get("rules", [])):
        where = raw.get("rule_files", {}).get(i, f"rules[{i}]")
        rule = parse(Rule, r, where)
        if rule is None:
            continue
        if rule.id in rules:
            problems.append(f"{where} › id: duplicate rule id {rule.id}")
        rules[rule.id] = rule
        rule_files[rule.id] = where.split(" › ")[0]
    if problems or meta is None:
        raise ProtocolError(problems or ["protocol.yaml: missing"])
    protocol = Protocol(
        meta, sources, rules, settings, overrides, raw.get("bases"), rule_files
    )
    from .lint import lint

    found = lint(protocol)
    if found:
        raise ProtocolError(found)
    return protocol


def _site_settings(site: Any, problems: list[str]) -> dict[str, Any]:
    """The `settings` mapping of a site file, or {} with the problem recorded."""
    if site is None:
        return {}
    if not isinstance(site, dict):
        problems.append("site file: must be a mapping with a `settings:` section")
        return {}
    for key in site:
        if key != "settings":
            problems.append(f"site file › {key}: unknown section (only `settings`)")
    settings = site.get("settings") or {}
    if not isinstance(settings, dict):
        problems.append("site file › settings: must be a mapping of setting: value")
        return {}
    return settings


def _site_value_problem(value: Any, old: Any, allowed: Any, unit: str | None) -> str | None:
    """Why a site's value cannot replace the default `old`, or None when it can."""
    number = isinstance(old, int | float) and not isinstance(old, bool)
    if number:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} is not a number (the default is {old!r} {unit or ''})".rstrip()
        if not math.isfinite(value):
            return f"{value!r} is not a finite number"
        if isinstance(allowed, list | tuple) and len(allowed) == 2:
            lo, hi = allowed
            if not lo <= value <= hi:
                return f"{value!r} is outside the allowed range {lo}-{hi} {unit or ''}".rstrip()
        return None
    if type(old) is not type(value):
        return f"{value!r} is not of the type of {old!r}"
    return None


def load_protocol(kb_dir: Path | str | None = None, site: Path | str | None = None) -> Protocol:
    """Load, validate and lint a knowledge base; ProtocolError lists every problem with its path."""
    if kb_dir is None and site is None:
        return _default_protocol()
    kb = Path(kb_dir) if kb_dir is not None else DEFAULT_KB
    raw = read_raw(kb)
    site_doc = _read_site(Path(site)) if site is not None else None
    return _build(raw, site_doc)


def _read_site(path: Path) -> Any:
    """A site file's YAML; ProtocolError names the file and the line of a syntax error."""
    try:
        return _read_yaml(path)
    except OSError as exc:
        raise ProtocolError([f"site file {path}: cannot read ({exc.strerror or exc})"]) from None
    except UnicodeDecodeError:
        raise ProtocolError([f"site file {path}: not UTF-8 text"]) from None
    except Exception as exc:  # yaml.YAMLError; yaml is imported lazily
        if not type(exc).__module__.startswith("yaml"):
            raise
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or exc
        raise ProtocolError([f"site file {path}{where}: not valid YAML: {problem}"]) from None


@lru_cache(maxsize=1)
def _default_protocol() -> Protocol:
    """The packaged knowledge base, from the per-user cache when its files have not changed.

    Parsing, validating and linting the YAML costs about 0.1 s, a fifth of a CLI call; the
    validated Protocol is cached by the hash of the knowledge base's bytes, the modules whose
    classes it holds and the package version, so any edit to a rule file invalidates it.
    """
    key = _kb_key(DEFAULT_KB)
    path = _cache_dir() / f"protocol-{key[:24]}.pickle"
    try:
        with path.open("rb") as fh:
            cached = pickle.load(fh)
        if isinstance(cached, Protocol) and getattr(cached, "cache_key", None) == key:
            return cached
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError):
        pass
    protocol = _build(read_raw(DEFAULT_KB), None)
    protocol.cache_key = key
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(protocol, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home is fine: we just load from YAML every time
    return protocol


def _cache_dir() -> Path:
    explicit = os.environ.get("VASOGUIDE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vasoguide"


def _kb_key(kb_dir: Path) -> str:
    from .. import __version__

    h = hashlib.sha256(f"{__version__}|{sys.version_info[:2]}".encode())
    # The pickled objects' classes live in these modules: a change to them invalidates too.
    package = Path(__file__).resolve().parent.parent
    for module in ("protocol/loader.py", "protocol/model.py", "assessment.py"):
        h.update((package / module).read_bytes())
    for path in sorted(kb_dir.rglob("*.yaml")):
        h.update(path.relative_to(kb_dir).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()
