"""Send queued notification emails without making the person who clicked wait."""

from __future__ import annotations

import logging
import threading

from core.clock import utcnow
from core.config import settings
from core.escalation.email import send_pending_emails

log = logging.getLogger(__name__)


def _send() -> None:
    try:
        result = send_pending_emails(now=utcnow(), rules=settings())
        if result.failed:
            log.warning("notification emails not sent yet (will retry): %s", sorted(result.failed))
    except Exception:  # a mail problem must never break the page that queued the email
        log.exception("sending notification emails failed; they stay queued")


def send_emails_soon() -> None:
    """Deliver queued emails in the background (they stay queued if the server is down)."""
    if settings().email.smtp_host:
        threading.Thread(target=_send, name="notification-email", daemon=True).start()
