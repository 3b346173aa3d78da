"""The permission policy: which role may do what, and which pages each role may open.

Pure data and functions. `app.py` builds the navigation from `pages_for`, and every service
calls `require` again, so hiding a page is never the only protection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from core.auth.actor import Actor
from core.auth.roles import Role
from core.errors import PermissionDenied
from core.i18n import N_


class Capability(StrEnum):
    VIEW_HOME = "see what needs you now"
    FILE_REPORT = "file a near miss"
    VIEW_OWN_REPORTS = "see your own reports"
    MANAGE_ACCOUNT = "manage your own account"
    MANAGE_USERS = "manage users"
    VIEW_BOARD = "see the triage board"
    TRIAGE = "triage near misses"
    RECLASSIFY = "re-classify a near miss as an incident"
    VIEW_REPORT = "open near-miss reports"
    HANDLE_ESCALATIONS = "act on escalations"
    REVIEW = "review near misses"
    REOPEN = "reopen a closed near miss"
    RUN_RCA = "run root cause analyses"
    RUN_LEARNING_RESPONSES = "lead learning responses (huddles, reviews, investigations)"
    MANAGE_TAXONOMY = "edit the near-miss taxonomy"
    VIEW_ACTIONS = "see the action register"
    MANAGE_ACTIONS = "build and verify action plans"
    VIEW_GOVERNANCE = "see governance trends"
    VIEW_COMMISSIONER_EVIDENCE = "see the de-identified evidence"
    EXPORT_PACK = "download the governance pack"
    EXPORT_STANDARD = "export near misses in standard formats (FHIR, AHRQ)"
    VIEW_BULLETIN = "read what changed because people reported"
    PUBLISH_FEEDBACK = "publish \"what changed\" updates"
    MANAGE_CUES = "edit the near-miss cues guides"


_STAFF = {Role.REPORTER, Role.SUPERVISOR, Role.SAFEGUARDING, Role.CLINICAL, Role.OPERATIONS,
          Role.QUALITY, Role.ADMIN}

_TRIAGERS = {Role.SUPERVISOR, Role.SAFEGUARDING, Role.CLINICAL, Role.OPERATIONS, Role.QUALITY}

ROLE_CAPABILITIES: dict[Capability, frozenset[Role]] = {
    # Everyone but a frontline worker starts at a home page of what needs them now; a worker
    # starts at the report form (they may hold another role too, and then see the home page).
    Capability.VIEW_HOME: frozenset(Role) - {Role.REPORTER},
    Capability.FILE_REPORT: frozenset(_STAFF),
    Capability.VIEW_OWN_REPORTS: frozenset(_STAFF),
    Capability.MANAGE_ACCOUNT: frozenset(Role),
    Capability.MANAGE_USERS: frozenset({Role.ADMIN}),
    Capability.VIEW_BOARD: frozenset(_TRIAGERS),
    Capability.TRIAGE: frozenset(_TRIAGERS),
    Capability.RECLASSIFY: frozenset(_TRIAGERS),
    Capability.VIEW_REPORT: frozenset(_TRIAGERS),
    Capability.HANDLE_ESCALATIONS: frozenset(_TRIAGERS),
    Capability.REVIEW: frozenset(_TRIAGERS),
    Capability.REOPEN: frozenset({Role.QUALITY}),
    Capability.RUN_RCA: frozenset(_TRIAGERS),
    # The supervisors of the services involved and the quality lead convene learning responses.
    Capability.RUN_LEARNING_RESPONSES: frozenset({Role.SUPERVISOR, Role.QUALITY}),
    Capability.MANAGE_TAXONOMY: frozenset({Role.ADMIN}),
    # Everyone on staff sees what is overdue; governance watches it in meetings.
    Capability.VIEW_ACTIONS: frozenset(_STAFF | {Role.GOVERNANCE}),
    Capability.MANAGE_ACTIONS: frozenset(_TRIAGERS),
    Capability.VIEW_BULLETIN: frozenset(_STAFF | {Role.GOVERNANCE}),
    Capability.PUBLISH_FEEDBACK: frozenset({Role.QUALITY, Role.SUPERVISOR}),
    Capability.MANAGE_CUES: frozenset({Role.ADMIN}),
    # Quality and governance can see exactly what commissioners see before they do.
    Capability.VIEW_COMMISSIONER_EVIDENCE: frozenset({Role.COMMISSIONER, Role.QUALITY,
                                                      Role.GOVERNANCE}),
    Capability.EXPORT_PACK: frozenset({Role.COMMISSIONER, Role.QUALITY, Role.GOVERNANCE}),
    # Report-level files for another system (a PSO, a regulator, an EHR): the quality lead
    # sends them, the administrator sets the link up.
    Capability.EXPORT_STANDARD: frozenset({Role.QUALITY, Role.ADMIN}),
    Capability.VIEW_GOVERNANCE: frozenset({Role.QUALITY, Role.GOVERNANCE, Role.SUPERVISOR,
                                           Role.SAFEGUARDING, Role.CLINICAL, Role.OPERATIONS,
                                           Role.ADMIN}),
}


def can(actor: Actor, capability: Capability) -> bool:
    """Whether any of the actor's roles grants `capability`."""
    return bool(actor.roles & ROLE_CAPABILITIES[capability])


def require(actor: Actor, capability: Capability, *, service_id: int | None = None) -> None:
    """Raise PermissionDenied unless the actor may do this (for this service, if given)."""
    if not can(actor, capability):
        raise PermissionDenied(f"Your role does not allow you to {capability.value}.")
    if service_id is not None and not actor.covers_service(service_id):
        raise PermissionDenied("That service is not one of yours.")


