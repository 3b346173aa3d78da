"""Earlier reports that read alike: shown to the reviewer who opens a report.

Words people use for the same event vary ("walker out of reach", "frame left by the bath"),
and the structured criteria of core.triage.recurrence (same person, location, route, type)
miss a repeat that happened to someone else in another service, or was filed under another
type. This module ranks the reviewer's own earlier reports by how alike they read.

The rule: TF-IDF cosine similarity (scikit-learn, no model to download). Each report reads as
its description, its type's name and what stopped harm. The vocabulary and the word weights
are fitted on the candidates themselves: the newest `triage.related_candidates` earlier
reports in the reviewer's services (bounded, so opening a report costs the same at a thousand
reports or a million). Words are matched whole and by their pieces (character 3- to 5-grams
inside words), so "steadied" meets "steadying" and "wheelchair" meets "chair"; the two
cosines are averaged. bench/related_reports.py measured the choice on made-up report
families (precision at 5 on a held-out half: bench/RESULTS.md).

Up to five are shown, each at least `triage.related_min_similarity` alike, with its outcome
(where it is in the workflow, what triage decided, what it was closed with), and the reports
already linked (core.triage.links) beside them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import Capability, can, require
from core.config import Settings
from core.organisation.models import Location, Service
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.reports.vocabulary import ReportStatus
from core.review.models import Review
from core.taxonomy.models import NearMissType
from core.triage.models import ReportLink
from core.triage.recurrence import recurrence_count, related_reports
from core.triage.vocabulary import ReviewLevel, Route

SHOWN = 5  # the "up to 5": enough to spot a pattern, few enough to read at triage
RECURRENCE_LIMIT = 50  # the triage form's lookup of related reports reads this many at most


def report_text(description: str, type_name: str, barrier: str) -> str:
    """What a report "reads" as for the similarity: its words, its type, what stopped harm.

    What stopped harm goes in as its short name ("staff recovery"), not its long label: the
    label's many words outweighed the description (bench/related_reports.py).
    """
    return f"{description}\n{type_name}\n{barrier.replace('_', ' ')}"


# The TfidfVectorizer options of each view; their cosines are averaged. Whole words (English
# stop words dropped) and character 3- to 5-grams inside word boundaries (other forms of a
# word). bench/related_reports.py compares this with other choices.
VIEWS: tuple[dict[str, Any], ...] = (
    {"analyzer": "word", "stop_words": "english", "sublinear_tf": True},
    {"analyzer": "char_wb", "ngram_range": (3, 5), "sublinear_tf": True},
)


def similarities(query: str, documents: Sequence[str], *,
                 views: Sequence[dict[str, Any]] = VIEWS) -> list[float]:
    """Cosine similarity (0 to 1) of `query` to each document, TF-IDF fitted on the documents,
    averaged over `views`."""
    if not documents:
        return []
    # Imported here: scikit-learn takes a second to import, and only this panel needs it.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import linear_kernel

    total = [0.0] * len(documents)
    for options in views:
        vectoriser = TfidfVectorizer(lowercase=True, **options)
        try:
            matrix = vectoriser.fit_transform(documents)
        except ValueError:  # no usable words at all (e.g. every document only stop words)
            continue
        # Rows are L2-normalised, so the dot product is the cosine.
        scores = linear_kernel(vectoriser.transform([query]), matrix)[0]
        total = [t + float(s) / len(views) for t, s in zip(total, scores, strict=True)]
    return [min(1.0, max(0.0, t)) for t in total]


class _ScoreCache:
    """The last few rankings, by the exact texts compared (the report's and its candidates').

    Streamlit runs the whole page again on every click (each answer of the triage form), and
    fitting the character view takes a few tenths of a second at 1,000 candidates. The same
    texts score the same, so a rerun reuses the ranking; a new report among the candidates
    changes the texts, and the key. Keyed by the texts themselves (hashed), never by ids, which
    another database in the same process could reuse. Outcomes and links are read fresh.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def scores(self, query: str, documents: list[str]) -> list[float]:
        """similarities(query, documents), remembered."""
        digest = hashlib.blake2b(repr((query, documents, VIEWS)).encode(),
                                 digest_size=20).digest()
        with self._lock:
            if digest in self._entries:
                self._entries.move_to_end(digest)
                return self._entries[digest]
        scores = similarities(query, documents)  # unlocked: other sessions need not wait
        with self._lock:
            self._entries[digest] = scores
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return scores


_SCORES = _ScoreCache()


@dataclass(frozen=True)
class ReadAlike:
    """An earlier report that reads like the one open, with what became of it."""

    reference: str
    occurred_at: datetime
    type_name: str
    where: str  # service · location
    description: str  # as typed: shown as text
    similarity: float  # 0 to 1
    status: ReportStatus
    triage_outcome: str | None  # "Barrier review, routed to the Supervisor"
    closed_with: str | None  # the closure outcome, as typed
    linked: bool  # already linked to the report open

    @property
    def percent(self) -> int:
        return round(self.similarity * 100)


@dataclass(frozen=True)
class LinkedView:
    """A report linked to the one open, either way round."""

    reference: str
    occurred_at: datetime
    type_name: str
    earlier: bool  # True: the linked report is the earlier one (this one recurs it)
    linked_by: str
    linked_at: datetime
    status: ReportStatus


@dataclass(frozen=True)
class ReadAlikePanel:
    """What the reviewer sees beside a report: reports that read alike, and links made."""

    reference: str
    alike: tuple[ReadAlike, ...]
    linked: tuple[LinkedView, ...]
    compared: int  # how many earlier reports were read
    recurrences: int  # earlier reports counted as recurrences (core.triage.recurrence)
    linked_recurrences: int  # of which linked by a person
    may_link: bool
    window_days: int = 90  # the recurrence window (linked reports count whatever their age)
    at_least: bool = False  # the count reached the lookup's limit: there may be more


