"""Hostile input, property-based: every service, the CSV import and the taxonomy file either do
their work or refuse with a clear error naming the field (never an unhandled exception).

Examples per property (hypothesis `max_examples`, per backend where a database is used):
file_near_miss 60, CSV rows 40, CSV bytes 40, taxonomy mutation 60, taxonomy raw text/bytes 60,
add_user 40, change_password 40, sign_in 40, create_plan 40, create_update 40,
save_review 40, check_gate 30, record_communication 40, triage_report 40,
dismiss_episode 40.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from core.accounts.service import SignInRefused, sign_in
from core.accounts.users import NewUser, add_user, change_password
from core.actions.service import ActionDraft, MeasureDraft, PlanDraft, create_plan
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings as app_settings
from core.config import settings as portal_settings
from core.csvfile import ImportFileError
from core.db import read_session
from core.errors import DomainError, ValidationFailed
from core.feedback.service import UpdateDraft, create_update
from core.filing.import_rows import KNOWN_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from core.filing.importer import import_bytes
from core.filing.service import FiledReport, file_near_miss
from core.reports.drafts import NearMissDraft
from core.reports.models import NearMissReport
from core.review.service import (
    CommunicationInput,
    ReviewInput,
    check_gate,
    record_communication,
    save_review,
    start_review,
)
from core.taxonomy.service import load_taxonomy_file
from core.triage.episode_decisions import acknowledge_episode, dismiss_episode
from core.triage.models import ClusterEpisode
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from core.yamlfile import ConfigFileError
from tests.builders import PASSWORD, Org, build_org, draft, local_now
from tests.conftest import built_once

ROOT = Path(__file__).resolve().parents[2]
TAXONOMY = ROOT / "data" / "taxonomy.yaml"
DB_SETTINGS = settings(max_examples=40, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture,
                                              HealthCheck.too_slow,
                                              HealthCheck.data_too_large])

# ----------------------------------------------------------------------------- strategies

NASTY = [
    "", " ", "\x00", "\x00" * 12, "a\x00b walker out of reach", "\r\n\t\x0b\x0c", "\u200b" * 11,
    "<script>alert('x')</script> at the doorway", "=cmd|' /C calc'!A0 near fall here",
    "=1+1 staff steadied her", "+SUM(A1:A9) staff steadied her", "@SUM(1) staff steadied",
    "-2+3 staff steadied her", "'; DROP TABLE users; -- near miss", "\u202eevil text here",
    "Zoë Ñandú 😀 near fall at the door", "x" * 2001, "y" * 10_000, "%s %(x)s {0} {x}",
    "../../etc/passwd near the door", "NaN", "inf", "-0", "9" * 400,
]
nasty_text = st.one_of(st.sampled_from(NASTY), st.text(), st.text(min_size=200, max_size=3000))
# Descriptions that usually pass the rules, so the "stored as typed" half is exercised too.
plausible_text = st.text(min_size=10, max_size=300).filter(lambda s: len(s.strip()) >= 10)
any_text = st.one_of(plausible_text, nasty_text)
BIG = [0, -1, -(2**31), 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, -(10**30)]
any_int = st.one_of(st.sampled_from(BIG), st.integers())
any_datetime = st.one_of(
    st.datetimes(),
    st.sampled_from([datetime.min, datetime.max, datetime(1, 1, 1, 1), datetime(9999, 12, 31)]),
    st.datetimes(timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])),
)
any_date = st.one_of(st.dates(), st.sampled_from([date.min, date.max]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=50),
                    st.datetimes())
json_like = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)),
    max_leaves=6)


def _assert_names_fields(exc: ValidationFailed, allowed: Callable[[str], bool]) -> None:
    assert exc.errors, "ValidationFailed with no field"
    for key, message in exc.errors.items():
        assert allowed(key), f"error key {key!r} is not a field name ({exc.errors})"
        assert isinstance(message, str) and message.strip(), f"empty message for {key!r}"


def _domain_only(call: Callable[[], Any]) -> Any:
    """Run `call`; a DomainError is fine (returned), anything else fails the test."""
    try:
        return call()
    except DomainError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} with no message"
        return exc


def _examples(name: str, ran: int, expected: int) -> None:
    """Print how many examples a property ran (see with -s) and check it ran them all."""
    print(f"hypothesis: {name}: {ran} examples")
    assert ran >= expected, f"{name} ran {ran} examples, expected {expected}"


@pytest.fixture
def org(engine: Engine, db_url: str) -> Org:
    return built_once("org", db_url, build_org)  # built once, copied per test


# ----------------------------------------------------------------------------- 1. filing

DRAFT_FIELDS = {f.name for f in fields(NearMissDraft)}
CAPTURE_KEYS = ["transfer_task", "mobility_aid_position", "balance_or_fatigue",
                "immediate_action", "environmental_condition", "medication_prompt_time",
                "scheduled_start", "rota_change"]
TYPE_KEYS = ["transfer_near_fall", "medication_discrepancy", "late_shift_start", "other"]


@st.composite
def hostile_drafts(draw: st.DrawFn, org_: Org) -> NearMissDraft:
    """A valid draft with a few of its fields replaced by hostile values."""
    base = draft(org_, occurred_at=local_now() - timedelta(hours=1))
    base.description = draw(any_text)
    ids = st.one_of(st.none(), any_int, st.sampled_from(
        [org_.maple, org_.oak, org_.maple_bathroom, org_.oak_lounge, org_.maple_person,
         org_.maple_route, org_.dsp_group]))
    choices: dict[str, st.SearchStrategy[Any]] = {
        "type_key": st.one_of(st.none(), st.sampled_from(TYPE_KEYS), st.text()),
        "occurred_at": st.one_of(st.none(), any_datetime),
        "service_id": ids, "location_id": ids, "person_id": ids, "route_id": ids,
        "staff_group_id": ids,
        "barrier": st.one_of(st.none(), st.sampled_from(["chance", "designed_control"]),
                             st.text()),
        "still_at_risk": st.one_of(st.none(), st.booleans()),
        "immediate_safeguards": any_text,
        "interface_flag": st.one_of(st.none(), st.just("shift_handover"), st.text()),
        "anonymous": st.booleans(),
    }
    for name in draw(st.sets(st.sampled_from(sorted(choices)), max_size=3)):
        setattr(base, name, draw(choices[name]))
    base.capture_fields = draw(st.dictionaries(
        st.one_of(st.sampled_from(CAPTURE_KEYS), st.text(max_size=20)),
        st.one_of(any_text, json_like, st.sampled_from(
            ["Within reach", "yes", "no", "2026-01-01T10:00", "nan", "inf", "1e999"])),
        max_size=4))
    return base


def test_filing_never_crashes_and_stores_text_exactly_as_typed(engine: Engine, org: Org) -> None:
    """file_near_miss: a filed report, or ValidationFailed naming draft fields; text round-trips."""
    reporter = org.actor("supervisor")
    outcome = {"filed": 0, "refused": 0}

    ran = [0]
    @settings(DB_SETTINGS, max_examples=60)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        ran[0] += 1
        typed = data.draw(hostile_drafts(org))
        try:
            filed = file_near_miss(UnitOfWork(engine), reporter, typed,
                                   now=utcnow(), rules=app_settings())
        except ValidationFailed as exc:
            outcome["refused"] += 1
            _assert_names_fields(exc, lambda k: k in DRAFT_FIELDS or (
                k.startswith("capture.") and k[len("capture."):] in typed.capture_fields))
            return
        assert isinstance(filed, FiledReport)
        outcome["filed"] += 1
        with read_session(engine) as session:
            stored = session.get(NearMissReport, filed.id)
            assert stored is not None
            assert stored.description == typed.description.strip()
            assert stored.immediate_safeguards == (typed.immediate_safeguards.strip() or None)
            for key, value in (stored.capture_fields or {}).items():
                raw = typed.capture_fields[key]
                if isinstance(raw, str) and isinstance(value, str) and key in (
                        "transfer_task", "immediate_action", "environmental_condition"):
                    assert value == raw.strip()

    check()
    _examples('file_near_miss', ran[0], 60)
    assert outcome["filed"] > 0 and outcome["refused"] > 0, outcome


# ----------------------------------------------------------------------------- 2. CSV import

EXTREME_MOMENTS = ["0001-01-01T00:00+01:00", "9999-12-31T23:59-05:00", "0001-01-01 00:00",
                   "9999-12-31 23:59", "9999-12-31 18:56", "0001-01-01T00:00-03:00",
                   "2026-02-30 10:00", "2025-03-14", "2025-03-14T25:00", "1970-01-01T00:00:00Z",
                   "2025-03-14T09:30:00+23:59"]
moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2025, 12, 1)).map(
    lambda d: d.strftime("%Y-%m-%d %H:%M"))
VALID_CELLS: dict[str, st.SearchStrategy[str]] = {
    "reported_at": st.one_of(moments, moments, st.sampled_from(EXTREME_MOMENTS)),
    "occurred_at": st.one_of(st.just(""), st.sampled_from(EXTREME_MOMENTS)),
    "type": st.sampled_from(["transfer_near_fall", "Transfer / near fall", "other"]),
    "service": st.sampled_from(["Maple House", "maple house"]),
    "location": st.just("Bathroom doorway"),
    "description": plausible_text,
    "barrier": st.sampled_from(["chance", "staff_recovery"]),
    "still_at_risk": st.sampled_from(["yes", "no", "TRUE", "0"]),
    "person_ref": st.sampled_from(["", "MH-01"]),
    "route": st.just(""),
    "staff_group": st.sampled_from(["", "Nurse"]),
    "interface_flag": st.sampled_from(["", "shift_handover", "Shift handover"]),
    "immediate_safeguards": st.text(max_size=40),
}
hostile_cell = st.one_of(nasty_text.filter(lambda s: len(s) < 3000), st.sampled_from(
    EXTREME_MOMENTS))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A CSV file: a header of known (sometimes unknown) columns and rows of mixed cells."""
    columns = list(REQUIRED_COLUMNS) + draw(st.lists(st.sampled_from(OPTIONAL_COLUMNS),
                                                     unique=True, max_size=4))
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    if draw(st.integers(0, 9)) == 0:
        columns.append(draw(st.text(max_size=12)))
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        row = []
        for column in columns:
            strategy = VALID_CELLS.get(column, st.text(max_size=10))
            if draw(st.integers(0, 5)) == 0:
                strategy = hostile_cell
            row.append(draw(strategy))
        if draw(st.integers(0, 9)) == 0:
            row = row[:draw(st.integers(0, len(row)))] + draw(st.lists(st.text(max_size=5),
                                                                      max_size=2))
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=draw(st.sampled_from([",", ";"])))
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig"])),
                                    errors="surrogatepass")


