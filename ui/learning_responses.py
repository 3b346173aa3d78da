"""A near miss's learning responses: the ones about it, and a link to start the suggested one.

The report page calls `response_links` once with what core.views.near_miss read;
core.review.responses holds every rule (who may,
what is suggested and why). Names and titles are shown through ui.text, never as Markdown.
"""

from __future__ import annotations

import streamlit as st

from core.filing.detail import ReportDetail
from core.review.response_queries import ReportResponses
from ui.text import escape_caption, escape_label, escape_markdown

PAGE = "pages/learning_response.py"


def response_links(detail: ReportDetail, view: ReportResponses | None,
                   error: str | None = None) -> None:
    """Links to the learning responses about this report and, once it is triaged, to start the
    response triage suggests (supervisors of its service and quality leads). `view` and
    `error` come from core.views.near_miss (None for a role that does not run responses)."""
    if error is not None:  # the provider's templates file has a mistake
        st.error(escape_markdown(error), icon=":material/error:")
        return
    if view is None:
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
