"""Editing the taxonomy in the portal: every save is a new version, old reports keep theirs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from core.audit.chain import verify_chain
from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import ConflictError, PermissionDenied, ValidationFailed
from core.filing.detail import report_detail
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.taxonomy.admin import (
    editable_types,
    rows_from_spec,
    save_type,
    set_type_active,
    spec_data_from_form,
    taxonomy_as_yaml,
    type_versions,
)
from core.taxonomy.models import NearMissType, NearMissTypeVersion
from core.taxonomy.service import live_taxonomy, load_taxonomy_file, sync_taxonomy, type_version
from core.uow import UnitOfWork
from tests.builders import build_org, draft
from tests.conftest import ROOT, built_once

NEAR_FALL = "transfer_near_fall"


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def current_data(engine, key: str = NEAR_FALL) -> dict[str, Any]:
    """The current definition of a type, as a dict save_type takes."""
    with read_session(engine) as session:
        return live_taxonomy(session).type(key).model_dump(mode="json")


def with_gate(data: dict[str, Any], key: str = "hoist_checked",
              label: str = "Hoist checked before use") -> dict[str, Any]:
    return {**data, "gates": [*data["gates"], {"key": key, "label": label}]}


def audit_count(engine, action: str) -> int:
    with read_session(engine) as session:
        return session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def new_type_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "medication_storage",
        "name": "Medication storage",
        "description": "A medication cabinet or fridge was found unsafe before anyone was harmed.",
        "route_to": "clinical",
        "fields": [
            {"key": "storage_place", "label": "Where it is stored", "kind": "text",
             "capture": True},
            {"key": "problem", "label": "Problem found", "kind": "choice",
             "options": ["Unlocked", "Too warm", "Out of date stock"], "capture": True},
        ],
        "gates": [{"key": "cabinet_secured", "label": "Cabinet secured"}],
        "validation": [{"key": "storage_audit", "label": "Storage audit"}],
    }
    data.update(changes)
    return data


def test_adding_a_gate_makes_version_2_and_old_reports_keep_version_1(engine, org):
    admin = org.actor("admin")
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                           now=utcnow(), rules=settings())
    before = current_data(engine)

    version = save_type(UnitOfWork(engine), admin, with_gate(before), now=utcnow())

    assert version == 2
    with read_session(engine) as session:
        row = session.get(NearMissType, NEAR_FALL)
        assert row.current_version == 2
        stored = session.scalar(select(NearMissTypeVersion).where(
            NearMissTypeVersion.type_key == NEAR_FALL, NearMissTypeVersion.version == 2))
        assert stored.file_hash is None and stored.created_by == "admin"
        live = live_taxonomy(session).type(NEAR_FALL)
        assert [g.key for g in live.gates][-1] == "hoist_checked"
        report = session.get(NearMissReport, filed.id)
        assert report.type_version == 1
        old = type_version(session, NEAR_FALL, 1)
        assert [g.key for g in old.gates] == [g["key"] for g in before["gates"]]
        assert "hoist_checked" not in {g.key for g in old.gates}
        assert [v.version for v in type_versions(session, NEAR_FALL)] == [2, 1]
        assert [v.from_file for v in type_versions(session, NEAR_FALL)] == [False, True]
        # The report's detail still shows the template it was filed under.
        detail = report_detail(session, org.actor("quality"), filed.reference, now=utcnow())
        assert "hoist_checked" not in {g.key for g in detail.type_spec.gates}
    later = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                           now=utcnow(), rules=settings())
    with read_session(engine) as session:
        assert session.get(NearMissReport, later.id).type_version == 2
        event = session.scalar(select(AuditEvent).where(
            AuditEvent.action == "taxonomy.type_saved"))
        assert event.entity_id == NEAR_FALL and event.actor == "admin"
        assert "hoist_checked" in event.after_json and "hoist_checked" not in event.before_json
        assert verify_chain(session).ok


def test_a_second_save_adds_version_3_and_keeps_version_2(engine, org):
    admin = org.actor("admin")
    data = with_gate(current_data(engine))
    assert save_type(UnitOfWork(engine), admin, data, now=utcnow()) == 2
    renamed = {**data, "name": "Transfer or near fall"}
    assert save_type(UnitOfWork(engine), admin, renamed, original_key=NEAR_FALL,
                     base_version=2, now=utcnow()) == 3
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).name == "Transfer or near fall"
        assert type_version(session, NEAR_FALL, 2).name == "Transfer / near fall"
        assert type_version(session, NEAR_FALL, 3).name == "Transfer or near fall"


def test_a_new_type_is_created_last_and_offered_to_reporters(engine, org):
    version = save_type(UnitOfWork(engine), org.actor("admin"), new_type_data(), create=True,
                        now=utcnow())
    assert version == 1
    with read_session(engine) as session:
        taxonomy = live_taxonomy(session)
        assert taxonomy.types[-1].key == "medication_storage"
        assert taxonomy.type("medication_storage").active
        assert [f.key for f in taxonomy.type("medication_storage").capture_fields] == [
            "storage_place", "problem"]
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, type_key="medication_storage",
        capture_fields={"storage_place": "Office cabinet", "problem": "Unlocked"}),
                           now=utcnow(), rules=settings())
    with read_session(engine) as session:
        report = session.get(NearMissReport, filed.id)
        assert (report.type_key, report.type_version) == ("medication_storage", 1)
    assert audit_count(engine, "taxonomy.type_saved") == 1


def test_new_type_refuses_an_existing_key_and_a_taken_name(engine, org):
    admin = org.actor("admin")
    with pytest.raises(ValidationFailed) as caught:
        save_type(UnitOfWork(engine), admin, new_type_data(key=NEAR_FALL), create=True,
                  now=utcnow())
    assert "key" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        save_type(UnitOfWork(engine), admin, new_type_data(name="transfer / NEAR fall"),
                  now=utcnow())
    assert "name" in caught.value.errors
    with read_session(engine) as session:
        assert session.get(NearMissType, "medication_storage") is None


def test_a_types_key_cannot_change(engine, org):
    data = {**current_data(engine), "key": "transfer_or_fall"}
    with pytest.raises(ValidationFailed) as caught:
        save_type(UnitOfWork(engine), org.actor("admin"), data, original_key=NEAR_FALL,
                  now=utcnow())
    assert "cannot change" in caught.value.errors["key"]
    with read_session(engine) as session:
        assert session.get(NearMissType, "transfer_or_fall") is None


def errors_of(engine, org, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        save_type(UnitOfWork(engine), org.actor("admin"), data, now=utcnow())
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).current_version == 1
    return caught.value.errors


def test_a_duplicate_gate_key_names_the_gates(engine, org):
    data = current_data(engine)
    errors = errors_of(engine, org, with_gate(data, key=data["gates"][0]["key"]))
    path = f"gates[{len(data['gates'])}].key"
    assert list(errors) == [path]
    assert data["gates"][0]["key"] in errors[path] and "row 1" in errors[path]


def test_a_choice_without_options_names_the_fields_options(engine, org):
    data = current_data(engine)
    index = next(i for i, f in enumerate(data["fields"]) if f["kind"] == "choice")
    data["fields"][index] = {**data["fields"][index], "options": []}
    errors = errors_of(engine, org, data)
    assert list(errors) == [f"fields[{index}].options"]
    assert "options" in errors[f"fields[{index}].options"]


@pytest.mark.parametrize("bad_key", ["Hoist Checked", "1st_check", "hoist-checked", ""])
def test_a_bad_key_names_the_row_and_column(engine, org, bad_key):
    data = current_data(engine)
    errors = errors_of(engine, org, with_gate(data, key=bad_key))
    path = f"gates[{len(data['gates'])}].key"
    assert list(errors) == [path]
    assert "Gate in row" in errors[path]


def test_several_problems_are_reported_together(engine, org):
    data = current_data(engine)
    data.update(name=" ", route_to="nobody")
    data["validation"] = [*data["validation"], {"key": "x", "label": ""}]
    errors = errors_of(engine, org, data)
    assert {"name", "route_to", f"validation[{len(data['validation']) - 1}].label"} <= set(errors)
    assert errors["name"] == "Required."


def test_only_an_admin_may_save(engine, org):
    data = with_gate(current_data(engine))
    for username in ("quality", "supervisor", "reporter"):
        with pytest.raises(PermissionDenied):
            save_type(UnitOfWork(engine), org.actor(username), data, now=utcnow())
        with pytest.raises(PermissionDenied):
            set_type_active(UnitOfWork(engine), org.actor(username), NEAR_FALL, False, now=utcnow())
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).current_version == 1


def test_saving_the_current_template_unchanged_is_a_no_op(engine, org):
    events_before = audit_count(engine, "taxonomy.type_saved")
    with read_session(engine) as session:
        total = session.scalar(select(func.count()).select_from(AuditEvent))
    version = save_type(UnitOfWork(engine), org.actor("admin"), current_data(engine), now=utcnow())
    assert version == 1
    # The same through the page's tables (empty help cells, "; "-joined options).
    with read_session(engine) as session:
        spec = live_taxonomy(session).type(NEAR_FALL)
    header = {**spec.model_dump(mode="json"), "active": True}
    assert save_type(UnitOfWork(engine), org.actor("admin"),
                     spec_data_from_form(header, rows_from_spec(spec)), now=utcnow()) == 1
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).current_version == 1
        assert len(type_versions(session, NEAR_FALL)) == 1
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == total
    assert audit_count(engine, "taxonomy.type_saved") == events_before


def test_a_restart_sync_of_the_unchanged_file_keeps_the_admins_edit(engine, org):
    save_type(UnitOfWork(engine), org.actor("admin"), with_gate(current_data(engine)), now=utcnow())
    result = sync_taxonomy(UnitOfWork(engine), load_taxonomy_file(ROOT / "data" / "taxonomy.yaml"),
                           SYSTEM, now=utcnow())
    assert not result.changed
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).current_version == 2
        assert "hoist_checked" in {g.key for g in live_taxonomy(session).type(NEAR_FALL).gates}


def test_a_changed_definition_in_the_file_still_wins_as_a_newer_version(engine, org, tmp_path):
    save_type(UnitOfWork(engine), org.actor("admin"), with_gate(current_data(engine)), now=utcnow())
    text = (ROOT / "data" / "taxonomy.yaml").read_text(encoding="utf-8")
    changed = tmp_path / "taxonomy.yaml"
    changed.write_text(text.replace("name: Transfer / near fall", "name: Transfer or fall", 1),
                       encoding="utf-8")
    sync_taxonomy(UnitOfWork(engine), load_taxonomy_file(changed), SYSTEM, now=utcnow())
    with read_session(engine) as session:
        row = session.get(NearMissType, NEAR_FALL)
        assert (row.current_version, row.name) == (3, "Transfer or fall")
        assert "hoist_checked" in {g.key for g in type_version(session, NEAR_FALL, 2).gates}


def test_the_yaml_export_loads_back_as_the_live_taxonomy(engine, org, tmp_path):
    admin = org.actor("admin")
    save_type(UnitOfWork(engine), admin, with_gate(current_data(engine)), now=utcnow())
    save_type(UnitOfWork(engine), admin, new_type_data(), create=True, now=utcnow())
    set_type_active(UnitOfWork(engine), admin, "community_safety", False, now=utcnow())
    path = tmp_path / "taxonomy.yaml"
    with read_session(engine) as session:
        path.write_text(taxonomy_as_yaml(session, now=utcnow()), encoding="utf-8")
        live = live_taxonomy(session)
    loaded = load_taxonomy_file(path)
    assert loaded == live
    assert not loaded.type("community_safety").active
    assert loaded.type(NEAR_FALL).gates[-1].key == "hoist_checked"
    # Syncing the exported file changes no template the admin saved.
    sync_taxonomy(UnitOfWork(engine), loaded, SYSTEM, now=utcnow())
    with read_session(engine) as session:
        assert live_taxonomy(session) == live


def test_the_shipped_file_round_trips_unchanged(engine, org, tmp_path):
    path = tmp_path / "taxonomy.yaml"
    with read_session(engine) as session:
        path.write_text(taxonomy_as_yaml(session, now=utcnow()), encoding="utf-8")
    assert load_taxonomy_file(path) == load_taxonomy_file(ROOT / "data" / "taxonomy.yaml")


def test_a_retired_type_is_not_offered_but_its_reports_still_resolve(engine, org):
    admin = org.actor("admin")
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                           now=utcnow(), rules=settings())
    set_type_active(UnitOfWork(engine), admin, NEAR_FALL, False, now=utcnow())
    with read_session(engine) as session:
        taxonomy = live_taxonomy(session)
        assert not taxonomy.type(NEAR_FALL).active
        assert NEAR_FALL not in {t.key for t in taxonomy.types if t.active}
        assert session.get(NearMissType, NEAR_FALL).current_version == 1
        detail = report_detail(session, org.actor("quality"), filed.reference, now=utcnow())
        assert detail.type_spec.key == NEAR_FALL
        assert detail.type_spec == type_version(session, NEAR_FALL, 1)
    with pytest.raises(ValidationFailed) as caught:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                       now=utcnow(), rules=settings())
    assert "type_key" in caught.value.errors
    assert audit_count(engine, "taxonomy.type_retired") == 1
    # Retiring twice records nothing more; offering it again is audited too.
    set_type_active(UnitOfWork(engine), admin, NEAR_FALL, False, now=utcnow())
    assert audit_count(engine, "taxonomy.type_retired") == 1
    set_type_active(UnitOfWork(engine), admin, NEAR_FALL, True, now=utcnow())
    assert audit_count(engine, "taxonomy.type_restored") == 1
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                   now=utcnow(), rules=settings())


def test_unticking_active_alone_retires_without_a_new_version(engine, org):
    data = {**current_data(engine), "active": False}
    assert save_type(UnitOfWork(engine), org.actor("admin"), data, now=utcnow()) == 1
    with read_session(engine) as session:
        row = session.get(NearMissType, NEAR_FALL)
        assert (row.active, row.current_version) == (False, 1)
    assert audit_count(engine, "taxonomy.type_retired") == 1
    assert audit_count(engine, "taxonomy.type_saved") == 0


def test_the_last_offered_type_cannot_be_retired(engine, org):
    admin = org.actor("admin")
    with read_session(engine) as session:
        keys = [item.spec.key for item in editable_types(session)]
    for key in keys[1:]:
        set_type_active(UnitOfWork(engine), admin, key, False, now=utcnow())
    with pytest.raises(ValidationFailed) as caught:
        set_type_active(UnitOfWork(engine), admin, keys[0], False, now=utcnow())
    assert "active" in caught.value.errors


def test_a_save_from_a_stale_version_is_refused(engine, org):
    admin = org.actor("admin")
    data = current_data(engine)
    save_type(UnitOfWork(engine), admin, with_gate(data), base_version=1, now=utcnow())
    with pytest.raises(ConflictError):
        save_type(UnitOfWork(engine), admin, with_gate(data, key="other_gate"), base_version=1,
                  now=utcnow())
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).current_version == 2


def test_the_pages_tables_become_a_type_definition():
    data = spec_data_from_form(
        {"key": " kitchen_hazard ", "name": "Kitchen hazard", "description": "Found in time.",
         "route_to": None, "active": True},
        {
            "fields": [
                {"key": None, "label": "Appliance", "kind": "choice",
                 "options": "Kettle; Oven ;; Toaster", "capture": None, "source": float("nan"),
                 "help": ""},
                {"key": None, "label": None, "kind": None, "options": None, "capture": False,
                 "source": None, "help": None},  # an added row left empty
            ],
            "gates": [{"key": "area_made_safe", "label": "Area made safe",
                       "may_be_not_applicable": True, "help": "  "}],
            "validation": [],
        })
    assert data["key"] == "kitchen_hazard" and data["route_to"] == "supervisor"
    assert data["fields"] == [{"key": "appliance", "label": "Appliance", "kind": "choice",
                               "options": ["Kettle", "Oven", "Toaster"], "capture": False,
                               "source": None, "help": None}]
    assert data["gates"] == [{"key": "area_made_safe", "label": "Area made safe",
                              "may_be_not_applicable": True, "help": None}]
    assert data["validation"] == []



def test_the_exported_taxonomy_saved_as_the_file_adds_no_version(engine, org, tmp_path):
    """An admin edits a type and saves the exported taxonomy as the file: no new version."""
    save_type(UnitOfWork(engine), org.actor("admin"), with_gate(current_data(engine)), now=utcnow())
    exported = tmp_path / "taxonomy.yaml"
    with read_session(engine) as session:
        exported.write_text(taxonomy_as_yaml(session, now=utcnow()), encoding="utf-8")
    sync_taxonomy(UnitOfWork(engine), load_taxonomy_file(exported), SYSTEM, now=utcnow())
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).current_version == 2
        assert session.scalar(select(func.count()).select_from(NearMissTypeVersion).where(
            NearMissTypeVersion.type_key == NEAR_FALL)) == 2