def _check_import(engine: Engine, data: bytes, *, skip: bool, create: bool) -> None:
    try:
        result = import_bytes(data, source="upload.csv", engine=engine, skip_invalid=skip,
                              create_missing=create, rules=portal_settings(),
                              now=utcnow())
    except ImportFileError as exc:
        message = str(exc)
        assert message.startswith("upload.csv"), message
        return
    for rejected in result.rejected:
        assert rejected.line >= 2
        for error in rejected.errors:
            assert error.line == rejected.line
            assert error.column in KNOWN_COLUMNS or error.column == "row", error
            assert error.reason.strip()
            assert str(error).startswith(f"line {error.line}: {error.column}: ")
    if result.committed:
        with read_session(engine) as session:
            stored = session.scalars(select(NearMissReport.description).where(
                NearMissReport.reference.in_(result.references))).all()
        assert len(stored) == result.imported


def test_csv_import_of_hostile_cells_imports_or_names_line_and_column(engine: Engine,
                                                                      org: Org) -> None:
    """Generated CSV files: every problem is a RowError (line, column, reason) or a file error."""

    ran = [0]
    @settings(DB_SETTINGS)
    @given(csv_files(), st.booleans(), st.booleans())
    def check(data: bytes, skip: bool, create: bool) -> None:
        ran[0] += 1
        _check_import(engine, data, skip=skip, create=create)

    check()
    _examples('csv rows', ran[0], 40)


