"""The governance pack: the period's evidence as a PDF, and its tables as spreadsheets."""

from __future__ import annotations

import streamlit as st

from core.auth.roles import Role
from core.clock import utcnow
from core.commissioner.access import record_access
from core.config import settings
from core.exports.pack import AUDIENCES, audience_for
from core.exports.spreadsheet import to_xlsx_book
from core.uow import UnitOfWork
from core.views.commissioner import governance_pack
from ui.evidence import period_picker
from ui.session import current_actor

actor = current_actor()
st.title("Governance pack")
st.caption("A one-page summary of the signals that need a decision this period, then the "
           "evidence per action, headline figures, control charts with the controls' go-live "
           "dates, the action register with strength and verification, escalation timeliness, "
           "reporting culture, what changed because people reported, and the clusters and "
           "their actions in an appendix.")
period = period_picker("pack_period")
if actor.has(Role.COMMISSIONER) and not actor.has(Role.QUALITY):
    audience = "commissioner"
    st.caption("De-identified: no free text, weeks not dates, small counts hidden.")
else:
    audience = st.radio("For", list(AUDIENCES), format_func=AUDIENCES.get, horizontal=True,
                        key="pack_audience",
                        help="A commissioner's pack is de-identified and hides small counts; "
                             "a board's pack shows exact counts, action titles and the "
                             "clusters' report references.") or "commissioner"
audience = audience_for(actor, audience)
key = f"{period.label}:{audience}"

if st.button("Build the pack", type="primary", key="pack_build", icon=":material/picture_as_pdf:"):
    bar = st.progress(0.0, text="Gathering the evidence")
    pack = governance_pack(actor, period, audience, now=utcnow(), rules=settings(),
                           progress=lambda share, what: bar.progress(share, text=what))
    st.session_state["pack_files"] = (key, pack.pdf, to_xlsx_book(dict(pack.sheets)))
    bar.empty()

files = st.session_state.get("pack_files")
if files and files[0] == key:
    _, pdf, xlsx = files
    name = f"near-miss-pack-{period.label.replace(' ', '-')}-{audience}"

    def _logged(kind: str) -> None:
        record_access(UnitOfWork(), actor, f"pack:{period.label}", exported=True,
                      details={"format": kind, "audience": audience, "period": period.label},
                      now=utcnow())

    left, right = st.columns(2)
    left.download_button("Download the PDF", pdf, file_name=f"{name}.pdf",
                         mime="application/pdf", key="pack_pdf", on_click=_logged,
                         args=("pdf",), type="primary", icon=":material/download:")
    right.download_button("Download the spreadsheets (XLSX)", xlsx, file_name=f"{name}.xlsx",
                          mime="application/vnd.openxmlformats-officedocument.spreadsheetml."
                               "sheet", key="pack_xlsx", on_click=_logged, args=("xlsx",),
                          icon=":material/table:")
    st.success(f"The {AUDIENCES[audience].lower()} pack for {period.label} is ready.")