def _outcome(status: ReportStatus, review_level: str | None, routed_to: str | None,
             ) -> str | None:
    if status in (ReportStatus.NEW, ReportStatus.RECLASSIFIED) or not review_level:
        return None
    level = ReviewLevel(review_level).label
    return f"{level}, routed to the {Route(routed_to).label}" if routed_to else level


def _candidates(session: Session, report: NearMissReport, service_ids: frozenset[int] | None,
                limit: int) -> list[tuple[int, str, str, str]]:
    """The newest `limit` reports before this one (by when they happened, then by id) in the
    viewer's services: (id, reference, text, type name)."""
    earlier = or_(NearMissReport.occurred_at < report.occurred_at,
                  and_(NearMissReport.occurred_at == report.occurred_at,
                       NearMissReport.id < report.id))
    query = (select(NearMissReport.id, NearMissReport.reference, NearMissReport.description,
                    NearMissType.name, NearMissReport.barrier)
             .join(NearMissType, NearMissType.key == NearMissReport.type_key)
             .where(earlier)
             .order_by(NearMissReport.occurred_at.desc(), NearMissReport.id.desc())
             .limit(limit))
    if service_ids is not None:
        query = query.where(NearMissReport.service_id.in_(service_ids))
    return [(row[0], row[1], report_text(row[2], row[3], row[4]), row[3])
            for row in session.execute(query)]


def linked_views(session: Session, report: NearMissReport,
                 service_ids: frozenset[int] | None) -> list[LinkedView]:
    """The reports linked to this one, either way round, that the viewer's services cover."""
    rows = session.execute(
        select(ReportLink, NearMissReport, NearMissType.name, User.display_name)
        .join(NearMissReport, or_(
            and_(ReportLink.report_id == report.id, NearMissReport.id == ReportLink.earlier_id),
            and_(ReportLink.earlier_id == report.id, NearMissReport.id == ReportLink.report_id)))
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .outerjoin(User, User.id == ReportLink.linked_by_id)
        .where(or_(ReportLink.report_id == report.id, ReportLink.earlier_id == report.id))
        .order_by(NearMissReport.occurred_at.desc(), NearMissReport.id.desc()))
    views = []
    for link, other, type_name, linked_by in rows:
        if service_ids is not None and other.service_id not in service_ids:
            continue  # linked by someone who covers that service: not this viewer's to see
        views.append(LinkedView(other.reference, other.occurred_at, type_name,
                                earlier=link.earlier_id == other.id,
                                linked_by=linked_by or "System", linked_at=link.linked_at,
                                status=ReportStatus(other.status)))
    return views


def read_alike(session: Session, actor: Actor, reference: str, *,
               rules: Settings) -> ReadAlikePanel:
    """Up to five earlier reports in the actor's services that read like this one, best first,
    with their outcome; the reports linked to it; and its recurrence count.

    For a role that opens reports (Capability.VIEW_REPORT), within their services, as every
    other view of a report: NotFound outside them.
    """
    require(actor, Capability.VIEW_REPORT)
    report = get_in_scope(session, actor, reference)
    candidates = _candidates(session, report, actor.service_ids,
                             rules.triage.related_candidates)
    type_name = session.scalar(select(NearMissType.name).where(
        NearMissType.key == report.type_key)) or report.type_key
    scores = _SCORES.scores(report_text(report.description, type_name, report.barrier),
                            [text for _, _, text, _ in candidates])
    floor = rules.triage.related_min_similarity
    # Best first; among equals, the newest (the candidates come newest first, sort is stable).
    ranked = sorted(((score, row) for score, row in zip(scores, candidates, strict=True)
                     if score >= floor), key=lambda pair: -pair[0])[:SHOWN]
    linked = linked_views(session, report, actor.service_ids)
    linked_refs = {view.reference for view in linked}
    alike = []
    if ranked:
        ids = [row[0] for _, row in ranked]
        found = {r.id: r for r in session.scalars(
            select(NearMissReport).where(NearMissReport.id.in_(ids)))}
        outcomes = dict(session.execute(select(Review.report_id, Review.outcome).where(
            Review.report_id.in_(ids), Review.closed_at.is_not(None))).all())
        places = {row[0]: f"{row[1]} · {row[2]}" for row in session.execute(
            select(NearMissReport.id, Service.name, Location.name)
            .join(Service, Service.id == NearMissReport.service_id)
            .join(Location, Location.id == NearMissReport.location_id)
            .where(NearMissReport.id.in_(ids)))}
        for score, (report_id, ref, _, name) in ranked:
            other = found[report_id]
            status = ReportStatus(other.status)
            alike.append(ReadAlike(
                reference=ref, occurred_at=other.occurred_at, type_name=name,
                where=places.get(report_id, "?"), description=other.description,
                similarity=score, status=status,
                triage_outcome=_outcome(status, other.review_level, other.routed_to),
                closed_with=outcomes.get(report_id) if status is ReportStatus.CLOSED else None,
                linked=ref in linked_refs))
    related = related_reports(session, report,
                              window_days=rules.triage.recurrence_window_days,
                              service_ids=actor.service_ids, limit=RECURRENCE_LIMIT)
    return ReadAlikePanel(
        reference=report.reference, alike=tuple(alike), linked=tuple(linked),
        compared=len(candidates), recurrences=recurrence_count(related),
        linked_recurrences=sum(1 for r in related if r.linked),
        may_link=can(actor, Capability.TRIAGE),
        window_days=rules.triage.recurrence_window_days,
        at_least=sum(1 for r in related if not r.linked) >= RECURRENCE_LIMIT)