HEADER_BYTES = ",".join(REQUIRED_COLUMNS).encode() + b"\n"


def test_csv_import_of_arbitrary_bytes_never_crashes(engine: Engine, org: Org) -> None:
    """Arbitrary bytes (binary, invalid UTF-8, UTF-16, empty), alone or after a good header."""

    ran = [0]
    @settings(DB_SETTINGS)
    @given(st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=400).map(lambda b: HEADER_BYTES + b),
        st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe\x00", b"\x00\x00", b"\n\r\n",
                         HEADER_BYTES + b"\x80\x81", HEADER_BYTES + b'"' * 3,
                         HEADER_BYTES + b"2026-03-10 10:00,other,Maple House,Kitchen,\"a"]),
        st.text().map(lambda t: HEADER_BYTES + t.encode("utf-8", "surrogatepass")),
    ), st.booleans())
    def check(data: bytes, skip: bool) -> None:
        ran[0] += 1
        _check_import(engine, data, skip=skip, create=False)

    check()
    _examples('csv bytes', ran[0], 40)


# ----------------------------------------------------------------------------- 3. taxonomy


def _taxonomy_data() -> dict[str, Any]:
    return yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))


@st.composite
def mutated_taxonomy(draw: st.DrawFn) -> tuple[Any, str]:
    """The shipped taxonomy with one node deleted, renamed or replaced; returns (data, key)."""
    data = _taxonomy_data()
    node: Any = data
    path: list[Any] = []
    depth = draw(st.integers(0, 5))
    while len(path) < depth and isinstance(node, (dict, list)) and node:
        step = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        if not isinstance(node[step], (dict, list)) or not node[step]:
            break
        path.append(step)
        node = node[step]
    if isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
    elif isinstance(node, list) and node:
        key = draw(st.integers(0, len(node) - 1))
    else:
        return data, ""
    action = draw(st.sampled_from(["delete", "replace", "rename"]))
    if action == "delete":
        del node[key]
    elif action == "rename" and isinstance(node, dict):
        new_key = draw(st.one_of(st.text(min_size=1, max_size=15), st.integers()))
        node[new_key] = node.pop(key)
        key = new_key
    else:
        node[key] = draw(json_like)
    return data, str(key)


