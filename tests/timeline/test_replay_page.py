"""The replay chart and page a clinician reads: the figure's artists and the parsed HTML."""

from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

import matplotlib.pyplot as plt
import pytest
from matplotlib.collections import PolyCollection

from vasoguide.engine import assess
from vasoguide.protocol import load_protocol
from vasoguide.timeline.replay import decision_times, replay_stay
from vasoguide.timeline.report import figure_png, replay_title, stay_figure, stay_html
from vasoguide.timeline.stay import load_stay, stale_note, stay_series

from .conftest import at, event, event_set

PROTOCOL = load_protocol()


def _stay_rows(with_ne: bool = True) -> list[dict[str, Any]]:
    rows = [event(0, "weight", 80, "kg"), event(600, "weight", 100, "kg")]
    rows += [event(30 * i, "map", 60 + (i % 5) * 4, "mm[Hg]", method="arterial")
             for i in range(40)]
    rows += [event(95, "map", 240, "mm[Hg]", method="arterial"),  # usable, but a spike
             event(100, "map", 400, "mm[Hg]", method="arterial", quality="implausible")]
    rows += [event(60 * i, "fluid.crystalloid", 500, "mL") for i in range(1, 15)]
    if with_ne:
        rows += [
            event(120, "infusion.norepinephrine", 0.1, "ug/kg/min", action="start"),
            event(300, "infusion.norepinephrine", 7.3, "ug/kg/min", action="change"),
            event(310, "infusion.norepinephrine", 0.12, "ug/kg/min", action="change"),
            event(900, "infusion.norepinephrine", 0, "ug/kg/min", action="stop"),
            event(400, "infusion.norepinephrine", 3, None, action="start",
                  quality="unit_unknown"),
        ]
    return rows


@lru_cache(maxsize=4)
def _replay(
    with_ne: bool = True, every: float | None = None
) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    es = event_set(_stay_rows(with_ne))
    st = load_stay(es, 10)
    decisions = replay_stay(st, PROTOCOL, assess, every, None, decision_times(st, every))
    return st, decisions, stay_series(es, 10, PROTOCOL)


def _figure(with_ne: bool = True) -> Any:
    st, decisions, s = _replay(with_ne)
    title = replay_title("test", st, decisions, s["weight_kg"], None)
    return title, stay_figure(title, s["pressures"], decisions, s["ne_dose"], s["nee"],
                              s["fluids"], flagged=s["flagged"], weight_kg=s["weight_kg"])


def test_the_chart_shades_the_band_and_keeps_spikes_and_artefacts_off_the_line() -> None:
    title, fig = _figure()
    ax_bp, ax_ne, ax_fl, ax_dec = fig.axes
    assert "shock type unknown" in title and "80 kg" in title and "MAP ≥ 65 mmHg" in title
    assert any(isinstance(c, PolyCollection) for c in ax_bp.collections)  # the band
    # the 240 mmHg reading and the 7.3 mcg/kg/min change do not set the axes
    assert ax_bp.get_ylim()[1] < 240 and ax_ne.get_ylim()[1] < 7.3
    labels = ax_bp.get_legend_handles_labels()[1] + ax_ne.get_legend_handles_labels()[1]
    assert "artefact (not used)" in labels and "above the axis (value shown)" in labels
    assert any("rates not used" in lab for lab in labels)
    assert "mcg/kg/min" in ax_ne.get_ylabel() and "ug" not in ax_ne.get_ylabel()
    assert "UTC" in ax_dec.get_xlabel()
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax_dec.get_xticklabels() if t.get_text()]
    assert ticks and all(re.match(r"\d{4}-\d\d-\d\d\n\d\d:\d\d", t) for t in ticks)
    assert "cumulative" in ax_fl.get_ylabel() and "mL" in ax_fl.get_title(loc="left")
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_cumulative_fluids_never_decrease_when_the_weight_changes() -> None:
    _, _, s = _replay()
    values = [v for _, v in s["fluids"] if v is not None]
    assert len(values) > 5 and values == sorted(values)


def test_a_stay_without_norepinephrine_draws_no_empty_legend() -> None:
    # warnings are errors: an empty legend's "No artists with labels" warning fails this
    _, fig = _figure(with_ne=False)
    assert fig.axes[1].get_legend() is None
    plt.close(fig)


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tag = ""
        self.cells: dict[str, list[str]] = {"th": [], "td": [], "p": []}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tag = tag

    def handle_data(self, data: str) -> None:
        if self.tag in self.cells and data.strip():
            self.cells[self.tag].append(data.strip())


def test_the_page_has_readable_headers_tz_times_summaries_and_a_stale_note() -> None:
    st, decisions, _ = _replay()
    assert stale_note(st, decisions, PROTOCOL) is None  # a decision at each new pressure
    # every 10 min against pressures every 30 min: the engine flags STALE_DATA often
    st, stale, _ = _replay(every=10)
    assert sum("STALE_DATA" in d["alerts"] for d in stale) * 4 >= len(stale)
    note = stale_note(st, stale, PROTOCOL)
    assert note is not None and "pressure_max_age (15 min)" in note and "30 min" in note
    parser = _Cells()
    parser.feed(stay_html("t", b"png", stale, [note], tz="UTC"))
    th = parser.cells["th"]
    assert th[:3] == ["Time (UTC)", "Pressure (mmHg)", "Target (mmHg)"]
    assert "Summary" in th and "Norepinephrine (mcg/kg/min)" in th
    assert not [h for h in th if "_" in h]
    assert any(c.startswith("MAP ") and "target" in c for c in parser.cells["td"])
    assert note in parser.cells["p"]
    assert at(0).strftime("%Y-%m-%d") in " ".join(parser.cells["td"])


@pytest.mark.parametrize("tz", ["UTC", "America/Chicago"])
def test_page_times_are_in_the_stated_zone(tz: str) -> None:
    _, decisions, _ = _replay()
    parser = _Cells()
    parser.feed(stay_html("t", b"png", decisions, [], tz=tz))
    assert parser.cells["th"][0] == f"Time ({tz})"
