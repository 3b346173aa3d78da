"""Report a near miss: the one-minute form. Required first, optional detail tucked away."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import streamlit as st

from core.auth.actor import Actor
from core.clock import to_local, utcnow
from core.config import settings
from core.errors import DomainError, StorageUnavailable, ValidationFailed
from core.filing.service import FiledReport, file_near_miss
from core.i18n import N_
from core.reports.drafts import NearMissDraft, capture_field_key
from core.reports.vocabulary import BARRIER_LABELS, Barrier
from core.taxonomy.schema import FieldSpec, NearMissTypeSpec
from core.uow import UnitOfWork
from core.views.reporting import report_form
from ui.accessibility import error_summary, field_message, mark_invalid_fields
from ui.i18n import current_language, language_picker, message, tr
from ui.mail import send_emails_soon
from ui.session import current_actor
from ui.text import escape_caption, escape_label, escape_layout, escape_markdown

PREFIX = "report."
ERRORS = "report_errors"
REFUSALS = "report_refusals"  # refused submits so far: each one focuses the summary again
ERROR_SUMMARY = "report_error_summary"
# The fixed fields' labels, for the summary of a refused submit (capture fields add theirs).
# In English here, translated where shown (core.i18n).
FIELD_LABELS = {
    "description": N_("What happened?"), "type_key": N_("Type of near miss"),
    "occurred_at": N_("When did it happen?"), "service_id": N_("Service"),
    "location_id": N_("Where did it happen?"), "barrier": N_("What stopped harm?"),
    "still_at_risk": N_("Is anyone still at risk right now?"),
    "immediate_safeguards": N_("What have you done so far to keep them safe?"),
    "person_id": N_("Person supported"), "route_id": N_("Route"),
    "staff_group_id": N_("Your staff group"),
    "interface_flag": N_("Did it happen at an interface?"),
}
NOTICE = "report_notice"
FILED = "report_filed"
FILED_ANONYMOUSLY = "report_filed_anonymously"
SUBMISSION = "report_submission_key"
REFERENCE_DATA = "report_reference_data"  # types, places and cues last read for this session
YES_NO = {"yes": N_("Yes"), "no": N_("No")}
IMMEDIATE_SAFETY = N_(
    "**Make the person safe first.** Stay with them or make sure someone is, call your shift "
    "supervisor now, and call emergency services if anyone is in danger. Then finish this "
    "report: your supervisor will see it at the top of the triage board."
)


def key(name: str) -> str:
    return PREFIX + name


def _value(name: str) -> Any:
    return st.session_state.get(key(name))


def _local_now() -> datetime:
    return to_local(utcnow(), settings().zone).replace(second=0, microsecond=0)


def _draft_from_form(capture_specs: tuple[FieldSpec, ...]) -> NearMissDraft:
    at_risk = _value("still_at_risk")
    capture: dict[str, Any] = {}
    for spec in capture_specs:
        raw = st.session_state.get(key(capture_field_key(spec.key)))
        capture[spec.key] = raw
    return NearMissDraft(
        description=_value("description") or "",
        type_key=_value("type_key"),
        occurred_at=_value("occurred_at"),
        service_id=_value("service_id"),
        location_id=_value("location_id"),
        barrier=_value("barrier"),
        still_at_risk=None if at_risk is None else at_risk == "yes",
        immediate_safeguards=_value("immediate_safeguards") or "",
        person_id=_value("person_id"),
        route_id=_value("route_id"),
        staff_group_id=_value("staff_group_id"),
        interface_flag=_value("interface_flag"),
        capture_fields=capture,
        anonymous=bool(_value("anonymous")),
        submission_key=st.session_state[SUBMISSION],
        language=current_language(),
    )


def _submit(actor: Actor, capture_specs: tuple[FieldSpec, ...]) -> None:
    """Button callback: runs before the page redraws, so errors show beside their fields."""
    st.session_state.pop(ERRORS, None)
    st.session_state.pop(NOTICE, None)
    try:
        filed = file_near_miss(UnitOfWork(), actor, _draft_from_form(capture_specs),
                               now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        st.session_state[ERRORS] = exc.errors
        st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1
        return
    except StorageUnavailable:
        st.session_state[NOTICE] = tr().gettext(
            "Not saved yet. The database could not be reached. Everything you typed is still "
            "here: try again in a moment.")
        return
    except DomainError as exc:
        st.session_state[NOTICE] = message(exc)
        return
    earlier = st.session_state.get(FILED)
    if filed.duplicate and earlier is not None and earlier.id == filed.id:
        return  # the same submission again: keep what was shown (with its follow-up code)
    st.session_state[FILED] = filed
    st.session_state[FILED_ANONYMOUSLY] = bool(_value("anonymous"))
    send_emails_soon()  # escalations raised by this report reach leads' mailboxes at once
    for name in [k for k in st.session_state if str(k).startswith(PREFIX)]:
        del st.session_state[name]


def _start_new_report() -> None:
    st.session_state.pop(FILED, None)
    st.session_state.pop(FILED_ANONYMOUSLY, None)
    st.session_state[SUBMISSION] = uuid.uuid4().hex


def _on_service_change() -> None:
    # Places of the previous service no longer apply.
    for name in ("location_id", "person_id", "route_id"):
        st.session_state.pop(key(name), None)


def _field_error(name: str) -> None:
    field_message(key(name), (st.session_state.get(ERRORS) or {}).get(name))


def _with_limit(help_text: str | None, limit: int) -> str:
    limit_text = tr().gettext("Up to {limit} characters.").format(limit=limit)
    return f"{escape_markdown(help_text) + ' ' if help_text else ''}{limit_text}"


def _yes_no(value: str) -> str:
    return tr().gettext(YES_NO[value])


def _capture_widget(spec: FieldSpec) -> None:
    _ = tr().gettext
    language = current_language()
    widget_key = key(capture_field_key(spec.key))
    limits = settings().report
    label = escape_label(spec.label_in(language))
    help_in = spec.help_in(language)
    help_text = escape_markdown(help_in) if help_in else None
    if spec.kind == "text":
        st.text_input(label, key=widget_key,
                      help=_with_limit(help_in, limits.short_text_max_chars))
    elif spec.kind == "longtext":
        st.text_area(label, key=widget_key, height=80,
                     help=_with_limit(help_in, limits.description_max_chars))
    elif spec.kind == "choice":
        # The stored value is the English option; the reporter reads it in their language.
        st.selectbox(label, spec.options, index=None, key=widget_key, help=help_text,
                     format_func=lambda option: spec.option_label(option, language),
                     placeholder=_("Choose if you know"))
    elif spec.kind == "datetime":
        st.datetime_input(label, value=None, key=widget_key, help=help_text,
                          format="DD/MM/YYYY", step=300)
    elif spec.kind == "yes_no":
        st.radio(label, list(YES_NO), index=None, key=widget_key, horizontal=True,
                 format_func=_yes_no, help=help_text)
    elif spec.kind == "number":
        st.number_input(label, value=None, key=widget_key, help=help_text)
    _field_error(capture_field_key(spec.key))


def _show_follow_up_code(filed: FiledReport) -> None:
    """A report without a name: its private follow-up code, shown here and never again."""
    _ = tr().gettext
    if filed.follow_up_code is None:
        st.info(_("You reported without your name, so it is not listed under My reports. Its "
                  "follow-up code was shown when it was first filed."), icon=":material/key:")
        return
    with st.container(border=True, key="report_follow_up_code"):
        st.markdown(_("**Your private follow-up code.** Write it down now: it is shown only "
                      "this once and nobody can look it up for you. It is not linked to your "
                      "name."))
        st.code(filed.follow_up_code, language=None)
        st.caption(_("To see where your report is, and what changed because you reported, "
                     "enter the code under “Follow up a report made without your name” on the "
                     "sign-in page. You do not need to sign in."))


def _show_filed(filed: FiledReport) -> None:
    _ = tr().gettext
    st.success(_("Near miss filed. Your reference is **{reference}**.").format(
        reference=filed.reference), icon=":material/check_circle:")
    anonymous = filed.follow_up_code is not None or (
        filed.duplicate and st.session_state.get(FILED_ANONYMOUSLY, False))
    st.markdown(_("Thank you. Reporting near misses is how we fix things before anyone is "
                  "hurt.") + ("" if anonymous else " " + _("You can follow it under "
                                                           "**My reports**.")))
    if anonymous:
        _show_follow_up_code(filed)
    if filed.still_at_risk:
        st.error(_(IMMEDIATE_SAFETY), icon=":material/emergency:")
    if filed.stop_the_line:
        st.warning(_("**Stop the line:** tell your shift supervisor now so a same-day nurse "
                     "review (or telehealth consult) can be arranged."),
                   icon=":material/pan_tool:")
    left, right = st.columns(2)
    left.button(_("Report another near miss"), key="report_another",
                on_click=_start_new_report, type="primary", width="stretch")
    right.page_link("pages/my_reports.py", label=_("Go to My reports"), icon=":material/inbox:")


def _type_label(types: dict[str, NearMissTypeSpec], language: str) -> Any:
    return lambda type_key: types[type_key].name_in(language)


actor = current_actor()
st.session_state.setdefault(SUBMISSION, uuid.uuid4().hex)
_ = tr().gettext
ngettext = tr().ngettext
language = current_language()
st.title(_("Report a near miss"))

filed_report = st.session_state.get(FILED)
if filed_report is not None:
    _show_filed(filed_report)
    st.stop()

try:
    reference_data = report_form(actor, current_language())
    st.session_state[REFERENCE_DATA] = reference_data
except StorageUnavailable:
    # Database down: draw the form from this session's last copy so nothing typed is lost;
    # submitting says "not saved yet" until it is back.
    reference_data = st.session_state.get(REFERENCE_DATA)
    if reference_data is None:
        raise
taxonomy, options, cues = reference_data.taxonomy, reference_data.options, reference_data.cues

types = {t.key: t for t in taxonomy.types if t.active}
rules = settings()
st.caption(_("It takes a minute. Say what you know now; the detail is gathered at review."))
# Anyone may write in their own language here, with or without their name: it changes this
# session's language (and the report's), not a profile.
language_picker("report_language")
with st.expander(_("Does this count? Near-miss cues for {audience}").format(
        audience=_(cues.audience)), icon=":material/help:"):
    st.markdown(escape_layout(cues.markdown))  # its headings and lists; the text as typed

if not options.services:
    st.warning(_("You are not assigned to any service yet, so you cannot report here. "
                 "Ask an administrator to add your services."))
    st.stop()

notice = st.session_state.get(NOTICE)
errors = st.session_state.get(ERRORS) or {}
if notice:
    st.error(escape_markdown(notice), icon=":material/cloud_off:")
elif errors:
    capture_labels = {capture_field_key(f.key): f.label_in(language) for f in (
        types[_value("type_key")].capture_fields if _value("type_key") in types else ())}
    named = [escape_markdown(_(FIELD_LABELS[name]) if name in FIELD_LABELS
                             else capture_labels.get(name) or name)
             for name in errors]
    error_summary(ERROR_SUMMARY, ngettext(
        "The report is not filed yet: check the {count} field marked below ({fields}). "
        "Nothing you typed has been lost.",
        "The report is not filed yet: check the {count} fields marked below ({fields}). "
        "Nothing you typed has been lost.", len(errors)).format(count=len(errors),
                                                                fields="; ".join(named)))

# No max_chars on free text: the browser would silently cut a long paste. The rules in core
# refuse text over the limit with a message, and the text stays in the box to be shortened.
st.text_area(_(FIELD_LABELS["description"]), key=key("description"),
             help=_with_limit(_("A sentence or two is enough."),
                              rules.report.description_max_chars),
             height=110, placeholder=_("e.g. Walker was out of reach at the bathroom doorway; "
                                       "I steadied her before she fell."))
_field_error("description")

st.selectbox(_(FIELD_LABELS["type_key"]), list(types), index=None, key=key("type_key"),
             format_func=_type_label(types, language), placeholder=_("Choose a type"))
chosen_type = types.get(_value("type_key") or "")
if chosen_type is not None:
    st.caption(escape_caption(chosen_type.description_in(language)))
    if chosen_type.stop_the_line:
        st.warning(_("**Stop the line:** tell your shift supervisor now, then finish this "
                     "report."), icon=":material/pan_tool:")
_field_error("type_key")

st.datetime_input(_(FIELD_LABELS["occurred_at"]), value=_local_now(), key=key("occurred_at"),
                  format="DD/MM/YYYY", step=300)
_field_error("occurred_at")

service_labels = {s.id: s.label for s in options.services}
st.selectbox(_(FIELD_LABELS["service_id"]), list(service_labels),
             index=0 if len(service_labels) == 1 else None,
             key=key("service_id"),
             format_func=service_labels.get, on_change=_on_service_change,
             placeholder=_("Choose the service"))
_field_error("service_id")
service_id = _value("service_id")

location_labels = {c.id: c.label for c in options.locations.get(service_id, [])}
st.selectbox(_(FIELD_LABELS["location_id"]), list(location_labels), index=None,
             key=key("location_id"), format_func=location_labels.get,
             placeholder=_("Choose the location") if service_id
             else _("Choose the service first"))
_field_error("location_id")

barriers = list(Barrier)
st.radio(_(FIELD_LABELS["barrier"]), [b.value for b in barriers], index=None,
         key=key("barrier"), format_func=lambda value: _(BARRIER_LABELS[Barrier(value)]))
_field_error("barrier")

st.radio(_(FIELD_LABELS["still_at_risk"]), list(YES_NO), index=None,
         key=key("still_at_risk"), format_func=_yes_no, horizontal=True)
_field_error("still_at_risk")
if _value("still_at_risk") == "yes":
    st.error(_(IMMEDIATE_SAFETY), icon=":material/emergency:")
    st.text_area(_(FIELD_LABELS["immediate_safeguards"]), key=key("immediate_safeguards"),
                 height=80)
    _field_error("immediate_safeguards")

with st.expander(_("More detail (optional)"), icon=":material/add_notes:",
                 expanded=any(k.startswith("capture.") or k in (
                     "person_id", "route_id", "staff_group_id", "interface_flag")
                     for k in errors)):
    people = {c.id: c.label for c in options.people.get(service_id, [])}
    st.selectbox(_(FIELD_LABELS["person_id"]), list(people), index=None, key=key("person_id"),
                 format_func=people.get, placeholder=_("Choose if a person was involved"),
                 help=_("Their local reference. Names are never shown outside the provider."))
    _field_error("person_id")
    routes = {c.id: c.label for c in options.routes.get(service_id, [])}
    if routes:
        st.selectbox(_(FIELD_LABELS["route_id"]), list(routes), index=None,
                     key=key("route_id"), format_func=routes.get,
                     placeholder=_("Choose the route if it was on one"))
        _field_error("route_id")
    groups = {c.id: c.label for c in options.staff_groups}
    own_group = list(groups).index(actor.staff_group_id) if actor.staff_group_id in groups else None
    st.selectbox(_(FIELD_LABELS["staff_group_id"]), list(groups), index=own_group,
                 key=key("staff_group_id"),
                 format_func=groups.get, placeholder=_("Choose your staff group"))
    _field_error("staff_group_id")
    flags = {f.key: f.label_in(language) for f in taxonomy.interface_flags}
    st.selectbox(_(FIELD_LABELS["interface_flag"]), list(flags), index=None,
                 key=key("interface_flag"), format_func=flags.get,
                 placeholder=_("Choose if information passed between people or systems"),
                 help=_("Shift handover, clinic follow-up, medication reconciliation or a "
                        "scheduling change: these get extra attention to how information "
                        "flowed."))
    _field_error("interface_flag")
    if chosen_type is not None and chosen_type.capture_fields:
        st.markdown(_("**About this {type}**").format(
            type=escape_markdown(chosen_type.name_in(language).lower())))
        for field_spec in chosen_type.capture_fields:
            _capture_widget(field_spec)

st.checkbox(_("Report without my name"), key=key("anonymous"),
            help=_("Your name is not stored with the report. It will not appear under "
                   "My reports, and nobody can see who filed it."))

capture_specs = chosen_type.capture_fields if chosen_type is not None else ()
st.button(_("Submit near miss"), key="report_submit", type="primary", width="stretch",
          icon=":material/send:", on_click=_submit, args=(actor, capture_specs))
if errors and not notice:
    mark_invalid_fields([key(name) for name in errors], summary_key=ERROR_SUMMARY,
                        attempt=str(st.session_state.get(REFUSALS, 0)))