def test_a_mutated_taxonomy_loads_or_names_the_key_and_line(tmp_path: Path) -> None:
    """One key deleted, renamed or given a random value: loads, or ConfigFileError names it."""
    path = tmp_path / "taxonomy.yaml"
    outcome = {"loaded": 0, "refused": 0}

    ran = [0]
    @settings(max_examples=60, deadline=None)
    @given(mutated_taxonomy())
    def check(mutation: tuple[Any, str]) -> None:
        ran[0] += 1
        data, _key = mutation
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
        try:
            load_taxonomy_file(path)
        except ConfigFileError as exc:
            outcome["refused"] += 1
            message = str(exc)
            assert message.startswith(str(path)) and exc.message.strip()
            if isinstance(data, dict):
                # A well-formed YAML mapping: the error names the key path and its line.
                assert exc.key, message
                assert exc.line is not None and exc.line >= 1, message
                assert f"line {exc.line}" in message and exc.key in message
            return
        outcome["loaded"] += 1

    check()
    _examples('taxonomy mutation', ran[0], 60)
    assert outcome["refused"] > 0, outcome


def test_arbitrary_taxonomy_text_or_bytes_never_crash_the_loader(tmp_path: Path) -> None:
    """Random text, random bytes, or the real file with random bytes spliced in."""
    path = tmp_path / "taxonomy.yaml"
    original = TAXONOMY.read_bytes()

    ran = [0]
    @settings(max_examples=60, deadline=None)
    @given(st.one_of(
        st.text().map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=300),
        st.tuples(st.integers(0, len(original)), st.binary(min_size=1, max_size=20)).map(
            lambda c: original[:c[0]] + c[1] + original[c[0]:]),
        st.sampled_from([b"", b"\xff\xfe", b"types: [", b"&a [*a]", b"a: &a [*a]\nb: *a",
                         b"types: !!python/object:os.system {}", b"\x00", b"---\n---\n",
                         b"types: []\ninterface_flags: []", b"- 1\n- 2"]),
    ))
    def check(content: bytes) -> None:
        ran[0] += 1
        path.write_bytes(content)
        try:
            load_taxonomy_file(path)
        except ConfigFileError as exc:
            assert str(exc).startswith(str(path)) and exc.message.strip()

    check()
    _examples('taxonomy text/bytes', ran[0], 60)


