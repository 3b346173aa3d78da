"""A burst the cluster rule finds, planted through the real filing service."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from core.clock import utcnow
from core.config import settings
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.builders import Org, draft, local_now

# Six late shift starts across the North's two services within nine days, where none were
# before: a cluster (three would not be: none before is not a usual rate of none).
LATE_START_DAYS_AGO = (9, 8, 6, 5, 3, 0.5)


def file_late_start_cluster(engine: Engine, org: Org, *, days_ago: tuple[float, ...] =
                            LATE_START_DAYS_AGO, actor: str = "quality") -> list[str]:
    """File late shift starts alternating between Oak Lodge and Eastside; their references."""
    places = ((org.oak, org.oak_lounge), (org.east, org.east_home))
    return [file_near_miss(UnitOfWork(engine), org.actor(actor), draft(
        org, type_key="late_shift_start", service_id=places[i % 2][0],
        location_id=places[i % 2][1], occurred_at=local_now() - timedelta(days=days),
        description="Rota changed at the last minute; nobody confirmed cover."),
                           now=utcnow(), rules=settings()).reference
        for i, days in enumerate(days_ago)]
