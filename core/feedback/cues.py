"""The one-page near-miss cues guide shown where people report, chosen by role or staff group.

The guides ship as text files in data/cues/*.md (cues drawn from the seeds); an administrator
edits them in the portal, which stores the edited text in the database. Reading takes the
database text first and falls back to the shipped file for a guide nobody has edited.
A guide may ship translated too, as data/cues/<key>.<language>.md (e.g. care_worker.es.md):
a reporter using that language reads it, unless an administrator has edited the guide, whose
text (the provider's current guidance) is then shown to everyone.
A guide is shown as typed: only its line layout counts (a line starting "# " is a heading,
"- " a list item, a blank line starts a paragraph), never Markdown (core.text.escape_layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import Capability, require
from core.auth.roles import Role
from core.config import PROJECT_ROOT
from core.errors import NotFound, ValidationFailed
from core.feedback.models import CueGuideText
from core.i18n import DEFAULT_LANGUAGE, N_
from core.organisation.models import StaffGroup
from core.uow import UnitOfWork

MAX_CHARS = 8000  # one printed page, with room to spare

GUIDES: dict[str, str] = {  # the audience of each, translated where shown
    "care_worker": N_("DSPs and care workers"),
    "supervisor": N_("Supervisors"),
    "nurse": N_("Nurses and clinical staff"),
    "scheduler": N_("Schedulers and coordinators"),
}


@dataclass(frozen=True)
class CueGuide:
    key: str
    audience: str
    markdown: str
    edited: bool = False  # False: the shipped text from data/cues
    updated_at: datetime | None = None
    updated_by: str | None = None


def guide_key_for(actor: Actor, staff_group_guide: str | None) -> str:
    """Which guide suits this person: their staff group's, else their role's, else DSP."""
    if staff_group_guide in GUIDES:
        return staff_group_guide  # type: ignore[return-value]
    if actor.has(Role.SUPERVISOR):
        return "supervisor"
    if actor.has(Role.CLINICAL):
        return "nurse"
    if actor.has(Role.OPERATIONS):
        return "scheduler"
    return "care_worker"


def cues_dir() -> Path:
    return PROJECT_ROOT / "data" / "cues"


def load_guide(key: str, language: str = DEFAULT_LANGUAGE) -> CueGuide:
    """The shipped text of a guide, from the data directory (in `language` if it ships in it,
    else in English)."""
    if key not in GUIDES:
        raise KeyError(key)
    translated = cues_dir() / f"{key}.{language}.md"
    path = translated if language != DEFAULT_LANGUAGE and translated.exists() else (
        cues_dir() / f"{key}.md")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return CueGuide(key, GUIDES[key], text)


def guide(session: Session, key: str, language: str = DEFAULT_LANGUAGE) -> CueGuide:
    """A guide as staff see it: the administrator's text, else the shipped one (in
    `language` when it ships in it)."""
    if key not in GUIDES:
        raise KeyError(key)
    row = session.execute(
        select(CueGuideText, User.display_name)
        .outerjoin(User, User.id == CueGuideText.updated_by_id)
        .where(CueGuideText.key == key)).first()
    if row is None:
        return load_guide(key, language)
    stored, editor = row
    return CueGuide(key, GUIDES[key], stored.markdown, edited=True,
                    updated_at=stored.updated_at, updated_by=editor)


def all_guides(session: Session) -> list[CueGuide]:
    """Every guide, in the order of GUIDES."""
    return [guide(session, key) for key in GUIDES]


def guide_for(session: Session, actor: Actor, language: str = DEFAULT_LANGUAGE) -> CueGuide:
    """The cues guide to show this actor beside the report form, in their language if it
    ships in it."""
    group_guide = None
    if actor.staff_group_id is not None:
        group = session.get(StaffGroup, actor.staff_group_id)
        group_guide = group.cue_guide if group else None
    return guide(session, guide_key_for(actor, group_guide), language)


def save_guide(uow: UnitOfWork, actor: Actor, key: str, markdown: str, *,
               now: datetime) -> None:
    """Store an administrator's edit of a guide (audited with the text before and after)."""
    require(actor, Capability.MANAGE_CUES)
    if key not in GUIDES:
        raise NotFound(f"No cues guide {key!r}.")
    text = (markdown or "").strip()
    if not text:
        raise ValidationFailed({"markdown": "A guide cannot be empty: staff rely on it to "
                                            "recognise near misses."})
    if len(text) > MAX_CHARS:
        raise ValidationFailed({"markdown": f"Keep the guide to one page: {MAX_CHARS} "
                                            f"characters at most (it has {len(text)})."})
    with uow:
        session = uow.session
        before = guide(session, key).markdown
        if before.strip() == text:
            return
        row = session.get(CueGuideText, key)
        if row is None:
            row = CueGuideText(key=key, markdown=text, updated_at=now)
            session.add(row)
        row.markdown, row.updated_by_id, row.updated_at = text, actor.user_id, now
        uow.record(actor, "cue_guide.saved", "cue_guide", key, at=now,
                   before={"markdown": before}, after={"markdown": text})
        uow.commit()


def restore_shipped_guide(uow: UnitOfWork, actor: Actor, key: str, *,
                          now: datetime) -> None:
    """Go back to the shipped text of a guide (the edited text stays in the audit trail)."""
    require(actor, Capability.MANAGE_CUES)
    if key not in GUIDES:
        raise NotFound(f"No cues guide {key!r}.")
    with uow:
        row = uow.session.get(CueGuideText, key)
        if row is None:
            return
        uow.record(actor, "cue_guide.restored", "cue_guide", key, at=now,
                   before={"markdown": row.markdown}, after={"markdown": load_guide(key).markdown})
        uow.session.delete(row)
        uow.commit()