# ----------------------------------------------------------------------------- 4. other services

ROLE_NAMES = ["reporter", "supervisor", "quality", "admin", "commissioner"]


def test_add_user_refuses_bad_input_naming_the_field(engine: Engine, org: Org) -> None:
    """NewUser with arbitrary strings: a user id, or ValidationFailed naming NewUser fields."""
    admin = org.actor("admin")
    allowed = {f.name for f in fields(NewUser)}

    ran = [0]
    @settings(DB_SETTINGS)
    @given(st.builds(
        NewUser,
        username=st.one_of(st.from_regex(r"\A[a-z][a-z0-9._-]{2,20}\Z"), nasty_text),
        display_name=any_text,
        password=st.one_of(st.just("Another-good-pass-1"), nasty_text),
        roles=st.lists(st.one_of(st.sampled_from(ROLE_NAMES), st.text(max_size=12)),
                       max_size=3).map(tuple),
        services=st.lists(st.one_of(st.just("Maple House"), nasty_text), max_size=2).map(tuple),
        email=st.one_of(st.none(), st.just("a@b.example"), nasty_text,
                        st.text(min_size=250, max_size=300).map(lambda t: f"{t}@x.example")),
        staff_group=st.one_of(st.none(), st.just("Nurse"), nasty_text),
    ))
    def check(new: NewUser) -> None:
        ran[0] += 1
        try:
            add_user(UnitOfWork(engine), admin, new, now=utcnow(), rules=portal_settings())
        except ValidationFailed as exc:
            _assert_names_fields(exc, lambda k: k in allowed)

    check()
    _examples('add_user', ran[0], 40)


def test_too_short_passwords_are_always_refused_naming_the_field(engine: Engine,
                                                                 org: Org) -> None:
    """change_password: short or hostile new passwords are refused, naming `new_password`."""
    reporter = org.actor("reporter")

    ran = [0]
    @settings(DB_SETTINGS)
    @given(st.one_of(st.text(max_size=7), nasty_text), st.one_of(st.just(PASSWORD), nasty_text))
    def check(new: str, current: str) -> None:
        ran[0] += 1
        try:
            change_password(UnitOfWork(engine), reporter, current, new,
                            now=utcnow(), rules=portal_settings())
        except ValidationFailed as exc:
            _assert_names_fields(exc, lambda k: k in ("new_password", "current_password"))
            if len(new) < 8:
                assert "new_password" in exc.errors
            return
        assert len(new) >= 8
        # Changed: put the known password back for the next example.
        change_password(UnitOfWork(engine), reporter, new, PASSWORD,
                        now=utcnow(), rules=portal_settings())

    check()
    _examples('change_password', ran[0], 40)


def test_sign_in_with_arbitrary_credentials_is_refused_not_crashed(engine: Engine,
                                                                   org: Org) -> None:
    """sign_in with arbitrary usernames and passwords: SignInRefused, never anything else."""

    ran = [0]
    @settings(DB_SETTINGS)
    @given(st.one_of(st.sampled_from(["admin", " ADMIN ", "reporter"]), nasty_text), nasty_text)
    def check(username: str, password: str) -> None:
        ran[0] += 1
        with pytest.raises(SignInRefused) as refused:
            sign_in(UnitOfWork(engine), username, password, now=utcnow(), rules=portal_settings())
        assert str(refused.value).strip()

    check()
    _examples('sign_in', ran[0], 40)


def _version(engine: Engine, reference: str) -> int:
    with read_session(engine) as session:
        version = session.scalar(select(NearMissReport.version_id).where(
            NearMissReport.reference == reference))
    assert version is not None
    return version


GOOD_ANSWERS = TriageAnswers(at_risk_now=False, safeguarding_trigger=False, recurrence="single",
                             severity="low", investigation="none", route="supervisor")


def _in_review(engine: Engine, org_: Org) -> str:
    quality = org_.actor("quality")
    reference = file_near_miss(UnitOfWork(engine), quality, draft(org_),
                               now=utcnow(), rules=app_settings()).reference
    triage_report(UnitOfWork(engine), quality, reference, GOOD_ANSWERS, expected_version=1,
                  now=utcnow(), rules=app_settings())
    start_review(UnitOfWork(engine), quality, reference,
                 expected_version=_version(engine, reference), now=utcnow(), rules=app_settings())
    return reference


