"""The governance pack as a PDF: its control chart and bar charts (matplotlib images), page 1's
signals that need a decision with their icons, then the evidence that core.exports.pack
gathered, section by section.

People's text is written as typed: fpdf2's markdown stays off and its page-count alias is
switched off (core.text says why).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen on a server
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from fpdf import FPDF
from fpdf.fonts import FontFace
from matplotlib import font_manager
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.commissioner import views as cv
from core.commissioner.deid import Note, SuppressedTable, iso_week, label_notes, show
from core.commissioner.period import Period
from core.config import Settings
from core.exports.pack import AUDIENCES, PackData, gather
from core.exports.signals import RULE_TEXT, Signal
from core.metrics.go_lives import legend_rows, place_markers, position_day, rows_used
from core.spc_icons import ICON_GREY, ICON_INK, Icon, icon_shape
from core.text import matplotlib_text

Progress = Callable[[float, str], None]
"""Progress callback while the PDF is drawn: (share done from 0 to 1, the section's name)."""
GREEN, GREY, ORANGE, PURPLE = "#0b6e4f", "#4d5a57", "#e8710a", "#7b3fa0"


# -- charts -----------------------------------------------------------------------------------

def _chart_png(draw: Callable[[Any], None], *, width: float = 7.5, height: float = 3.2) -> bytes:
    figure, axes = plt.subplots(figsize=(width, height), dpi=150)
    try:
        draw(axes)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def spc_chart(trend: cv.Trend) -> bytes:
    """The XmR chart with go-live marks, as a PNG."""
    frame = trend.frame

    def draw(axes: Any) -> None:
        if frame.empty:
            axes.text(0.5, 0.5, "No data in the period", ha="center", va="center")
            axes.set_axis_off()
            return
        x = list(frame.index)
        axes.step(x, frame["upper"], where="mid", color="#9aa5a1", linestyle=":",
                  label="Process limits")
        axes.step(x, frame["lower"], where="mid", color="#9aa5a1", linestyle=":")
        axes.step(x, frame["mean"], where="mid", color=GREY, linestyle="--", label="Mean")
        axes.plot(x, frame["value"], color=GREY, marker="o", markersize=3, linewidth=1.2,
                  label=f"Near misses per {trend.granularity}")
        special = frame[frame["special_cause"]]
        if not special.empty:
            axes.scatter(list(special.index), special["value"], color=PURPLE, zorder=3,
                         s=22, label="Special cause")
        _go_live_markers(axes, frame.index, trend.go_lives)
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
        axes.legend(fontsize=7, loc="upper left", frameon=False)
        axes.grid(alpha=0.2)
        axes.tick_params(labelsize=7)

    return _chart_png(draw)


def _go_live_markers(axes: Any, index: pd.Index, go_lives: list[tuple[Any, ...]]) -> None:
    """Go-lives as numbered circles in a band just above the time axis (core.metrics.go_lives
    keeps them apart), numbered as the table under the chart; no label in the chart."""
    if not go_lives:
        return
    days = [pd.Timestamp(mark[0]) for mark in go_lives]
    start = min(pd.Timestamp(index[0]), *days) - pd.Timedelta(days=4)
    end = max(pd.Timestamp(index[-1]), *days) + pd.Timedelta(days=4)
    axes.set_xlim(start, end)
    span = (end - start) / pd.Timedelta(days=1)
    # A circle is about 0.2 in wide on a plot about 6.7 in wide.
    places = place_markers([day.date() for day in days], start=start.date(), end=end.date(),
                           gap=span * 0.2 / 6.7, max_rows=3)
    rows = rows_used(places)
    low, high = axes.get_ylim()
    row = (high - low) * 0.12
    axes.set_ylim(low - row * rows, high)
    for place in places:
        at = position_day(start.date(), place.position)
        axes.axvline(pd.Timestamp(place.day), color=GREEN, linewidth=0.6, linestyle=":")
        axes.annotate(str(place.number), (at, low - row * (rows - place.row - 0.5)),
                      ha="center", va="center", fontsize=6, color=GREEN,
                      bbox={"boxstyle": "circle,pad=0.25", "fc": "white", "ec": GREEN,
                            "lw": 0.8})


def bar_chart(breakdown: cv.Breakdown, title: str) -> bytes:
    shown = [(label, cell.value) for label, cell in breakdown.rows if not cell.hidden]

    def draw(axes: Any) -> None:
        labels = [matplotlib_text(label if len(label) <= 48 else label[:46] + "…")
                  for label, _ in reversed(shown)]
        axes.barh(labels, [count for _, count in reversed(shown)], color=GREEN)
        axes.set_title(matplotlib_text(title), fontsize=9)
        axes.tick_params(labelsize=7)
        axes.grid(axis="x", alpha=0.2)

    return _chart_png(draw, height=max(2.0, 0.28 * len(shown) + 0.8))


# -- the PDF ----------------------------------------------------------------------------------

class _Pack(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        font = font_manager.findfont("DejaVu Sans")
        bold = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans",
                                                                 weight="bold"))
        self.add_font("Body", "", font)
        self.add_font("Body", "B", bold)
        self.set_auto_page_break(True, margin=16)
        # People's text is written as typed: fpdf2's markdown stays off (its default) and the
        # "{nb}" page-count alias, which would rewrite that text in any cell, is switched off.
        self.alias_nb_pages(None)
        self.pack_title = title

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Body", "", 7)
        self.set_text_color(110)
        self.cell(0, 6, f"{self.pack_title} · page {self.page_no()}", align="C")
        self.set_text_color(0)


