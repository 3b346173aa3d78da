"""Action pages: the register, the plan builder (from a report, an analysis, a learning
response or a cluster) and one plan with its actions' weekly counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from core.actions.measures import MeasureFilters, count_between, weekly_counts
from core.actions.queries import (
    LinkedReport,
    OwnerChoice,
    PlanDetail,
    PlanProposal,
    RegisterCounts,
    RegisterFilters,
    RegisterRow,
    linked_reports,
    owner_choices,
    plan_detail,
    proposal_from_cluster,
    proposal_from_learning_response,
    proposal_from_rca,
    proposal_from_report,
    register,
    register_choices,
    register_counts,
)
from core.auth.actor import Actor
from core.config import Settings
from core.db import read_session
from core.errors import NotFound
from core.organisation.queries import ReportingOptions, reporting_options, service_names
from core.taxonomy.schema import TaxonomySpec
from core.taxonomy.service import live_taxonomy

BASELINE_WEEKS_SHOWN = 12


# -- the register -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RegisterChoices:
    """The owners and services the actor's register holds, by name (its filters)."""

    owners: Mapping[int, str]
    services: Mapping[int, str]


@dataclass(frozen=True, slots=True)
class RegisterPage:
    """The first rows of the register that match, and the figures over all of them."""

    rows: tuple[RegisterRow, ...]
    counts: RegisterCounts


def register_filter_choices(actor: Actor) -> RegisterChoices:
    with read_session() as session:
        owners, services = register_choices(session, actor)
    return RegisterChoices(owners=owners, services=services)


def register_page(actor: Actor, filters: RegisterFilters, *, today: date,
                  rules: Settings) -> RegisterPage:
    with read_session() as session:
        return RegisterPage(
            rows=tuple(register(session, actor, filters, today=today, rules=rules)),
            counts=register_counts(session, actor, filters, today=today, rules=rules))


def register_download(actor: Actor, filters: RegisterFilters, *, today: date,
                      rules: Settings) -> tuple[RegisterRow, ...]:
    """Every matching action, for a download (the page shows the first ones)."""
    with read_session() as session:
        return tuple(register(session, actor, filters, today=today, rules=rules, limit=None))


# -- the plan builder -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PlanStart:
    """The plan a builder link proposes, the session-state prefix of its builder, and the
    taxonomy (the types and fields a measure may count)."""

    proposal: PlanProposal
    base: str
    taxonomy: TaxonomySpec


@dataclass(frozen=True, slots=True)
class PlanBuilder:
    """What the builder's form offers and shows for the references and measure chosen."""

    owners: tuple[OwnerChoice, ...]
    options: ReportingOptions
    all_services: Mapping[int, str]
    lines: tuple[LinkedReport, ...]
    missing: tuple[str, ...]
    recent_count: int
    ever_count: int


def _proposal(session: Session, actor: Actor, source: str, params: Mapping[str, str], *,
              now: datetime, rules: Settings) -> tuple[PlanProposal, str]:
    def param(name: str) -> str:
        return str(params.get(name, "")).strip()

    if source == "report":
        reference = param("ref").upper()
        if not reference:
            raise NotFound("The link names no near miss.")
        return proposal_from_report(session, actor, reference), f"plan.new.report.{reference}"
    if source == "rca":
        rca = param("rca").lstrip("#")
        if not rca.isdigit():
            raise NotFound("The link names no root cause analysis.")
        return proposal_from_rca(session, actor, int(rca)), f"plan.new.rca.{rca}"
    if source == "response":
        response = param("response").lstrip("#")
        if not response.isdigit():
            raise NotFound("The link names no learning response.")
        return (proposal_from_learning_response(session, actor, int(response)),
                f"plan.new.response.{response}")
    if source == "cluster":
        type_key, scope, scope_id = param("type"), param("scope"), param("id")
        episode = param("episode")
        if scope not in ("service", "region") or not scope_id.isdigit() or not type_key:
            raise NotFound("The link names no cluster.")
        return (proposal_from_cluster(session, actor, type_key, scope, int(scope_id), now=now,
                                      episode_id=int(episode) if episode.isdigit() else None,
                                      rules=rules),
                f"plan.new.cluster.{type_key}.{scope}.{scope_id}")
    raise NotFound("Open the builder from a near miss, a root cause analysis, a learning "
                   "response or a cluster.")


def plan_start(actor: Actor, source: str, params: Mapping[str, str], *,
               now: datetime, rules: Settings) -> PlanStart:
    """The proposal the builder link (`?from=source` and its `params`) asks for; NotFound
    when the link names nothing the actor may build from."""
    with read_session() as session:
        proposal, base = _proposal(session, actor, source, params, now=now, rules=rules)
        taxonomy = live_taxonomy(session)
    return PlanStart(proposal=proposal, base=base, taxonomy=taxonomy)


def plan_builder(actor: Actor, references: list[str], filters: MeasureFilters, *,
                 today: date, rules: Settings) -> PlanBuilder:
    """The builder's choices, the linked reports the actor may open, and how many near
    misses the measure counts in the last weeks and in all."""
    end = today + timedelta(days=1)
    with read_session() as session:
        lines, missing = linked_reports(session, actor, references)
        return PlanBuilder(
            owners=tuple(owner_choices(session, actor, rules=rules)),
            options=reporting_options(session, actor), all_services=service_names(session),
            lines=tuple(lines), missing=tuple(missing),
            recent_count=count_between(session, filters,
                                       today - timedelta(weeks=BASELINE_WEEKS_SHOWN), end,
                                       rules=rules),
            ever_count=count_between(session, filters, date(1900, 1, 1), end, rules=rules))


# -- one plan ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PlanPage:
    """A plan with its actions, the names its measures use, its linked reports, and the
    weekly counts of each action's measure since its baseline (by action id)."""

    detail: PlanDetail
    owners: tuple[OwnerChoice, ...]
    type_names: Mapping[str, str]
    services: Mapping[int, str]
    options: ReportingOptions
    lines: tuple[LinkedReport, ...]
    series: Mapping[int, dict[date, int]]


def plan_page(actor: Actor, plan_id: int, *, today: date, rules: Settings) -> PlanPage:
    with read_session() as session:
        detail = plan_detail(session, actor, plan_id, today=today, rules=rules)
        lines, _missing = linked_reports(session, actor, [r[0] for r in detail.reports])
        series: dict[int, dict[date, int]] = {}
        for view in detail.actions:
            if view.measure is not None and view.evaluation is not None:
                series[view.row.id] = weekly_counts(
                    session, MeasureFilters.from_json(view.measure.filters),
                    view.evaluation.baseline_start, today + timedelta(days=1), rules=rules)
        return PlanPage(
            detail=detail, owners=tuple(owner_choices(session, actor, rules=rules)),
            type_names={t.key: t.name for t in live_taxonomy(session).types},
            services=service_names(session), options=reporting_options(session, actor),
            lines=tuple(lines), series=series)