def test_create_plan_with_hostile_text_and_dates_names_the_field(engine: Engine,
                                                                 org: Org) -> None:
    """create_plan: a plan, or ValidationFailed naming plan/action/measure fields."""
    quality = org.actor("quality")
    reference = _in_review(engine, org)
    today = local_now().date()
    top = {"title", "theme", "reports", "rca", "actions"}
    action_fields = {"title", "description", "kind", "owner", "deadline", "review_date",
                     "evidence_checks", "test_window_days"}

    def allowed(key: str) -> bool:
        if key in top or key.startswith("measure."):
            return True
        head, _, tail = key.partition("].")
        return head.startswith("actions[") and tail in action_fields

    actions = st.builds(
        ActionDraft, title=any_text, description=any_text,
        kind=st.one_of(st.none(), st.just("checklist"), st.text(max_size=20)),
        owner_id=st.one_of(st.none(), st.just(quality.user_id), any_int),
        deadline=st.one_of(st.none(), st.just(today + timedelta(days=3)), any_date),
        review_date=st.one_of(st.none(), st.just(today + timedelta(days=9)), any_date),
        evidence_checks=st.lists(any_text, max_size=3),
        verify_with_measure=st.booleans(),
        test_window_days=st.one_of(st.none(), any_int))

    ran = [0]
    @settings(DB_SETTINGS)
    @given(st.builds(
        PlanDraft, title=any_text, theme=any_text,
        source=st.sampled_from(["report", "rca", "cluster"]),
        report_references=st.lists(st.one_of(st.just(reference), nasty_text), max_size=2),
        rca_id=st.one_of(st.none(), any_int),
        actions=st.lists(actions, min_size=0, max_size=2),
        measure=st.one_of(st.none(), st.builds(
            MeasureDraft, per=st.one_of(st.just("week"), st.text(max_size=10)),
            direction=st.one_of(st.just("decrease"), st.text(max_size=10)),
            target=st.one_of(st.none(), st.floats(allow_nan=False))))))
    def check(plan: PlanDraft) -> None:
        ran[0] += 1
        try:
            create_plan(UnitOfWork(engine), quality, plan, now=utcnow(), rules=app_settings())
        except ValidationFailed as exc:
            _assert_names_fields(exc, allowed)

    check()
    _examples('create_plan', ran[0], 40)


def test_create_update_with_hostile_text_names_the_field(engine: Engine, org: Org) -> None:
    """create_update: an update id, or a DomainError (ValidationFailed naming draft fields)."""
    quality = org.actor("quality")
    allowed = {"title", "what_changed", "why", "reports", "services", "roles"}

    ran = [0]
    @settings(DB_SETTINGS)
    @given(st.builds(
        UpdateDraft, title=any_text, what_changed=any_text, why=any_text,
        report_references=st.lists(nasty_text, max_size=2),
        action_ids=st.lists(any_int, max_size=1),
        service_ids=st.lists(st.one_of(st.just(org.maple), any_int), max_size=2),
        roles=st.lists(st.one_of(st.sampled_from(ROLE_NAMES), st.text(max_size=10)),
                       max_size=2)))
    def check(update: UpdateDraft) -> None:
        ran[0] += 1
        outcome = _domain_only(lambda: create_update(UnitOfWork(engine), quality, update,
                                                     now=utcnow(), rules=app_settings()))
        if isinstance(outcome, ValidationFailed):
            _assert_names_fields(outcome, lambda k: k in allowed)

    check()
    _examples('create_update', ran[0], 40)


