"""Readable terminal output (Rich) for assessments, dose conversions and the protocol.

Doses are shown as "mcg" (UCUM `ug`), and every rate in mL/h carries its concentration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .display import number_text, quantity_text, rounded, unit_text

if TYPE_CHECKING:
    from .assessment import Assessment, OutQuantity, Target
    from .dosing import DoseConversion, LimitCheck
    from .protocol import Protocol

__all__ = [
    "input_text",
    "print_assessment",
    "print_dose",
    "print_protocol",
    "show_unit",
    "target_text",
]

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def show_unit(unit: str) -> str:
    """UCUM to the spelling clinicians read: ug -> mcg, mm[Hg] -> mmHg (display.unit_text)."""
    return unit_text(unit)


def _q(q: OutQuantity | None) -> str:
    # The JSON number written as it is (display.py): surfaces never round again.
    return "" if q is None else quantity_text(q.value, q.unit)


def target_text(t: Target) -> str:
    """ "target MAP 80+ mmHg and SBP 110+ mmHg", from the Assessment's target."""
    band = number_text(t.low) + (f"-{number_text(t.high)}" if t.high is not None else "+")
    text = f"target {t.measure.upper()} {band} mmHg"
    for extra in t.also:
        more = number_text(extra.low) + (
            f"-{number_text(extra.high)}" if extra.high is not None else "+"
        )
        text += f" and {extra.measure.upper()} {more} mmHg"
    return text


def input_text(value: float | str | bool | None, unit: str | None) -> str:
    if isinstance(value, float) and unit:
        return quantity_text(rounded(value, unit), unit)
    if isinstance(value, float):
        return number_text(value)
    return f"{value}" + (f" {unit_text(unit)}" if unit else "")


def _console() -> Console:
    # Piped output (files, CI logs) gets a readable fixed width instead of Rich's 80 columns.
    probe = Console()
    return Console(highlight=False, soft_wrap=False, width=None if probe.is_terminal else 120)


def print_assessment(a: Assessment) -> None:
    con = _console()
    target = target_text(a.target) if a.target is not None else "no target"
    head = Text(a.decision.replace("_", " "), style="bold")
    head.append(f"\n{target}\n", style="")
    head.append(a.summary)
    con.print(Panel(head, title=f"vasoguide at {a.time:%Y-%m-%d %H:%M %Z}", expand=False))

    if a.actions:
        t = Table(title="Actions")
        t.add_column("action", no_wrap=True)
        t.add_column("dose")
        t.add_column("rate (at concentration)")
        t.add_column("advice")
        for act in a.actions:
            rate = ""
            if act.rate is not None and act.concentration is not None:
                rate = f"{_q(act.rate)} at {_q(act.concentration)} {act.concentration_basis or ''}"
            t.add_row(act.code, _q(act.dose), rate, act.text)
        con.print(t)
    if a.alerts:
        t = Table(title="Alerts")
        t.add_column("severity")
        t.add_column("alert", no_wrap=True)
        t.add_column("text")
        for al in a.alerts:
            t.add_row(Text(al.severity, style=_SEVERITY_STYLE[al.severity]), al.code, al.text)
        con.print(t)
    if a.missing:
        con.print("[bold]Missing:[/bold] " + "; ".join(a.missing))
    if a.inputs:
        t = Table("input", "value", "time", "note", title="Inputs used")
        for i in a.inputs:
            value = input_text(i.value, i.unit)
            when = f"{i.time:%H:%M}" if i.time else ""
            t.add_row(i.code, value, when, i.note or (i.method or ""))
        con.print(t)
    t = Table(title="Basis (vasoguide protocol show --rule ID for the full citation)")
    t.add_column("rule", no_wrap=True)
    t.add_column("source")
    t.add_column("strength, certainty")
    t.add_column("verified")
    t.add_column("deviates from seed")
    for b in a.basis:
        source = b.source.split(" (")[0]
        t.add_row(
            b.id,
            source,
            f"{b.strength}, {b.certainty}",
            "yes" if b.verified else "no",
            "yes" if b.deviation else "",
        )
    con.print(t)
    con.print(
        f"[dim]{a.protocol.name} {a.protocol.version} {a.protocol.digest[:19]}… "
        "Decision support: it advises, the clinician decides.[/dim]"
    )


def print_dose(d: DoseConversion, check: LimitCheck, salt: bool) -> None:
    con = _console()
    t = Table("", "", title="Norepinephrine dose")
    for label, text in d.lines():
        t.add_row(label, text)
    if d.weight_kg is not None:
        t.add_row("weight", quantity_text(d.weight_kg, "kg"))
    con.print(t)
    style = {"ok": "green", "high": "yellow"}.get(check.level, "bold red")
    con.print(Text(f"{check.level}: {check.message} ({check.rule})", style=style))


def print_protocol(p: Protocol, rule_id: str | None) -> None:
    con = _console()
    if rule_id is None:
        t = Table(title=f"{p.name} {p.version} ({len(p.rules)} rules)")
        t.add_column("rule", no_wrap=True)
        for name in ("title", "source", "strength, certainty", "deviates"):
            t.add_column(name)
        for rid, r in p.rules.items():
            b = p.basis(rid)
            source = b.source.split(" (")[0]
            grade = f"{b.strength}, {b.certainty}"
            t.add_row(rid, r.title, source, grade, "yes" if r.deviation else "")
        con.print(t)
        con.print(
            f"[dim]digest {p.digest}; site overrides: {', '.join(p.overrides) or 'none'}[/dim]"
        )
        return
    r = p.rules[rule_id]
    b = p.basis(rule_id)
    body = Text(f"{r.statement}\n\n", style="")
    body.append(f"Source: {b.source}\n")
    for name, th in r.thresholds.items():
        body.append(f"  {name}: {quantity_text(th.value, th.unit)} ({th.kind})\n")
    for key in r.settings:
        st = p.settings[key]
        body.append(f"  setting {key} = {st.value} {st.unit or ''} (local convention)\n")
    for quote in r.seed:
        body.append(f'Seed: "{quote}"\n', style="italic")
    if r.deviation:
        body.append(f"Deviation from the seed: {r.deviation}\n", style="yellow")
    body.append(f"Examples: {', '.join(e.name for e in r.examples)}")
    con.print(Panel(body, title=f"{rule_id}: {r.title}"))