@dataclass(frozen=True)
class PageSpec:
    """A page of the app: its file, title, navigation section and the capability it needs."""

    key: str
    path: str
    title: str
    icon: str
    section: str
    capability: Capability
    visible: bool = True  # hidden pages are reached from other pages (e.g. a report's detail)
    wide: bool = False  # boards, charts and projector views use the whole screen


# The titles and sections a frontline worker sees are marked for translation (app.py shows
# every title through the session's catalogue; the rest are not translated yet).
PAGES: tuple[PageSpec, ...] = (
    # An empty section: the page sits at the top of the menu, above the named sections.
    PageSpec("home", "pages/home.py", "Home", ":material/home:", "", Capability.VIEW_HOME),
    PageSpec("report", "pages/report.py", N_("Report a near miss"), ":material/edit_note:",
             N_("Report"), Capability.FILE_REPORT),
    PageSpec("my_reports", "pages/my_reports.py", N_("My reports"), ":material/inbox:",
             N_("Report"), Capability.VIEW_OWN_REPORTS),
    PageSpec("board", "pages/triage_board.py", "Triage board", ":material/view_kanban:",
             "Triage", Capability.VIEW_BOARD, wide=True),
    PageSpec("inbox", "pages/inbox.py", "Inbox", ":material/notifications:",
             "Triage", Capability.HANDLE_ESCALATIONS),
    PageSpec("near_miss", "pages/near_miss.py", "Near miss", ":material/description:",
             "Triage", Capability.VIEW_REPORT, visible=False, wide=True),
    PageSpec("bulletin", "pages/bulletin.py", N_("What changed"), ":material/campaign:",
             N_("Report"), Capability.VIEW_BULLETIN),
    PageSpec("rca", "pages/rca.py", "Root cause analyses", ":material/account_tree:",
             "Learning", Capability.RUN_RCA, wide=True),
    PageSpec("learning_responses", "pages/learning_response.py", "Learning responses",
             ":material/diversity_3:", "Learning", Capability.RUN_LEARNING_RESPONSES,
             wide=True),
    PageSpec("actions", "pages/actions.py", "Action register", ":material/task_alt:",
             "Learning", Capability.VIEW_ACTIONS, wide=True),
    PageSpec("action_plan", "pages/action_plan.py", "Action plan", ":material/assignment:",
             "Learning", Capability.VIEW_ACTIONS, visible=False, wide=True),
    PageSpec("feedback", "pages/feedback_updates.py", "Publish updates",
             ":material/edit_notifications:", "Learning", Capability.PUBLISH_FEEDBACK),
    PageSpec("trends", "pages/governance.py", "Trends", ":material/monitoring:",
             "Governance", Capability.VIEW_GOVERNANCE, wide=True),
    PageSpec("breakdowns", "pages/governance_breakdowns.py", "Breakdowns",
             ":material/bar_chart:", "Governance", Capability.VIEW_GOVERNANCE, wide=True),
    PageSpec("clusters", "pages/governance_clusters.py", "Repeats and clusters",
             ":material/hub:", "Governance", Capability.VIEW_GOVERNANCE, wide=True),
    PageSpec("culture", "pages/governance_culture.py", "Reporting culture",
             ":material/groups:", "Governance", Capability.VIEW_GOVERNANCE, wide=True),
    PageSpec("controls", "pages/governance_controls.py", "Control strength",
             ":material/shield:", "Governance", Capability.VIEW_GOVERNANCE, wide=True),
    PageSpec("meeting", "pages/meeting.py", "Meeting mode", ":material/co_present:",
             "Governance", Capability.VIEW_GOVERNANCE, wide=True),
    PageSpec("evidence", "pages/commissioner.py", "Evidence of learning",
             ":material/verified:", "Evidence", Capability.VIEW_COMMISSIONER_EVIDENCE,
             wide=True),
    PageSpec("pack", "pages/governance_pack.py", "Governance pack", ":material/picture_as_pdf:",
             "Evidence", Capability.EXPORT_PACK),
    PageSpec("users", "pages/admin_users.py", "Users and roles", ":material/group:",
             "Administration", Capability.MANAGE_USERS),
    PageSpec("taxonomy", "pages/admin_taxonomy.py", "Near-miss types", ":material/category:",
             "Administration", Capability.MANAGE_TAXONOMY),
    PageSpec("cues", "pages/admin_cues.py", "Near-miss cues", ":material/lightbulb:",
             "Administration", Capability.MANAGE_CUES),
    PageSpec("account", "pages/account.py", N_("My account"), ":material/person:",
             N_("Account"), Capability.MANAGE_ACCOUNT),
)


def pages_for(roles: Iterable[Role]) -> list[PageSpec]:
    """The pages a user with these roles may open, in navigation order."""
    role_set = frozenset(roles)
    return [page for page in PAGES if role_set & ROLE_CAPABILITIES[page.capability]]


# Where each kind of user starts: at the home page of what needs them now (core.views.home),
# a frontline worker and nobody else at the report form.
DEFAULT_PAGE_PREFERENCE = ("home", "report", "trends", "evidence", "account")


def default_page(roles: Iterable[Role]) -> PageSpec:
    """The page a user lands on after signing in."""
    allowed = pages_for(roles)
    keys = {page.key: page for page in allowed}
    return next((keys[k] for k in DEFAULT_PAGE_PREFERENCE if k in keys), allowed[0])


def page_spec(key: str) -> PageSpec:
    """The page with this key (KeyError if there is none)."""
    for page in PAGES:
        if page.key == key:
            return page
    raise KeyError(key)


def page_allowed(roles: Iterable[Role], path: str) -> bool:
    return any(page.path == path for page in pages_for(roles))
