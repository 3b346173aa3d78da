"""One action plan: the builder (from a report, a root cause analysis or a cluster) and the plan
itself (its actions, evidence checks, test windows, verdicts and still-in-place checks).

Reached by links: ?from=report&ref=NM-..., ?from=rca&rca=ID, ?from=response&response=ID,
?from=cluster&type=KEY&scope=service|region&id=ID, or ?plan=ID. Widgets in, core calls out
(core.actions holds every rule). People's free text is shown with st.text, dataframes or
widgets, never as Markdown.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.actions.measures import (
    DIRECTION_LABELS,
    PER_LABELS,
    MeasureFilters,
)
from core.actions.queries import (
    LinkedReport,
    OwnerChoice,
    PlanDetail,
    PlanProposal,
)
from core.actions.service import MeasureDraft, PlanDraft, add_actions, create_plan
from core.actions.vocabulary import strength_warning
from core.auth.actor import Actor
from core.auth.policy import Capability, can
from core.clock import utcnow
from core.config import settings
from core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from core.reports.vocabulary import ReportStatus
from core.review.rca import parse_references
from core.taxonomy.schema import TaxonomySpec
from core.uow import UnitOfWork
from core.views.actions import (
    BASELINE_WEEKS_SHOWN,
    PlanBuilder,
    plan_builder,
    plan_page,
    plan_start,
)
from ui import action_panels as panels
from ui.action_card import ActionCard
from ui.session import current_actor
from ui.text import escape_caption, escape_markdown, local

NOTICE_SLOT = "action_plan_notice_slot"
SOURCE_TITLES = {"report": "From a near miss", "rca": "From a root cause analysis",
                 "learning_response": "From a learning response", "cluster": "From a cluster"}

actor = current_actor()


def _param(name: str) -> str:
    return str(st.query_params.get(name, "")).strip()


def _value(key: str) -> Any:
    """What a builder widget holds now (its starting value before its first run)."""
    return st.session_state[key] if key in st.session_state else _defaults.get(key)


def _index(options: list[Any], key: str) -> int | None:
    value = _defaults.get(key)
    return options.index(value) if value in options else None


def error(name: str, widget: str | None = None) -> None:
    panels.error(name, widget)


# -- the builder ------------------------------------------------------------------------------

_defaults: dict[str, Any] = {}  # each builder widget's starting value (the link's proposal)


def _propose(base: str, proposal: PlanProposal, type_keys: set[str]) -> None:
    """The link's proposal as the widgets' starting values. They are passed to the widgets
    (not put into the session state first), and what is typed then stays under their keys."""
    measure = proposal.measure
    capture_field, capture_value = next(iter(measure.capture.items()), (None, ""))
    for name, value in (
            ("references", ", ".join(proposal.references)), ("title", proposal.title[:200]),
            ("theme", proposal.theme),
            ("m.types", [k for k in measure.type_keys if k in type_keys]),
            ("m.services", list(measure.service_ids)),
            ("m.locations", list(measure.location_ids)),
            ("m.capture_field", capture_field), ("m.capture_value", capture_value),
            ("m.per", "week"), ("m.direction", "decrease"), ("m.target", None)):
        _defaults[f"{base}.{name}"] = value


def _measure_filters(base: str) -> MeasureFilters:
    field = _value(f"{base}.m.capture_field")
    value = (_value(f"{base}.m.capture_value") or "").strip()
    return MeasureFilters(
        type_keys=tuple(_value(f"{base}.m.types") or ()),
        service_ids=tuple(_value(f"{base}.m.services") or ()),
        location_ids=tuple(_value(f"{base}.m.locations") or ()),
        capture={field: value} if field and value else {})


def _measure_draft(base: str) -> MeasureDraft:
    target = _value(f"{base}.m.target")
    return MeasureDraft(filters=_measure_filters(base), per=_value(f"{base}.m.per") or "week",
                        direction=_value(f"{base}.m.direction") or "decrease",
                        target=float(target) if target is not None else None)


SHOWN_BESIDE = ("title", "theme", "reports", "actions", "measure.filters", "measure.per",
                "measure.direction", "measure.target")


def _save(base: str, proposal: PlanProposal) -> None:
    drafts, blocks = panels.action_drafts(base)
    draft = PlanDraft(
        title=_value(f"{base}.title") or "", theme=_value(f"{base}.theme") or "",
        source=proposal.source,
        report_references=parse_references(_value(f"{base}.references") or ""),
        rca_id=proposal.rca_id, learning_response_id=proposal.learning_response_id,
        cluster_type_key=proposal.cluster_type_key,
        cluster_service_id=proposal.cluster_service_id,
        cluster_region_id=proposal.cluster_region_id,
        cluster_episode_id=proposal.cluster_episode_id,
        actions=drafts, measure=_measure_draft(base))
    st.session_state.pop(panels.ERRORS, None)
    try:
        created = create_plan(UnitOfWork(), actor, draft, now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        panels.refused(panels.block_errors(base, exc.errors, blocks))
        elsewhere = [m for k, m in exc.errors.items()
                     if k not in SHOWN_BESIDE and not k.startswith("actions[")]
        count = len(exc.errors)
        panels.notice("error", f"Not saved yet: check the {count} "
                               f"{'answer' if count == 1 else 'answers'} marked below. Nothing "
                               "you typed is lost." + "".join(f" {m}" for m in elsewhere))
        return
    except DomainError as exc:
        panels.notice("error", str(exc))
        return
    panels.clear_blocks(base)
    st.query_params.clear()
    st.query_params["plan"] = str(created.plan_id)
    count = len(created.action_ids)
    panels.notice("success", f"Action plan #{created.plan_id} saved with {count} "
                             f"{'action' if count == 1 else 'actions'}. Owners see them in the "
                             "action register.")


def _linked_table(lines: list[LinkedReport]) -> None:
    st.dataframe(pd.DataFrame({
        "Reference": [r.reference for r in lines],
        "Type": [r.type_name for r in lines],
        "Where": [r.where for r in lines],
        "When it happened": [local(r.occurred_at) for r in lines],
        "Status": [ReportStatus(r.status).label for r in lines],
        "High potential": ["Yes" if r.high_potential else "" for r in lines],
    }), hide_index=True, width="stretch")


def _measure_editor(base: str, taxonomy: TaxonomySpec, services: dict[int, str],
                    locations: dict[int, str], counted: tuple[int, int]) -> None:
    types = {t.key: t.name for t in taxonomy.types}
    capture_fields: dict[str, str] = {}
    for spec in taxonomy.types:
        for f in spec.fields:
            if f.capture and f.source is None and f.kind in ("choice", "text"):
                capture_fields.setdefault(f.key, f"{f.label} ({spec.name})")
    options: dict[str, list[str]] = {f.key: list(f.options) for t in taxonomy.types
                                     for f in t.fields if f.kind == "choice"}
    st.caption("How the portal will judge, from the near-miss data itself, whether a control "
               "worked: the near misses that count, before and after it goes live.")
    st.multiselect("Near-miss types that count", list(types), format_func=types.get,
                   default=_defaults.get(f"{base}.m.types"), key=f"{base}.m.types",
                   placeholder="Any type")
    st.multiselect("Services", list(services), format_func=services.get,
                   default=_defaults.get(f"{base}.m.services"), key=f"{base}.m.services",
                   placeholder="Any service")
    st.multiselect("Locations", list(locations), format_func=locations.get,
                   default=_defaults.get(f"{base}.m.locations"), key=f"{base}.m.locations",
                   placeholder="Any location")
    field_col, value_col = st.columns(2)
    with field_col:
        st.selectbox("Only when a capture answer is", list(capture_fields),
                     format_func=capture_fields.get,
                     index=_index(list(capture_fields), f"{base}.m.capture_field"),
                     key=f"{base}.m.capture_field", placeholder="No capture match")
    with value_col:
        st.text_input("equal to", value=_defaults.get(f"{base}.m.capture_value") or "",
                      key=f"{base}.m.capture_value",
                      disabled=_value(f"{base}.m.capture_field") is None)
    field = _value(f"{base}.m.capture_field")
    if field in options:
        st.caption("Answers offered: " + escape_caption("; ".join(options[field])))
    error(f"{base}.measure.filters", f"{base}.m.capture_value")  # the message sits there
    st.radio("Counted", list(PER_LABELS), format_func=PER_LABELS.get, horizontal=True,
             index=_index(list(PER_LABELS), f"{base}.m.per"), key=f"{base}.m.per",
             help="Per 100 visits or shifts needs the services' activity counts.")
    error(f"{base}.measure.per", f"{base}.m.per")
    st.radio("Which way is better", list(DIRECTION_LABELS), format_func=DIRECTION_LABELS.get,
             horizontal=True, index=_index(list(DIRECTION_LABELS), f"{base}.m.direction"),
             key=f"{base}.m.direction")
    error(f"{base}.measure.direction", f"{base}.m.direction")
    st.number_input("Target (optional)", min_value=0.0, step=0.5, format="%.2f",
                    value=_defaults.get(f"{base}.m.target"), key=f"{base}.m.target",
                    help="The rate the control should reach during its test window.")
    error(f"{base}.measure.target", f"{base}.m.target")
    recent, ever = counted
    if ever == 0:
        st.warning("This measure matches no near miss at all, so it could never show an "
                   "effect. Widen it.", icon=":material/warning:")
    else:
        st.caption(f"It counts {recent} near misses in the last {BASELINE_WEEKS_SHOWN} weeks "
                   f"({recent / BASELINE_WEEKS_SHOWN:.1f} a week) and {ever} in all.")


def _measure_choices(base: str, builder: PlanBuilder) -> tuple[dict[int, str], dict[int, str]]:
    """Services and locations a measure may count: the actor's, and any the proposal named."""
    all_services = builder.all_services
    services = {s.id: s.label for s in builder.options.services}
    for service_id in _value(f"{base}.m.services") or []:
        services.setdefault(service_id, all_services.get(service_id, f"Service #{service_id}"))
    locations = {loc.id: f"{services.get(sid, '?')} · {loc.label}"
                 for sid, locs in builder.options.locations.items() for loc in locs}
    for location_id in _value(f"{base}.m.locations") or []:
        locations.setdefault(location_id, f"Location #{location_id}")
    return services, locations


