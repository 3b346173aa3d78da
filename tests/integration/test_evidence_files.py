"""Uploads are what they claim to be: evidence files are checked against their extension (magic
bytes, then the format's own structure), kept private (0600 files in 0700 folders) and served
only as downloads. One module does it for review evidence and for action evidence checks."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.actions.service import ActionDraft, PlanDraft, complete_evidence_check, create_plan
from core.attachments.checks import AttachmentRefused, check_file
from core.attachments.models import Attachment
from core.attachments.storage import attachments_dir
from core.clock import utcnow
from core.config import AttachmentRules, settings
from core.db import read_session
from core.errors import NotFound, ValidationFailed
from core.review.models import ValidationEvidence
from core.review.service import record_evidence
from core.uow import UnitOfWork
from tests.builders import build_org, local_now
from tests.conftest import built_once
from tests.evidence_files import (
    DOCM_MAIN,
    EXTERNAL_TEMPLATE,
    PLAIN_TEXT,
    docx,
    jpeg,
    pdf,
    png,
    with_part_added,
    xlsx,
    zip_of,
)
from tests.integration.test_review import NEAR_FALL, file_and_triage

RULES = AttachmentRules(allowed_types=("pdf", "png", "jpg", "jpeg", "txt", "csv", "docx",
                                       "xlsx", "pptx"))
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504  # the start of a vbaProject.bin


def _javascript_pdf(escaped: bool = False) -> bytes:
    name = b"/J#61vaScript" if escaped else b"/JavaScript"
    return pdf().replace(b"/Type /Catalog",
                         b"/Type /Catalog /OpenAction << /S " + name + b" /JS (app.alert(1)) >>")


# -- what is kept ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "make"), [
    ("observation.pdf", pdf), ("doorway.png", png), ("doorway.jpg", jpeg),
    ("doorway.jpeg", jpeg), ("audit.xlsx", xlsx), ("briefing.docx", docx),
    ("notes.txt", lambda: PLAIN_TEXT), ("counts.csv", lambda: b"date,seen\n2026-03-10,3\n"),
    ("drawing.docx", lambda: docx({"word/media/image2.svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="4"/></svg>')})),
])
def test_real_evidence_files_are_kept(name, make):
    assert check_file(name, make(), RULES) == name.rsplit(".", 1)[1]


# -- what is refused, and why ------------------------------------------------------------------

@pytest.mark.parametrize(("name", "make", "why"), [
    ("scan.pdf", png, "not a PDF: it is a PNG image underneath"),
    # A PDF header in front of another format, or another file appended after the PDF.
    ("scan.pdf", lambda: b"%PDF-1.4\n" + png(), "does not end where a PDF ends"),
    ("scan.pdf", lambda: pdf() + zip_of("run.exe", b"MZ\x90\x00"), "does not end where a PDF"),
    ("scan.pdf", lambda: pdf() + b"<html><script>alert(1)</script></html>", "does not end"),
    ("scan.pdf", _javascript_pdf, "contains JavaScript"),
    ("scan.pdf", lambda: _javascript_pdf(escaped=True), "contains JavaScript"),
    ("photo.png", jpeg, "not a PNG image: it is a JPEG image underneath"),
    ("photo.png", lambda: png() + zip_of("run.exe", b"MZ"), "does not end where a PNG ends"),
    ("photo.jpg", png, "not a JPEG image: it is a PNG image underneath"),
    ("photo.jpg", lambda: jpeg() + zip_of("a.txt", b"x"), "hidden inside it"),
])
def test_a_file_that_is_another_format_underneath_is_refused(name, make, why):
    with pytest.raises(AttachmentRefused, match=why):
        check_file(name, make(), RULES)


@pytest.mark.parametrize(("name", "make", "why"), [
    ("briefing.docx", lambda: docx({"word/media/image2.png": zip_of("a.txt", b"x")}),
     "another file hidden inside it"),
    ("briefing.docx", lambda: docx({"word/embeddings/Package.zip": zip_of("a.txt", b"x")}),
     "embeds another file or object"),
    ("briefing.docx", lambda: docx({"word/vbaProject.bin": OLE}), "contains macros"),
    ("briefing.docx", lambda: docx({"word/embeddings/oleObject1.bin": OLE}), "embeds"),
    ("briefing.docx", lambda: docx({"word/activeX/activeX1.xml": b"<ax/>"}), "ActiveX"),
    ("briefing.docx", lambda: docx({"word/payload.zip": zip_of("a.txt", b"x")}),
     "holds a part .payload.zip. that a Word document does not have"),
    ("briefing.docx", lambda: docx({"run.exe": b"MZ\x90\x00"}), "does not have"),
    ("briefing.docx", lambda: docx({"word/media/image3.svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')}),
     "drawing with script"),
    ("briefing.docx", lambda: docx(main_type=DOCM_MAIN), "macro-enabled"),
    ("briefing.docx", lambda: docx(settings_rels=EXTERNAL_TEMPLATE), "outside the file"),
    ("briefing.docx", lambda: zip_of("run.exe", b"MZ\x90\x00"), "has no word/document.xml"),
    ("briefing.docx", xlsx, "an Excel workbook underneath, not a Word document"),
    ("audit.xlsx", lambda: with_part_added(xlsx(), "xl/vbaProject.bin", OLE), "macros"),
    ("audit.xlsx", lambda: with_part_added(xlsx(), "xl/embeddings/Book1.xlsx", xlsx()),
     "embeds"),
    ("audit.xlsx", lambda: b"junk" + xlsx(), "not an Excel workbook"),
    ("audit.xlsx", lambda: xlsx() + b"trailing payload", "appended"),
])
def test_an_office_file_with_unexpected_parts_or_nested_archives_is_refused(name, make, why):
    with pytest.raises(AttachmentRefused, match=why):
        check_file(name, make(), RULES)


@pytest.mark.parametrize(("name", "content"), [
    ("notes.txt", b"Observation\n<script>alert(1)</script>\n"),
    ("notes.txt", b"<!DOCTYPE html><html><body>Observation</body></html>"),
    ("notes.txt", b'Seen <img src=x onerror="alert(1)"> at the door'),
    ("notes.txt", b"Open javascript:alert(document.cookie)"),
    ("notes.txt", b"#!/bin/sh\ncurl http://127.0.0.1:9/x | sh\n"),
    ("counts.csv", b"date,seen\n2026-03-10,<iframe src=http://127.0.0.1:9/>\n"),
    ("notes.txt", b"Observation\x00\x01binary"),
])
def test_html_or_script_inside_text_is_refused(name, content):
    with pytest.raises(AttachmentRefused, match="must be plain text"):
        check_file(name, content, RULES)


# -- through the services: the field named, nothing stored, nothing typed lost ----------------

@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def _stored_files() -> list[Path]:
    folder = attachments_dir()
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _plan_check(engine, org, reference: str) -> int:
    from core.actions.models import ActionEvidenceCheck

    quality = org.actor("quality")
    today = local_now().date()
    create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Doorway transfers", theme="Walker out of reach", report_references=[reference],
        actions=[ActionDraft(title="Pre-transfer check", kind="checklist",
                             owner_id=quality.user_id, deadline=today + timedelta(days=10),
                             review_date=today + timedelta(days=20),
                             evidence_checks=["Observed twice"], verify_with_measure=False)]),
                now=utcnow(), rules=settings())
    with read_session(engine) as session:
        return session.scalar(select(ActionEvidenceCheck.id))


def test_a_refused_upload_names_the_file_field_and_keeps_nothing(engine, org):
    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    supervisor = org.actor("supervisor")
    before = _stored_files()
    hostile = ("briefing.docx", docx({"word/vbaProject.bin": OLE}))
    with pytest.raises(ValidationFailed) as refused:
        record_evidence(UnitOfWork(engine), supervisor, reference, "near_miss_evidence",
                        note="Signed briefing sheet", file=hostile, now=utcnow(), rules=settings())
    assert list(refused.value.errors) == ["file"]
    assert refused.value.errors["file"].startswith("Attached file: ")
    assert "macros" in refused.value.errors["file"]
    # The action plan's evidence checks go through the same module.
    check_id = _plan_check(engine, org, reference)
    with pytest.raises(ValidationFailed) as refused_too:
        complete_evidence_check(UnitOfWork(engine), org.actor("quality"), check_id,
                                note="Observed twice", file=("scan.pdf", b"%PDF-1.4\n" + png()),
                                now=utcnow(), rules=settings())
    assert list(refused_too.value.errors) == ["file"]
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0
        assert session.scalars(select(ValidationEvidence)).all() == []
    assert _stored_files() == before


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_evidence_is_stored_0600_in_0700_folders_and_old_folders_are_tightened(engine, org,
                                                                               db_url):
    from ops.bootstrap import initialise

    folder = attachments_dir()
    # A store left by an older release: open folders, a world-readable file.
    old = folder / "ab" / "old-evidence.pdf"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(pdf())
    os.chmod(old, 0o644)
    os.chmod(old.parent, 0o755)
    os.chmod(folder, 0o755)
    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    umask = os.umask(0)  # even under the loosest umask
    try:
        record_evidence(UnitOfWork(engine), org.actor("supervisor"), reference,
                        "near_miss_evidence", note="Observation sheet",
                        file=("observation.pdf", pdf()), now=utcnow(), rules=settings())
    finally:
        os.umask(umask)
    with read_session(engine) as session:
        stored = folder / session.scalar(select(Attachment.stored_path))
    assert (_mode(stored), _mode(stored.parent), _mode(folder)) == (0o600, 0o700, 0o700)
    # `nearmiss init` (make run starts with it) tightens what an older release left.
    initialise(db_url)
    assert (_mode(old), _mode(old.parent)) == (0o600, 0o700)


def test_evidence_is_served_only_as_a_download(engine, org):
    from core.review.queries import evidence_download

    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    record_evidence(UnitOfWork(engine), org.actor("supervisor"), reference, "near_miss_evidence",
                    note="Photo of the doorway", file=("../door [x](y) <b>.png", png()),
                    now=utcnow(), rules=settings())
    with read_session(engine) as session:
        attachment_id = session.scalar(select(Attachment.id))
        download = evidence_download(session, org.actor("supervisor"), attachment_id)
        assert download.mime == "application/octet-stream"  # never image/png: no inline view
        assert download.file_name == "door _x__y_ _b_.png" and download.data == png()
        with pytest.raises(NotFound):
            evidence_download(session, org.actor("oak_supervisor"), attachment_id)


def test_the_review_page_offers_evidence_files_as_downloads_only(engine, org):
    from tests.apptest_helpers import assert_no_exception, new_app, sign_in

    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    record_evidence(UnitOfWork(engine), org.actor("supervisor"), reference, "near_miss_evidence",
                    note="Photo of the doorway", file=("doorway.png", png()),
                    now=utcnow(), rules=settings())
    at = sign_in(new_app(), "supervisor")
    at.query_params["ref"] = reference
    at = at.switch_page("pages/near_miss.py").run()
    assert_no_exception(at)
    downloads = [b for b in at.get("download_button")
                 if b.key == f"review.{reference}.evidence.near_miss_evidence.download"]
    assert [b.label for b in downloads] == ["Download the file"]
    assert at.get("image") == []  # the picture is never shown in the page


def test_a_refused_upload_is_explained_beside_its_item_and_the_note_is_kept(engine, org):
    from tests.apptest_helpers import (
        assert_no_exception,
        field_messages,
        new_app,
        sign_in,
        texts,
    )

    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    at = sign_in(new_app(), "supervisor")
    at.query_params["ref"] = reference
    at = at.switch_page("pages/near_miss.py").run()
    base = f"review.{reference}.evidence.staff_understanding"
    at.text_area(key=base + ".note").input("Asked two staff to explain the new check")
    uploader = next(u for u in at.get("file_uploader") if getattr(u, "key", "") == base + ".file")
    uploader.upload("answers.txt", b"Both explained it.<script>alert(1)</script>", "text/plain")
    at = at.run().button(key=base + ".save").click().run()
    assert_no_exception(at)
    # One summary alert; the reason beside the file it refuses.
    assert len(texts(at, "error")) == 1, texts(at, "error")
    assert any("Attached file: a .txt file must be plain text; this one holds HTML or script"
               in message for message in field_messages(at)), field_messages(at)
    assert at.text_area(key=base + ".note").value == "Asked two staff to explain the new check"
    with read_session(engine) as session:
        assert session.scalars(select(ValidationEvidence)).all() == []
