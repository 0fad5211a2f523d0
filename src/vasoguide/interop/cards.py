"""Assessment -> CDS Hooks cards. Pure: the same Assessment gives the same cards (bar uuids).

Card rules applied here (CDS Hooks 2.0 "Card Attributes"): a summary under 140 characters; an
indicator; a source naming the guideline the advice rests on; a uuid on every card and
suggestion; `selectionBehavior` with suggestions; override reasons with displays. The detail
(GitHub-flavoured Markdown, no HTML) shows the inputs with their times, the advice, the alerts,
the rules with their evidence, and the data that were not used, so the clinician can review the
basis independently. Nothing is ever applied automatically: no systemActions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from uuid import uuid4

from ..assessment import Assessment, BasisEntry
from ..display import number_text, rounded
from .cdshooks import SUMMARY_MAX, Action, Card, OverrideReason, Source, Suggestion
from .codes import CodeTables
from .orders import OrderCheck, Severity, display_unit

__all__ = ["decision_card", "detail_markdown", "order_card", "summary_of"]

IdFactory = Callable[[], str]
_REPORT_LINES_MAX = 25
_NOT_NOW = {"RESUSCITATE_FIRST", "PERMISSIVE_HYPOTENSION", "NOT_INDICATED"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")  # what `_md` escapes (kept for reference)
_MD_TABLE = str.maketrans({**{c: "\\" + c for c in "\\`*_[]<>|~"}, "\n": " "})


def _md(text: object) -> str:
    """Escape Markdown and HTML in text that came from data, so it renders as written.

    One `str.translate` pass: each of \\ ` * _ [ ] < > | ~ gets a backslash, newlines become
    spaces (the same output as `_MD_SPECIAL.sub(r"\\\1", text)` then the newline swap).
    """
    return str(text).translate(_MD_TABLE)


def _fit(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _num(value: float) -> str:
    # The Assessment's number as it is (display.py): cards never round again.
    return number_text(value)


def _target_text(a: Assessment) -> str:
    t = a.target
    if t is None:
        return "no target"
    unit = display_unit(t.unit)
    if t.high is not None:
        return f"{t.measure.upper()} {_num(t.low)}-{_num(t.high)} {unit}"
    return f"{t.measure.upper()} ≥{_num(t.low)} {unit}"


def _latest_pressure(a: Assessment) -> str | None:
    measure = a.target.measure if a.target else "map"
    values = [i for i in a.inputs if i.code == measure and isinstance(i.value, int | float)]
    if not values:
        return None
    last = values[-1]
    return f"{measure.upper()} {_num(float(last.value))}"  # type: ignore[arg-type]


def _drug_action_text(a: Assessment) -> str | None:
    for action in a.actions:
        if action.drug == "norepinephrine" and action.dose is not None:
            text = f"{_num(action.dose.value)} {display_unit(action.dose.unit)}"
            if action.rate is not None and action.concentration is not None:
                text += (f" = {_num(action.rate.value)} mL/h at "
                         f"{_num(action.concentration.value)} "
                         f"{display_unit(action.concentration.unit)}")
            return text
    return None


def summary_of(a: Assessment) -> str:
    """One sentence under 140 characters: the decision, the pressure against target, the dose."""
    pressure = _latest_pressure(a)
    vs = f"{pressure} vs target {_target_text(a)}" if pressure else f"target {_target_text(a)}"
    dose = _drug_action_text(a)
    texts = {
        "START_NOREPINEPHRINE": f"Norepinephrine indicated ({vs}): start {dose}",
        "INCREASE_NOREPINEPHRINE": f"Below target on norepinephrine ({vs}): increase to {dose}",
        "CONTINUE_NOREPINEPHRINE": f"At target on norepinephrine ({vs}): continue current dose",
        "DECREASE_NOREPINEPHRINE": f"Above target on norepinephrine ({vs}): wean gradually"
        + (f" to {dose}" if dose else ""),
        "RESUSCITATE_FIRST": "Norepinephrine not advised yet: volume resuscitation not adequate; "
        "fluids or blood first",
        "PERMISSIVE_HYPOTENSION": f"Permissive hypotension ({vs}): no vasopressor now",
        "NOT_INDICATED": f"Norepinephrine not indicated now ({vs})",
        "INSUFFICIENT_DATA": "No safe norepinephrine advice: needs "
        + (", ".join(a.missing) or "more data"),
    }
    return _fit(texts[a.decision])


def _indicator(a: Assessment, ordering: bool) -> Severity:
    severities = {alert.severity for alert in a.alerts}
    if "critical" in severities:
        return "critical"
    if "warning" in severities or (ordering and a.decision in _NOT_NOW | {"INSUFFICIENT_DATA"}):
        return "warning"
    return "info"


def _source(a: Assessment) -> Source:
    """The guideline the decision rests on: the first rule cited by the decision's own action."""
    by_id = {b.id: b for b in a.basis}
    chosen: BasisEntry | None = None
    for action in a.actions:
        if action.code == a.decision:
            chosen = next((by_id[r] for r in action.basis if r in by_id), None)
            break
    if chosen is None and a.target is not None:
        chosen = next((by_id[r] for r in a.target.basis if r in by_id), None)
    chosen = chosen or (a.basis[0] if a.basis else None)
    guideline = chosen.source.split(" (")[0].split(";")[0] if chosen else "vasoguide protocol"
    label = f"{guideline} — vasoguide {a.protocol.name} {a.protocol.version}"
    return Source(label=label[:200])


def _override_reasons(tables: CodeTables) -> list[OverrideReason]:
    return [OverrideReason(system=tables.override_system, code=c, display=d)
            for c, d in tables.override_reasons]


# The basis part of the detail is the same on every card of one response (the decision card and
# each order card): built once per (Assessment, report) pair, by identity.
_LAST_BASIS: list[tuple[Assessment, Sequence[str], str]] = []


def detail_markdown(a: Assessment, report: Sequence[str] = (), lead: Sequence[str] = ()) -> str:
    """The basis of the advice, for the clinician to review: inputs, advice, alerts, evidence."""
    if _LAST_BASIS and _LAST_BASIS[0][0] is a and _LAST_BASIS[0][1] is report:
        body = _LAST_BASIS[0][2]
    else:
        body = _basis_markdown(a, report)
        _LAST_BASIS[:] = [(a, report, body)]
    return "\n".join([*lead, body])


def _basis_markdown(a: Assessment, report: Sequence[str]) -> str:
    out: list[str] = [f"**Decision:** {a.decision} — target {_md(_target_text(a))}"]
    if a.summary:
        out.append(_md(a.summary))
    if a.inputs:
        out += ["", "**Inputs used**", "", "| input | value | time |", "|---|---|---|"]
        for i in a.inputs:
            shown = (
                number_text(rounded(i.value, i.unit or "")) if isinstance(i.value, float)
                else str(i.value)
            )
            value = f"{shown} {display_unit(i.unit or '')}".strip()
            if i.method:
                value += f" ({i.method})"
            when = i.time.isoformat().replace("+00:00", "Z") if i.time else "—"
            out.append(f"| {_md(i.code)} | {_md(value)} | {_md(when)} |")
    if a.actions:
        out += ["", "**Advice**", ""]
        for action in a.actions:
            line = f"- {action.code}: {_md(action.text)}"
            if action.dose is not None:
                line += f" — {_md(_num(action.dose.value))} {_md(display_unit(action.dose.unit))}"
                if action.rate is not None and action.concentration is not None:
                    line += (f" = {_md(_num(action.rate.value))} mL/h at "
                             f"{_md(_num(action.concentration.value))} "
                             f"{_md(display_unit(action.concentration.unit))}")
            out.append(line)
    if a.alerts:
        out += ["", "**Alerts**", ""]
        out += [f"- {al.severity} {al.code}: {_md(al.text)}" for al in a.alerts]
    if a.missing:
        out += ["", f"**Missing:** {_md(', '.join(a.missing))}"]
    if a.basis:
        out += ["", "**Rules and evidence**", ""]
        for b in a.basis:
            line = (f"- `{b.id}` — {_md(b.statement)} *Source:* {_md(b.source)}; "
                    f"strength {_md(b.strength)}; certainty {_md(b.certainty)}")
            if not b.verified:
                line += " (not verified against the primary source)"
            if b.deviation:
                line += f" *Deviation:* {_md(b.deviation)}"
            out.append(line)
    if report:
        out += ["", "**Data not used, and assumptions made**", ""]
        out += [f"- {_md(line)}" for line in report[:_REPORT_LINES_MAX]]
        if len(report) > _REPORT_LINES_MAX:
            out.append(f"- … and {len(report) - _REPORT_LINES_MAX} more")
    p = a.protocol
    out += ["", f"Protocol {_md(p.name)} {_md(p.version)}, {_md(p.digest)}. Advice only: "
            "review before acting; nothing is applied automatically."]
    return "\n".join(out)


def decision_card(
    a: Assessment,
    *,
    tables: CodeTables,
    report: Sequence[str] = (),
    ordering: bool = False,
    new_id: IdFactory = lambda: str(uuid4()),
) -> Card:
    """The status card: is norepinephrine indicated now, at what target, which dose."""
    return Card(
        uuid=new_id(),
        summary=summary_of(a),
        detail=detail_markdown(a, report),
        indicator=_indicator(a, ordering),
        source=_source(a),
        overrideReasons=_override_reasons(tables),
    )


def order_card(
    check: OrderCheck,
    a: Assessment,
    *,
    tables: CodeTables,
    report: Sequence[str] = (),
    new_id: IdFactory = lambda: str(uuid4()),
) -> Card:
    """A card about one draft order's problems, with at most one `update` suggestion."""
    problems = sorted(check.problems, key=lambda p: ["critical", "warning", "info"]
                      .index(p.severity))
    head = (problems[0].short or problems[0].text) if problems else "checked"
    summary = f"Norepinephrine order: {head}"
    if check.proposal is not None and len(summary) < SUMMARY_MAX - 30:
        summary += f"; suggest {check.proposal.text()}"
    summary = _fit(summary)
    lead = ["**Order checks**", ""]
    lead += [f"- {p.severity} {p.code}: {_md(p.text)}"
             + (f" (rule `{p.rule}`)" if p.rule else "") for p in problems]
    suggestions: list[Suggestion] | None = None
    corrected = check.corrected()
    if corrected is not None and check.proposal is not None:
        text = check.proposal.text()
        lead += ["", f"**Proposed:** {_md(text)} ({_md(check.proposal.why)})"]
        suggestions = [Suggestion(
            label=_fit(f"Change the order to {text}"),
            uuid=new_id(),
            isRecommended=True,
            actions=[Action(type="update", description=_fit(f"Set dose and rate to {text}"),
                            resource=corrected)],
        )]
    lead.append("")
    return Card(
        uuid=new_id(),
        summary=summary,
        detail=detail_markdown(a, report, lead),
        indicator=check.worst,
        source=_source(a),
        suggestions=suggestions,
        selectionBehavior="at-most-one" if suggestions else None,
        overrideReasons=_override_reasons(tables),
    )
