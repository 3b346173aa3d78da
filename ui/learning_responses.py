"""A near miss's learning responses: the ones about it, and a link to start the suggested one.

The report page calls `response_links` once; core.review.responses holds every rule (who may,
what is suggested and why). Names and titles are shown through ui.text, never as Markdown.
"""

from __future__ import annotations

import streamlit as st

from core.auth.actor import Actor
from core.auth.policy import Capability, can
from core.clock import to_local, utcnow
from core.config import settings
from core.db import read_session
from core.errors import NotFound
from core.filing.detail import ReportDetail
from core.reports.vocabulary import ReportStatus
from core.review.responses import report_responses
from core.yamlfile import ConfigFileError
from ui.text import escape_caption, escape_label, escape_markdown

PAGE = "pages/learning_response.py"


def response_links(actor: Actor, detail: ReportDetail) -> None:
    """Links to the learning responses about this report and, once it is triaged, to start the
    response triage suggests (supervisors of its service and quality leads)."""
    if not can(actor, Capability.RUN_LEARNING_RESPONSES) or detail.status is ReportStatus.NEW:
        return
    try:
        with read_session() as session:
            view = report_responses(session, actor, detail.reference,
                                    today=to_local(utcnow(), settings().zone).date())
    except NotFound:
        return
    except ConfigFileError as exc:  # the provider's templates file has a mistake
        st.error(escape_markdown(str(exc)), icon=":material/error:")
        return
    st.markdown("**Learning responses**")
    for item in view.responses:
        st.page_link(PAGE, label=f"#{item.id} {escape_label(item.type_name)}: "
                                 f"{escape_label(item.title)} ({item.status_label.lower()}, due "
                                 f"{item.due_on:%d %b %Y})",
                     query_params={"response": str(item.id)}, icon=":material/diversity_3:")
    if view.suggestion is None:
        return
    label = f"Start the suggested response: {escape_label(view.suggestion.type_name)}"
    if view.suggested_template is not None:
        label += f" ({escape_label(view.suggested_template.time_limit.label)})"
    st.page_link(PAGE, label=label, query_params={"reports": detail.reference},
                 icon=":material/group_add:")
    st.caption(f"Suggested from triage ({escape_caption(view.suggestion.basis)}). You can "
               "choose another response, with a reason.")