def test_review_gate_and_communication_with_hostile_text(engine: Engine, org: Org) -> None:
    """save_review, check_gate and record_communication: saved, or refused naming the field."""
    quality = org.actor("quality")
    reference = _in_review(engine, org)
    review_keys = {"control_reliable", "would_work_again", "barrier_class",
                   "contributing_factors", "what_stopped_harm", "would_work_again_note",
                   "findings"}

    ran_review = [0]
    @settings(DB_SETTINGS)
    @given(st.builds(
        ReviewInput,
        field_values=st.dictionaries(st.one_of(st.sampled_from([
            *CAPTURE_KEYS, "staff_present", "supervisor_review"]), st.text(max_size=10)),
            st.one_of(any_text, json_like), max_size=4),
        what_stopped_harm=any_text, would_work_again_note=any_text, findings=any_text,
        control_reliable=st.one_of(st.none(), st.just("yes"), st.text(max_size=10)),
        would_work_again=st.one_of(st.none(), st.just("no"), st.text(max_size=10)),
        contributing_factors=st.lists(st.one_of(st.just("timing"), st.text(max_size=10)),
                                      max_size=3),
        barrier_class=st.one_of(st.none(), st.just("chance"), st.text(max_size=10))))
    def review(data: ReviewInput) -> None:
        ran_review[0] += 1
        try:
            problems = save_review(UnitOfWork(engine), quality, reference, data,
                                   now=utcnow(), rules=app_settings())
        except ValidationFailed as exc:
            _assert_names_fields(exc, lambda k: k in review_keys or k.startswith("field."))
            return
        assert all(isinstance(m, str) and m for m in problems.values())

    ran_gate = [0]
    @settings(DB_SETTINGS, max_examples=30)
    @given(st.one_of(st.just("staff_briefing"), st.just("communication_review"), nasty_text),
           any_text, st.booleans())
    def gate(key: str, note: str, not_applicable: bool) -> None:
        ran_gate[0] += 1
        try:
            check_gate(UnitOfWork(engine), quality, reference, key, note=note,
                       not_applicable=not_applicable, now=utcnow())
        except ValidationFailed as exc:
            _assert_names_fields(exc, lambda k: k in ("gate", "note"))

    ran_communication = [0]
    @settings(DB_SETTINGS)
    @given(st.builds(
        CommunicationInput,
        audience=st.one_of(st.none(), st.just("family"), st.text(max_size=10)),
        communicated=st.one_of(st.none(), st.booleans()), what=any_text,
        communicated_at=st.one_of(st.none(), st.just(local_now() - timedelta(hours=2)),
                                  any_datetime)))
    def communication(data: CommunicationInput) -> None:
        ran_communication[0] += 1
        try:
            record_communication(UnitOfWork(engine), quality, reference, data,
                                 now=utcnow(), rules=app_settings())
        except ValidationFailed as exc:
            _assert_names_fields(exc, lambda k: k in ("audience", "communicated", "what",
                                                      "communicated_at"))

    review()
    gate()
    communication()
    _examples("save_review", ran_review[0], 40)
    _examples("check_gate", ran_gate[0], 30)
    _examples("record_communication", ran_communication[0], 40)


def test_triage_with_arbitrary_answers_names_the_field(engine: Engine, org: Org) -> None:
    """triage_report: triaged, or ValidationFailed naming TriageAnswers fields."""
    quality = org.actor("quality")
    allowed = {f.name for f in fields(TriageAnswers)}
    current = {"reference": file_near_miss(UnitOfWork(engine), quality, draft(org),
                                           now=utcnow(), rules=app_settings()).reference}

    def one_of_or_text(*good: str) -> st.SearchStrategy[str | None]:
        return st.one_of(st.none(), st.sampled_from(good), st.text(max_size=12))

    ran = [0]
    @settings(DB_SETTINGS)
    @given(st.builds(
        TriageAnswers,
        at_risk_now=st.one_of(st.none(), st.booleans()),
        immediate_safeguards=any_text,
        safeguarding_trigger=st.one_of(st.none(), st.booleans()),
        safeguarding_signals=st.lists(st.one_of(st.just("boundary_issue"), st.text(max_size=8)),
                                      max_size=2),
        external_reporting=st.booleans(),
        recurrence=one_of_or_text("single", "repeat", "cluster"),
        related_report_ids=st.lists(st.integers(-5, 10**6), max_size=2),
        severity=one_of_or_text("low", "medium", "high"),
        investigation=one_of_or_text("none", "supervisor_review", "full_rca"),
        route=one_of_or_text("supervisor", "operations"),
        notes=any_text))
    def check(answers: TriageAnswers) -> None:
        ran[0] += 1
        reference = current["reference"]
        try:
            triage_report(UnitOfWork(engine), quality, reference, answers,
                          expected_version=_version(engine, reference),
                          now=utcnow(), rules=app_settings())
        except ValidationFailed as exc:
            _assert_names_fields(exc, lambda k: k in allowed)
            return
        # Triaged: the next example gets a fresh report.
        current["reference"] = file_near_miss(UnitOfWork(engine), quality, draft(org),
                                              now=utcnow(), rules=app_settings()).reference

    check()
    _examples('triage_report', ran[0], 40)


