"""Each governance page runs in the real app, scoped to the user, with its charts."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from core.clock import utcnow
from core.config import settings
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, new_app, sign_in, texts
from tests.builders import build_org, draft, live_controls, local_now
from ui.governance import BARRIER_COLOURS

PAGES = ["pages/governance.py", "pages/governance_breakdowns.py",
         "pages/governance_clusters.py", "pages/governance_culture.py",
         "pages/governance_controls.py", "pages/meeting.py"]


@pytest.fixture
def org(engine):
    org = build_org(engine)
    for days in range(0, 120, 3):
        file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
            org, occurred_at=local_now() - timedelta(days=days),
            location_id=org.maple_kitchen if days % 2 else org.maple_bathroom),
                       now=utcnow(), rules=settings())
    file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, service_id=org.oak, location_id=org.oak_lounge, type_key="transport",
        description="Oak Lodge minibus booked for the wrong day; rebooked in time."),
                   now=utcnow(), rules=settings())
    return org


@pytest.mark.parametrize("page", PAGES)
def test_every_governance_page_runs_for_the_quality_lead(org, page):
    at = sign_in(new_app(), "quality")
    at.switch_page(page).run()
    assert_no_exception(at)
    assert texts(at, "title")


def chart_specs(at):
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(array):
    """Plotly sends numeric arrays as typed binary ({"dtype", "bdata"}) or plain lists."""
    if isinstance(array, dict):
        return list(np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]))
    return list(array)


def traces(spec):
    return {trace.get("name"): trace for trace in spec["data"]}


def test_the_trend_chart_has_limits_and_the_weekly_values(org):
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/governance.py").run()
    [spec] = chart_specs(at)
    names = [trace["name"] for trace in spec["data"]]
    assert names[:4] == ["Upper process limit", "Lower process limit", "Mean", "Near misses"]
    weekly = values(traces(spec)["Near misses"]["y"])
    now = local_now()
    monday = now.date() - timedelta(days=now.weekday())
    complete = sum(1 for days in range(0, 120, 3)
                   if (now - timedelta(days=days)).date() < monday)
    assert sum(weekly) == complete  # the week under way is left out of the chart
    assert any(m.strip("*").startswith(("Common cause variation", "Special cause"))
               for m in texts(at, "markdown"))


def test_breakdowns_are_scoped_for_a_supervisor(org):
    at = sign_in(new_app(), "supervisor")
    at.switch_page("pages/governance_breakdowns.py").run()
    assert_no_exception(at)
    at.segmented_control(key="breakdown_dimension").set_value("service").run()
    [spec] = chart_specs(at)
    assert spec["data"][0]["y"] == ["Maple House"]  # never Oak Lodge


def test_a_reporter_has_no_governance_pages(org):
    at = sign_in(new_app(), "reporter")
    links = " ".join(str(link.proto) for link in at.sidebar.get("page_link"))
    assert "governance" not in links and "meeting" not in links


def test_meeting_mode_shows_no_editing_widgets(org):
    at = sign_in(new_app(), "governance")
    at.query_params["panels"] = "trend,culture"
    at.switch_page("pages/meeting.py").run()
    assert_no_exception(at)
    editing = [w for kind in ("text_input", "text_area", "selectbox", "multiselect", "radio",
                              "checkbox", "number_input", "date_input")
               for w in getattr(at.main, kind)]
    assert editing == []
    assert texts(at, "title") in (["Near misses week by week"], ["Reporting culture"])


def test_the_controls_page_stacks_what_stopped_harm_as_shares(org):
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/governance_controls.py").run()
    assert_no_exception(at)
    [spec] = chart_specs(at)  # no actions yet: no strength chart
    traces = spec["data"]
    assert {trace["name"] for trace in traces} <= set(BARRIER_COLOURS)
    assert all(trace["stackgroup"] == "share" for trace in traces)
    by_month: dict[str, float] = {}
    for trace in traces:  # each month's shares add up to the whole
        for month, share in zip(trace["x"], values(trace["y"]), strict=True):
            by_month[month] = by_month.get(month, 0) + share
    assert by_month and all(abs(total - 100) < 1e-6 for total in by_month.values())
    assert any("stopped by staff noticing and recovering" in m for m in texts(at, "markdown"))
    assert "No actions yet" in " ".join(texts(at, "info"))


def test_the_barrier_chart_stacks_shares_and_hovers_with_counts():
    """The stacked chart reads in percent of each month; hovering shows the count too."""
    import pandas as pd

    from ui.governance import barrier_share_figure

    mix = pd.DataFrame({"month": ["2026-01", "2026-01", "2026-02", "2026-02"],
                        "barrier": ["Staff", "Designed control", "Staff", "Designed control"],
                        "count": [3, 1, 0, 5]})
    figure = barrier_share_figure(mix, height=300)
    shares = {trace.name: list(trace.y) for trace in figure.data}
    assert shares == {"Staff": [75.0, 0.0], "Designed control": [25.0, 100.0]}
    counts = {trace.name: list(trace.customdata) for trace in figure.data}
    assert counts == {"Staff": [3, 0], "Designed control": [1, 5]}


MARKERS = "Action go-live (numbered as listed below)"


def test_the_trend_marks_twelve_controls_and_says_how_many_went_live(org, engine):
    """A provider with many controls sees a readable chart: twelve numbered markers, the best
    evidenced, a table naming them, a note of how many went live, and the comparison list of
    the marked ones, numbered as on the chart."""
    today = local_now().date()
    live_controls(engine, org, [today - timedelta(days=3 * n + 8) for n in range(20)])
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/governance.py").run()
    assert_no_exception(at)
    [spec] = chart_specs(at)
    assert traces(spec)[MARKERS]["text"] == [str(n) for n in range(1, 13)]
    # The chart carries numbers only: no action title in any text of the figure.
    assert "Control" not in json.dumps(spec["layout"].get("annotations", []))
    assert not any("Control" in str(trace.get("text", "")) for trace in spec["data"])
    [legend] = [frame.value for frame in at.dataframe if "No." in frame.value.columns]
    assert list(legend.columns) == ["No.", "Action", "Went live", "Strength"]
    assert list(legend["No."]) == list(range(1, 13))
    # Number 1 is the earliest of the twelve best evidenced (the latest twelve here).
    assert legend["Action"].iloc[0] == "Control 11 (Walker check)"
    assert legend["Went live"].iloc[0] == f"{today - timedelta(days=41):%d %b %Y}"
    assert set(legend["Strength"]) == {"Intermediate"}
    assert any("20 controls that concern this chart went live" in c for c in texts(at, "caption"))
    compare = at.selectbox(key="trend_compare_all")
    assert len(compare.options) == 13  # "No comparison" and the twelve marked
    assert compare.options[1].startswith("1 · ")


def icon_markup(at):
    return [m for m in texts(at, "markdown") if "<svg" in m]


def test_the_trends_page_shows_the_icons_with_their_letters_and_words(org, engine):
    """A burst in the last complete week is a special cause, higher: the icon beside the chart
    says so with an H and in words, coloured by which way is better; a target brings the
    assurance icon (P, F or ?), and without one the page says why there is none."""
    now = local_now()
    last_week = now - timedelta(days=now.weekday() + 3)
    for _ in range(15):
        file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
            org, occurred_at=last_week), now=utcnow(), rules=settings())
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/governance.py").run()
    assert_no_exception(at)
    [icons] = icon_markup(at)  # neither direction better by default: purple, H
    assert ('aria-label="Special cause variation, higher: neither improvement nor concern"'
            in icons)
    assert ">H</text>" in icons and "Special cause: higher" in icons
    assert "No target set: no assurance icon" in icons

    at.selectbox(key="trend_direction").set_value("down").run()
    [icons] = icon_markup(at)
    assert 'aria-label="Special cause variation, higher: concern"' in icons
    assert ">H</text>" in icons

    at.number_input(key="trend_target").set_value(1000.0).run()
    [icons] = icon_markup(at)
    assert 'aria-label="Assurance: consistently passes the target"' in icons
    assert ">P</text>" in icons and "No target set" not in icons

    at.selectbox(key="trend_direction").set_value("up").run()
    [icons] = icon_markup(at)
    assert 'aria-label="Special cause variation, higher: improvement"' in icons
    assert 'aria-label="Assurance: consistently fails the target"' in icons
    assert ">F</text>" in icons


def test_meeting_mode_shows_the_icons_and_lists_the_go_lives_as_plain_text(org, engine):
    today = local_now().date()
    live_controls(engine, org, [today - timedelta(days=9), today - timedelta(days=30)],
                  titles=["**Bold** <b>claim</b>", "Grab rail"])
    at = sign_in(new_app(), "governance")
    at.query_params["panels"] = "trend"
    at.switch_page("pages/meeting.py").run()
    assert_no_exception(at)
    [icons] = icon_markup(at)
    assert 'role="img"' in icons
    assert 'aria-label="Common cause variation' in icons or 'aria-label="Special cause' in icons
    assert "claim" not in icons  # titles never reach the HTML
    listed = " ".join(texts(at, "text"))
    assert "1 · " in listed and "Grab rail (Walker check)" in listed
    assert "2 · " in listed and "**Bold** <b>claim</b> (Walker check)" in listed  # literally
    [spec] = chart_specs(at)
    assert traces(spec)[MARKERS]["text"] == ["1", "2"]


@pytest.mark.parametrize(("page_file", "layout"), [("pages/governance_culture.py", "wide"),
                                                   ("pages/governance.py", "wide"),
                                                   ("pages/account.py", "centered")])
def test_each_run_sets_the_page_layout_once(org, monkeypatch, page_file, layout):
    """The browser compares a layout with the one before it has applied: two in one run
    ("centered", then "wide") could leave the culture page centred. Each run sets it once."""
    import streamlit

    layouts = []
    real = streamlit.set_page_config

    def recording(*args, **kwargs):
        if kwargs.get("layout") is not None:
            layouts.append(kwargs["layout"])
        return real(*args, **kwargs)

    monkeypatch.setattr(streamlit, "set_page_config", recording)
    at = sign_in(new_app(), "quality")
    layouts.clear()
    at.switch_page(page_file).run()
    assert_no_exception(at)
    assert layouts == [layout]


# -- every chart has a text alternative: a title, its finding in a sentence, its data --------

CHART_TEXT = [
    # page, query params, the sentence's start, the table's columns, chart trace, table column
    ("pages/governance.py", {}, "All near misses per week: ",
     ["Week", "Near misses", "Mean", "Lower limit", "Upper limit", "Signal", "Rule"],
     "Near misses", "Near misses"),
    ("pages/governance_breakdowns.py", {}, "Near misses by type: ", ["Type", "Near misses"],
     None, "Near misses"),
    ("pages/governance_culture.py", {}, "Reports and reporters per week: ",
     ["Week", "Near misses", "Reporters"], "Near misses", "Near misses"),
    ("pages/governance_controls.py", {}, "What stopped harm: ",
     ["Month", "What stopped harm", "Near misses", "Share of the month (%)"], None, None),
    ("pages/meeting.py", {"panels": "trend"}, "Near misses per week: ",
     ["Week", "Near misses", "Mean", "Lower limit", "Upper limit", "Signal", "Rule"],
     "Near misses", "Near misses"),
    ("pages/meeting.py", {"panels": "controls"}, "What stopped harm: ",
     ["Month", "What stopped harm", "Near misses", "Share of the month (%)"], None, None),
]


@pytest.mark.parametrize(("page", "params", "sentence", "columns", "trace", "column"),
                         CHART_TEXT)
def test_each_governance_chart_has_a_title_a_sentence_and_its_data(org, page, params, sentence,
                                                                   columns, trace, column):
    at = sign_in(new_app(), "quality")
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(page).run()
    assert_no_exception(at)
    specs = chart_specs(at)
    assert specs and all(spec["layout"]["title"]["text"] for spec in specs)
    assert any(text.startswith(sentence) for text in texts(at, "markdown"))
    [table] = [d.value for d in at.dataframe if list(d.value.columns) == columns]
    assert len(table) > 0
    if trace:  # exactly the plotted numbers
        plotted = values(traces(specs[0])[trace]["y"])
        assert [float(v) for v in table[column]] == [float(v) for v in plotted]


def test_a_signal_reads_in_words_in_the_table_and_has_its_own_marker_shape():
    from core.spc import xmr
    from ui import governance as gv

    series = pd.Series([10, 12, 9, 11, 10, 13, 9, 12, 10, 11, 12, 10, 11, 9, 12, 10, 40],
                       index=pd.date_range("2026-01-05", periods=17, freq="7D"), dtype=float)
    frame = xmr(series, improvement="down")
    figure = gv.spc_figure(frame, [], title="All near misses per week", improvement="down")
    points = next(t for t in figure.data if t.name == "Near misses")
    symbols = list(points.marker.symbol)
    assert symbols[-1] == "diamond"  # the concern; every other signal shaped, none a circle
    assert [s != "circle" for s in symbols] == list(frame["special_cause"])
    key = next(t for t in figure.data if t.name == "Special cause: concern")
    assert key.marker.symbol == "diamond"
    table = gv.spc_table(frame, improvement="down")
    assert table["Signal"].iloc[-1] == "Signal: higher, concern"


def test_a_write_shows_at_once_on_a_cached_governance_page(org, engine):
    """Figures are cached by the data version, which every write bumps: a report filed while
    the page is open is counted at its next run, not when the cache happens to expire."""
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/governance_breakdowns.py").run()
    [before] = [c for c in texts(at, "caption") if " near misses · " in c]
    file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(org),
                   now=utcnow(), rules=settings())
    at.run()
    [after] = [c for c in texts(at, "caption") if " near misses · " in c]
    assert int(after.split()[0]) == int(before.split()[0]) + 1


def test_viewers_with_one_lens_share_the_figures_and_others_get_their_own(org, engine,
                                                                          monkeypatch):
    """The figures' cache is keyed by roles and services, not by the person: a second quality
    lead reads the first one's figures; the governance lead (another role) and a supervisor
    of Maple House (other services) each get their own, and see only their scope."""
    from core.accounts.users import NewUser, add_user
    from core.auth.actor import SYSTEM
    from core.views import governance as views
    from tests.builders import PASSWORD, PASSWORD_HASH

    for username, role, services in (("quality_two", "quality", ()),
                                     ("maple_two", "supervisor", ("Maple House",))):
        add_user(UnitOfWork(engine), SYSTEM, NewUser(
            username=username, display_name=username.title(), password=PASSWORD,
            roles=(role,), services=services), password_hash=PASSWORD_HASH, now=utcnow(),
            rules=settings())
    viewers = ["quality", "quality_two", "governance", "supervisor", "maple_two"]
    apps = [sign_in(new_app(), who) for who in viewers]  # each new app empties the caches
    computed = []
    culture = views.culture_and_feedback
    monkeypatch.setattr(views, "culture_and_feedback", lambda actor, scope, **kw: computed.append(
        actor.username) or culture(actor, scope, **kw))
    reports = {}
    for who, at in zip(viewers, apps, strict=True):
        at.switch_page("pages/governance_culture.py").run()
        assert_no_exception(at)
        reports[who] = at.metric[0].value
    assert computed == ["quality", "governance", "supervisor"]
    assert reports["quality_two"] == reports["quality"] == reports["governance"]
    assert reports["maple_two"] == reports["supervisor"] != reports["quality"]
