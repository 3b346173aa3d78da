"""The data version the pages' figures are cached by: a sign-in or a logged view leaves it as
it was (so a meeting room full of viewers keeps its cache), a write a figure reads moves it,
and the audit trail still verifies."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from core.accounts.service import bind_session_cookie, sign_in
from core.audit.chain import verify_chain
from core.audit.models import AuditChainHead
from core.audit.queries import data_version
from core.clock import utcnow
from core.commissioner.access import record_access
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.builders import PASSWORD, build_org, draft


def _version(engine) -> int:
    with read_session(engine) as session:
        return data_version(session)


def test_sign_ins_and_views_keep_the_version_and_a_report_moves_it(engine):
    org = build_org(engine)
    before = _version(engine)
    signed_in = sign_in(UnitOfWork(engine), "quality", PASSWORD, now=utcnow(), rules=settings())
    bind_session_cookie(UnitOfWork(engine), signed_in.session_id, secrets.token_urlsafe(16),
                        now=utcnow(), rules=settings())
    record_access(UnitOfWork(engine), org.actor("commissioner"), "evidence", now=utcnow())
    assert _version(engine) == before

    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org), now=utcnow(),
                   rules=settings())
    after_filing = _version(engine)
    assert after_filing != before

    # The quiet events are still on the trail, chained and signed like every other.
    with read_session(engine) as session:
        head = session.scalar(select(AuditChainHead))
        assert head.quiet_events >= 3 and head.last_seq - head.quiet_events == after_filing
        assert verify_chain(session).ok