def _builder_badges(proposal: PlanProposal, *, high_potential: bool, clustered: bool) -> None:
    with st.container(horizontal=True, gap="small"):
        st.badge(SOURCE_TITLES.get(proposal.source, proposal.source), color="blue")
        if proposal.rca_id:
            st.badge(f"Root cause analysis #{proposal.rca_id}", color="gray")
        if proposal.learning_response_id:
            st.badge(f"Learning response #{int(proposal.learning_response_id)}", color="gray")
        if high_potential:
            st.badge("High potential", color="red")
        if clustered:
            st.badge("Cluster", color="orange")


def _builder(source: str) -> None:
    day = panels.today()
    try:
        start = plan_start(actor, source, st.query_params.to_dict(), now=utcnow(), rules=settings())
        proposal, base, taxonomy = start.proposal, start.base, start.taxonomy
        _propose(base, proposal, {t.key for t in taxonomy.types})
        builder = plan_builder(actor, parse_references(_value(f"{base}.references") or ""),
                               _measure_filters(base), today=day, rules=settings())
    except (NotFound, PermissionDenied) as exc:
        st.title("New action plan")
        st.error(escape_markdown(str(exc)))
        st.page_link("pages/actions.py", label="Go to the action register",
                     icon=":material/task_alt:")
        return
    except ValidationFailed as exc:  # e.g. the analysis is still open
        st.title("New action plan")
        st.error(escape_markdown(" ".join(exc.errors.values())))
        return

    owners, lines, missing = list(builder.owners), list(builder.lines), list(builder.missing)
    counted = (builder.recent_count, builder.ever_count)
    services, locations = _measure_choices(base, builder)
    plan_services = {r.service_id for r in lines} | (
        set(proposal.measure.service_ids) if proposal.source == "cluster" else set())
    high_potential = any(r.high_potential for r in lines)
    clustered = proposal.source == "cluster" or any(r.clustered for r in lines)

    st.title("New action plan")
    panels.notice_slot(NOTICE_SLOT)
    _builder_badges(proposal, high_potential=high_potential, clustered=clustered)
    st.caption("Turn the findings into actions with an owner, a deadline, evidence checks and a "
               "review date; where it fits, a short test window judged by a verification "
               "measure.")

    left, right = st.columns([3, 2], gap="large")
    with right:
        st.subheader("Linked near misses")
        st.text_input("References, separated by commas",
                      value=_defaults.get(f"{base}.references", ""), key=f"{base}.references")
        error(f"{base}.reports", f"{base}.references")
        if missing:
            st.warning("Not found among your services: " + escape_markdown(", ".join(missing)))
        if lines:
            _linked_table(lines)
        with st.container(border=True, key=f"{base}.measure_box"):
            st.subheader("Verification measure")
            _measure_editor(base, taxonomy, services, locations, counted)
    with left:
        st.text_input("Plan title", value=_defaults.get(f"{base}.title", ""),
                      key=f"{base}.title", max_chars=200)
        error(f"{base}.title")
        st.text_area("Theme: the finding or pattern this plan answers",
                     value=_defaults.get(f"{base}.theme", ""), key=f"{base}.theme", height=90)
        error(f"{base}.theme")
        st.subheader("Actions")
        with st.expander("Which actions are strong? The action hierarchy",
                         icon=":material/stacked_bar_chart:", key=f"{base}.hierarchy",
                         on_change="rerun"):
            st.caption("Stronger actions change the system so the near miss cannot recur; "
                       "weaker ones rely on people remembering.")
            panels.hierarchy_table()
        # A fixed slot: the warning appearing must not move the blocks below it.
        with st.container(key=f"{base}.warning_slot"):
            warning = strength_warning(panels.chosen_kinds(base), high_potential=high_potential,
                                       clustered=clustered)
            if warning:
                st.warning(warning, icon=":material/trending_down:")
        panels.action_blocks(base, owners, plan_services, measure_available=True)
        st.divider()
        with st.container(horizontal=True, vertical_alignment="center"):
            st.button("Save the plan", key=f"{base}.save", type="primary",
                      icon=":material/save:", on_click=_save, args=(base, proposal))
            st.caption("Nothing is saved until you save; what you type stays while you work.")