def _heading(pdf: _Pack, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("Body", "B", 13)
    pdf.set_text_color(11, 110, 79)
    pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font("Body", "", 9)


def _paragraph(pdf: _Pack, text: str) -> None:
    pdf.set_font("Body", "", 9)
    pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")


def _table(pdf: _Pack, header: list[str], rows: list[list[str]],
           widths: tuple[int, ...] | None = None) -> None:
    if not rows:
        _paragraph(pdf, "None in the period.")
        return
    pdf.set_font("Body", "", 7.5)
    heading = FontFace(emphasis="BOLD", fill_color=(226, 236, 232))
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.5,
                   headings_style=heading) as table:
        head = table.row()
        for name in header:
            head.cell(name)
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(str(value))
    pdf.set_font("Body", "", 9)


def _caption(pdf: _Pack, text: str) -> None:
    if not text:
        return
    pdf.set_font("Body", "", 7.5)
    pdf.set_text_color(80)
    pdf.multi_cell(0, 4, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font("Body", "", 9)
    pdf.ln(1)


def _notes(pdf: _Pack, notes: list[Note]) -> None:
    """A footnote block: each term in bold, then what it means."""
    for note in notes:
        pdf.set_font("Body", "B", 8)
        pdf.write(4.5, f"{note.term}: ")
        pdf.set_font("Body", "", 8)
        pdf.write(4.5, note.meaning)
        pdf.ln(5.5)
    pdf.set_font("Body", "", 9)


def _count_table(pdf: _Pack, table: SuppressedTable, heading: str) -> None:
    """A table of counts with its totals, as published."""
    records = table.records(heading)
    if len(records) <= 1:
        _paragraph(pdf, "None in the period.")
        return
    header = list(records[0])
    size = 7.5 if len(header) <= 8 else 6
    pdf.set_font("Body", "", size)
    first = 2.2 if len(header) <= 8 else 3.0  # the type names get the most room
    widths = (first, *([1.0] * (len(header) - 1)))
    with pdf.table(col_widths=widths, text_align=("LEFT", *["RIGHT"] * (len(header) - 1)),
                   line_height=size * 0.55,
                   headings_style=FontFace(emphasis="BOLD", fill_color=(226, 236, 232))) as out:
        head = out.row()
        for name in header:
            head.cell(str(name))
        for record in records:
            row = out.row()
            for value in record.values():
                row.cell("" if value is None else str(value))
    pdf.set_font("Body", "", 9)


def _image(pdf: _Pack, png: bytes) -> None:
    pdf.image(io.BytesIO(png), w=pdf.epw)


def draw_icon(pdf: FPDF, icon: Icon, x: float, y: float, size: float) -> None:
    """An SPC-style icon in a `size` mm square at (x, y): the ring, run line or target line
    and the letter of core.spc_icons' drawing (the web page's SVG draws the same shape)."""
    shape = icon_shape(icon)
    k = size / 100  # the drawing's 100 x 100 box, in mm

    def at(px: float, py: float) -> tuple[float, float]:
        return x + px * k, y + py * k

    with pdf.local_context():
        pdf.set_fill_color(255, 255, 255)
        pdf.set_draw_color(shape.ring)
        pdf.set_line_width(8 * k)
        pdf.circle(*at(50, 50), 44 * k, style="DF")
        if shape.target_line:
            pdf.set_line_width(4 * k)
            pdf.set_dash_pattern(dash=8 * k, gap=5 * k)
            pdf.line(*at(14, 72), *at(86, 72))
            pdf.set_dash_pattern()
        if shape.points:
            pdf.set_draw_color(ICON_GREY)
            pdf.set_line_width(2.5 * k)
            pdf.polyline([at(px, py) for px, py in shape.points])
            for index, (px, py) in enumerate(shape.points):
                colour = shape.ring if index >= shape.coloured_from else ICON_GREY
                pdf.set_fill_color(colour)
                pdf.circle(*at(px, py), 4.5 * k, style="F")
        if shape.letter:
            points = shape.letter_size * k * 72 / 25.4  # the letter's height, in points
            pdf.set_font("Body", "B", points)
            pdf.set_text_color(ICON_INK)
            width = pdf.get_string_width(shape.letter)
            left, baseline = at(50, shape.letter_y)
            pdf.text(left - width / 2, baseline, shape.letter)


ICON_LEGEND = ("Icons: H or L, higher or lower than usual (a control chart special cause or a "
               "cluster); P, effective; F, not effective, lapsed or late; ?, not known yet or a "
               "decision awaited. The letter says it; the colour repeats it.")
_SIGNAL_ICON_MM = 13


def _clip(text: str, most: int) -> str:
    """One line of a signal, cut short so the summary stays on one page."""
    return text if len(text) <= most else text[:most - 1] + "…"


def _signal(pdf: _Pack, signal: Signal) -> None:
    """One signal: its icon at the left, then headline, detail and the decision asked for."""
    top = pdf.get_y()
    draw_icon(pdf, signal.icon, pdf.l_margin, top, _SIGNAL_ICON_MM)
    indent = pdf.l_margin + _SIGNAL_ICON_MM + 4
    width = pdf.w - pdf.r_margin - indent
    pdf.set_xy(indent, top)
    pdf.set_font("Body", "B", 10)
    pdf.multi_cell(width, 5, _clip(signal.headline, 170), new_x="LEFT", new_y="NEXT")
    pdf.set_font("Body", "", 8.5)
    pdf.multi_cell(width, 4.3, _clip(signal.detail, 220), new_x="LEFT", new_y="NEXT")
    pdf.set_font("Body", "B", 8.5)
    pdf.multi_cell(width, 4.3, "Decide: " + signal.decision, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Body", "", 9)
    pdf.set_y(max(pdf.get_y(), top + _SIGNAL_ICON_MM) + 4)


def _summary_page(pdf: _Pack, data: PackData, limit: str) -> None:
    """Page 1: who the pack is for, then the signals that need a decision (or that none do)."""
    pdf.add_page()
    pdf.set_font("Body", "B", 18)
    pdf.multi_cell(0, 9, "Near-miss governance pack", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Body", "", 11)
    pdf.multi_cell(0, 6, f"{data.provider} · {data.period.label} · "
                         f"For: {AUDIENCES[data.audience]}", new_x="LMARGIN", new_y="NEXT")
    _caption(pdf, f"Generated {data.generated}. Evidence that near misses are captured, triaged "
                  "and turned into verified improvements. No person supported, worker or "
                  f"reporter is identified; {limit}.")
    _heading(pdf, "Signals that need a decision")
    _paragraph(pdf, data.summary.text)
    pdf.ln(2)
    for signal in data.summary.signals:
        _signal(pdf, signal)
    _caption(pdf, RULE_TEXT)
    if data.summary.signals:
        _caption(pdf, ICON_LEGEND)


_EVIDENCE_HEADER = ["Theme (where)", "Action", "Live from", "Days each side", "Before",
                    "After", "A week: before → after", "Change", "Verdict", "Still in place"]


def _evidence_section(pdf: _Pack, data: PackData) -> None:
    """The evidence per action: what changed after each control went live."""
    _heading(pdf, "Evidence per action")
    _paragraph(pdf, "For each action with a test window: the near misses of its theme in equal "
                    "windows before and after go-live, the verdict, and whether it is still in "
                    "place.")
    rows = []
    for row in data.evidence.rows:
        title = data.evidence_titles.get(row.action_id)
        action = f"{row.kind} ({row.strength.lower()})"
        rows.append([f"{row.theme} ({row.where})",
                     f"{title}: {action}" if title else action, row.go_live_week,
                     str(row.window_days) if row.window_days else "—", show(row.before),
                     show(row.after), f"{show(row.before_rate)} → {show(row.after_rate)}",
                     show(row.change), row.verdict, row.sustainment])
    if not rows:
        _paragraph(pdf, data.evidence.note)
        return
    pdf.set_font("Body", "", 6.5)
    with pdf.table(col_widths=(2.5, 2.3, 1.2, 0.8, 1.1, 1.1, 1.6, 1.5, 2.3, 2.0),
                   text_align=("LEFT", "LEFT", "LEFT", *["RIGHT"] * 5, "LEFT", "LEFT"),
                   line_height=3.6, headings_style=FontFace(emphasis="BOLD",
                                                             fill_color=(226, 236, 232))) as out:
        head = out.row()
        for name in _EVIDENCE_HEADER:
            head.cell(name)
        for values in rows:
            line = out.row()
            for value in values:
                line.cell(value)
    pdf.set_font("Body", "", 9)
    _caption(pdf, data.evidence.note)


def render_pdf(data: PackData, progress: Progress | None = None, *, rules: Settings) -> bytes:
    """The pack as PDF bytes (charts are images); `rules` say which counts a commissioner's
    pack hides."""
    step = progress or (lambda _share, _what: None)
    limit = "exact counts" if data.audience == "board" else \
        f"counts below {rules.commissioner.suppress_below} are hidden"
    title = f"Near-miss governance pack · {data.period.label}"
    pdf = _Pack(title)
    _summary_page(pdf, data, limit)
    step(0.05, "Evidence per action")
    pdf.add_page()
    if data.audience == "commissioner":
        _heading(pdf, "How to read the figures")
        _notes(pdf, label_notes(cv.threshold(rules=rules)))
    _evidence_section(pdf, data)
    step(0.1, "Headline figures")
    _headline_figures(pdf, data)
    step(0.25, "Control charts")
    _charts_and_counts(pdf, data, rules)
    step(0.55, "Actions")
    _register_section(pdf, data)
    step(0.75, "Escalations and culture")
    _escalations_and_culture(pdf, data)
    step(0.9, "Appendix: clusters")
    _cluster_appendix(pdf, data)
    step(1.0, "Done")
    return bytes(pdf.output())


def _headline_figures(pdf: _Pack, data: PackData) -> None:
    """The period's near misses against the period before, who reports, how fast triage is,
    and how many actions were verified effective."""
    _heading(pdf, "Headline figures")
    total = data.by_type.total
    rows = [["Near misses in the period", show(total)],
            ["The period before", show(data.previous_total)],
            ["Different reporters", show(data.culture.reporters)],
            ["Reported without a name", show(data.culture.anonymous_share)],
            ["Median hours to triage", show(data.culture.median_hours_to_triage)],
            ["Actions verified effective",
             str(int((data.register.get("Verdict", pd.Series(dtype=str)) == "effective").sum()))
             if not data.register.empty else "0"]]
    _table(pdf, ["", "Value"], rows, (120, 60))


def _charts_and_counts(pdf: _Pack, data: PackData, rules: Settings) -> None:
    """The control chart with its go-lives, the bars by type and by what stopped harm, and
    the tables of counts by type and service and by type over time."""
    _heading(pdf, "Trend (control chart)")
    _paragraph(pdf, "Near misses per " + data.trend.granularity + " with the mean and process "
                    "limits (mean ± 2.66 × the average moving range). Purple points are special "
                    "causes; numbered markers above the time axis show when a control went live"
                    + (f" (the {len(data.trend.go_lives)} with the most linked near misses of "
                       f"{data.trend.controls_live})"
                       if data.trend.controls_live > len(data.trend.go_lives) else "")
                    + ", listed under the chart.")
    if not data.trend.frame.empty:
        _image(pdf, spc_chart(data.trend))
        if data.trend.go_lives:
            _table(pdf, ["No.", "Control (its kind)", "Week", "Strength"],
                   [[str(row.number), row.action, iso_week(row.day), row.strength or "—"]
                    for row in legend_rows(data.trend.go_lives)], (14, 110, 30, 30))
    _caption(pdf, data.trend.note)
    _image(pdf, bar_chart(data.by_type, "Near misses by type"))
    _image(pdf, bar_chart(data.by_barrier, "What stopped harm"))
    if any(cell.hidden for _, cell in data.by_type.rows + data.by_barrier.rows):
        _caption(pdf, "Bars are drawn for the figures shown; those reading \"fewer than "
                      f"{cv.threshold(rules=rules)}\" or \"suppressed\" are in the tables.")
    _heading(pdf, "Near misses by type and service")
    _count_table(pdf, data.tables.by_service, "Type")
    _caption(pdf, data.tables.service_note)
    _heading(pdf, f"Near misses by type, {data.tables.level.level} by "
                  f"{data.tables.level.level}")
    _count_table(pdf, data.tables.over_time, "Type")
    _caption(pdf, data.tables.time_note)


def _register_section(pdf: _Pack, data: PackData) -> None:
    """The action register (its rates are in the evidence per action already)."""
    _heading(pdf, "Action register")
    register = data.register
    if register.empty:
        _paragraph(pdf, "No actions yet.")
    else:
        columns = [c for c in register.columns if c not in ("Before (rate)",
                                                              "During test (rate)")]
        _table(pdf, columns, [[("" if pd.isna(v) else str(v)) for v in row]
                              for row in register[columns].itertuples(index=False)])


def _escalations_and_culture(pdf: _Pack, data: PackData) -> None:
    """How fast escalations were acknowledged, the reporting culture, and the updates that
    told staff what changed because they reported."""
    _heading(pdf, "Escalation timeliness")
    _table(pdf, ["Kind", "Raised", "Median minutes to acknowledge", "Acknowledged in time"],
           [[e.kind, show(e.raised), show(e.median_minutes), show(e.within_time)]
            for e in data.escalations])
    _heading(pdf, "Reporting culture")
    _table(pdf, ["", "Value"], [
        ["Near misses", show(data.culture.reports)],
        ["Different reporters", show(data.culture.reporters)],
        ["Reported without a name", show(data.culture.anonymous_share)],
        ["Median hours from report to triage", show(data.culture.median_hours_to_triage)]],
        (120, 60))
    _heading(pdf, "What changed because you reported")
    _table(pdf, ["Month", "Updates published", "Reports behind them"],
           [[f.month, str(f.updates), show(f.reports_behind_them)] for f in data.feedback])
    if data.update_titles:
        _table(pdf, ["Published", "Update"], [list(u) for u in data.update_titles])


def _cluster_appendix(pdf: _Pack, data: PackData) -> None:
    """The cluster episodes of the period and what was done, at the end: the open ones that
    need a decision are on page 1 already."""
    pdf.add_page()
    _heading(pdf, "Appendix: clusters and what was done")
    cluster_rows = []
    for index, cluster in enumerate(data.clusters):
        row = [cluster.type_name, cluster.where, f"{cluster.from_week} – {cluster.to_week}",
               show(cluster.reports), "; ".join(cluster.actions) or "No action yet"]
        if data.cluster_references:
            row.append(", ".join(data.cluster_references[index][:8]))
        cluster_rows.append(row)
    header = ["Type", "Where", "Weeks", "Reports", "Actions"]
    if data.cluster_references:
        header.append("References")
    _table(pdf, header, cluster_rows)


def build_pack(session: Session, actor: Actor, period: Period, audience: str, *,
               now: datetime, rules: Settings, progress: Progress | None = None) -> bytes:
    """Gather the evidence and render the PDF (`now` is the moment it says it was generated)."""
    data = gather(session, actor, period, audience, now=now, rules=rules)
    return render_pdf(data, progress, rules=rules)
