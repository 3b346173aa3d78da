"""Email delivery of queued notifications (an outbox: a failed send is retried, never lost)."""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import Engine, select

from core.auth.actor import SYSTEM
from core.config import EmailSettings, Settings
from core.escalation.models import Notification
from core.uow import UnitOfWork

MAX_ATTEMPTS = 5


@dataclass
class DispatchResult:
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def _message(note: Notification, config: EmailSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = note.email_to or ""
    message["Subject"] = f"[Near Miss Portal] {note.title}"
    message.set_content(note.body)
    return message


def send_pending_emails(engine: Engine | None = None, *, limit: int = 50,
                        now: datetime, rules: Settings) -> DispatchResult:
    """Send queued notification emails; record each outcome (audited as one batch)."""
    config = rules.email
    result = DispatchResult()
    if not config.smtp_host:
        return result
    with UnitOfWork(engine) as uow:
        query = (select(Notification)
                 .where(Notification.email_status.in_(("pending", "failed")),
                        Notification.email_attempts < MAX_ATTEMPTS)
                 .order_by(Notification.id).limit(limit))
        if uow.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)  # two app servers never double-send
        notes = list(uow.session.scalars(query))
        if not notes:
            return result
        try:
            with smtplib.SMTP(config.smtp_host, config.smtp_port,
                              timeout=config.timeout_seconds) as smtp:
                if config.starttls:
                    smtp.starttls()
                if config.username:
                    smtp.login(config.username, os.environ.get("NEARMISS_SMTP_PASSWORD", ""))
                for note in notes:
                    try:
                        smtp.send_message(_message(note, config))
                    except smtplib.SMTPException as exc:
                        result.failed[note.id] = str(exc)[:500]
                    else:
                        result.sent.append(note.id)
        except (OSError, smtplib.SMTPException) as exc:
            for note in notes:
                result.failed.setdefault(note.id, f"cannot reach the mail server: {exc}"[:500])
        for note in notes:
            note.email_attempts += 1
            if note.id in result.sent:
                note.email_status, note.email_sent_at, note.email_error = "sent", now, None
            else:
                note.email_status, note.email_error = "failed", result.failed.get(note.id)
        uow.record(SYSTEM, "notification.emails_dispatched", "notification", None, at=now,
                   after={"sent": result.sent, "failed": sorted(result.failed)})
        uow.commit()
    return result