# -- the plan ---------------------------------------------------------------------------------

def _source_text(detail: PlanDetail) -> str:
    plan = detail.plan
    built = (f"built by {escape_markdown(detail.created_by)} on "
             f"{local(plan.created_at, '%d %b %Y')}")
    if plan.source == "rca":
        return f"From root cause analysis #{plan.rca_id}, {built}."
    if plan.source == "learning_response":
        return f"From learning response #{int(plan.learning_response_id or 0)}, {built}."
    if plan.source == "cluster":
        return f"From a cluster on the triage board, {built}."
    return f"From a near miss, {built}."


def _add_more(plan_id: int, detail: PlanDetail, owners: list[OwnerChoice],
              plan_services: set[int]) -> None:
    base = f"plan.{plan_id}.add"
    measure = next((v.measure for v in detail.actions if v.measure is not None), None)
    errors = st.session_state.get(panels.ERRORS) or {}
    with st.expander("Add more actions to this plan", icon=":material/add_task:",
                     key=f"{base}.panel", on_change="rerun",
                     expanded=any(k.startswith(base + ".") for k in errors)):
        if measure is None:
            st.caption("This plan has no verification measure; new actions can still have a "
                       "test window.")
        else:
            st.caption("New actions verified with a measure use the plan's measure.")
        panels.action_blocks(base, owners, plan_services, measure_available=measure is not None)
        st.button("Add these actions", key=f"{base}.save", type="primary",
                  icon=":material/save:", on_click=_add, args=(plan_id, base, measure))


