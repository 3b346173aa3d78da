"""Keeping an uploaded evidence file: checked, stored and recorded in the caller's unit of work.
Validation evidence on a review and evidence checks on an action both keep files this way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core.attachments.checks import AttachmentRefused
from core.attachments.models import Attachment
from core.attachments.storage import attachments_dir, store_file
from core.auth.actor import Actor
from core.config import Settings
from core.errors import ValidationFailed

FIELD = "file"  # the error key: the page shows the message beside the file field


def keep_evidence_file(session: Session, actor: Actor, file: tuple[str, bytes], *,
                       report_id: int | None, now: datetime, rules: Settings) -> Attachment:
    """Check, store and record an uploaded evidence file (inside the caller's unit of work).

    ValidationFailed on the file field, saying why, when it cannot be kept; nothing is written.
    """
    try:
        stored = store_file(file[0], file[1], rules.attachments, attachments_dir())
    except AttachmentRefused as exc:
        raise ValidationFailed({FIELD: str(exc)}) from exc
    attachment = Attachment(report_id=report_id, original_name=stored.original_name,
                            stored_path=stored.stored_path, content_type=stored.content_type,
                            size_bytes=stored.size_bytes, sha256=stored.sha256,
                            uploaded_by_id=actor.user_id, uploaded_at=now)
    session.add(attachment)
    session.flush()
    return attachment
