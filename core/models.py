"""Import every table so the metadata (and Alembic) sees the whole schema."""

from core.actions.models import (
    Action,
    ActionEvidenceCheck,
    ActionPlan,
    ActionPlanReport,
    ActivityCount,
    SustainmentCheck,
    VerificationMeasure,
)
from core.attachments.models import Attachment
from core.audit.models import AuditChainHead, AuditEvent
from core.auth.models import AttemptThrottle, User, UserRole, UserService, UserSession
from core.db import Base
from core.escalation.models import Escalation, Notification
from core.feedback.models import (
    CueGuideText,
    FeedbackUpdate,
    FeedbackUpdateAction,
    FeedbackUpdateReport,
    FeedbackUpdateRevision,
    FeedbackUpdateRole,
    FeedbackUpdateService,
    FeedbackUpdateTheme,
)
from core.organisation.models import Location, PersonSupported, Region, Route, Service, StaffGroup
from core.regulator.models import RegulatorClock, RegulatorDecision
from core.reports.models import NearMissReport, ReferenceCounter, ReportTransition
from core.review.models import (
    CommunicationDecision,
    GateCheck,
    Review,
    RootCauseAnalysis,
    RootCauseAnalysisReport,
    ValidationEvidence,
)
from core.review.response_models import LearningResponse, LearningResponseReport
from core.taxonomy.models import NearMissType, NearMissTypeVersion, TaxonomyList
from core.triage.models import ClusterEpisode, ReportLink, TriageRecord

__all__ = [
    "Action",
    "ActionEvidenceCheck",
    "ActionPlan",
    "ActionPlanReport",
    "ActivityCount",
    "Attachment",
    "AttemptThrottle",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "ClusterEpisode",
    "CommunicationDecision",
    "CueGuideText",
    "Escalation",
    "FeedbackUpdate",
    "FeedbackUpdateAction",
    "FeedbackUpdateReport",
    "FeedbackUpdateRevision",
    "FeedbackUpdateRole",
    "FeedbackUpdateService",
    "FeedbackUpdateTheme",
    "GateCheck",
    "LearningResponse",
    "LearningResponseReport",
    "Location",
    "NearMissReport",
    "NearMissType",
    "NearMissTypeVersion",
    "Notification",
    "PersonSupported",
    "ReferenceCounter",
    "Region",
    "RegulatorClock",
    "RegulatorDecision",
    "ReportLink",
    "ReportTransition",
    "Review",
    "RootCauseAnalysis",
    "RootCauseAnalysisReport",
    "Route",
    "Service",
    "StaffGroup",
    "SustainmentCheck",
    "TaxonomyList",
    "TriageRecord",
    "User",
    "UserRole",
    "UserService",
    "UserSession",
    "ValidationEvidence",
    "VerificationMeasure",
]
