"""Step 3 around the drug: venous route, arterial catheter, extravasation, cuff-only pressures."""

from __future__ import annotations

from ..display import number_text as num
from ..display import rounded
from .advice import Advice, hhmm
from .infusions import NorepinephrineNow
from .snapshot import Pressure, Snapshot, minutes

__all__ = ["check_access"]


def check_access(
    snap: Snapshot, adv: Advice, ne: NorepinephrineNow, starting: bool, pressure: Pressure | None
) -> None:
    on_drug = ne.running or starting
    lines = snap.lines
    if on_drug:
        route = ne.entry.route if (ne.running and ne.entry is not None) else None
        # Peripheral only when known to be: a stated route, or no central line recorded as such.
        peripheral = route in ("peripheral", "intraosseous") or (
            route is None and lines.central_venous is False
        )
        if route is None and lines.central_venous is None:
            adv.need("infusion route (lines.central_venous)")
        if peripheral:
            rid = "admin.peripheral-start"
            where = route or "peripheral (no central line)"
            adv.alert(
                "PERIPHERAL_INFUSION",
                "warning",
                f"Norepinephrine through a {where} line: acceptable to start rather than delay; "
                "use a large vein at or above the antecubital fossa, avoid leg veins in the "
                "elderly, check the site often, and move to central access as soon as possible.",
                [rid],
            )
            adv.act(
                "INSPECT_INFUSION_SITE",
                "Inspect the infusion site frequently for blanching or extravasation.",
                [rid],
            )
            if lines.central_venous is not True:
                adv.act(
                    "PLACE_CENTRAL_LINE", "Place a central venous catheter when practical.", [rid]
                )
        # An arterial reading means an arterial line, whatever `lines` says or omits.
        arterial = lines.arterial is True or (
            pressure is not None and pressure.method == "arterial"
        )
        if not arterial:
            adv.act(
                "PLACE_ARTERIAL_CATHETER",
                "Place an arterial catheter as soon as practical (SSC: weak recommendation).",
                ["admin.arterial-catheter"],
            )
    if pressure is not None and pressure.method == "noninvasive":
        adv.alert(
            "NONINVASIVE_PRESSURE_ONLY",
            "info" if not on_drug else "warning",
            f"The pressure used ({pressure.measure} {num(rounded(pressure.value, 'mm[Hg]'))} "
            f"mmHg at "
            f"{hhmm(pressure.time)}) is a cuff reading.",
            ["data.noninvasive-pressure"],
        )
    _extravasation(snap, adv)


def _extravasation(snap: Snapshot, adv: Advice) -> None:
    leaks = [e for e in snap.events if e.code == "extravasation"]
    if not leaks:
        return
    rid = "pitfall.extravasation"
    event = max(leaks, key=lambda e: e.time)
    hours = minutes(snap.now - event.time) / 60.0
    window = adv.th(rid, "window", "h")
    lo, hi = adv.th(rid, "phentolamine_low", "mg"), adv.th(rid, "phentolamine_high", "mg")
    vol_lo, vol_hi = adv.th(rid, "volume_low", "mL"), adv.th(rid, "volume_high", "mL")
    adv.use_value("extravasation", True, time=event.time)
    late = hours > window
    adv.alert(
        "EXTRAVASATION",
        "critical",
        f"Extravasation reported at {hhmm(event.time)} ({num(rounded(hours, 'h'))} h ago)."
        + (f" The {num(window)} h treatment window has passed." if late else ""),
        [rid],
    )
    adv.act(
        "TREAT_EXTRAVASATION",
        f"Infiltrate the area with phentolamine {num(lo)}-{num(hi)} mg in "
        f"{num(vol_lo)}-{num(vol_hi)} mL "
        f"saline (fine needle), within {num(window)} h; move the infusion to another vein.",
        [rid],
        drug="phentolamine",
    )
    adv.act(
        "INSPECT_INFUSION_SITE",
        "Inspect the infusion site frequently for blanching or extravasation.",
        [rid],
    )