def _add(plan_id: int, base: str, measure: Any) -> None:
    drafts, blocks = panels.action_drafts(base)
    draft = (MeasureDraft(filters=MeasureFilters.from_json(measure.filters), per=measure.per,
                          direction=measure.direction, target=measure.target)
             if measure is not None and any(d.verify_with_measure for d in drafts) else None)
    st.session_state.pop(panels.ERRORS, None)
    try:
        ids = add_actions(UnitOfWork(), actor, plan_id, drafts, draft,
                          now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        panels.refused(panels.block_errors(base, exc.errors, blocks))
        panels.notice("error", panels.NOT_SAVED)
        return
    except DomainError as exc:
        panels.notice("error", str(exc))
        return
    panels.clear_blocks(base)
    panels.notice("success", f"Added {len(ids)} {'action' if len(ids) == 1 else 'actions'}.")


def _plan(plan_id: int) -> None:
    day = panels.today()
    try:
        page = plan_page(actor, plan_id, today=day, rules=settings())
    except NotFound as exc:
        st.title("Action plan")
        st.error(escape_markdown(str(exc)))
        st.page_link("pages/actions.py", label="Go to the action register",
                     icon=":material/task_alt:")
        return
    detail, owners, services, options = page.detail, list(page.owners), page.services, page.options
    lines, series = list(page.lines), page.series
    plan = detail.plan
    names: dict[str, dict[Any, str]] = {
        "types": dict(page.type_names), "services": dict(services),
        "locations": {loc.id: loc.label for locs in options.locations.values() for loc in locs},
        "users": {o.id: o.name for o in owners}}

    st.title(f"Action plan #{plan.id}")
    panels.notice_slot(NOTICE_SLOT)
    with st.container(horizontal=True, gap="small"):
        st.badge(SOURCE_TITLES.get(plan.source, plan.source), color="blue")
        if plan.high_potential:
            st.badge("High potential", color="red")
        if plan.clustered:
            st.badge("Cluster", color="orange")
    st.text(plan.title)  # free text: as text, never Markdown
    st.caption(_source_text(detail))
    st.markdown("**Theme**")
    st.text(plan.theme)
    if detail.warning:
        st.warning(detail.warning, icon=":material/trending_down:")

    rows = [v.row for v in detail.actions]
    metrics = st.columns(4)
    metrics[0].metric("Actions", len(rows))
    metrics[1].metric("Open", sum(1 for r in rows if r.status.open))
    metrics[2].metric("Overdue", sum(1 for r in rows if r.deadline_state == "overdue"))
    metrics[3].metric("Evidence checks done", f"{sum(r.checks_done for r in rows)}/"
                                              f"{sum(r.checks_total for r in rows)}")

    left, right = st.columns([3, 2], gap="large")
    with right:
        st.subheader(f"Linked near misses · {len(detail.reports)}")
        if detail.reports:
            st.dataframe(pd.DataFrame({
                "Reference": [r[0] for r in detail.reports],
                "Type": [r[1] for r in detail.reports],
                "Where": [r[2] for r in detail.reports],
                "Status": [ReportStatus(r[3]).label for r in detail.reports],
            }), hide_index=True, width="stretch")
            if can(actor, Capability.VIEW_REPORT):
                with st.container(horizontal=True, gap="small"):
                    for reference, *_rest in detail.reports:
                        st.page_link("pages/near_miss.py", label=reference,
                                     query_params={"ref": reference},
                                     icon=":material/open_in_new:")
        if plan.rca_id and can(actor, Capability.RUN_RCA):
            st.page_link("pages/rca.py", label=f"Root cause analysis #{plan.rca_id}",
                         query_params={"rca": str(plan.rca_id)},
                         icon=":material/account_tree:")
        if plan.learning_response_id and can(actor, Capability.RUN_LEARNING_RESPONSES):
            st.page_link("pages/learning_response.py",
                         label=f"Learning response #{int(plan.learning_response_id)}",
                         query_params={"response": str(plan.learning_response_id)},
                         icon=":material/diversity_3:")
        st.page_link("pages/actions.py", label="Back to the action register",
                     icon=":material/task_alt:")
    with left:
        st.subheader("Actions")
        for number, view in enumerate(detail.actions, start=1):
            ActionCard(actor, view, number, day=day, names=names,
                       series=series.get(view.row.id)).render()
        if can(actor, Capability.MANAGE_ACTIONS):
            plan_services = {r.service_id for r in lines}
            if plan.cluster_service_id:
                plan_services.add(plan.cluster_service_id)
            _add_more(plan.id, detail, owners, plan_services)


def _landing() -> None:
    st.title("Action plan")
    st.info("Open a plan from the action register, or build one from a near miss under review, "
            "a completed root cause analysis, or a cluster on the triage board.")
    st.page_link("pages/actions.py", label="Go to the action register",
                 icon=":material/task_alt:")


def _page(actor: Actor) -> None:
    plan = _param("plan").lstrip("#")
    source = _param("from")
    if plan:
        if not plan.isdigit():
            st.title("Action plan")
            st.error("No such action plan.")
            return
        _plan(int(plan))
    elif source:
        if not can(actor, Capability.MANAGE_ACTIONS):
            st.title("New action plan")
            st.error(f"Your role does not allow you to {Capability.MANAGE_ACTIONS.value}.")
            return
        _builder(source)
    else:
        _landing()


_page(actor)
panels.mark_refused()  # after every field: tie each refused one to its message
