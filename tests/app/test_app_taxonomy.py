"""The "Near-miss types" page in the real app: save a new version, errors beside the right part.

AppTest cannot type into a data_editor; a keyed editor is driven by assigning its edit state
(edited_rows, added_rows, deleted_rows) in session state before the run, as a browser would send.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from core.db import read_session
from core.taxonomy.models import NearMissType
from core.taxonomy.service import live_taxonomy, type_version
from tests.apptest_helpers import assert_no_exception, new_app, shown, sign_in, texts
from tests.builders import build_org
from tests.conftest import built_once

PAGE = "pages/admin_taxonomy.py"
NEAR_FALL = "transfer_near_fall"


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def open_page(username: str = "admin") -> AppTest:
    at = sign_in(new_app(), username)
    at.switch_page(PAGE).run()
    assert_no_exception(at)
    return at


def edit_table(at: AppTest, key: str, *, added: Sequence[dict[str, Any]] = (),
               edited: dict[int, dict[str, Any]] | None = None,
               deleted: Sequence[int] = ()) -> None:
    """What the browser sends for a data_editor after the admin edits it."""
    at.session_state[key] = {"edited_rows": edited or {}, "added_rows": list(added),
                             "deleted_rows": list(deleted)}


def in_order(node: Any) -> list[Any]:
    """Every element of the page, in the order it is drawn."""
    found: list[Any] = []
    for child in node.children.values():
        if isinstance(child, Block):
            found.extend(in_order(child))
        else:
            found.append(child)
    return found


def errors_after(at: AppTest, editor_key: str) -> list[str]:
    """The error messages drawn between a data_editor and the next subheader or editor."""
    elements = in_order(at.main)
    start = next(i for i, e in enumerate(elements) if getattr(e, "key", None) == editor_key)
    messages = []
    for element in elements[start + 1:]:
        if element.type in ("subheader", "dataframe", "button"):
            break
        if element.type == "error":
            messages.append(shown(str(element.value)))
    return messages


def gate(key: str, label: str) -> dict[str, Any]:
    return {"key": key, "label": label, "may_be_not_applicable": False, "help": None}


def test_admin_adds_a_gate_and_saves_a_new_version(org, engine):
    at = open_page()
    assert texts(at, "title") == ["Near-miss types"]
    assert at.selectbox(key="tax_type").value == NEAR_FALL
    assert any("keep the version" in c for c in texts(at, "caption"))
    edit_table(at, f"tax.{NEAR_FALL}.v1.gates", added=[gate("hoist_checked", "Hoist checked")],
               edited={0: {"label": "The person is confirmed safe"}})
    edit_table(at, f"tax.{NEAR_FALL}.v1.validation", deleted=[5])
    at.run()
    at.button(key="tax_save").click().run()
    assert_no_exception(at)

    assert any("saved as version 2" in s for s in texts(at, "success"))
    assert "version 2" in at.selectbox(key="tax_type").format_func(NEAR_FALL)
    history = at.dataframe[-1].value
    assert list(history["Version"]) == [2, 1]
    assert list(history["By"]) == ["admin", "system"]
    gates = next(e for e in at.data_editor if e.key == f"tax.{NEAR_FALL}.v2.gates").value
    assert list(gates["key"])[-1] == "hoist_checked"
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).current_version == 2
        new, old = type_version(session, NEAR_FALL, 2), type_version(session, NEAR_FALL, 1)
        assert new.gates[0].label == "The person is confirmed safe"
        assert len(new.validation) == len(old.validation) - 1
        assert "hoist_checked" not in {g.key for g in old.gates}
        assert old.gates[0].label == "Confirmation that the person remains safe"


def test_an_invalid_save_shows_the_error_beside_the_gates_and_keeps_the_edit(org, engine):
    at = open_page()
    editor = f"tax.{NEAR_FALL}.v1.gates"
    at.text_input(key=f"tax.{NEAR_FALL}.v1.name").input("Transfer or near fall")
    edit_table(at, editor, added=[gate("staff_briefing", "Second staff briefing")])
    at.run()
    at.button(key="tax_save").click().run()
    assert_no_exception(at)

    assert not texts(at, "success")
    beside = errors_after(at, editor)
    assert len(beside) == 1 and "staff_briefing" in beside[0] and "already used" in beside[0]
    assert any("Nothing you typed has been lost" in e for e in texts(at, "error"))
    assert at.text_input(key=f"tax.{NEAR_FALL}.v1.name").value == "Transfer or near fall"
    assert at.session_state[editor]["added_rows"][0]["key"] == "staff_briefing"
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).current_version == 1

    # Fixing the key saves, with the name typed before the error.
    edit_table(at, editor, added=[gate("second_briefing", "Second staff briefing")])
    at.run()
    at.button(key="tax_save").click().run()
    assert_no_exception(at)
    assert any("saved as version 2" in s for s in texts(at, "success"))
    assert not errors_after(at, f"tax.{NEAR_FALL}.v2.gates")
    with read_session(engine) as session:
        live = live_taxonomy(session).type(NEAR_FALL)
        assert live.name == "Transfer or near fall"
        assert live.gates[-1].key == "second_briefing"


def test_a_choice_field_without_options_is_marked_beside_the_fields(org, engine):
    at = open_page()
    editor = f"tax.{NEAR_FALL}.v1.fields"
    edit_table(at, editor, added=[{"key": "footwear", "label": "Footwear", "kind": "choice",
                                   "options": None, "capture": True, "source": None,
                                   "help": None}])
    at.run()
    at.button(key="tax_save").click().run()
    assert_no_exception(at)
    beside = errors_after(at, editor)
    assert len(beside) == 1 and "footwear" in beside[0] and "options" in beside[0]
    assert not errors_after(at, f"tax.{NEAR_FALL}.v1.gates")


def test_admin_creates_a_new_type_that_reporters_are_offered(org, engine):
    at = open_page()
    at.selectbox(key="tax_type").set_value("__new__").run()
    assert_no_exception(at)
    at.text_input(key="tax.new.0.key").input("medication_storage")
    at.text_input(key="tax.new.0.name").input("Medication storage")
    at.text_area(key="tax.new.0.description").input("A medication cabinet was found unsafe.")
    edit_table(at, "tax.new.0.fields", added=[
        {"key": None, "label": "Problem found", "kind": "choice",
         "options": "Unlocked; Too warm", "capture": True, "source": None, "help": None}])
    edit_table(at, "tax.new.0.gates", added=[gate("cabinet_secured", "Cabinet secured")])
    at.run()
    at.button(key="tax_save").click().run()
    assert_no_exception(at)

    assert any("Medication storage: saved as version 1" in s for s in texts(at, "success"))
    assert at.selectbox(key="tax_type").value == "medication_storage"
    with read_session(engine) as session:
        spec = live_taxonomy(session).type("medication_storage")
        assert spec.active
        assert [(f.key, f.options) for f in spec.fields] == [
            ("problem_found", ("Unlocked", "Too warm"))]

    at = sign_in(new_app(), "reporter")
    assert "Medication storage" in at.selectbox(key="report.type_key").options


def test_unchanged_save_keeps_the_version(org, engine):
    at = open_page()
    at.button(key="tax_save").click().run()
    assert_no_exception(at)
    assert any("nothing changed, so it stays at version 1" in s for s in texts(at, "success"))
    with read_session(engine) as session:
        assert session.get(NearMissType, NEAR_FALL).current_version == 1


def test_the_page_offers_the_taxonomy_as_yaml(org):
    at = open_page()
    assert at.get("download_button")


def test_unticking_offered_retires_the_type_without_a_new_version(org, engine):
    at = open_page()
    at.checkbox(key=f"tax.{NEAR_FALL}.v1.active").uncheck().run()
    at.button(key="tax_save").click().run()
    assert_no_exception(at)
    assert any("retired" in s for s in texts(at, "success"))
    assert "(retired)" in at.selectbox(key="tax_type").format_func(NEAR_FALL)
    with read_session(engine) as session:
        row = session.get(NearMissType, NEAR_FALL)
        assert (row.active, row.current_version) == (False, 1)
    at = sign_in(new_app(), "reporter")
    assert "Transfer / near fall" not in at.selectbox(key="report.type_key").options
