"""The day counts (issue 21): near misses per local day, service, type and barrier, kept in each
write's transaction, always equal to counting the reports themselves, on both databases; and
every figure read from them equal to the same figure counted from the reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, insert, select

from core.actions.measures import (
    MeasureFilters,
    count_between,
    count_between_each,
    counts_around,
    counts_around_each,
    weekly_counts,
)
from core.auth.actor import SYSTEM
from core.clock import to_local, utcnow
from core.commissioner import views as cv
from core.config import settings
from core.db import read_session
from core.escalation.models import Escalation
from core.escalation.service import acknowledge
from core.feedback.measures import feedback_measures
from core.feedback.service import UpdateDraft, create_update, publish_update
from core.filing.service import file_near_miss
from core.metrics import governance as gov
from core.reports.models import NearMissReport, RollupState
from core.reports.rollup import (
    counted_days,
    counted_person_weeks,
    counted_place_weeks,
    counted_weeks,
    day_counts_zone,
    ensure_built,
    rebuild,
    timings_version,
)
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from core.weeks import week_start_of
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)


def counted_afresh(engine, zone: ZoneInfo) -> dict[tuple[date, int, str, str], int]:
    """The day counts as they should be: every report counted on its local day in `zone`."""
    with read_session(engine) as session:
        rows = session.execute(select(NearMissReport.occurred_at, NearMissReport.service_id,
                                      NearMissReport.type_key, NearMissReport.barrier)).all()
    return dict(Counter((to_local(at, zone).date(), s, t, b) for at, s, t, b in rows))


def weeks_afresh(engine, zone: ZoneInfo) -> dict[tuple[date, int, str, int, int], int]:
    """The reporter weeks as they should be (0 for no staff group and for anonymous)."""
    with read_session(engine) as session:
        rows = session.execute(select(
            NearMissReport.occurred_at, NearMissReport.service_id, NearMissReport.type_key,
            NearMissReport.staff_group_id, NearMissReport.reporter_id)).all()
    return dict(Counter((week_start_of(to_local(at, zone).date()), s, t, g or 0, r or 0)
                        for at, s, t, g, r in rows))


def stored(engine) -> dict[tuple[date, int, str, str], int]:
    with read_session(engine) as session:
        return counted_days(session)


def place_and_person_weeks_afresh(engine, zone: ZoneInfo) -> tuple[dict, dict]:
    """The place weeks and the person weeks as they should be (no person: not counted)."""
    with read_session(engine) as session:
        rows = session.execute(select(
            NearMissReport.occurred_at, NearMissReport.service_id, NearMissReport.type_key,
            NearMissReport.location_id, NearMissReport.person_id)).all()
    weeks = [(week_start_of(to_local(at, zone).date()), s, t, place, person)
             for at, s, t, place, person in rows]
    return (dict(Counter((w, s, t, place) for w, s, t, place, _ in weeks)),
            dict(Counter((w, s, person) for w, s, _, _, person in weeks if person)))


def weeks_kept(engine, zone: ZoneInfo) -> bool:
    """Whether the reporter, place and person weeks equal the reports counted afresh."""
    with read_session(engine) as session:
        kept = (counted_weeks(session), counted_place_weeks(session),
                counted_person_weeks(session))
    return kept == (weeks_afresh(engine, zone), *place_and_person_weeks_afresh(engine, zone))


def _file(engine, org, at: datetime, **changes) -> None:
    file_near_miss(UnitOfWork(engine), org.actor("quality"),
                   draft(org, occurred_at=at, **changes), now=utcnow(), rules=settings())


def _some_reports(engine, org) -> None:
    """Reports on several days, in two services and two types, near local midnight too."""
    today = local_now().date()
    for days_ago, clock, changes in (
            (1, time(0, 5), {"person_id": org.maple_person}), (1, time(23, 55), {}),
            (3, time(10), {"service_id": org.oak, "location_id": org.oak_lounge}),
            (3, time(11), {"type_key": "transport"}), (9, time(9), {}),
            (4, time(12), {"interface_flag": "shift_handover"}),
            (4, time(13), {"interface_flag": "shift_handover"}),
            (5, time(9), {"interface_flag": "clinic_follow_up", "service_id": org.oak,
                          "location_id": org.oak_lounge}),
            (9, time(9, 30), {"barrier": "designed_control", "person_id": org.maple_person}),
            (20, time(14), {"person_id": org.maple_person, "location_id": org.maple_kitchen}),
            (57, time(12), {}), (58, time(12), {"type_key": "transport"})):
        _file(engine, org, datetime.combine(today - timedelta(days=days_ago), clock), **changes)
    # Another reporter, a staff group, and no name at all (the reporter weeks' keys).
    file_near_miss(UnitOfWork(engine), org.actor("supervisor"), draft(
        org, occurred_at=datetime.combine(today - timedelta(days=2), time(8)),
        staff_group_id=org.nurse_group), now=utcnow(), rules=settings())
    file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, occurred_at=datetime.combine(today - timedelta(days=4), time(8)), anonymous=True),
                   now=utcnow(), rules=settings())


def test_filing_keeps_the_day_counts_equal_to_the_reports(engine, org):
    zone = settings().zone
    assert day_counts_zone(engine.connect()) == zone.key  # built by `nearmiss init`
    _some_reports(engine, org)
    expected = counted_afresh(engine, zone)
    assert sum(expected.values()) >= 7
    assert stored(engine) == expected
    assert weeks_kept(engine, zone)


def test_an_edit_moves_the_count_a_delete_removes_it_a_rollback_leaves_it(engine, org):
    zone = settings().zone
    _some_reports(engine, org)
    with UnitOfWork(engine) as uow:
        report = uow.session.scalars(select(NearMissReport).order_by(NearMissReport.id)).first()
        report.occurred_at -= timedelta(days=2)
        report.type_key = "transport"
        report.barrier = "designed_control"
        report.staff_group_id = org.nurse_group
        report.location_id = org.maple_kitchen  # a place and a person: their weeks follow
        report.person_id = org.maple_person
        uow.record(SYSTEM, "test.edited", "near_miss_report", report.reference, at=utcnow())
        uow.commit()
    assert stored(engine) == counted_afresh(engine, zone) and weeks_kept(engine, zone)

    # A field set without its value loaded (expired): the count it leaves is still known.
    with UnitOfWork(engine) as uow:
        report = uow.session.scalars(select(NearMissReport).order_by(NearMissReport.id)).first()
        uow.session.expire(report, ["type_key", "occurred_at"])
        report.type_key = "transfer_near_fall"
        report.occurred_at = datetime.combine(local_now().date() - timedelta(days=5), time(9))
        uow.record(SYSTEM, "test.edited", "near_miss_report", report.reference, at=utcnow())
        uow.commit()
    assert stored(engine) == counted_afresh(engine, zone) and weeks_kept(engine, zone)

    before = stored(engine)
    with UnitOfWork(engine) as uow:
        report = uow.session.scalars(select(NearMissReport).order_by(NearMissReport.id)).first()
        report.type_key = "transfer_near_fall"
        report.occurred_at += timedelta(days=1)
        uow.session.flush()  # the listener has moved the count, in this transaction
        assert counted_days(uow.session) != before
        # Never committed: the unit of work rolls back, the count with the report.
    assert stored(engine) == before

    with UnitOfWork(engine) as uow:
        latest = uow.session.scalars(
            select(NearMissReport).order_by(NearMissReport.id.desc())).first()
        uow.session.delete(latest)
        uow.record(SYSTEM, "test.deleted", "near_miss_report", latest.reference, at=utcnow())
        uow.commit()
    assert stored(engine) == counted_afresh(engine, zone) and weeks_kept(engine, zone)


def test_a_rebuild_counts_bulk_inserts_and_follows_a_change_of_zone(engine, org):
    _some_reports(engine, org)
    with UnitOfWork(engine) as uow:
        template = uow.session.scalars(select(NearMissReport)).first()
        row = {c.name: getattr(template, c.key) for c in NearMissReport.__table__.columns
               if c.name not in ("id", "reference", "submission_key", "follow_up_code_hash")}
    with engine.begin() as conn:  # as the demo's bulk load inserts: no listener
        conn.execute(insert(NearMissReport.__table__), [
            {**row, "reference": f"NM-BULK-{n}", "occurred_at": row["occurred_at"]
             - timedelta(days=n)} for n in range(5)])
    assert stored(engine) != counted_afresh(engine, settings().zone)
    assert ensure_built(engine, settings().zone) is False  # built for this zone: left alone
    assert not weeks_kept(engine, settings().zone)
    rebuild(engine, settings().zone)
    assert stored(engine) == counted_afresh(engine, settings().zone)
    assert weeks_kept(engine, settings().zone)

    # Built for another zone, the counts fall on that zone's days; the next filing follows it.
    tokyo = ZoneInfo("Asia/Tokyo")
    assert ensure_built(engine, tokyo) is True
    _file(engine, org, datetime.combine(local_now().date() - timedelta(days=1), time(23, 30)))
    assert stored(engine) == counted_afresh(engine, tokyo) and weeks_kept(engine, tokyo)
    assert stored(engine) != counted_afresh(engine, settings().zone)


def _figures(engine, org, scope: gov.Scope) -> dict[str, object]:
    """Every figure the day counts can answer, as a comparable value."""
    rules = settings()
    quality = org.actor("quality")
    today = local_now().date()
    measure = MeasureFilters(type_keys=("transfer_near_fall",), service_ids=(org.maple,))
    figures: dict[str, object] = {}
    with read_session(engine) as session:
        figures["weekly"] = gov.weekly_series(session, quality, scope, rules=rules).to_dict()
        for dimension in ("type", "service", "week", "weekday", "barrier", "interface"):
            frame = gov.breakdown(session, quality, scope, dimension, rules=rules)
            figures[dimension] = sorted(zip(frame["key"].astype(str), frame["count"],
                                            strict=True))
        mix = gov.barrier_mix(session, quality, scope, rules=rules)
        figures["mix"] = sorted(zip(mix["month"].astype(str), mix["barrier"], mix["count"],
                                    strict=True))
        for go_live in (today - timedelta(days=9), today - timedelta(days=1)):
            figures[f"around {go_live}"] = counts_around(session, measure, go_live, 8,
                                                         rules=rules)
        windows = [(filters, today - timedelta(days=ago), days)
                   for filters in (measure, MeasureFilters(), MeasureFilters(
                       type_keys=("transport", "transfer_near_fall")),
                                   MeasureFilters(location_ids=(org.maple_bathroom,)))
                   for ago, days in ((1, 1), (3, 2), (9, 8), (20, 30))]
        figures["each"] = counts_around_each(session, windows, rules=rules)
        assert figures["each"] == [counts_around(session, f, g, d, rules=rules)
                                   for f, g, d in windows]
        # Every window naming its types and services (the evidence per action's): each
        # (type, service) is read over its own windows' days only, overlapping or apart.
        named = [(filters, today - timedelta(days=ago), days)
                 for filters in (measure, MeasureFilters(
                     type_keys=("transport", "transfer_near_fall"),
                     service_ids=(org.maple, org.oak)))
                 for ago, days in ((1, 1), (3, 2), (40, 8), (9, 8))]
        figures["each named"] = counts_around_each(session, named, rules=rules)
        assert figures["each named"] == [counts_around(session, f, g, d, rules=rules)
                                         for f, g, d in named]
        # A go-live on each of 120 days, windows of one to three days: over a hundred
        # stretches between their edges, summed in two statements (the latest days, where the
        # reports are, in the second).
        figures["each named, many"] = counts_around_each(session, [
            (measure, today - timedelta(days=ago), 1 + ago % 3) for ago in range(120)],
            rules=rules)
        # More spans than one statement sums (a hundred), one of them a filter the day counts
        # do not keep (a place): each as `count_between` counts it alone.
        spans = [(filters, start, start + timedelta(days=days))
                 for filters, start, days in windows] * 9
        figures["between each"] = count_between_each(session, spans, rules=rules)
        assert figures["between each"] == [count_between(session, f, a, b, rules=rules)
                                           for f, a, b in spans]
        figures["culture"] = _culture(gov.reporting_culture(session, quality, scope,
                                                            rules=rules))
        figures["feedback"] = _feedback(feedback_measures(session, quality, scope,
                                                          rules=rules))
        figures["repeats"] = sorted(
            (r.kind, r.label, r.count, r.last, r.action_status or "")
            for r in gov.repeats(session, quality, scope, salt="s", minimum=2, rules=rules))
        figures["commissioner tables"] = repr(cv.type_tables(
            session, org.actor("commissioner"), scope, rules=rules, suppress=False))
        figures["between"] = count_between(session, MeasureFilters(), today - timedelta(days=9),
                                           today, rules=rules)
        figures["weekly measure"] = weekly_counts(session, measure, today - timedelta(days=30),
                                                  today + timedelta(days=1), rules=rules)
    return figures


def _culture(culture: gov.Culture) -> tuple:
    return (culture.reports, culture.distinct_reporters, culture.anonymous_share,
            culture.by_staff_group.to_dict("records"), culture.monthly.to_dict("records"))


def _feedback(measures) -> tuple:
    return (measures.named_reporters, measures.reporters_told, measures.named_reports,
            measures.named_reports_told, measures.reports_with_feedback)


@pytest.mark.parametrize("period, sliced", [("days", False), ("days", True), ("weeks", False),
                                            ("weeks", True)])
def test_every_figure_read_from_the_rollups_equals_counting_the_reports(engine, org, period,
                                                                        sliced):
    _some_reports(engine, org)
    today = local_now().date()
    end = week_start_of(today) + timedelta(days=7) if period == "weeks" else today + timedelta(
        days=1)
    # Whole weeks, or days cut at both ends (as a quarter is): the cut weeks are counted
    # from the reports, the rest from the reporter weeks.
    start = end - timedelta(weeks=8) - (timedelta(days=3) if period == "days" else timedelta())
    scope = gov.Scope(start, end,
                      service_ids=(org.maple,) if sliced else (),
                      type_keys=("transfer_near_fall",) if sliced else ())
    reference = file_near_miss(UnitOfWork(engine), org.actor("supervisor"), draft(
        org, occurred_at=datetime.combine(today - timedelta(days=5), time(8))),
                               now=utcnow(), rules=settings()).reference
    quality = org.actor("quality")
    update = create_update(UnitOfWork(engine), quality, UpdateDraft(
        title="Walkers within reach", what_changed="A card by each bed", why="Near falls",
        report_references=[reference], service_ids=[org.maple]), now=utcnow(), rules=settings())
    publish_update(UnitOfWork(engine), quality, update, now=utcnow(), rules=settings())
    from_day_counts = _figures(engine, org, scope)
    with engine.begin() as conn:  # not built: every reader counts the reports
        conn.execute(delete(RollupState.__table__))
    from_reports = _figures(engine, org, scope)
    assert from_day_counts == from_reports
    assert sum(from_reports["weekly"].values()) > 0
    assert from_reports["culture"][1] >= 2 and from_reports["feedback"][1] == 1
    # Sliced to a type, the repeats by person count the reports (the person weeks keep no
    # type); the rest read the rollups.
    assert {kind for kind, *_ in from_reports["repeats"]} == {"type", "location", "person"}
    assert from_reports["around " + str(today - timedelta(days=9))] != (0, 0)


def _medians(engine, org, scope: gov.Scope) -> tuple[gov.Culture, tuple]:
    with read_session(engine) as session:
        culture = gov.reporting_culture(session, org.actor("quality"), scope, rules=settings())
    return culture, (culture.median_hours_to_triage, culture.median_minutes_to_acknowledge,
                     culture.acknowledged_late_share)


def _version(engine) -> int | None:
    with read_session(engine) as session:
        return timings_version(session)


def test_the_medians_are_kept_until_a_write_moves_what_they_read(engine, org):
    """A filed report leaves the medians of time to triage and to acknowledge as they were
    (they are kept, by the timings version); a triage or an acknowledgement moves them, and the
    next view shows the new medians, never the kept ones."""
    today = local_now().date()
    scope = gov.Scope(today - timedelta(days=30), today + timedelta(days=1))
    _file(engine, org, datetime.combine(today, time(0)) - timedelta(hours=30),
          still_at_risk=True, immediate_safeguards="Stayed with her.")  # an alert is raised
    _file(engine, org, datetime.combine(today, time(0)) - timedelta(hours=20))
    culture, medians = _medians(engine, org, scope)
    assert medians == (None, None, None)
    before = _version(engine)

    _file(engine, org, datetime.combine(today, time(0)) - timedelta(hours=10))
    assert _version(engine) == before  # a filing reads nothing a median reads
    assert _medians(engine, org, scope)[0].reports == culture.reports + 1  # volumes move

    with read_session(engine) as session:
        report = session.scalars(select(NearMissReport).order_by(NearMissReport.id)).first()
    triage_report(UnitOfWork(engine), org.actor("supervisor"), report.reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="repeat", severity="medium",
        investigation="supervisor_review", route="supervisor"),
        expected_version=report.version_id, now=utcnow() + timedelta(hours=3), rules=settings())
    triaged = _version(engine)
    assert triaged != before
    kept = _medians(engine, org, scope)[1]
    assert kept[0] is not None and kept[0] > 0
    gov.forget_timings()
    assert _medians(engine, org, scope)[1] == kept  # the kept medians are the true ones

    with read_session(engine) as session:
        escalation = session.scalars(select(Escalation.id).order_by(Escalation.id)).first()
    assert escalation is not None
    acknowledge(UnitOfWork(engine), org.actor("supervisor"), escalation,
                now=utcnow() + timedelta(hours=4))
    assert _version(engine) not in (before, triaged)
    acknowledged = _medians(engine, org, scope)[1]
    assert acknowledged[1] is not None and acknowledged != kept
    gov.forget_timings()
    assert _medians(engine, org, scope)[1] == acknowledged


def test_the_time_to_first_feedback_is_kept_until_feedback_moves_it(engine, org):
    """Who heard, and how soon, read every feedback link of the period: kept by the timings
    version, which a filing leaves and a drafted or published update moves, so the next view
    shows the report told at once."""
    today = local_now().date()
    scope = gov.Scope(today - timedelta(days=30), today + timedelta(days=1))
    reference = file_near_miss(UnitOfWork(engine), org.actor("supervisor"), draft(
        org, occurred_at=datetime.combine(today - timedelta(days=2), time(8))),
                               now=utcnow(), rules=settings()).reference
    quality = org.actor("quality")

    def measures() -> tuple:
        with read_session(engine) as session:
            found = feedback_measures(session, quality, scope, rules=settings())
        return (found.median_hours_to_feedback, found.reports_with_feedback,
                found.named_reports, found.named_reports_told, found.reporters_told)

    assert measures()[1] == 0
    before = _version(engine)
    update = create_update(UnitOfWork(engine), quality, UpdateDraft(
        title="Walkers within reach", what_changed="A card by each bed", why="Near falls",
        report_references=[reference], service_ids=[org.maple]), now=utcnow(), rules=settings())
    drafted = _version(engine)
    assert drafted != before and measures()[1] == 0  # a draft tells nobody yet
    publish_update(UnitOfWork(engine), quality, update, now=utcnow() + timedelta(hours=5),
                   rules=settings())
    published = _version(engine)
    assert published != drafted
    told = measures()
    assert told[1:] == (1, 1, 1, 1) and told[0] is not None and told[0] > 0

    _file(engine, org, datetime.combine(today, time(0)) - timedelta(hours=5))
    assert _version(engine) == published  # a filing links no feedback
    after = measures()
    assert after[2] == told[2] + 1 and after[1] == 1  # the new report counts, unheard
    gov.forget_timings()
    assert measures() == after  # what was kept is what counting afresh gives


def test_one_read_keeps_each_scope_and_viewer_their_own_reporter_weeks(engine, org):
    """The culture page reads the culture and the feedback in one session, which keeps the
    reporter weeks it has read; another scope or another viewer in that session must not get
    them."""
    _some_reports(engine, org)
    end = week_start_of(local_now().date()) + timedelta(days=7)
    whole = gov.Scope(end - timedelta(weeks=12), end)
    quality = org.actor("quality")
    oak_only = replace(quality, service_ids=frozenset({org.oak}))
    asks = [(quality, whole), (quality, replace(whole, service_ids=(org.maple,))),
            (oak_only, whole), (quality, replace(whole, start=whole.start + timedelta(days=3))),
            (quality, whole)]

    def culture(session, actor, scope) -> tuple:
        return _culture(gov.reporting_culture(session, actor, scope, rules=settings()))

    each_alone = []
    for actor, scope in asks:
        with read_session(engine) as session:
            each_alone.append(culture(session, actor, scope))
    with read_session(engine) as session:
        in_one_read = [culture(session, actor, scope) for actor, scope in asks]
    assert in_one_read == each_alone
    assert len({figures[0] for figures in each_alone[:3]}) == 3  # three different counts
