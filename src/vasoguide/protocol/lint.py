"""The second validation: lints on meaning, each problem reported with its path.

Structure is checked by the pydantic models in `model.py`; here we check that every rule cites
a known source, every threshold has a unit the registry knows, ranges are ordered, settings and
rules point at each other, and every rule owns examples (fires, stays silent, and a boundary
pair per threshold) that expand into valid PatientStates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputError, UnitError
from ..units import convert, is_known_unit
from .examples import expand

if TYPE_CHECKING:
    from .loader import Protocol

__all__ = ["lint"]


def _rule_problems(p: Protocol, rid: str) -> list[str]:
    from ..state import parse_state

    rule = p.rules[rid]
    at = f"rules › {rid}"
    out: list[str] = []
    for i, c in enumerate(rule.citations):
        if c.source not in p.sources:
            out.append(f"{at} › citations[{i}] › source: unknown source {c.source!r}")
        if c.verified and c.tag != "V":
            out.append(f"{at} › citations[{i}]: verified is true but the tag is [{c.tag}]")
    for name, th in rule.thresholds.items():
        if not is_known_unit(th.unit):
            out.append(f"{at} › thresholds › {name} › unit: unknown unit {th.unit!r}")
        if th.source is not None and th.source not in p.sources:
            out.append(f"{at} › thresholds › {name} › source: unknown source {th.source!r}")
        if name.endswith("_low"):
            high = rule.thresholds.get(name[:-4] + "_high")
            if high is not None and is_known_unit(high.unit) and is_known_unit(th.unit):
                try:
                    if convert(high.value, high.unit, th.unit) < th.value:
                        out.append(f"{at} › thresholds › {name}: low is above its high")
                except UnitError:
                    out.append(
                        f"{at} › thresholds › {name}: low and high have different dimensions"
                    )
    for key in rule.settings:
        if key not in p.settings:
            out.append(f"{at} › settings: unknown site setting {key!r}")
    if rule.errata and not rule.deviation:
        out.append(f"{at} › deviation: the rule fixes seed errata {rule.errata} but says nothing")
    fires = [e for e in rule.examples if e.fires]
    silent = [e for e in rule.examples if not e.fires]
    if not fires:
        out.append(f"{at} › examples: no example where the rule fires")
    if not silent:
        out.append(f"{at} › examples: no example where the rule stays silent")
    for name, th in rule.thresholds.items():
        if th.kind != "threshold":
            continue
        pair = [e for e in rule.examples if e.boundary == name]
        outcomes = {(e.fires, repr(sorted(e.expect.items()))) for e in pair}
        if len(pair) < 2 or len(outcomes) < 2:
            out.append(f"{at} › examples: threshold {name!r} has no boundary pair")
    names: set[str] = set()
    for e in rule.examples:
        where = f"{at} › examples › {e.name}"
        if e.name in names:
            out.append(f"{where}: duplicate example name")
        names.add(e.name)
        if e.boundary is not None and e.boundary not in rule.thresholds:
            out.append(f"{where} › boundary: {e.boundary!r} is not a threshold of the rule")
        try:
            parse_state(expand(e.given, p.bases))
        except KeyError as exc:
            out.append(f"{where} › given: {exc.args[0]}")
        except InputError as exc:
            out.append(f"{where} › given: {exc}")
        unknown = set(e.expect) - _EXPECT_KEYS
        if unknown:
            out.append(f"{where} › expect: unknown keys {sorted(unknown)}")
    return out


_EXPECT_KEYS = {
    "decision",
    "target",
    "actions_include",
    "actions_exclude",
    "alerts_include",
    "alerts_exclude",
    "missing_include",
    "dose",
}


# Settings that must keep an order whatever a site chooses: (lower, higher).
_ORDERED_SETTINGS = (
    ("hard_limit_weight", "unit_suspect_weight"),
    ("unit_suspect_low_weight", "abrupt_stop_above"),
    ("hard_limit_fixed", "unit_suspect_fixed"),
    ("life_threatening_map", "default_map_target"),
    ("neonatal_age_below", "pediatric_age_below"),
    ("adolescent_age_from", "pediatric_age_below"),
    ("pediatric_max_dose", "hard_limit_weight"),
)


def _setting_order_problems(p: Protocol) -> list[str]:
    out: list[str] = []
    for low_key, high_key in _ORDERED_SETTINGS:
        low, high = p.settings.get(low_key), p.settings.get(high_key)
        if low is None or high is None or low.unit is None or high.unit is None:
            continue
        try:
            lo = p.setting(low_key, low.unit)
            hi = p.setting(high_key, low.unit)
        except Exception:  # unit mismatch is reported by the unit lint
            continue
        if not lo < hi:
            out.append(
                f"settings › {low_key}: {lo:g} must be below {high_key} ({hi:g} {low.unit})"
            )
    return out


def lint(p: Protocol) -> list[str]:
    """Every problem in the knowledge base, each with its path; empty when it is sound."""
    out: list[str] = []
    for rid in sorted(p.rules):
        out += _rule_problems(p, rid)
    for key, s in sorted(p.settings.items()):
        for rid in s.affects:
            if rid not in p.rules:
                out.append(f"settings › {key} › affects: unknown rule {rid!r}")
        if s.unit is not None and not is_known_unit(s.unit):
            out.append(f"settings › {key} › unit: unknown unit {s.unit!r}")
        if s.choices is not None and s.value not in s.choices:
            out.append(f"settings › {key} › value: {s.value!r} is not one of {s.choices}")
        number = isinstance(s.value, float | int) and not isinstance(s.value, bool)
        if number and s.unit is None:
            out.append(f"settings › {key} › unit: a number needs a unit ('1' if none)")
        if number and s.range is None:
            out.append(f"settings › {key} › range: a number needs the range a site may choose")
        if number and s.range is not None:
            lo, hi = s.range
            value = float(s.value)
            if not lo <= value <= hi:  # also refuses NaN
                out.append(
                    f"settings › {key} › value: {s.value!r} is outside the allowed range "
                    f"{lo:g}-{hi:g} {s.unit or ''}".rstrip()
                )
    out += _setting_order_problems(p)
    cited: set[str] = {c.source for r in p.rules.values() for c in r.citations}
    cited |= {t.source for r in p.rules.values() for t in r.thresholds.values() if t.source}
    for sid in sorted(set(p.sources) - cited):
        out.append(f"sources › {sid}: never cited by a rule")
    return out
