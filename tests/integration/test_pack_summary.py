"""The governance pack opens with the signals that need a decision (issue 17 point 5): at most
five, chosen by a fixed rule, each with its SPC-style icon; then the evidence per action;
the cluster tables in an appendix at the end."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pandas as pd
import pytest
from fpdf import FPDF
from pypdf import PdfReader

from core.actions.models import SustainmentCheck
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.commissioner.action_evidence import ActionEvidence
from core.commissioner.deid import Cell
from core.commissioner.period import Period
from core.config import settings
from core.db import read_session
from core.exports.pack import gather
from core.exports.pack_pdf import ICON_LEGEND, build_pack, draw_icon
from core.exports.signals import (
    KINDS,
    MAX_SIGNALS,
    NONE_TEXT,
    Signal,
    decision_signals,
    select_signals,
    spc_signals,
    sustainment_signals,
    verdict_signals,
)
from core.spc import CONCERN, FAIL, HIGH, HIT_AND_MISS, PASS
from core.spc_icons import assurance_icon_of, icon_shape, run_points, special_cause_icon
from core.uow import UnitOfWork
from tests.builders import build_org
from tests.integration.test_action_evidence import SECRET_TITLE, _action, _file, _today

ICON = assurance_icon_of(HIT_AND_MISS, "Not known yet")


def _candidate(kind: str, order: int) -> Signal:
    return Signal(kind, ICON, f"{kind} {order}", "detail", "decide", (order,))


# -- the rule (pure) -----------------------------------------------------------------------------

def test_at_most_five_and_every_kind_that_has_one_is_seen():
    candidates = [_candidate("cluster", n) for n in range(8)]
    candidates += [_candidate("sustainment", 0), _candidate("verdict", 1),
                   _candidate("verdict", 0)]
    summary = select_signals(candidates)
    assert len(summary.signals) == MAX_SIGNALS
    assert [s.headline for s in summary.signals] == [
        "cluster 0", "cluster 1", "cluster 2", "verdict 0", "sustainment 0"]
    assert summary.left_out == {"cluster": 5, "verdict": 1}
    assert summary.text.startswith("5 signals need a decision this period (of 11: 5 more "
                                   "open clusters; 1 more verdicts")


def test_a_more_urgent_kind_is_never_crowded_out():
    candidates = [_candidate("verdict", n) for n in range(9)] + [_candidate("escalation", 0)]
    chosen = select_signals(candidates).signals
    assert chosen[0].kind == "escalation" and len(chosen) == MAX_SIGNALS
    assert [s.kind for s in chosen] == sorted((s.kind for s in chosen), key=KINDS.index)


def test_fewer_than_five_are_all_shown_and_none_is_said_in_words():
    two = select_signals([_candidate("spc", 0), _candidate("cluster", 0)])
    assert [s.kind for s in two.signals] == ["cluster", "spc"] and two.left_out == {}
    assert two.text == "2 signals need a decision this period."
    assert select_signals([_candidate("spc", 0)]).text == \
        "1 signal needs a decision this period."
    none = select_signals([])
    assert none.signals == () and none.text == NONE_TEXT
    assert NONE_TEXT.startswith("No signal needs a decision this period")


def test_a_special_cause_in_the_period_is_a_signal_with_its_side_letter():
    weeks = pd.date_range("2026-01-05", periods=30, freq="W-MON")
    steady = pd.Series([4, 5, 4, 6, 5, 4, 5, 6, 4, 5] * 3, index=weeks)
    spike = steady.copy()
    spike.iloc[25] = 30
    drop = steady.copy()
    drop.iloc[20:28] = 1  # a shift below the mean
    start, end = weeks[18].date(), weeks[-1].date() + timedelta(days=7)
    found = spc_signals([("All near misses", steady), ("Transport", spike),
                         ("Medication", drop)], start, end, board=True)
    by_name = {s.headline.split(":")[0]: s for s in found}
    assert set(by_name) == {"Transport", "Medication"}  # the steady series has no signal
    assert by_name["Transport"].icon.letter == "H" and by_name["Transport"].icon.kind == "neither"
    assert "30 where the mean is" in by_name["Transport"].detail
    assert by_name["Medication"].icon.letter == "L"
    # Before the period the spike is no signal of this period.
    assert spc_signals([("Transport", spike)], end, end + timedelta(days=70), board=True) == []
    # A commissioner's signal carries no count.
    (quiet,) = spc_signals([("Transport", spike)], start, end, board=False)
    assert "30" not in quiet.detail


def _row(**changes) -> ActionEvidence:
    values = dict(action_id=1, theme="Transport", where="Oak Lodge", kind="Checklist",
                  strength="Intermediate", status="In test", go_live=date(2026, 3, 2),
                  window_days=14, before=Cell(8), after=Cell(6), before_rate=Cell(4.0),
                  after_rate=Cell(3.0), change=Cell(-0.25, percent=True), verdict_key="running",
                  verdict="Test running", verdict_due=False, sustainment_key="none",
                  sustainment="—", sustainment_due=None)
    values.update(changes)
    return ActionEvidence(**values)  # type: ignore[arg-type]


def test_verdicts_due_failing_or_too_early_are_signals_with_p_f_or_question_mark():
    rows = [_row(action_id=1),  # running: nothing to decide
            _row(action_id=2, verdict_key="proposed_effective", verdict_due=True),
            _row(action_id=3, verdict_key="not_effective", status="Not effective"),
            _row(action_id=4, verdict_key="too_early", go_live=date(2026, 1, 5)),
            _row(action_id=5, verdict_key="due", verdict_due=True),
            _row(action_id=6, verdict_key="not_effective", status="In progress")]  # reworked
    found = {s.order[-1]: s for s in verdict_signals(rows, titles={})}
    assert set(found) == {2, 3, 4, 5}
    assert [found[i].icon.letter for i in (2, 3, 4, 5)] == ["P", "F", "?", "?"]
    assert found[3].decision.startswith("Agree a stronger action")
    assert max(s.order for s in found.values()) == found[4].order  # too early comes last
    assert "Transport, Oak Lodge" in found[2].headline and "Checklist" in found[2].headline


def test_lapsed_and_overdue_still_in_place_checks_are_signals():
    start, end = date(2026, 4, 1), date(2026, 7, 1)
    rows = [_row(action_id=1, sustainment_key="overdue", sustainment="Check overdue",
                 sustainment_due=date(2026, 5, 1)),
            _row(action_id=2, sustainment_key="lapsed", sustainment="No: lapsed",
                 sustainment_due=date(2026, 4, 20), sustainment_checked=date(2026, 4, 22)),
            _row(action_id=3, sustainment_key="lapsed", sustainment="No: lapsed",
                 sustainment_due=date(2025, 4, 20), sustainment_checked=date(2025, 4, 22)),
            _row(action_id=4, sustainment_key="in_place", sustainment="Yes",
                 sustainment_due=date(2026, 5, 1), sustainment_checked=date(2026, 5, 2))]
    found = sorted(sustainment_signals(rows, start, end, titles={1: "Named by the board"}),
                   key=lambda s: s.order)
    assert [(s.order[-1], s.icon.letter) for s in found] == [(2, "F"), (1, "?")]
    assert found[1].headline.startswith("Named by the board: Checklist")


def test_every_icon_is_drawn_from_the_shared_shape():
    icons = [special_cause_icon(CONCERN, HIGH, "A cluster"),
             special_cause_icon("neither", "low", "Lower"), assurance_icon_of(PASS, "P"),
             assurance_icon_of(FAIL, "F"), assurance_icon_of(HIT_AND_MISS, "?")]
    assert [icon_shape(i).letter for i in icons] == ["H", "L", "P", "F", "?"]
    assert icon_shape(icons[0]).points == run_points("high")
    pdf = FPDF()
    from matplotlib import font_manager

    pdf.add_font("Body", "B", font_manager.findfont(font_manager.FontProperties(
        family="DejaVu Sans", weight="bold")))
    pdf.add_page()
    for n, icon in enumerate(icons):
        draw_icon(pdf, icon, 10 + 20 * n, 10, 14)
    text = PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0].extract_text()
    assert [letter for letter in "HLPF?" if letter in text] == list("HLPF?")
    with pytest.raises(ValueError):
        special_cause_icon("common cause", HIGH, "no")


# -- the pack ------------------------------------------------------------------------------------

def _period() -> Period:
    return Period(_today() - timedelta(days=90), _today() + timedelta(days=1), "the last 90 days")


def _pages(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def _first_page_with(pages: list[str], text: str) -> int:
    return next(i for i, page in enumerate(pages) if text in page)


def test_with_no_signal_the_summary_says_so_in_words(engine):
    org = build_org(engine)
    with read_session(engine) as session:
        summary = decision_signals(session, org.actor("quality"), _period().start,
                                   _period().end, suppress=False, now=utcnow(), rules=settings())
        pages = _pages(build_pack(session, org.actor("quality"), _period(), "board",
                                  now=utcnow(), rules=settings()))
    assert summary.signals == () and summary.text == NONE_TEXT
    assert "Signals that need a decision" in pages[0]
    assert "No signal needs a decision this period" in pages[0]


def test_page_one_is_the_summary_then_the_evidence_per_action_then_the_appendix(engine):
    org = build_org(engine)
    go_live = _today() - timedelta(days=30)
    _file(engine, org, go_live - timedelta(days=7), 8)
    _file(engine, org, go_live + timedelta(days=3), 6)
    _action(engine, org, go_live=go_live, measure=False)  # its verdict is due
    overdue = _action(engine, org, go_live=_today() - timedelta(days=80),
                      status="verified_effective")
    with UnitOfWork(engine) as uow:
        uow.session.add(SustainmentCheck(action_id=overdue, due_date=_today() - timedelta(
            days=4)))
        uow.record(SYSTEM, "test.check_due", "action", overdue, at=utcnow())
        uow.commit()
    _file(engine, org, _today() - timedelta(days=2), 1, type_key="safeguarding_rights")
    for audience, actor in (("board", "quality"), ("commissioner", "commissioner")):
        with read_session(engine) as session:
            data = gather(session, org.actor(actor), _period(), audience, now=utcnow(),
                          rules=settings())
            pages = _pages(build_pack(session, org.actor(actor), _period(), audience,
                                      now=utcnow(), rules=settings()))
        kinds = [s.kind for s in data.summary.signals]
        # The 8 near falls in one week may also be a special cause on a control chart.
        assert kinds[0] == "escalation" and kinds[-2:] == ["verdict", "sustainment"], audience
        assert set(kinds) <= {"escalation", "spc", "verdict", "sustainment"}
        first = " ".join(pages[0].split())  # justified lines extract with double spaces
        assert "Signals that need a decision" in first
        assert f"{len(kinds)} signals need a decision this period." in first
        assert "Safeguarding escalations" in first and "Decide:" in first
        assert "Verdict due" in first and "Check overdue" in first
        assert ICON_LEGEND[:40] in first
        assert "Headline figures" not in first and "Evidence per action" not in first
        evidence = _first_page_with(pages, "Evidence per action")
        headline = _first_page_with(pages, "Headline figures")
        appendix = _first_page_with(pages, "Appendix: clusters and what was done")
        assert 0 < evidence <= headline < appendix == len(pages) - 1
        assert all("clusters and what was done" not in p.lower() for p in pages[:appendix])
        assert (SECRET_TITLE in " ".join(pages)) == (audience == "board")
    # A commissioner's counts are published as on the commissioner page.
    assert "fewer than 5 without a recorded decision" in first


def test_five_long_signals_still_fit_on_page_one(engine):
    from dataclasses import replace

    from core.exports.pack_pdf import render_pdf

    org = build_org(engine)
    words = "a very long board title naming the control in full detail " * 6
    candidates = [Signal(kind, special_cause_icon(CONCERN, HIGH, "A cluster") if n % 2 else ICON,
                         f"Signal {n} {words}", "detail " * 60, "Decide something. " * 4, (n,))
                  for n, kind in enumerate(KINDS)]
    with read_session(engine) as session:
        data = gather(session, org.actor("quality"), _period(), "board", now=utcnow(),
                      rules=settings())
    pages = _pages(render_pdf(replace(data, summary=select_signals(candidates)),
                              rules=settings()))
    assert all(f"Signal {n}" in pages[0] for n in range(5))
    assert ICON_LEGEND[:40] in pages[0]
    assert pages[1].startswith("Evidence per action")