def test_deciding_on_a_cluster_with_hostile_input_names_the_field(engine: Engine,
                                                                    org: Org) -> None:
    """dismiss_episode / acknowledge_episode: done, or a clear refusal (the reason field, an
    unknown cluster, a changed one), never a crash, whatever the id, version or reason."""
    quality = org.actor("quality")
    for days in (8, 7, 5, 4, 2, 1):  # near falls at one doorway: a cluster episode
        file_near_miss(UnitOfWork(engine), quality, draft(
            org, occurred_at=local_now() - timedelta(days=days)),
                       now=utcnow(), rules=app_settings())
    with read_session(engine) as session:
        episode_id = session.scalar(select(ClusterEpisode.id))
    assert episode_id is not None

    ran = [0]
    @settings(DB_SETTINGS)
    @given(st.one_of(st.just(episode_id), any_int), any_int, any_text, st.booleans())
    def check(target: int, version: int, reason: str, dismiss: bool) -> None:
        ran[0] += 1
        try:
            if dismiss:
                dismiss_episode(UnitOfWork(engine), quality, target, reason=reason,
                                expected_version=version, now=utcnow(), rules=portal_settings())
            else:
                acknowledge_episode(UnitOfWork(engine), quality, target,
                                    expected_version=version, now=utcnow())
        except ValidationFailed as exc:
            _assert_names_fields(exc, lambda k: k in {"reason", "status"})
        except DomainError as exc:  # not found, changed meanwhile: said in words
            assert str(exc).strip()

    check()
    _examples("dismiss_episode", ran[0], 40)


# ----------------------------------------------------------------------------- 5. logs


def test_no_password_appears_in_logs_or_output(engine: Engine, org: Org,
                                               caplog: pytest.LogCaptureFixture,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Signing in (right and wrong), adding a user and changing a password log no password."""
    wrong = "Wrong-Horse-9876"
    new_user_password = "Fresh-Secret-4321"
    changed = "Changed-Secret-5555"
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "core"):
        caplog.set_level(logging.DEBUG, logger=name)
    sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=utcnow(), rules=portal_settings())
    with pytest.raises(SignInRefused):
        sign_in(UnitOfWork(engine), "reporter", wrong, now=utcnow(), rules=portal_settings())
    add_user(UnitOfWork(engine), org.actor("admin"), NewUser(
        username="newcomer", display_name="New Comer", password=new_user_password,
        roles=("reporter",), services=("Maple House",)), now=utcnow(), rules=portal_settings())
    with pytest.raises(ValidationFailed):
        add_user(UnitOfWork(engine), SYSTEM, NewUser(
            username="shorty", display_name="Shorty", password="Ab1", roles=("reporter",)),
                 now=utcnow(), rules=portal_settings())
    signed = sign_in(UnitOfWork(engine), "newcomer", new_user_password,
                     now=utcnow(), rules=portal_settings())
    change_password(UnitOfWork(engine), signed.actor, new_user_password, changed,
                    now=utcnow(), rules=portal_settings())
    with pytest.raises(ValidationFailed):
        change_password(UnitOfWork(engine), signed.actor, wrong, "Another-Secret-7777",
                        now=utcnow(), rules=portal_settings())
    sign_in(UnitOfWork(engine), "newcomer", changed, now=utcnow(), rules=portal_settings())
    out = capsys.readouterr()
    logged = "\n".join([caplog.text, *(r.getMessage() for r in caplog.records),
                        *(repr(getattr(r, "args", "")) for r in caplog.records),
                        out.out, out.err])
    assert caplog.records, "nothing was logged: the capture is not working"
    for secret in (PASSWORD, wrong, new_user_password, changed, "Another-Secret-7777"):
        assert secret not in logged
