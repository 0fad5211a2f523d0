"""The command line: `vasoguide assess | dose | protocol show|check|trace | schema | demo`.

Only this module knows the terminal. Exit codes follow the contract: 0 an Assessment was
produced (INSUFFICIENT_DATA included), 2 the input is not valid (the message names the field),
1 a bug. No traceback ever reaches a user for bad input.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from .errors import DoseError, InputError, ProtocolError, VasoguideError

app = typer.Typer(
    name="vasoguide",
    help="Cited, unit-safe decision support for norepinephrine in hypotension that persists "
    "after fluid resuscitation. It advises; the clinician decides.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
protocol_app = typer.Typer(help="Inspect and check the knowledge base.", no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")

EXAMPLES = Path(__file__).resolve().parent / "examples"


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"vasoguide: {message}", err=True)
    raise typer.Exit(code)


def _protocol(kb: Path | None, site: Path | None) -> Any:
    from .protocol import load_protocol

    try:
        return load_protocol(kb, site)
    except ProtocolError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot read the knowledge base or site file: {exc}")


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        _fail(f"{path} is not UTF-8 text")


KbOpt = Annotated[
    Path | None, typer.Option("--kb", help="Knowledge base folder (default: built in).")
]
SiteOpt = Annotated[Path | None, typer.Option("--site", help="Site settings file (YAML).")]


@app.command()
def assess(
    path: Annotated[str, typer.Argument(help="PatientState JSON file, or - for standard input.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one Assessment JSON document.")
    ] = False,
    fhir: Annotated[bool, typer.Option("--fhir", help="The input is a FHIR R4 Bundle.")] = False,
    kb: KbOpt = None,
    site: SiteOpt = None,
) -> None:
    """Assess a patient state: the decision, target, actions with doses, alerts and reasons."""
    from .engine import assess as run_assess
    from .state import parse_state

    text = _read_text(path)
    protocol = _protocol(kb, site)
    notes: list[str] = []
    try:
        if fhir:
            state = _state_from_fhir(text, notes)
        else:
            try:
                json.loads(text)
            except ValueError as exc:
                _fail(f"{path}: not JSON ({exc})")
            state = parse_state(text)
        result = run_assess(state, protocol)
    except InputError as exc:
        for line in exc.problems:
            typer.echo(f"vasoguide: invalid PatientState: {line}", err=True)
        raise typer.Exit(2) from None
    for note in notes:
        typer.echo(f"vasoguide: FHIR: {note}", err=True)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        from .report import print_assessment

        print_assessment(result)


def _state_from_fhir(text: str, notes: list[str]) -> Any:
    try:
        from .interop.fhir import bundle_to_state  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        _fail("FHIR input needs the service extra: pip install 'vasoguide[service]'")
    try:
        bundle = json.loads(text)
    except ValueError as exc:
        _fail(f"not JSON ({exc})")
    state, report = bundle_to_state(bundle)
    notes.extend(report)
    return state


@app.command(context_settings={"ignore_unknown_options": True})
def dose(
    value: Annotated[str, typer.Argument(help="Dose or rate value, e.g. 0.1", metavar="VALUE")],
    unit: Annotated[str, typer.Argument(help="ug/kg/min, mcg/min, mL/h, mg/kg/h ...")],
    weight: Annotated[str | None, typer.Option(help="Body weight, e.g. 80kg or 176lb.")] = None,
    concentration: Annotated[
        str | None,
        typer.Option(help="Concentration of base, e.g. 32ug/mL or \"8 mg/250 mL\"."),
    ] = None,
    salt: Annotated[
        bool, typer.Option("--salt", help="The concentration is tartrate salt.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    kb: KbOpt = None,
    site: SiteOpt = None,
) -> None:
    """Convert a norepinephrine dose or pump rate, and check it like a pump's drug library."""
    from .dosing import check_conversion, convert_dose
    from .quantity_text import parse_concentration, parse_weight

    protocol = _protocol(kb, site)
    try:
        number = _number(value, "dose")
        weight_kg = parse_weight(weight) if weight else None
        conc = parse_concentration(concentration) if concentration else None
        result = convert_dose(
            number,
            unit,
            weight_kg=weight_kg,
            concentration=conc,
            concentration_basis="salt" if salt else "base",
            salt_to_base=protocol.threshold("admin.concentration-and-rate", "salt_to_base", "1"),
        )
    except (DoseError, InputError) as exc:
        _fail(str(exc))
    check = check_conversion(protocol, result)
    if as_json:
        doc = {
            **result.as_json(),
            "limit": {"level": check.level, "message": check.message, "rule": check.rule},
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    from .report import print_dose

    print_dose(result, check, salt)


def _number(text: str, field: str) -> float:
    """A finite number typed on the command line ("-0.1" is a number, not an option)."""
    try:
        number = float(text)
    except ValueError:
        raise InputError(field, f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(field, f"{text!r} is not a finite number")
    if number < 0:
        raise InputError(field, f"{text} is negative: a dose or rate is zero or more")
    return number


@protocol_app.command("show")
def protocol_show(
    rule: Annotated[str | None, typer.Option(help="Show one rule in full.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    kb: KbOpt = None,
    site: SiteOpt = None,
) -> None:
    """List the rules with their sources, strength, certainty and deviations from the seed."""
    protocol = _protocol(kb, site)
    if rule is not None and rule not in protocol.rules:
        _fail(f"no rule {rule!r}; see `vasoguide protocol show`")
    if as_json:
        rules = [protocol.rules[rule]] if rule else list(protocol.rules.values())
        typer.echo(json.dumps([r.model_dump() for r in rules], indent=2, default=str))
        return
    from .report import print_protocol

    print_protocol(protocol, rule)


@protocol_app.command("check")
def protocol_check(
    kb: KbOpt = None,
    site: SiteOpt = None,
    run_examples: Annotated[
        bool, typer.Option("--run-examples/--no-run-examples", help="Also run every rule example.")
    ] = True,
) -> None:
    """Validate a knowledge base (schema, then lints) and run its examples; all problems at once."""
    from .protocol import load_protocol
    from .rule_examples import check_example

    try:
        protocol = load_protocol(kb, site)
        # A rule's examples state what the rule does under the knowledge base's own defaults
        # (a site's concentration changes every rate): they run under those defaults, and
        # the site file is validated above (schema, ranges, order) like the knowledge base.
        defaults = load_protocol(kb, None) if site is not None else protocol
    except ProtocolError as exc:
        for problem in exc.problems:
            typer.echo(f"problem: {problem}")
        typer.echo(f"{len(exc.problems)} problem(s)")
        raise typer.Exit(1) from None
    except OSError as exc:
        _fail(f"cannot read the knowledge base: {exc}")
    failures = 0
    count = 0
    if site is not None:
        typer.echo(
            f"site file {site}: valid ({', '.join(protocol.ref.overrides) or 'no overrides'}); "
            "rule examples run under the knowledge base's default settings"
        )
    if run_examples:
        for rid, rule in defaults.rules.items():
            for example in rule.examples:
                count += 1
                for p in check_example(defaults, rid, example):
                    failures += 1
                    typer.echo(f"problem: rules › {rid} › examples › {example.name}: {p}")
    typer.echo(
        f"{protocol.name} {protocol.version} {protocol.digest}: {len(protocol.rules)} rules, "
        f"{count} examples run, {failures} problem(s)"
    )
    if failures:
        raise typer.Exit(1)


@protocol_app.command("trace")
def protocol_trace(
    out: Annotated[
        Path | None, typer.Option(help="Write the table here (default: stdout).")
    ] = None,
    seed: Annotated[
        Path | None, typer.Option(help="The seed text, to check quotes against.")
    ] = None,
) -> None:
    """Generate the traceability table: seed statement -> rule -> data file -> tests."""
    from .protocol import load_protocol
    from .traceability import traceability_markdown

    seed_text = _read_text(str(seed)) if seed else None
    text = traceability_markdown(load_protocol(), seed_text)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@app.command()
def schema(
    document: Annotated[str, typer.Argument(help="state or assessment")] = "state",
) -> None:
    """Print the JSON Schema of the PatientState (input) or the Assessment (output)."""
    from pydantic import BaseModel

    from .assessment import Assessment
    from .state import PatientState

    models: dict[str, type[BaseModel]] = {"state": PatientState, "assessment": Assessment}
    if document not in models:
        _fail(f"document must be one of {sorted(models)}, not {document!r}")
    typer.echo(json.dumps(models[document].model_json_schema(), indent=2))


@app.command()
def demo(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Assess the bundled example patients (septic start, trauma, wean) and print the advice."""
    from .engine import assess as run_assess
    from .report import print_assessment

    for path in sorted(EXAMPLES.glob("*.json")):
        result = run_assess(path.read_text(encoding="utf-8"))
        if as_json:
            typer.echo(result.model_dump_json())
        else:
            typer.echo(f"\n=== {path.stem} ===")
            print_assessment(result)


_EXTENSIONS = {
    "vasoguide.timeline.cli": {"replay", "audit"},
    "vasoguide.service.cli": {"serve", "trail"},
    "vasoguide.interop.export_cli": {"export"},
    "vasoguide.sim.cli": {"simulate"},
}


def _register_extensions(argv: list[str]) -> None:
    """Commands owned by optional sub-packages (timeline, service) when they are installed.

    Imported only when one of their commands (or help) is asked for, so `assess` starts fast.
    """
    wanted = set(argv[1:2])
    asks_help = len(argv) < 2 or argv[1] in ("--help", "-h")
    for module, commands in _EXTENSIONS.items():
        if not (asks_help or wanted & commands):
            continue
        try:
            mod = __import__(module, fromlist=["register"])
        except ImportError:
            continue
        mod.register(app)


def main() -> None:
    _register_extensions(sys.argv)
    try:
        app()
    except VasoguideError as exc:
        _fail(str(exc))
    except (KeyboardInterrupt, BrokenPipeError):
        raise SystemExit(130) from None


if __name__ == "__main__":  # pragma: no cover
    main()
